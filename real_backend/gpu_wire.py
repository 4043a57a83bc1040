"""The wire's n-bit packing on the GPU (CuPy ``RawModule``), and the pinned host buffers an open stages through.

``pack`` and ``unpack`` give exactly the words of ``wire.pack`` / ``wire.unpack`` (element i occupies bits
[i*n, (i+1)*n) of the little-endian stream), so either end of a channel may pack on the host or on the GPU:
- ``pack_bits``: one thread per packed word, OR-ing in the (at most 64/n + 1) values that overlap its 64 bits;
- ``unpack_bits``: one thread per value, reading its one or two words; it can add the value to (mod 2^n) or XOR it
  with this party's share in the same pass, so an open's reconstruction is one launch.
``Staging`` holds one party's reused transfer buffers: the packed bytes go down to pinned host memory in one copy
and the peer's come up in one copy, with no per-element host work. Opens of at most ``ZERO_COPY_MAX_BYTES`` packed
bytes skip both copies: pinned memory is mapped into the device's address space (64-bit Linux, unified addressing),
so the pack kernel writes straight into the pinned send buffer and the unpack kernel reads the pinned receive buffer.
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


def pack(values: Any, n_bits: int, out: Any = None) -> Any:
    """A flat CuPy uint64 array of n-bit values packed into ceil(len*n/64) words (n = 64: the values, no copy).

    ``out``: the kernel writes the words there instead (a contiguous uint64 array of exactly that many words that the
    device can write: CuPy memory, or a mapped view of pinned host memory, ``Staging``); n = 64 then copies the values
    into it by the same kernel. Queued on the current stream; returns ``out``."""
    import cupy as cp

    check_bits("n_bits", n_bits, 1, 64)
    v = cp.ascontiguousarray(values.reshape(-1), dtype=cp.uint64)
    nwords = packed_words(v.size, n_bits)
    if out is None:
        if n_bits == 64:
            return v
        out = cp.empty(nwords, dtype=cp.uint64)
    elif out.dtype != cp.uint64 or out.ndim != 1 or not out.flags.c_contiguous or out.size != nwords:
        raise ValueError(f"out must be a contiguous 1-d uint64 array of {nwords} words ({v.size} values of {n_bits} "
                         f"bits); got {out.dtype} of shape {out.shape}")
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


ZERO_COPY_MAX_BYTES = 64 << 10   # packed bytes of an open up to which ``Staging`` skips both PCIe copies


def _pinned(nbytes: int) -> np.ndarray:
    import cupyx

    return cupyx.empty_pinned(nbytes, dtype=np.uint8)


def _device(nbytes: int) -> Any:
    import cupy as cp

    return cp.empty(nbytes, dtype=cp.uint8)


def mapped(host: np.ndarray) -> tuple[Any, str | None]:
    """The device's view (a CuPy uint64 array over the same bytes, no copy) of a whole pinned host buffer, and None;
    or None and why there is none. Pinned memory is mapped into the device's address space under unified addressing
    (64-bit Linux): its device address is ``cudaPointerGetAttributes``' ``devicePointer``. The view keeps ``host``
    alive."""
    import cupy as cp

    ptr = host.ctypes.data
    try:
        dev = cp.cuda.runtime.pointerGetAttributes(ptr).devicePointer
    except cp.cuda.runtime.CUDARuntimeError as e:
        return None, f"pinned buffer at {ptr:#x} has no device address: {e}"
    if not dev:
        return None, f"pinned buffer at {ptr:#x} has no device address (no unified addressing?)"
    if ptr % 8 or dev % 8 or host.nbytes % 8:
        return None, f"pinned buffer at {ptr:#x} (device {dev:#x}, {host.nbytes} bytes) is not 8-byte aligned"
    mem = cp.cuda.UnownedMemory(dev, host.nbytes, host, cp.cuda.Device().id)
    return cp.ndarray((host.nbytes // 8,), dtype=cp.uint64, memptr=cp.cuda.MemoryPointer(mem, 0)), None


class Staging:
    """One party's reused transfer buffers for opens of CuPy words: a pinned host send buffer, a pinned host receive
    buffer and a device receive buffer, each grown (to a power of two bytes) when an open needs more.

    Opens of at most ``zero_copy_max`` packed bytes (``ZERO_COPY_MAX_BYTES`` by default; 0: none) make no copies:
    the pack kernel writes the send buffer and the unpack kernel reads the receive buffer through the device's
    mapping of them (``mapped``, made once per buffer). Larger ones (and every open where the mapping failed:
    ``unmapped`` says why) are copied down once and up once.

    Each buffer is overwritten by the next open. The send buffer is full when ``pack_down`` returns and is read by
    the (blocking) send. The receive buffer is read by the device after ``up`` returns, asynchronously: ``release``
    records a CUDA event after the kernels that read it, and ``receive_buffer`` waits for that event before it hands
    the buffer out for the peer's next bytes."""

    def __init__(self, zero_copy_max: int = ZERO_COPY_MAX_BYTES) -> None:
        if not 0 <= zero_copy_max:
            raise ValueError(f"zero_copy_max must be >= 0 bytes (0: always copy); got {zero_copy_max}")
        self.zero_copy_max = zero_copy_max
        self.unmapped: str | None = None   # why the device's view of a pinned buffer could not be made, or None
        self._buffers: dict[str, Any] = {}
        self._views: dict[str, Any] = {}   # pinned buffer name -> the device's view of self._buffers[name]
        self._read: Any = None             # CUDA event after the last kernels that read the receive buffer
        self._lent = False                 # the receive buffer went up with no ``release`` since

    def zero_copy(self, nbytes: int) -> bool:
        """Whether an open of ``nbytes`` packed bytes goes through the mapped buffers rather than the copies."""
        return 0 < nbytes <= self.zero_copy_max and self.unmapped is None

    def _buffer(self, name: str, nbytes: int, alloc: Any) -> Any:
        buf = self._buffers.get(name)
        if buf is None or buf.nbytes < nbytes:
            buf = self._buffers[name] = alloc(1 << max(12, (nbytes - 1).bit_length()))
            self._views.pop(name, None)
        return buf[:nbytes]

    def _view(self, name: str) -> Any:
        """The device's view (uint64) of pinned buffer ``name``, or None (``unmapped`` set)."""
        view = self._views.get(name)
        if view is None and self.unmapped is None:
            view, self.unmapped = mapped(self._buffers[name])
            if view is not None:
                self._views[name] = view
        return view

    def _within(self, name: str, host: np.ndarray) -> int | None:
        """The byte offset of array ``host`` in pinned buffer ``name``, or None when it does not lie there."""
        buf = self._buffers.get(name)
        if buf is None:
            return None
        offset = host.ctypes.data - buf.ctypes.data
        return offset if 0 <= offset and offset + host.nbytes <= buf.nbytes else None

    def reserve(self, nbytes: int) -> None:
        """Every buffer grown now to hold ``nbytes`` (an open's packed words), not at the open that first needs it, and
        the device's views of the pinned ones made (when zero-copy is on)."""
        for name, alloc in (("send", _pinned), ("recv", _pinned), ("device", _device)):
            self._buffer(name, nbytes, alloc)
        if self.zero_copy_max:
            self._view("send")
            self._view("recv")

    def down(self, words: Any) -> np.ndarray:
        """CuPy ``words`` copied once into the pinned send buffer (waits for the copy): a NumPy uint64 view of it."""
        host = self._buffer("send", words.nbytes, _pinned).view(np.uint64)
        if words.size:
            words.get(out=host)   # CuPy >= 13: blocking by default
        return host

    def pack_down(self, values: Any, n_bits: int) -> np.ndarray:
        """CuPy ``values`` packed to n bits in the pinned send buffer, ready to send: a NumPy uint64 view of it. Up to
        ``zero_copy_max`` packed bytes the kernel writes the buffer through the device's view of it and the current
        stream is synchronized (the bytes are in host memory when this returns); larger opens are packed into device
        memory and copied down once (``down``)."""
        import cupy as cp

        nbytes = 8 * packed_words(values.size, n_bits)
        if self.zero_copy(nbytes):
            host = self._buffer("send", nbytes, _pinned).view(np.uint64)
            view = self._view("send")
            if view is not None:
                pack(values, n_bits, out=view[:host.size])
                cp.cuda.get_current_stream().synchronize()
                return host
        return self.down(pack(values, n_bits))

    def receive_buffer(self, nbytes: int) -> np.ndarray:
        """The pinned buffer (uint8) to receive the peer's ``nbytes`` into, once the device has done reading its last
        contents: waits for ``release``'s event (for the whole device after an ``up`` that was not released)."""
        if self._lent:
            import cupy as cp

            cp.cuda.Device().synchronize()
            self._lent = False
        elif self._read is not None:
            self._read.synchronize()
        return self._buffer("recv", nbytes, _pinned)

    def up(self, host: np.ndarray) -> Any:
        """Host uint64 words (a view of the pinned receive buffer) for the device's kernels. Up to ``zero_copy_max``
        bytes: the device's view of those same bytes (no copy; kernels read the pinned memory). Larger: copied once
        into the device receive buffer, queued on the current stream. Either way the kernels queued after this read
        the receive buffer; ``release`` once they are queued."""
        import cupy as cp

        offset = self._within("recv", host)
        self._lent = self._lent or offset is not None
        if offset is not None and self.zero_copy(host.nbytes) and offset % 8 == 0 and host.dtype == np.uint64 \
                and host.flags.c_contiguous:
            view = self._view("recv")
            if view is not None:
                return view[offset // 8:offset // 8 + host.size]
        dev = self._buffer("device", host.nbytes, _device).view(cp.uint64)
        if host.size:
            dev.set(host, stream=cp.cuda.get_current_stream())
        return dev

    def release(self) -> None:
        """The kernels that read the receive buffer since ``up`` are queued, on the current stream: a CUDA event after
        them, which the next ``receive_buffer`` waits for before the peer's next bytes overwrite the buffer."""
        import cupy as cp

        if self._read is None:
            self._read = cp.cuda.Event(disable_timing=True)
        self._read.record()
        self._lent = False

    def combine(self, host: np.ndarray, mine: Any, n_bits: int, xor: bool = False) -> Any:
        """The peer's packed words ``host`` (in the receive buffer) up, unpacked and added to (mod 2^n) or XOR-ed with
        this party's CuPy words ``mine`` by one kernel on the current stream, and the buffer released (``release``)."""
        public = unpack(self.up(host), mine.size, n_bits, mine=mine, xor=xor)
        self.release()
        return public
