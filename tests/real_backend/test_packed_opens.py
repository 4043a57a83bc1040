"""Opens packed to n bits: the GPU's pack and unpack give the wire's words, and the real run sends packed words.

CI (no GPU) checks the CUDA source without a device: it compiles to PTX (``nvcc``, where installed), and the same
source built for the host with a shim of four macros (``g++``) packs and unpacks exactly as ``wire`` does for every
n. The ``gpu`` tests run the kernels, the pinned staging (small opens zero-copy through the device's mapping of the
pinned buffers, larger ones copied) and a two-party run on CuPy (``pytest -m gpu``).
"""

import ctypes
import shutil
import subprocess

import numpy as np
import pytest
from conftest import host_library, pointer, run_parties
from tiny_models import TINY_BERT

from models.weights import random_hidden_states, random_weights
from real_backend import gpu_wire, opening, wire
from real_backend.channel import Channel
from real_backend.context import RealContext
from real_backend.dealer import Dealer
from real_backend.opening import ChannelOpen, open_shares
from real_backend.ring import Ring
from real_backend.twoparty import deal, run_party, share_input
from simflush.executor.records import FlushKind
from simflush.plain.layer import plaintext_output
from simflush.profiles import resolve
from simflush.sim.schedule import flush_schedule
from simflush.tasks.values import FixedPoint

COUNTS = (0, 1, 2, 63, 64, 65, 127, 129, 301)   # empty, partial groups, group edges, odd lengths
FIXED = FixedPoint(48, 12)


def cases(n_bits):
    for count in COUNTS:
        rng = np.random.default_rng(1000 * n_bits + count)
        yield count, rng.integers(0, 2**64, count, dtype=np.uint64), rng.integers(0, 2**64, count, dtype=np.uint64)


# -- the CUDA source without a GPU ---------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
def test_the_kernels_compile_for_sm90(tmp_path):
    src = tmp_path / "gpu_wire.cu"
    src.write_text(gpu_wire.SOURCE)
    proc = subprocess.run(["nvcc", "-arch=sm_90", "-ptx", str(src), "-o", str(tmp_path / "gpu_wire.ptx")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ptx = (tmp_path / "gpu_wire.ptx").read_text()
    assert ".entry pack_bits" in ptx and ".entry unpack_bits" in ptx


SHIM = r"""
struct dim { long long x; };
static dim blockIdx, threadIdx, blockDim = {1};
#define __global__
#define __device__
#define __forceinline__ inline
#include "gpu_wire.cu"
/* every thread of a launch, one after another (threadIdx 0 of blocks 0..threads-1, plus a few past the end) */
extern "C" void pack(const u64* v, long long count, int n, u64* out, long long nwords) {
  for (blockIdx.x = 0; blockIdx.x < nwords + 3; ++blockIdx.x) pack_bits(v, count, n, out, nwords);
}
extern "C" void unpack(const u64* w, long long count, int n, const u64* mine, int op, u64* out) {
  for (blockIdx.x = 0; blockIdx.x < count + 3; ++blockIdx.x) unpack_bits(w, count, n, mine, op, out);
}
"""


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    """The kernels' source compiled for the host (one thread at a time), loaded with ctypes."""
    return host_library(tmp_path_factory, {"gpu_wire.cu": gpu_wire.SOURCE}, SHIM)




@pytest.mark.parametrize("n_bits", range(1, 65))
def test_the_kernel_source_packs_and_unpacks_as_the_wire_does(host_kernels, n_bits):
    lib, i64, i32 = host_kernels, ctypes.c_longlong, ctypes.c_int
    for count, v, mine in cases(n_bits):
        want = wire.pack(v, n_bits)
        out = np.full(want.size, 0xDEADBEEF, dtype=np.uint64)   # every word written
        lib.pack(pointer(v), i64(count), i32(n_bits), pointer(out), i64(out.size))
        assert out.tobytes() == want.tobytes(), f"n={n_bits} count={count}"
        value = wire.unpack(want, count, n_bits)
        ring = Ring(n_bits)
        for op, expect in ((0, value), (1, ring.add(mine, value)), (2, mine ^ value)):
            got = np.full(count, 0xDEADBEEF, dtype=np.uint64)
            lib.unpack(pointer(want), i64(count), i32(n_bits), pointer(mine), i32(op), pointer(got))
            assert (got == expect).all(), f"n={n_bits} count={count} op={op}"


# -- opens over a channel --------------------------------------------------------------------------------------------

def open_pair(s0, s1, n_bits, xor=False, duplex=False, stagings=(None, None)):
    """One open of shares s0, s1 over a socketpair (``stagings``: each party's ``gpu_wire.Staging``, None: the
    channel's); both parties' ``Opened`` and bytes sent."""
    c0, c1 = Channel.pair(timeout_s=10)
    with c0, c1:
        r0, r1 = run_parties(lambda: ChannelOpen(c0, duplex, stagings[0])(s0, n_bits, xor),
                             lambda: ChannelOpen(c1, duplex, stagings[1])(s1, n_bits, xor))
        return r0, r1, c0.stats.bytes_sent, c1.stats.bytes_sent


def shared(rng, count, n_bits, xor=False):
    """Plaintext ``count`` n-bit words and two shares of it (additive mod 2^n, or XOR)."""
    ring = Ring(n_bits)
    x = rng.integers(0, 2**64, count, dtype=np.uint64) & ring.mask
    s0 = rng.integers(0, 2**64, count, dtype=np.uint64) & ring.mask
    return x, s0, (x ^ s0) if xor else ring.sub(x, s0)


def largest_zero_copy_open(n_bits, limit=gpu_wire.ZERO_COPY_MAX_BYTES):
    """The most n-bit words whose packed bytes are at most ``limit``."""
    return limit * 8 // n_bits


def test_largest_zero_copy_open_is_the_threshold_edge():
    for n_bits in (1, 37, 48, 64):
        count = largest_zero_copy_open(n_bits)
        assert 8 * wire.packed_words(count, n_bits) <= gpu_wire.ZERO_COPY_MAX_BYTES
        assert 8 * wire.packed_words(count + 1, n_bits) > gpu_wire.ZERO_COPY_MAX_BYTES


def test_staging_takes_the_zero_copy_path_up_to_its_threshold_only():
    """Decided on the host, without CuPy: opens of 1 to ``zero_copy_max`` packed bytes skip the copies; empty ones,
    larger ones, every one at ``zero_copy_max=0`` and every one after the mapping failed are copied."""
    assert gpu_wire.ZERO_COPY_MAX_BYTES == 64 * 1024
    staging = gpu_wire.Staging()
    assert staging.zero_copy_max == gpu_wire.ZERO_COPY_MAX_BYTES and staging.unmapped is None
    assert [staging.zero_copy(n) for n in (0, 8, 65536, 65544)] == [False, True, True, False]
    assert not any(gpu_wire.Staging(zero_copy_max=0).zero_copy(n) for n in (8, 4096, 65536))
    assert gpu_wire.Staging(zero_copy_max=4096).zero_copy(4096) and not gpu_wire.Staging(4096).zero_copy(4104)
    staging.unmapped = "pinned buffer at 0x1000 has no device address (no unified addressing?)"
    assert not staging.zero_copy(8)
    with pytest.raises(ValueError, match=r"zero_copy_max must be >= 0 bytes \(0: always copy\); got -1"):
        gpu_wire.Staging(zero_copy_max=-1)


@pytest.mark.parametrize("n_bits,xor,duplex", [(37, False, False), (1, True, False), (64, False, True),
                                               (13, False, True)])
def test_a_channel_open_sends_packed_words_and_reconstructs(n_bits, xor, duplex):
    rng, ring = np.random.default_rng(n_bits), Ring(n_bits)
    x = rng.integers(0, 2**64, 1001, dtype=np.uint64) & ring.mask
    s0 = rng.integers(0, 2**64, 1001, dtype=np.uint64) & ring.mask
    s1 = (x ^ s0) if xor else ring.sub(x, s0)
    r0, r1, sent0, sent1 = open_pair(s0, s1, n_bits, xor, duplex)
    assert (r0.public == x).all() and (r1.public == x).all()
    assert sent0 == sent1 == 8 * wire.packed_words(1001, n_bits)
    assert r0.pack_s > 0 and r0.comm_s > 0


def run_over_channels(spec, weights, x, settings, layers, dealer, xp=np, policy="suf"):
    """Both parties over a socketpair, each opening through its ``ChannelOpen``; their results and bytes sent."""
    tapes = deal(spec, weights, settings, FIXED, 1, x.shape[1], layers, dealer, policy)
    shares = share_input(x, FIXED, xp)
    c0, c1 = Channel.pair(timeout_s=30)
    with c0, c1:
        parties = [lambda p=p, c=c: run_party(p, spec, weights, shares[p], settings, FIXED, 1, x.shape[1], layers,
                                              tapes[p], ChannelOpen(c), xp, policy) for p, c in ((0, c0), (1, c1))]
        results = run_parties(*parties, timeout_s=120)
        return results, (c0.stats.bytes_sent, c1.stats.bytes_sent)


def check_packed_run(spec, weights, x, settings, layers, results, sent, output, policy="suf"):
    assert np.array_equal(output, plaintext_output(spec, weights, x, settings, FIXED, layers))
    schedule = flush_schedule(spec, x.shape[1], 1, settings, layers, policy)
    for result, bytes_sent in zip(results, sent, strict=True):
        assert result.schedule == schedule   # wire_bytes included: the executor's, unchanged
        opens = [r for r in result.records if r.event is FlushKind.OPEN]
        assert bytes_sent == sum(8 * wire.packed_words(r.words, FIXED.n_bits) for r in opens) < sum(
            8 * r.words for r in opens)
        assert all(r.pack_s > 0 and r.comm_s > 0 and r.wait_s > 0 for r in opens)
        assert sum(r.comm_s for r in opens) == pytest.approx(result.profile["open_comm_ns"])   # the record's own
        assert 0 < result.profile["open_pack_ns"] < result.profile["open_flush_ns"]


def test_a_prepared_channel_open_does_not_grow_its_buffer_at_its_first_open():
    """``prepare`` sizes the receive buffer for the largest open before the clock: the opens after it, up to that
    size, receive into that same buffer (on NumPy, the channel's scratch) and still reconstruct."""
    ring, words = Ring(37), 5000
    c0, c1 = Channel.pair(timeout_s=10)
    with c0, c1:
        ChannelOpen(c0).prepare(words, 37, np)
        ChannelOpen(c1).prepare(words, 37, np)
        buffer = c0.scratch(1).ctypes.data
        assert c0.scratch(1).base.size >= 8 * wire.packed_words(words, 37)
        for count in (1, 100, words):
            x = np.arange(count, dtype=np.uint64) * np.uint64(977) & ring.mask
            s0 = (x * np.uint64(3)) & ring.mask
            s1 = ring.sub(x, s0)
            r0, r1 = run_parties(lambda s=s0: ChannelOpen(c0)(s, 37), lambda s=s1: ChannelOpen(c1)(s, 37))
            assert (r0.public == x).all() and (r1.public == x).all()
            assert c0.scratch(1).ctypes.data == buffer


def test_an_overlap_flush_over_a_channel_evaluates_its_pfss_jobs_while_the_words_are_out(monkeypatch):
    """have_pfss_work with 2 chains: the concurrent flushes' PFSS jobs are evaluated between the open's pack and its
    exchange (each party's log of the two steps shows it), and the run is still bit-exact with the simulator's
    schedule and the packed bytes."""
    spec = TINY_BERT
    settings = resolve("suf-gpu-bench", spec, {}, chains=2)
    weights, x = random_weights(spec, 3, 1), random_hidden_states(spec, 2, 3)
    steps = {0: [], 1: []}   # per party: s (stage), c (complete), f (a PFSS job of a flush)
    for name in ("stage", "complete"):
        method = getattr(ChannelOpen, name)
        monkeypatch.setattr(ChannelOpen, name, lambda self, *a, _m=method, _n=name[0], **k: steps[
            self.chan.party].append(_n) or _m(self, *a, **k))
    evaluate = RealContext.evaluate
    monkeypatch.setattr(RealContext, "evaluate", lambda self, stream, *a: steps[self.party].append(
        "f" if stream == "flush" else "") or evaluate(self, stream, *a))
    results, sent = run_over_channels(spec, weights, x, settings, 1, Dealer(b"overlap"), policy="have_pfss_work")
    output = Ring(FIXED.n_bits).add(results[0].output, results[1].output)
    check_packed_run(spec, weights, x, settings, 1, results, sent, output, "have_pfss_work")
    concurrent = sum(r.concurrent and r.event is FlushKind.OPEN for r in results[0].records)
    assert concurrent > 0
    for party in (0, 1):
        log = "".join(steps[party])
        assert log.count("sf") == concurrent and log.count("sc") == log.count("s") - concurrent


def test_the_real_run_over_a_channel_sends_its_opens_packed():
    spec = TINY_BERT
    settings = resolve("suf-gpu-bench", spec, {})
    weights, x = random_weights(spec, 3, 1), random_hidden_states(spec, 2, 3)
    results, sent = run_over_channels(spec, weights, x, settings, 1, Dealer(b"packed opens"))
    output = Ring(FIXED.n_bits).add(results[0].output, results[1].output)
    check_packed_run(spec, weights, x, settings, 1, results, sent, output)


# -- on the GPU ------------------------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("n_bits", range(1, 65))
def test_gpu_pack_and_unpack_give_the_wires_bytes(n_bits):
    import cupy as cp

    ring = Ring(n_bits)
    for count, v, mine in cases(n_bits):
        want = wire.pack(v, n_bits)
        got = gpu_wire.pack(cp.asarray(v), n_bits)
        assert cp.asnumpy(got).tobytes() == want.tobytes(), f"n={n_bits} count={count}"
        assert cp.asnumpy(wire.pack(cp.asarray(v), n_bits)).tobytes() == want.tobytes()   # wire dispatches to it
        value = wire.unpack(want, count, n_bits)
        dev = cp.asarray(want)
        assert (cp.asnumpy(wire.unpack(dev, count, n_bits)) == value).all()
        assert (cp.asnumpy(gpu_wire.unpack(dev, count, n_bits, mine=cp.asarray(mine))) == ring.add(mine, value)).all()
        assert (cp.asnumpy(gpu_wire.unpack(dev, count, n_bits, mine=cp.asarray(mine), xor=True)) == mine ^ value).all()


@pytest.mark.gpu
def test_gpu_unpack_refuses_a_payload_of_the_wrong_size():
    import cupy as cp

    with pytest.raises(wire.FrameError, match="packed payload has 3 words; 100 values of 37 bits need 58"):
        gpu_wire.unpack(cp.zeros(3, dtype=cp.uint64), 100, 37)


@pytest.mark.gpu
@pytest.mark.parametrize("n_bits", [1, 37, 64])
def test_gpu_pack_writes_into_the_array_it_is_given(n_bits):
    import cupy as cp

    for count, v, _ in cases(n_bits):
        want = wire.pack(v, n_bits)
        out = cp.full(want.size, 0xDEADBEEF, dtype=cp.uint64)   # every word written (n = 64 too: a copy into it)
        assert gpu_wire.pack(cp.asarray(v), n_bits, out=out) is out
        assert cp.asnumpy(out).tobytes() == want.tobytes(), f"n={n_bits} count={count}"
    with pytest.raises(ValueError, match=r"out must be a contiguous 1-d uint64 array of 58 words \(100 values of 37 "
                                         r"bits\); got uint64 of shape \(57,\)"):
        gpu_wire.pack(cp.zeros(100, dtype=cp.uint64), 37, out=cp.zeros(57, dtype=cp.uint64))


def through_a_kernel(words):
    """CuPy uint64 ``words`` read by a kernel (unpack at 64 bits: a copy) and brought to the host."""
    import cupy as cp

    return cp.asnumpy(gpu_wire.unpack(words, words.size, 64))


@pytest.mark.gpu
def test_staging_packs_and_unpacks_a_small_open_in_the_pinned_buffers_themselves():
    """Zero-copy: the pack kernel writes the pinned send buffer (no device buffer, no copy down), and ``up`` gives the
    device's view of the pinned receive buffer (its device address; a host write to the buffer is what a kernel then
    reads, with no second ``up``); above the threshold the same calls copy, with the same words."""
    import cupy as cp

    rng = np.random.default_rng(7)
    v, theirs, later = (rng.integers(0, 2**64, 16, dtype=np.uint64) for _ in range(3))
    staging = gpu_wire.Staging()
    host = staging.pack_down(cp.asarray(v), 37)
    assert staging.unmapped is None
    assert host.tobytes() == wire.pack(v, 37).tobytes()
    assert host.ctypes.data == staging._buffers["send"].ctypes.data
    recv = staging.receive_buffer(8 * 16).view(np.uint64)
    recv[:] = theirs
    dev = staging.up(recv)
    assert dev.data.ptr == cp.cuda.runtime.pointerGetAttributes(recv.ctypes.data).devicePointer
    assert (through_a_kernel(dev) == theirs).all()
    recv[:] = later   # the pinned memory itself: no copy was made
    assert (through_a_kernel(dev) == later).all()
    staging.release()
    mine = cp.asarray(v)
    assert (cp.asnumpy(staging.combine(recv, mine, 64, xor=True)) == v ^ later).all()
    assert "device" not in staging._buffers   # nothing went through device memory
    copied = gpu_wire.Staging(zero_copy_max=8 * 15)   # 16 words: one word over
    assert copied.pack_down(cp.asarray(v), 64).tobytes() == v.tobytes()
    recv = copied.receive_buffer(8 * 16).view(np.uint64)
    recv[:] = theirs
    dev = copied.up(recv)
    cp.cuda.get_current_stream().synchronize()   # the copy up (queued) has read the pinned buffer
    recv[:] = later
    assert (through_a_kernel(dev) == theirs).all()   # a copy: the later host write is not in it
    assert "device" in copied._buffers and dev.data.ptr == copied._buffers["device"].data.ptr


@pytest.mark.gpu
def test_staging_reuses_its_buffers_and_grows_them():
    import cupy as cp

    staging = gpu_wire.Staging()
    small = staging.down(cp.arange(10, dtype=cp.uint64))
    assert (small == np.arange(10)).all()
    again = staging.down(cp.arange(5, 15, dtype=cp.uint64))
    assert again.ctypes.data == small.ctypes.data and (again == np.arange(5, 15)).all()   # the same pinned buffer
    big = staging.down(cp.arange(1 << 16, dtype=cp.uint64))
    assert (big == np.arange(1 << 16)).all()
    recv = staging.receive_buffer(8 * 7).view(np.uint64)
    recv[:] = np.arange(100, 107)
    up = staging.up(recv)
    assert (cp.asnumpy(up) == np.arange(100, 107)).all()


@pytest.mark.gpu
def test_a_prepared_gpu_open_uses_the_buffers_reserved_before_it():
    import cupy as cp

    c0, c1 = Channel.pair(timeout_s=10)
    with c0, c1:
        opener = ChannelOpen(c0)
        opener.prepare(4096, 48, cp)
        staging = opening._STAGING[c0]
        reserved = {name: buf.ctypes.data if name != "device" else buf.data.ptr
                    for name, buf in staging._buffers.items()}
        assert set(reserved) == {"send", "recv", "device"}
        views = dict(staging._views)   # the device's views of the pinned buffers, made before the clock too
        assert set(views) == {"send", "recv"}
        x = cp.arange(4096, dtype=cp.uint64)   # 24,576 packed bytes: a zero-copy open
        r0, _ = run_parties(lambda: opener(x, 48), lambda: ChannelOpen(c1)(cp.zeros(4096, dtype=cp.uint64), 48))
        assert (cp.asnumpy(r0.public) == np.arange(4096)).all()
        after = {name: buf.ctypes.data if name != "device" else buf.data.ptr for name, buf in staging._buffers.items()}
        assert after == reserved
        assert staging._views.keys() == views.keys() and all(staging._views[k] is v for k, v in views.items())


@pytest.mark.gpu
@pytest.mark.parametrize("n_bits,count", [(37, 1 << 20), (37, 1), (48, 12345), (1, 999)])
def test_a_gpu_open_over_a_channel_equals_the_host_open(n_bits, count):
    import cupy as cp

    rng, ring = np.random.default_rng(count), Ring(n_bits)
    x = rng.integers(0, 2**64, count, dtype=np.uint64) & ring.mask
    s0 = rng.integers(0, 2**64, count, dtype=np.uint64) & ring.mask
    s1 = ring.sub(x, s0)
    for _ in range(2):   # the second open reuses the staging buffers
        r0, r1, sent0, sent1 = open_pair(cp.asarray(s0), cp.asarray(s1), n_bits)
        assert isinstance(r0.public, cp.ndarray)
        assert (cp.asnumpy(r0.public) == x).all() and (cp.asnumpy(r1.public) == x).all()
        assert sent0 == sent1 == 8 * wire.packed_words(count, n_bits)
    c0, c1 = Channel.pair(timeout_s=10)   # open_shares takes the GPU path for CuPy shares, against a host peer
    with c0, c1:
        g, h = run_parties(lambda: open_shares(c0, cp.asarray(s0), n_bits), lambda: open_shares(c1, s1, n_bits))
    assert (cp.asnumpy(g) == x).all() and (h == x).all()


ABOVE = "above"   # a count: the smallest open over the zero-copy threshold


@pytest.mark.gpu
@pytest.mark.parametrize("zero_copy_max", [gpu_wire.ZERO_COPY_MAX_BYTES, 0])
@pytest.mark.parametrize("xor", [False, True])
@pytest.mark.parametrize("n_bits", [37, 64])
@pytest.mark.parametrize("count", [1, 16, "below", ABOVE])
def test_a_small_gpu_open_reconstructs_through_the_mapped_pinned_buffers(count, n_bits, xor, zero_copy_max):
    """Opens of 1 and 16 words and of the most words at the threshold go zero-copy (no device receive buffer is
    ever made) and reconstruct; one word more is copied, as is every open at ``zero_copy_max=0``, to the same words.
    """
    import cupy as cp

    edge = largest_zero_copy_open(n_bits)
    count = {"below": edge, ABOVE: edge + 1}.get(count, count)
    x, s0, s1 = shared(np.random.default_rng(count * n_bits + xor), count, n_bits, xor)
    stagings = (gpu_wire.Staging(zero_copy_max), gpu_wire.Staging(zero_copy_max))
    r0, r1, sent0, sent1 = open_pair(cp.asarray(s0), cp.asarray(s1), n_bits, xor, stagings=stagings)
    assert (cp.asnumpy(r0.public) == x).all() and (cp.asnumpy(r1.public) == x).all()
    assert sent0 == sent1 == 8 * wire.packed_words(count, n_bits)
    assert r0.pack_s > 0 and r1.pack_s > 0
    zero_copy = zero_copy_max > 0 and count <= edge
    for staging in stagings:
        assert staging.unmapped is None
        assert ("device" not in staging._buffers) == zero_copy, "the open took the other path"


SPIN = r"""extern "C" __global__ void spin(long long cycles) {
  long long t = clock64();
  while (clock64() - t < cycles) {}
}"""


@pytest.mark.gpu
@pytest.mark.parametrize("duplex", [False, True])
@pytest.mark.parametrize("zero_copy_max", [gpu_wire.ZERO_COPY_MAX_BYTES, 0])
def test_back_to_back_small_gpu_opens_each_reconstruct_their_own_words(zero_copy_max, duplex):
    """50 opens of different words, one after another with no sync: each party queues its unpack (which reads the
    pinned receive buffer, mapped or through the copy up) on a side stream behind a ~1 ms kernel, so the peer's next
    bytes arrive before it runs. The next open must wait for it (``Staging.release``'s event) before receiving them
    into that buffer; without the wait the earlier opens reconstruct from the later bytes."""
    import cupy as cp

    n_bits, opens, count = 37, 50, 16
    rng = np.random.default_rng(50)
    triples = [shared(rng, count, n_bits, xor=i % 2 == 1) for i in range(opens)]
    shares = [[cp.asarray(c[1 + p]) for c in triples] for p in (0, 1)]
    spin = cp.RawKernel(SPIN, "spin")
    spin((1,), (1,), (np.int64(1000),))   # compiled and loaded before the threads
    cp.cuda.Device().synchronize()
    c0, c1 = Channel.pair(timeout_s=10)

    def party(p, chan):
        opener, side = ChannelOpen(chan, duplex, gpu_wire.Staging(zero_copy_max)), cp.cuda.Stream(non_blocking=True)
        public = []
        for i in range(opens):
            staged = opener.stage(shares[p][i], n_bits)
            with side:
                spin((1,), (1,), (np.int64(2_000_000),))
                public.append(opener.complete(staged, xor=i % 2 == 1).public)
        side.synchronize()
        return [cp.asnumpy(a) for a in public], opener.staging

    with c0, c1:
        (g0, st0), (g1, st1) = run_parties(lambda: party(0, c0), lambda: party(1, c1), timeout_s=60)
    for i, (x, _, _) in enumerate(triples):
        assert (g0[i] == x).all() and (g1[i] == x).all(), f"open {i} reconstructed other words"
    for staging in (st0, st1):
        assert staging.unmapped is None and ("device" not in staging._buffers) == (zero_copy_max > 0)


@pytest.mark.gpu
@pytest.mark.parametrize(("policy", "chains"), [("suf", 1), ("have_pfss_work", 2)])
def test_the_real_run_on_the_gpu_packs_its_opens_there(policy, chains):
    """With have_pfss_work and 2 chains too: the PFSS kernels of its overlap flushes are queued between the pack
    and the unpack, on the one stream."""
    import cupy as cp

    spec = TINY_BERT
    settings = resolve("suf-gpu-bench", spec, {}, chains=chains)
    weights, x = random_weights(spec, 3, 2), random_hidden_states(spec, 4, 3)
    results, sent = run_over_channels(spec, weights, x, settings, 2, Dealer(b"gpu opens", use_gpu=True), xp=cp,
                                      policy=policy)
    output = cp.asnumpy(Ring(FIXED.n_bits).add(results[0].output, results[1].output))
    check_packed_run(spec, weights, x, settings, 2, results, sent, output, policy)
