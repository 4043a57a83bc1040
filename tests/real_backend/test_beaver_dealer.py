import numpy as np
import pytest
from conftest import run_parties

from real_backend import beaver
from real_backend import gates as G
from real_backend.channel import Channel
from real_backend.dealer import Dealer
from real_backend.opening import open_shares
from real_backend.ring import Ring


@pytest.mark.parametrize("kind,sx,sy", [("elementwise", (5, 7), (5, 7)), ("matmul", (6, 40), (40, 3)),
                                        ("rowbcast", (4, 9), (4, 1))])
def test_beaver_protocol_over_a_channel(kind, sx, sy):
    n = 50
    ring, rng = Ring(n), np.random.default_rng(0)
    x = ring.from_signed(rng.integers(-1000, 1000, sx))
    y = ring.from_signed(rng.integers(-1000, 1000, sy))
    x0, y0 = rng.integers(0, 2**50, sx, dtype=np.uint64), rng.integers(0, 2**50, sy, dtype=np.uint64)
    t0, t1 = beaver.triples(Dealer(3), kind, sx, sy, n)
    c0, c1 = Channel.pair(timeout_s=5)

    def party(chan, tri, xs, ys):
        e, f = beaver.mask(tri, xs, ys, n)
        ef = open_shares(chan, np.concatenate([e.ravel(), f.ravel()]), n)
        z = beaver.finalise(tri, ef[: e.size].reshape(e.shape), ef[e.size:].reshape(f.shape), n)
        return open_shares(chan, z, n)

    z0, z1 = run_parties(lambda: party(c0, t0, x0, y0), lambda: party(c1, t1, ring.sub(x, x0), ring.sub(y, y0)))
    want = beaver.matmul(x, y, ring) if kind == "matmul" else ring.mul(x, y)
    assert (z0 == want).all() and (z1 == want).all()
    with pytest.raises(RuntimeError, match="already used"):
        beaver.finalise(t0, np.zeros(sx, np.uint64), np.zeros(sy, np.uint64), n)


def test_beaver_shape_checks():
    with pytest.raises(ValueError, match="do not fit a matmul triple"):
        beaver.triples(Dealer(1), "matmul", (2, 3), (4, 5), 37)
    with pytest.raises(ValueError, match="triple kind 'conv'"):
        beaver.triples(Dealer(1), "conv", (2, 3), (3, 5), 37)


def test_dealer_reproducible_and_reports_offline_costs():
    keys_a = G.DReLU(37).keygen(Dealer("s"), 100)
    keys_b = G.DReLU(37).keygen(Dealer("s"), 100)
    assert (keys_a.key0.parts["dpf"].scw == keys_b.key0.parts["dpf"].scw).all()
    assert (keys_a.r_in == keys_b.r_in).all()
    d = Dealer("s")
    G.DReLU(37).keygen(d, 100)
    G.DReLU(37).keygen(d, 50)
    st = d.stats["drelu"]
    assert st.elems == 150 and st.time_s > 0
    assert st.key_bytes_per_party == pytest.approx(150 * G.DReLU(37).key_bytes_per_elem())
    with pytest.raises(ValueError, match="dealer seed=-1"):
        Dealer(-1)
