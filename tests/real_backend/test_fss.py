import numpy as np
import pytest

from real_backend import dcf, dpf
from real_backend.rng import RandomStream, seed_words


def _stream(i=0):
    return RandomStream(seed_words(77), i)


@pytest.mark.parametrize("n", [1, 4, 7, 8, 9, 12])
def test_dpf_point_compare_and_full_domain_exhaustive(n):
    st = _stream(n)
    base = st.ring(4, n)
    base[:3] = [0, (1 << n) - 1, (1 << n) // 2]
    xs = np.arange(1 << n, dtype=np.uint64)
    k0, k1 = dpf.keygen(base, n, st)
    full = dpf.eval_all(k0) ^ dpf.eval_all(k1)
    assert (full == (xs[None, :] == base[:, None])).all()
    alpha = np.repeat(base, xs.size)  # one key per (alpha, x) pair: every x of the domain for each alpha
    x = np.tile(xs, base.size)
    k0, k1 = dpf.keygen(alpha, n, st)
    assert ((dpf.eval_point(k0, x) ^ dpf.eval_point(k1, x)) == (x == alpha)).all()
    assert ((dpf.eval_lt(k0, x) ^ dpf.eval_lt(k1, x)) == (x < alpha)).all()


def test_dpf_compare_wide_domain_random_points():
    n, N = 50, 2000
    st = _stream(1)
    alpha = st.ring(N, n)
    k0, k1 = dpf.keygen(alpha, n, st)
    x = st.ring(N, n)
    x[: N // 4] = alpha[: N // 4]  # equal
    x[N // 4 : N // 2] = alpha[N // 4 : N // 2] ^ np.uint64(1)  # differ in the last bit only
    assert ((dpf.eval_lt(k0, x) ^ dpf.eval_lt(k1, x)) == (x < alpha)).all()


@pytest.mark.parametrize("n,out,k,leaf,fold", [(1, 64, 1, 0, 0), (6, 37, 2, 0, 0), (8, 64, 2, 0, 0), (9, 13, 1, 0, 0),
                                               (2, 64, 1, 1, 0), (6, 37, 1, 2, 0), (9, 13, 1, 3, 0), (11, 48, 1, 8, 0),
                                               (11, 48, 1, 8, 2), (10, 40, 1, 9, 3), (5, 20, 1, 2, 1)])
def test_dcf_exhaustive(n, out, k, leaf, fold):
    """Every x of the domain against 4 alphas (0 among them), with a final CW or a truth-table leaf of ``leaf`` bits
    (its PRF words laid out by ``fold``)."""
    st = _stream(100 + n)
    base = st.ring(4, n)
    base[0] = 0
    xs = np.arange(1 << n, dtype=np.uint64)
    alpha, x = np.repeat(base, xs.size), np.tile(xs, base.size)
    beta = st.ring(k * alpha.size, out).reshape(k, alpha.size)
    k0, k1 = dcf.keygen(alpha, beta, n, out, st, leaf_bits=leaf, leaf_fold=fold)
    assert k0.fcw.shape[0] == (1 << leaf if leaf else k) and k0.scw.shape[0] == n - leaf
    got = (dcf.eval_lt(k0, x) + dcf.eval_lt(k1, x)) & np.uint64((1 << out) - 1)
    assert (got == beta * (x < alpha)).all()


def test_key_sizes_follow_the_constructions():
    assert dpf.key_bytes(37) == 16 * 30 + 32 + 4  # 16(n-7) + 32 + ceil((n-8)/8)
    assert dpf.tree_depth(50) == 43 and dpf.tree_depth(5) == 1
    assert dcf.key_bytes(12, 1) == 16 + 12 * 24 + 2 + 8
    assert dcf.key_bytes(48, 1, leaf_bits=8) == 16 + 40 * 24 + 5 + 8 * 256
    assert dcf.key_bytes(48, 1, leaf_bits=10) == 16 + 38 * 24 + 5 + 8 * 1024   # GeLU-const folded


def test_the_fold_permutes_the_leaf_words_so_neighbours_share_a_block():
    z = np.arange(1 << 10, dtype=np.uint64)
    w = dcf.leaf_index(z, 10, 2)
    assert sorted(w.tolist()) == z.tolist()   # every entry its own PRF word
    low = z & np.uint64(255)
    assert ((w >> np.uint64(3)) == (low >> np.uint64(1))).all()   # the 4 values of the top 2 bits: one block
    assert (dcf.leaf_index(z, 10, 0) == z).all()


def test_dpf_rejects_out_of_domain_inputs():
    st = _stream()
    k0, _ = dpf.keygen(np.array([3, 4], np.uint64), 4, st)
    with pytest.raises(ValueError, match=">= 2\\^4"):
        dpf.eval_lt(k0, np.array([3, 16], np.uint64))
    with pytest.raises(ValueError, match="shape"):
        dpf.eval_lt(k0, np.array([3], np.uint64))
    with pytest.raises(TypeError, match="uint64"):
        dpf.eval_lt(k0, np.array([3, 4], np.int64))


@pytest.mark.parametrize("n,leaf,fold,step", [(48, 8, 0, 256), (48, 10, 2, 256), (20, 0, 0, 1), (40, 0, 0, 0)])
def test_dcf_at_many_points_equals_one_walk_a_point(n, leaf, fold, step):
    """The interval gate's walk of many points at once (neighbours sharing nodes) gives each point's ``eval_lt``
    bits: points 2^8 apart (a truth-table leaf, folded or not), 1 apart, and spread over the line (step 0:
    random)."""
    st = _stream(200 + n + leaf)
    N, M = 12, 24
    alpha = st.ring(N, n)
    keys = dcf.keygen(alpha, np.ones((1, N), dtype=np.uint64), n, n, st, leaf_bits=leaf, leaf_fold=fold)
    y = st.ring(N, n)
    offsets = st.ring(M, n) if step == 0 else np.arange(M, dtype=np.uint64) * np.uint64(step)
    points = (y[None, :] - offsets[:, None]) & np.uint64((1 << n) - 1 if n < 64 else 2**64 - 1)
    points[:, :4] = alpha[:4]                      # points on alpha's path too
    for key in keys:
        want = np.stack([dcf.eval_lt(key, row)[0] for row in points])
        assert (dcf.eval_lt_points(key, points) == want).all()
