"""The GPU run without device syncs: fused ring operations, the in-process link's stream events, flush times from
CUDA events (``pytest -m gpu`` for the first three); and the link's hold on its last words (NumPy)."""
import threading
import weakref

import numpy as np
import pytest

from real_backend import twoparty
from real_backend.flush_clock import DeviceClock
from real_backend.ring import Ring
from real_backend.twoparty import MemoryLink, party_stream

SPIN = r'''
extern "C" __global__ void spin_then_fill(unsigned long long* out, long long n, unsigned long long value,
                                          unsigned long long ns) {
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < ns);
    for (long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = value;
}
'''


def slow_fill(cp, out, value, seconds):
    """Fill ``out`` with ``value`` on the current stream after the GPU has waited ``seconds``."""
    kernel = cp.RawKernel(SPIN, "spin_then_fill")
    kernel((1,), (128,), (out, np.int64(out.size), np.uint64(value), np.uint64(int(seconds * 1e9))))


@pytest.mark.gpu
@pytest.mark.parametrize("n", [1, 2, 37, 48, 63, 64])
def test_fused_ring_ops_give_numpys_bits(n):
    import cupy as cp
    ring, rng = Ring(n), np.random.default_rng(n)
    top = (1 << n) - 1
    a = np.concatenate([np.array([0, 1, top, top - 1, 1 << (n - 1)], dtype=np.uint64),
                        rng.integers(0, top, 2000, dtype=np.uint64, endpoint=True)])
    b = rng.permutation(a)
    c = np.uint64(top)
    for op in ("add", "sub", "mul"):
        f = getattr(ring, op)
        for x, y in ((a, b), (a, c), (c, b), (a, 5)):
            gx, gy = (cp.asarray(v) if isinstance(v, np.ndarray) else v for v in (x, y))
            assert np.array_equal(cp.asnumpy(f(gx, gy)), f(x, y)), (op, n)
    assert np.array_equal(cp.asnumpy(ring.msb(cp.asarray(a))), ring.msb(a))
    # an operand of another dtype takes the plain expressions, with NumPy's promotion
    bits = (a & np.uint64(1)).astype(np.uint32)
    assert np.array_equal(cp.asnumpy(ring.add(cp.asarray(a), cp.asarray(bits))), ring.add(a, bits))


def _exchange_after_slow_work(cp):
    """Party 0's words are written by a kernel that first waits 0.2 s on its stream; party 1 copies what it got
    and waits only for its own stream. Returns what party 1 saw."""
    link, seen = MemoryLink(timeout_s=10), {}

    def party(p):
        with party_stream(cp):
            mine = cp.zeros(1024, dtype=cp.uint64)
            if p == 0:
                slow_fill(cp, mine, 7, 0.2)
            theirs = link.endpoint(p)(mine)
            if p == 1:
                copy = theirs + cp.uint64(0)
                cp.cuda.get_current_stream().synchronize()
                seen["words"] = cp.asnumpy(copy)

    threads = [threading.Thread(target=party, args=(p,)) for p in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cp.cuda.Device().synchronize()
    return seen["words"]


@pytest.mark.gpu
def test_the_link_makes_the_receiver_wait_for_the_senders_stream(monkeypatch):
    import cupy as cp
    assert (_exchange_after_slow_work(cp) == 7).all()
    # planted fault: no event handed over, so party 1's stream reads the words before party 0's kernel wrote them
    monkeypatch.setattr(twoparty, "_stream_event", lambda words: None)
    assert not (_exchange_after_slow_work(cp) == 7).any()


@pytest.mark.gpu
def test_a_flush_span_holds_its_gpu_work_not_its_launch():
    import cupy as cp
    clock, spans = DeviceClock(cp), []
    out = cp.zeros(16, dtype=cp.uint64)
    start = clock.mark()
    slow_fill(cp, out, 1, 0.1)
    clock.later(start, clock.mark(), lambda s, e: spans.append((s, e)))
    assert not spans                       # nothing waited for yet: the host went on at once
    clock.resolve()
    (s, e), = spans
    assert 0.095 <= e - s < 0.5 and s >= clock.ref_host


def test_the_link_holds_its_last_words_until_the_next_exchange():
    """The peer's stream may still read them (CuPy): their memory must not go back to the pool before the peer's
    next event; the words before them are let go."""
    link = MemoryLink(timeout_s=5)
    ends = [link.endpoint(0), link.endpoint(1)]
    refs = []

    def party1():
        for _ in range(2):
            ends[1](np.zeros(3, dtype=np.uint64))

    t = threading.Thread(target=party1)
    t.start()
    for _ in range(2):
        words = np.ones(3, dtype=np.uint64)
        refs.append(weakref.ref(words))
        ends[0](words)
        del words
    t.join()
    assert refs[0]() is None and refs[1]() is not None
