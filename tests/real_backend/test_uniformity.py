"""One party's view is uniform: masked inputs and key words pass a chi-square test; a broken mask fails it."""
import numpy as np
from conftest import chi2_limit, chi2_uniform

from real_backend import gates as G
from real_backend.dealer import Dealer
from real_backend.ring import Ring

BINS = 64


def top_bits_stat(values, n):
    """Chi-square of the top 6 bits of n-bit values against uniform."""
    counts = np.bincount((values >> np.uint64(n - 6)).astype(np.int64), minlength=BINS)
    return chi2_uniform(counts)


def byte_stat(arr):
    counts = np.bincount(np.ascontiguousarray(arr).view(np.uint8).ravel(), minlength=256)
    return chi2_uniform(counts)


def test_masked_inputs_uniform_for_constant_input():
    n, N = 37, 20000
    ring = Ring(n)
    keys = G.ReLU(n).keygen(Dealer(11), N)
    hat = ring.add(np.zeros(N, np.uint64), keys.r_in)  # the same secret x = 0 everywhere
    assert top_bits_stat(hat, n) < chi2_limit(BINS - 1)


def test_broken_mask_is_caught_negative_control():
    n, N = 37, 20000
    ring = Ring(n)
    broken = np.random.default_rng(0).integers(0, 2 ** (n - 2), N, dtype=np.uint64)  # top two bits always 0
    keys = G.ReLU(n).keygen(Dealer(11), N, r_in=broken)
    hat = ring.add(np.zeros(N, np.uint64), keys.r_in)
    assert top_bits_stat(hat, n) > chi2_limit(BINS - 1)
    biased = np.random.default_rng(1).integers(0, 256, 50_000).astype(np.uint8)
    biased[::50] = 0  # 2% extra zeros
    assert byte_stat(biased) > chi2_limit(255)


def test_single_party_key_words_uniform():
    N = 4000
    d = Dealer(12)
    k0 = G.TrFloor(50, 12).keygen(d, N).key0.parts
    c, s = k0["carry"], k0["sign"]
    assert byte_stat(s.root[:, 1:]) < chi2_limit(255)
    assert byte_stat(s.scw[:, :, 1:]) < chi2_limit(255)
    for words, bits in ((s.vcw, 50), (c.vcw, 50), (k0["R"], 50), (k0["rout"], 50), (k0["R1s"], 50)):
        assert top_bits_stat(np.asarray(words).ravel(), bits) < chi2_limit(BINS - 1)
    tr = s.tr.ravel().astype(np.int64)
    assert chi2_uniform(np.bincount(tr, minlength=2)) < chi2_limit(1)
    kd = G.DReLU(37).keygen(d, N).key1.parts
    assert byte_stat(kd["dpf"].leaf) < chi2_limit(255)
    assert chi2_uniform(np.bincount(kd["c"].astype(np.int64), minlength=2)) < chi2_limit(1)
