"""The ring Z_2^n (1 <= n <= 64) on uint64 arrays, fixed-point encoding and signed views.

Elements are stored in uint64 words whose bits above n are zero. Every operation reduces its result with the
ring's mask, so uint64 wrap-around (mod 2^64) followed by the mask gives arithmetic mod 2^n.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from .xp import get_xp

U64 = np.uint64
_REDUCED = ContextVar("reduced", default=False)


@contextmanager
def reduced_inputs() -> Iterator[None]:
    """Inside it, ``check_words`` trusts that values are below 2^bits (the caller passes ring results, reduced by
    construction) and skips the scan for larger ones, which on CuPy is a device sync per call."""
    token = _REDUCED.set(True)
    try:
        yield
    finally:
        _REDUCED.reset(token)


def check_bits(name: str, value: int, lo: int, hi: int) -> int:
    """Return ``value`` if ``lo <= value <= hi`` (an int), else raise ValueError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
        raise ValueError(f"{name}={value!r} is out of range; allowed: integers {lo}..{hi}")
    return int(value)


def check_words(x: Any, bits: int, n_elems: int, what: str = "x") -> Any:
    """Validate a uint64 vector of ``n_elems`` values below 2^bits; raise naming ``what`` and the problem."""
    xp = get_xp(x)
    if not hasattr(x, "dtype") or x.dtype != xp.uint64:
        raise TypeError(f"{what} must be a uint64 array, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.shape != (n_elems,):
        raise ValueError(f"{what} has shape {x.shape}; the key batch has {n_elems} elements")
    if bits < 64 and not _REDUCED.get() and bool(xp.any(x >> U64(bits))):
        raise ValueError(f"{what} has values >= 2^{bits}; inputs must be {bits}-bit")
    return x


def public_share(party: int, value: Any) -> Any:
    """Party ``party``'s additive share of a public ``value``: the value for party 0, zero for party 1 (so a public
    term enters the reconstructed sum once)."""
    return value if party == 0 else value * U64(0)


def _fusable(*operands: Any) -> bool:
    """On CuPy with every operand uint64 (or a Python int): what the fused kernels take (others keep NumPy's
    promotion through the plain expressions)."""
    return get_xp(*operands) is not np and all(getattr(o, "dtype", U64) == U64 for o in operands)


@cache
def _fused(name: str, body: str) -> Any:
    """On CuPy, a ring operation and its reduction in one launch (two array operations are two launches, and small
    arrays cost their launches, not their arithmetic); the NumPy expressions beside each use give the same bits."""
    import cupy as cp

    return cp.ElementwiseKernel("uint64 a, uint64 b, uint64 m", "uint64 z", body, f"ring_{name}")


@dataclass(frozen=True)
class Ring:
    """Z_2^n. ``n`` is the bit width (1..64)."""

    n: int

    def __post_init__(self) -> None:
        check_bits("n_bits", self.n, 1, 64)

    @property
    def mask(self) -> np.uint64:
        """2^n - 1 as a uint64 scalar."""
        return U64((1 << self.n) - 1)

    def const(self, c: int) -> np.uint64:
        """The Python integer ``c`` (any sign) reduced mod 2^n, as a uint64 scalar."""
        return U64(int(c) % (1 << self.n))

    def reduce(self, a: Any) -> Any:
        """a mod 2^n for a uint64 array ``a``."""
        return a & self.mask

    def add(self, a: Any, b: Any) -> Any:
        if _fusable(a, b):
            return _fused("add", "z = (a + b) & m")(a, b, self.mask)
        return (a + b) & self.mask

    def sub(self, a: Any, b: Any) -> Any:
        if _fusable(a, b):
            return _fused("sub", "z = (a - b) & m")(a, b, self.mask)
        return (a - b) & self.mask

    def mul(self, a: Any, b: Any) -> Any:
        if _fusable(a, b):
            return _fused("mul", "z = (a * b) & m")(a, b, self.mask)
        return (a * b) & self.mask

    def neg(self, a: Any) -> Any:
        return (~a + U64(1)) & self.mask

    def msb(self, a: Any) -> Any:
        """Bit n-1 of each element (0 or 1, uint64)."""
        if _fusable(a):
            return _fused("msb", "z = (a >> b) & m")(a, U64(self.n - 1), U64(1))
        return (a >> U64(self.n - 1)) & U64(1)

    def from_signed(self, a: Any) -> Any:
        """Signed integers (any integer array or Python ints) to ring elements (two's complement mod 2^n); a uint64
        array is taken as ring words and reduced."""
        xp = get_xp(a)
        arr = xp.asarray(a)
        if arr.dtype == xp.uint64:
            return arr & self.mask
        return arr.astype(xp.int64).view(xp.uint64) & self.mask

    def to_signed(self, a: Any) -> Any:
        """Ring elements to int64 in [-2^(n-1), 2^(n-1))."""
        xp = get_xp(a)
        a = xp.asarray(a, dtype=xp.uint64) & self.mask
        if self.n == 64:
            return a.view(xp.int64)
        sign = (a >> U64(self.n - 1)) & U64(1)
        return (a | (sign * ~self.mask)).view(xp.int64)


@dataclass(frozen=True)
class FixedPoint:
    """Fixed-point numbers with ``f`` fractional bits in ``ring``: value v is stored as round(v * 2^f) mod 2^n."""

    ring: Ring
    f: int

    def __post_init__(self) -> None:
        check_bits("frac_bits", self.f, 0, self.ring.n - 1)

    def encode(self, v: Any) -> Any:
        """Floats (array) to ring elements; values must fit in the signed range of n bits after scaling."""
        xp = get_xp(v)
        scaled = xp.rint(xp.asarray(v, dtype=xp.float64) * float(1 << self.f))
        lim = float(1 << (self.ring.n - 1))
        if bool(xp.any(scaled >= lim)) or bool(xp.any(scaled < -lim)):
            top = self.ring.n - 1 - self.f
            raise ValueError(f"fixed-point encode: a value is outside [-2^{top}, 2^{top}) "
                             f"for n={self.ring.n}, f={self.f}")
        return self.ring.from_signed(scaled.astype(xp.int64))

    def decode(self, a: Any) -> Any:
        """Ring elements to float64 (signed view divided by 2^f)."""
        return self.ring.to_signed(a).astype(get_xp(a).float64) / float(1 << self.f)
