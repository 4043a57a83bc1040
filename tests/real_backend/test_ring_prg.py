import numpy as np
import pytest

from real_backend.chacha import SIGMA32, chacha_block, prg
from real_backend.ring import FixedPoint, Ring
from real_backend.rng import HAVE_LIBRARY_CHACHA, RandomStream, chacha20_blocks, seed_words

needs_library = pytest.mark.skipif(not HAVE_LIBRARY_CHACHA, reason="the cryptography package is not installed")


def _rfc_state(key: bytes, counter: int, nonce: bytes) -> np.ndarray:
    st = np.zeros((1, 16), dtype=np.uint32)
    st[0, :4] = SIGMA32
    st[0, 4:12] = np.frombuffer(key, "<u4")
    st[0, 12] = counter
    st[0, 13:] = np.frombuffer(nonce, "<u4")
    return st


def test_chacha20_rfc8439_section_2_3_2():
    st = _rfc_state(bytes(range(32)), 1, bytes([0, 0, 0, 9, 0, 0, 0, 0x4A, 0, 0, 0, 0]))
    expected = [0xE4E7F110, 0x15593BD1, 0x1FDD0F50, 0xC47120A3, 0xC7F4D1C7, 0x0368C033, 0x9AAA2204, 0x4E6CD4C3,
                0x466482D2, 0x09AA9F07, 0x05D7C214, 0xA2028BD9, 0xD19C12B5, 0xB94E16DE, 0xE883D0CB, 0x4E3C50A2]
    assert chacha_block(st, 20)[0].tolist() == expected


def test_chacha20_rfc8439_appendix_a1_zero_key():
    out = chacha_block(_rfc_state(bytes(32), 0, bytes(12)), 20)[0].astype("<u4").tobytes()
    assert out.hex() == ("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
                         "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")


def test_chacha_rounds_checked_and_change_output():
    st = _rfc_state(bytes(32), 0, bytes(12))
    assert chacha_block(st, 12).tolist() != chacha_block(st, 20).tolist()
    with pytest.raises(ValueError, match="rounds=10"):
        chacha_block(st, 10)
    with pytest.raises(ValueError, match="shape"):
        chacha_block(np.zeros((2, 15), np.uint32))


def test_prg_depends_on_every_seed_word():
    seeds = np.zeros((5, 4), np.uint32)
    for i in range(4):
        seeds[i + 1, i] = 2
    out = prg(seeds)
    assert len({row.tobytes() for row in out}) == 5


def test_random_stream_reproducible_and_distinct():
    a = RandomStream(seed_words(9), 3).words32(100)
    b = RandomStream(seed_words(9), 3).words32(100)
    c = RandomStream(seed_words(9), 4).words32(100)
    assert (a == b).all() and not (a == c).all()
    s = RandomStream(seed_words(9), 3)
    assert (np.concatenate([s.words32(16), s.words32(84)]) == a).all()


RFC_2_3_2_NONCE_STREAM = 0x09000000 | 0x4A000000 << 32  # nonce 00000009 0000004a 00000000 as (word 13, word 14)


@pytest.mark.parametrize("library", [False, pytest.param(True, marks=needs_library)])
def test_dealer_stream_meets_rfc8439_on_either_path(library):
    key = np.frombuffer(bytes(range(32)), "<u4")
    got = chacha20_blocks(key, RFC_2_3_2_NONCE_STREAM, 1, 1, library=library)
    assert got.tolist() == chacha_block(_rfc_state(bytes(range(32)), 1, bytes([0, 0, 0, 9, 0, 0, 0, 0x4A, 0, 0, 0, 0])),
                                        20)[0].tolist()
    assert hex(int(got[0])) == "0xe4e7f110"
    zero = chacha20_blocks(np.zeros(8, np.uint32), 0, 0, 1, library=library).astype("<u4").tobytes()
    assert zero.hex().startswith("76b8e0ada0f13d90405d6ae55386bd28")  # RFC 8439 A.1, test vector 1


@needs_library
def test_library_chacha_gives_the_numpy_bits():
    rng = np.random.default_rng(15)
    cases = [(0, 0, 1), (1, 2**32 - 3, 3), (2**40 + 7, 2**31, 50), (2**64 - 1, 12345, 257)]
    cases += [(int(rng.integers(0, 2**63)), int(rng.integers(0, 2**32 - 2000)), int(rng.integers(1, 2000)))
              for _ in range(40)]
    for i, (stream, counter, nblk) in enumerate(cases):
        key = rng.integers(0, 2**32, 8, dtype=np.uint64).astype(np.uint32) if i else np.zeros(8, np.uint32)
        lib = chacha20_blocks(key, stream, counter, nblk, library=True)
        arr = chacha20_blocks(key, stream, counter, nblk, library=False)
        assert lib.dtype == arr.dtype == np.uint32 and lib.shape == (16 * nblk,)
        assert (lib == arr).all(), (stream, counter)


@needs_library
def test_random_stream_is_the_same_on_both_cpu_paths(monkeypatch):
    import real_backend.rng as R

    draws = [5, 16, 1, 333, 4096, 17]
    stream = RandomStream(seed_words("k"), 7)
    with_library = [stream.words32(n) for n in draws]
    stream = RandomStream(seed_words("k"), 7)
    monkeypatch.setattr(R, "HAVE_LIBRARY_CHACHA", False)
    without = [stream.words32(n) for n in draws]
    assert all((a == b).all() for a, b in zip(with_library, without, strict=True))
    assert with_library[3].flags.writeable


@pytest.mark.parametrize("n", [1, 2, 37, 50, 63, 64])
def test_ring_signed_roundtrip_and_wrap(n):
    r = Ring(n)
    vals = np.array([0, -1, 1, -(2 ** (n - 1)), 2 ** (n - 1) - 1], dtype=np.int64)
    if n == 1:
        vals = np.array([0, -1], dtype=np.int64)
    u = r.from_signed(vals)
    assert (r.to_signed(u) == vals).all()
    one = np.array([1], np.uint64)
    assert int(r.add(r.from_signed(np.array([-1])), one)[0]) == 0
    assert int(r.neg(one)[0]) == (1 << n) - 1
    assert (r.mul(u, np.uint64(1)) == u).all()


def test_fixed_point_encode_decode():
    fp = FixedPoint(Ring(37), 12)
    v = np.array([0.0, -1.5, 3.25, -1000.0, 2.0**-12])
    assert np.array_equal(fp.decode(fp.encode(v)), v)
    with pytest.raises(ValueError, match="outside"):
        fp.encode(np.array([2.0**30]))


@pytest.mark.parametrize("bad", [0, 65, -3, 2.5, True])
def test_ring_bit_width_out_of_range(bad):
    with pytest.raises(ValueError, match=r"n_bits=.*allowed: integers 1\.\.64"):
        Ring(bad)


def test_fixed_point_frac_bits_checked():
    with pytest.raises(ValueError, match="frac_bits=37"):
        FixedPoint(Ring(37), 37)
