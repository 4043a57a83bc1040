"""CuPy paths agree bit for bit with the NumPy paths (run on a GPU machine: ``pytest -m gpu``)."""
import dataclasses

import numpy as np
import pytest

from real_backend import beaver, dcf, dpf, kernels
from real_backend import gates as G
from real_backend.chacha import chacha_block
from real_backend.dealer import Dealer
from real_backend.ring import Ring
from real_backend.rng import RandomStream, seed_words
from real_backend.xp import convert_tree, to_numpy

pytestmark = pytest.mark.gpu


def leaves(obj):
    if hasattr(obj, "dtype"):
        return [to_numpy(obj)]
    if dataclasses.is_dataclass(obj):
        return [a for f in dataclasses.fields(obj) for a in leaves(getattr(obj, f.name))]
    if isinstance(obj, dict):
        return [a for k in sorted(obj) for a in leaves(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [a for v in obj for a in leaves(v)]
    return []


def test_chacha_kernel_matches_arrays():
    import cupy as cp

    st = np.random.default_rng(0).integers(0, 2**32, (5000, 16), dtype=np.uint32)
    for rounds in (8, 12, 20):
        gpu = chacha_block(cp.asarray(st), rounds)
        assert (to_numpy(gpu) == chacha_block(st, rounds)).all()
        assert (to_numpy(chacha_block(cp.asarray(st), rounds, force_arrays=True)) == to_numpy(gpu)).all()


def gate_cases(n):
    tab = np.random.default_rng(n).integers(0, 2**40, 1 << 13)
    return [G.DReLU(n), G.ReLU(n), G.GapARS(n, 12), G.TrFloor(n, 12), G.LUT(13, n, tab), G.LUT(5, n, tab[:32]),
            G.PiecewisePoly(n, [-5000, 0, 77, 9000], np.arange(10).reshape(5, 2) - 3, n), G.Select(n), G.B2A(n),
            G.MaskedMul(n)]


@pytest.mark.parametrize("n", [16, 37, 50, 64])
def test_keygen_and_eval_bit_identical(n):
    import cupy as cp

    N = 3000
    dn, dc = Dealer(42), Dealer(42, use_gpu=True)
    rng = np.random.default_rng(n)
    for gate in gate_cases(n):
        kn, kc = gate.keygen(dn, N), gate.keygen(dc, N)
        ln, lc = leaves(kn), leaves(kc)
        assert len(ln) == len(lc), f"{gate.kind}: keys differ"
        assert all((a == b).all() for a, b in zip(ln, lc, strict=True)), f"{gate.kind}: keys differ"
        if isinstance(kn.r_in, tuple):
            widths = (1 if gate.kind == "select" else n, n)
            hat = tuple(rng.integers(0, 2**63, N, dtype=np.uint64) & Ring(b).mask for b in widths)
        else:
            bits = {"lut": gate.in_bits if gate.kind == "lut" else n, "b2a": 1}.get(gate.kind, n)
            hat = rng.integers(0, 2**63, N, dtype=np.uint64) * np.uint64(2) + np.uint64(1) & Ring(bits).mask
            hat[:4] = [0, Ring(bits).mask, 1 << (bits - 1), (1 << (bits - 1)) - 1] if bits > 1 else [0, 1, 0, 1]
        for p in (0, 1):
            out_np = gate.eval(p, getattr(kn, f"key{p}"), hat)
            out_cp = gate.eval(p, getattr(kc, f"key{p}"), convert_tree(hat, cp))
            assert (to_numpy(out_cp) == out_np).all(), f"{gate.kind} party {p}: CuPy and NumPy outputs differ"


def test_split_k_matmul_matches_numpy():
    import cupy as cp

    ring = Ring(50)
    rng = np.random.default_rng(1)
    for m, k, n in ((128, 768, 64), (8, 3072, 16), (300, 100, 7)):
        a = rng.integers(0, 2**63, (m, k), dtype=np.uint64) & ring.mask
        b = rng.integers(0, 2**63, (k, n), dtype=np.uint64) & ring.mask
        assert (to_numpy(beaver.matmul(cp.asarray(a), cp.asarray(b), ring)) == beaver.matmul(a, b, ring)).all()


@pytest.mark.parametrize("n", [3, 8, 9, 20, 36, 49])
def test_dpf_compare_kernel_matches_arrays_on_host_keys(n):
    """Isolates the comparison kernel: keys made on the host, evaluated by the kernel and by the array code."""
    import cupy as cp

    st = RandomStream(seed_words(3), 0)
    N = 4000
    alpha = st.ring(N, n)
    x = st.ring(N, n)
    x[: N // 2] = alpha[: N // 2] ^ np.uint64(1)
    for key in dpf.keygen(alpha, n, st):
        want = dpf.eval_lt(key, x)
        got = to_numpy(kernels.dpf_lt(convert_tree(key, cp), cp.asarray(x), n)).astype(np.uint32)
        assert (got == want).all(), f"n={n} party {key.party}: {(got != want).mean():.3f} of outputs differ"


def interval_cases(n):
    """Interval gates whose neighbouring breakpoints share long path prefixes (GeLU-const's 257 breakpoints 2^8
    apart), rows of 1 and 4 words, and breakpoints spread over the whole signed line (prefixes shared by few)."""
    from simflush.tasks import gates as task_gates
    from simflush.tasks.lut_pieces import gate_pieces

    cases = []
    for gate in (task_gates.GELU_CONST, task_gates.NEXP):
        (breaks, rows), _ = gate_pieces(gate, 12, n)
        for fold in (0, 2):   # every breakpoint walked; merged rows and a folded leaf
            cases.append(G.PiecewisePoly(n, list(breaks), np.array(rows, dtype=np.int64), n, fold=fold))
    spread = sorted({int(v) for v in np.random.default_rng(n).integers(-2**(n - 1), 2**(n - 1), 40)})
    rows = np.random.default_rng(n + 1).integers(-2**30, 2**30, (len(spread) + 1, 3))
    cases.append(G.PiecewisePoly(n, spread, rows, n))
    return cases


@pytest.mark.parametrize("n", [37, 64])
def test_interval_kernel_matches_arrays_and_the_table(n):
    """The fused interval kernel (shared path prefixes) gives the array code's bits, and the two parties' shares
    reconstruct the row of x's interval, at every breakpoint, one below it, and at the ends of the line."""
    import cupy as cp

    ring = Ring(n)
    for gate in interval_cases(n):
        bps = np.array([q - (1 << (n - 1)) for q in gate.shifted], dtype=np.int64)
        xs = np.concatenate([bps, bps - 1, [-(1 << (n - 1)), (1 << (n - 1)) - 1, 0, -1]])
        xs = np.concatenate([xs, np.random.default_rng(7).integers(-2**(n - 1), 2**(n - 1), 600 - xs.size % 600)])
        N = xs.size
        keys = gate.keygen(Dealer(5), N)
        hat = ring.add(ring.from_signed(xs), keys.r_in)
        outs = []
        for p in (0, 1):
            key = getattr(keys, f"key{p}")
            key_cp = convert_tree(key, cp)   # before the NumPy evaluation spends the key
            out_np = gate.eval(p, key, hat)
            out_cp = to_numpy(gate.eval(p, key_cp, cp.asarray(hat)))
            assert (out_cp == out_np).all(), f"m={gate.m} party {p}: kernel and array code differ"
            outs.append(out_cp)
        got = Ring(n).sub(Ring(n).add(outs[0], outs[1]), keys.r_out)
        want = gate.coeffs[np.searchsorted(bps, xs, side="right")].T
        assert (got == want).all(), f"m={gate.m}: {(got != want).any(axis=0).sum()} elements read the wrong row"


@pytest.mark.parametrize("n,leaf,fold", [(20, 4, 0), (48, 8, 0), (48, 10, 2)])
def test_dcf_kernel_with_table_leaf_matches_arrays(n, leaf, fold):
    import cupy as cp

    st = RandomStream(seed_words(11), 0)
    N = 3000
    alpha, x = st.ring(N, n), st.ring(N, n)
    x[: N // 3] = alpha[: N // 3] ^ np.uint64(1)          # points on alpha's path, differing in the leaf's bits
    x[N // 3: N // 2] = alpha[N // 3: N // 2]
    for key in dcf.keygen(alpha, np.ones((1, N), dtype=np.uint64), n, n, st, leaf_bits=leaf, leaf_fold=fold):
        want = dcf.eval_lt(key, x)
        got = to_numpy(kernels.dcf_lt(convert_tree(key, cp), cp.asarray(x)))
        assert (got == want).all(), f"n={n} party {key.party}: {(got != want).mean():.3f} of outputs differ"


def test_keys_in_their_own_pool_leave_the_working_pool_alone():
    """``run --keys-own-pool``: arrays made inside ``own_key_pool``'s context come from its pool, not CuPy's default
    one, which the working arrays made outside it still use (``pool_state`` reads the default pool)."""
    import cupy as cp

    from real_backend.twoparty import own_key_pool, pool_state
    allocator, pool = own_key_pool(cp)
    before = pool_state(cp)
    with allocator():
        keys = cp.zeros(1 << 20, dtype=cp.uint64)
    assert pool.used_bytes() >= keys.nbytes
    assert pool_state(cp)["total_bytes"] == before["total_bytes"]   # the default pool gave none of it
    work = cp.zeros(1 << 20, dtype=cp.uint64)
    assert pool_state(cp)["used_bytes"] >= before["used_bytes"] + work.nbytes
    del keys
    pool.free_all_blocks()
    assert pool.total_bytes() == 0
