"""The wire's n-bit packing on the GPU (CuPy ``RawModule``), and the pinned host buffers an open stages through.

``pack`` and ``unpack`` give exactly the words of ``wire.pack`` / ``wire.unpack`` (element i occupies bits
[i*n, (i+1)*n) of the little-endian stream), so either end of a channel may pack on the host or on the GPU:
- ``pack_bits``: one thread per packed word, OR-ing in the (at most 64/n + 1) values that overlap its 64 bits;
- ``unpack_bits``: one thread per value, reading its one or two words; it can add the value to (mod 2^n) or XOR it
  with this party's share in the same pass, so an open's reconstruction is one launch.
``Staging`` holds one party's reused transfer buffers: the packed bytes go down to pinned host memory in one copy
and the peer's come up in one copy, with no per-element host work.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .ring import check_bits
from .wire import check_packed, packed_words

SOURCE = r"""
typedef unsigned long long u64;

__device__ __forceinline__ u64 low_mask(int n) { return n == 64 ? ~0ull : ((1ull << n) - 1ull); }

/* Packed word k holds bits [64k, 64k + 64) of the stream of count n-bit values (wire.pack). A value that starts
   in the previous word contributes its high part (shifted right), one that runs into the next word its low part. */
extern "C" __global__ void pack_bits(const u64* values, long long count, int n, u64* out, long long nwords) {
  long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= nwords) return;
  const u64 mask = low_mask(n);
  const long long first = k * 64, total = count * (long long)n;
  const long long end = first + 64 < total ? first + 64 : total;
  u64 word = 0;
  for (long long i = first / n; i * n < end; ++i) {
    long long pos = i * n - first;
    u64 x = values[i] & mask;
    word |= pos >= 0 ? (x << pos) : (x >> (-pos));
  }
  out[k] = word;
}

/* Value i of the stream (wire.unpack); op 0: the value, 1: (mine[i] + value) mod 2^n, 2: mine[i] ^ value. */
extern "C" __global__ void unpack_bits(const u64* words, long long count, int n, const u64* mine, int op, u64* out) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const u64 mask = low_mask(n);
  const long long bit = i * n;
  const long long w = bit >> 6;
  const int off = (int)(bit & 63);
  u64 x = words[w] >> off;
  if (off + n > 64) x |= words[w + 1] << (64 - off);
  x &= mask;
  if (op == 1) x = (mine[i] + x) & mask;
  else if (op == 2) x = mine[i] ^ x;
  out[i] = x;
}
"""

_THREADS = 256
_module: dict = {}


def _kernel(name: str) -> Any:
    import cupy as cp

    if "mod" not in _module:
        _module["mod"] = cp.RawModule(code=SOURCE)
    return _module["mod"].get_function(name)


def _launch(name: str, threads: int, args: tuple) -> None:
    _kernel(name)(((threads + _THREADS - 1) // _THREADS,), (_THREADS,), args)


def pack(values: Any, n_bits: int) -> Any:
    """A flat CuPy uint64 array of n-bit values packed into ceil(len*n/64) words (n = 64: the values, no copy)."""
    import cupy as cp

    check_bits("n_bits", n_bits, 1, 64)
    v = cp.ascontiguousarray(values.reshape(-1), dtype=cp.uint64)
    if n_bits == 64:
        return v
    nwords = packed_words(v.size, n_bits)
    out = cp.empty(nwords, dtype=cp.uint64)
    if nwords:
        _launch("pack_bits", nwords, (v, np.int64(v.size), np.int32(n_bits), out, np.int64(nwords)))
    return out


def unpack(words: Any, count: int, n_bits: int, mine: Any = None, xor: bool = False) -> Any:
    """The first ``count`` n-bit values of packed CuPy ``words``; with ``mine`` (``count`` words of this party's
    share), ``mine + value`` mod 2^n, or ``mine ^ value`` when ``xor``, in the same launch."""
    import cupy as cp

    check_bits("n_bits", n_bits, 1, 64)
    check_packed(words, count, n_bits)
    w = cp.ascontiguousarray(words, dtype=cp.uint64)
    out = cp.empty(count, dtype=cp.uint64)
    if mine is None:
        op, m = 0, out   # not read by op 0
    else:
        m = cp.ascontiguousarray(mine.reshape(-1), dtype=cp.uint64)
        if m.size != count:
            raise ValueError(f"mine has {m.size} words; the packed message holds {count} values")
        op = 2 if xor else 1
    if count:
        _launch("unpack_bits", count, (w, np.int64(count), np.int32(n_bits), m, np.int32(op), out))
    return out


def _pinned(nbytes: int) -> np.ndarray:
    import cupyx

    return cupyx.empty_pinned(nbytes, dtype=np.uint8)


def _device(nbytes: int) -> Any:
    import cupy as cp

    return cp.empty(nbytes, dtype=cp.uint8)


class Staging:
    """One party's reused transfer buffers for opens of CuPy words: a pinned host send buffer, a pinned host receive
    buffer and a device receive buffer, each grown (to a power of two bytes) when an open needs more.

    Each buffer is overwritten by the next open, so a caller finishes with one (sends it, or waits for the copy up
    and the kernels that read it) before the next open starts."""

    def __init__(self) -> None:
        self._buffers: dict[str, Any] = {}

    def _buffer(self, name: str, nbytes: int, alloc: Any) -> Any:
        buf = self._buffers.get(name)
        if buf is None or buf.nbytes < nbytes:
            buf = self._buffers[name] = alloc(1 << max(12, (nbytes - 1).bit_length()))
        return buf[:nbytes]

    def reserve(self, nbytes: int) -> None:
        """Every buffer grown now to hold ``nbytes`` (an open's packed words), not at the open that first needs it."""
        for name, alloc in (("send", _pinned), ("recv", _pinned), ("device", _device)):
            self._buffer(name, nbytes, alloc)

    def down(self, words: Any) -> np.ndarray:
        """CuPy ``words`` copied once into the pinned send buffer (waits for the copy): a NumPy uint64 view of it."""
        host = self._buffer("send", words.nbytes, _pinned).view(np.uint64)
        if words.size:
            words.get(out=host)   # CuPy >= 13: blocking by default
        return host

    def receive_buffer(self, nbytes: int) -> np.ndarray:
        """The pinned buffer (uint8) to receive the peer's ``nbytes`` into."""
        return self._buffer("recv", nbytes, _pinned)

    def up(self, host: np.ndarray) -> Any:
        """Host uint64 words (the pinned receive buffer) copied once into the device receive buffer, queued on the
        current stream (kernels queued after it read the copy)."""
        import cupy as cp

        dev = self._buffer("device", host.nbytes, _device).view(cp.uint64)
        if host.size:
            dev.set(host, stream=cp.cuda.get_current_stream())
        return dev
