"""One party's view is uniform: masked inputs and key words pass a chi-square test; a broken mask fails it."""
import numpy as np
import pytest
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



LOCAL_GATES = [(G.Select, ("rb", "rx", "rbrx")), (G.MaskedMul, ("rx", "ry", "rxry")), (G.B2A, ("rb",))]


def _masks(keys) -> tuple:
    return keys.r_in if isinstance(keys.r_in, tuple) else (keys.r_in,)


def _mask_uniform(mask: np.ndarray, n: int) -> bool:
    """A mask passes a chi-square test against uniform: its top 6 bits, or its bit balance for a 1-bit mask."""
    if int(mask.max()) <= 1:
        return chi2_uniform(np.bincount(mask.astype(np.int64), minlength=2)) < chi2_limit(1)
    return top_bits_stat(mask, n) < chi2_limit(BINS - 1)


def _local_gate_view(gate_cls, parts: tuple[str, ...], n: int, N: int, r_in=None):
    """What the dealing gives away: whether each mask (what hides a peer's input, x + r) is uniform, whether
    party 0's key words are uniform, and how often party 0 holds a mask word in the clear."""
    keys = gate_cls(n).keygen(Dealer(21), N, r_in=r_in)
    masks = _masks(keys)
    in_clear = max(float(np.mean(keys.key0.parts[p] == m)) for p, m in zip(parts, masks, strict=False))
    keys_uniform = all(top_bits_stat(np.asarray(keys.key0.parts[p]), n) < chi2_limit(BINS - 1)
                       for p in (*parts, "rout"))
    return [_mask_uniform(m, n) for m in masks], keys_uniform, in_clear, masks


def test_local_gates_masks_and_key_words_uniform_one_time_and_never_in_the_clear():
    """Select, MaskedMul and B2A share one dealing helper: each mask is uniform (so x + r is uniform for a
    constant x), party 0's words are uniform shares (never the mask itself), and two gates get fresh masks."""
    n, N = 37, 20000
    for gate_cls, parts in LOCAL_GATES:
        masks_uniform, keys_uniform, in_clear, _ = _local_gate_view(gate_cls, parts, n, N)
        assert all(masks_uniform) and keys_uniform, gate_cls.kind
        assert in_clear < 0.01, gate_cls.kind  # an additive share equals the mask only by chance
        dealer = Dealer(22)  # two gates from one dealer: fresh masks, not the same ones again
        first, second = (_masks(gate_cls(n).keygen(dealer, N)) for _ in range(2))
        assert all(float(np.mean(a == b)) < 0.6 for a, b in zip(first, second, strict=True)), gate_cls.kind


def test_local_gates_negative_controls(monkeypatch):
    """The same checks catch a zero mask, and a dealer that hands party 0 the masks in the clear."""
    n, N = 37, 20000
    zeros = np.zeros(N, np.uint64)
    masks_uniform, _, _, _ = _local_gate_view(G.MaskedMul, ("rx", "ry", "rxry"), n, N, r_in=(zeros, zeros))
    assert not any(masks_uniform)

    import real_backend.gates.linear as linear

    def leaky(dealer, stream, ring, values):  # party 0 gets each value itself, party 1 zeros
        return dict(values), {k: np.zeros_like(v) for k, v in values.items()}

    monkeypatch.setattr(linear, "share_each", leaky)
    for gate_cls, parts in LOCAL_GATES:
        _, _, in_clear, _ = _local_gate_view(gate_cls, parts, n, N)
        assert in_clear == 1.0, gate_cls.kind


def _leaf_table_view(n=40, b=6, N=3000, fold=0):
    """Party 0's truth-table leaf (``dcf`` with ``leaf_bits`` = b, PRF words laid out by ``fold``): whether its words
    are uniform, how often two neighbouring entries are equal (which would show where [z < alpha's low bits] steps),
    and how often two entries whose PRF words share a block (z and z + 2^(b - fold)) are."""
    from real_backend import dcf
    from real_backend.rng import RandomStream, seed_words

    st = RandomStream(seed_words(31), 0)
    key0, _ = dcf.keygen(st.ring(N, n), np.ones((1, N), dtype=np.uint64), n, n, st, leaf_bits=b, leaf_fold=fold)
    table = key0.fcw
    equal_neighbours = float(np.mean(table[1:] == table[:-1]))
    step = 1 << (b - fold) if fold else 1   # unfolded, a block holds neighbours
    equal_partners = float(np.mean(table[step:] == table[:-step]))
    return top_bits_stat(table.ravel(), n) < chi2_limit(BINS - 1), equal_neighbours, equal_partners


@pytest.mark.parametrize("fold", [0, 2])
def test_truth_table_leaf_hides_alpha(fold):
    """The leaf table's entries are uniform and neither neighbours nor block partners are equal: party 1's PRF
    value at each z masks the step of [z < a]. A PRF that ignored z (one value for the whole leaf), or a fold that
    gave block partners one word, would leave entries equal but at the step, handing party 0 alpha's low bits: the
    negative controls plant both."""
    uniform, equal, partners = _leaf_table_view(fold=fold)
    assert uniform and equal < 0.01 and partners < 0.01


def test_truth_table_leaf_negative_control(monkeypatch):
    from real_backend import dcf

    honest = dcf.leaf_values

    def one_value_a_leaf(seeds, leaf_bits, ring, rounds, z=None, fold=0):
        values = honest(seeds, leaf_bits, ring, rounds, z, fold)
        return values[:1].repeat(values.shape[0], axis=0) if z is None else values

    monkeypatch.setattr(dcf, "leaf_values", one_value_a_leaf)
    _, equal, _ = _leaf_table_view()
    assert equal > 0.9


def test_folded_leaf_negative_control(monkeypatch):
    """A fold that drops z's top bits from the word (the 2^fold block partners read one PRF word) is caught."""
    from real_backend import dcf

    def shared_word(z, leaf_bits, fold):
        return (z & np.uint64((1 << (leaf_bits - fold)) - 1)) << np.uint64(fold)

    monkeypatch.setattr(dcf, "leaf_index", shared_word)
    _, _, partners = _leaf_table_view(fold=2)
    assert partners > 0.5   # equal unless alpha's low bits fall between the two (16 of 64 apart: about 1 in 4)
