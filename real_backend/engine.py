"""The one place where FSS evaluation picks NumPy array code or a fused CUDA kernel.

Inputs on CuPy run the kernels of :mod:`kernels` (one launch per batch); anything else runs the array code of
:mod:`dpf` and :mod:`dcf`. Both paths check their inputs alike (``ring.check_words``) and give the same bits
(``tests/real_backend/test_gpu.py``). The gates call these functions, never ``kernels`` directly, so the array code
and the kernels do not know of each other: ``kernels`` depends only on ``chacha`` (and the interval walk's constant
in ``simflush.tasks.interval_walk``), ``dpf``/``dcf`` not on ``kernels``.

(Below this layer ``chacha.chacha_block`` makes the same choice for the ChaCha block function on its own, since the
array code, key generation included, runs on CuPy arrays too.)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import dcf, dpf, kernels
from .ring import Ring, check_words, public_share
from .xp import get_xp, is_cupy


def _on_gpu(x: Any) -> bool:
    return is_cupy(get_xp(x))


def dpf_lt(key: dpf.DpfKey, x: Any) -> Any:
    """XOR share (uint32 0/1) of [x < alpha] per element (see ``dpf.eval_lt``)."""
    if _on_gpu(x):
        return kernels.dpf_lt(key, check_words(x, key.n_bits, key.n_elems), key.n_bits).astype(get_xp(x).uint32)
    return dpf.eval_lt(key, x)


def drelu(key: dpf.DpfKey, hatx: Any, c: Any, n_bits: int) -> Any:
    """DReLU's output share (uint64 0/1): [hatx mod 2^(n-1) < alpha] xor c, xor MSB(hatx) for party 0.

    ``key`` is a DPF key on the n-1 low bits, ``hatx`` the checked n-bit public input, ``c`` this party's XOR share
    from the gate key. On CuPy one fused kernel does the comparison walk and this epilogue."""
    if _on_gpu(hatx):
        return kernels.dpf_lt(key, hatx, n_bits - 1, c=c, msb_shift=n_bits - 1)
    d = dpf.eval_lt(key, Ring(n_bits - 1).reduce(hatx)).astype(np.uint64)
    return d ^ public_share(key.party, Ring(n_bits).msb(hatx)) ^ c


def dcf_lt(key: dcf.DcfKey, x: Any) -> Any:
    """Additive shares (k, N) uint64 mod 2^out_bits of beta * [x < alpha] (see ``dcf.eval_lt``)."""
    if _on_gpu(x):
        return kernels.dcf_lt(key, check_words(x, key.n_bits, key.n_elems))
    return dcf.eval_lt(key, x)


def gapars(parts: dict, hatx: Any, n_bits: int, shift: int, party: int) -> Any | None:
    """On CuPy: GapARS's output share in one kernel (``kernels.gapars_eval``); on NumPy: None (the gate's array
    code)."""
    return kernels.gapars_eval(parts["dcf"], hatx, parts, n_bits, shift, party) if _on_gpu(hatx) else None


def trfloor(parts: dict, hatx: Any, n_bits: int, shift: int, party: int) -> Any | None:
    """On CuPy: TrFloor's output share in one kernel (``kernels.trfloor_eval``); on NumPy: None."""
    if not _on_gpu(hatx):
        return None
    return kernels.trfloor_eval(parts["carry"], parts["sign"], hatx, parts, n_bits, shift, party)


def relu(parts: dict, hatx: Any, n_bits: int, party: int) -> Any | None:
    """On CuPy: ReLU's output share in one kernel (``kernels.relu_eval``); on NumPy: None."""
    return kernels.relu_eval(parts["dcf"], hatx, parts, n_bits, party) if _on_gpu(hatx) else None


def lut_sums(key: dpf.DpfKey, hatx: Any, table: Any, ring: Ring) -> tuple[Any, Any]:
    """The LUT's unsigned sums (u, v) in ``ring`` (see ``dpf.eval_lut_sums``); the caller applies the party's sign."""
    if _on_gpu(hatx):
        return kernels.lut_eval(key, hatx, table, ring.n)
    return dpf.eval_lut_sums(key, hatx, table, ring)


def interval_rows(key: dcf.DcfKey | kernels.IntervalKey, hatx: Any, tables: Any, rout: Any,
                  out_bits: int) -> Any | None:
    """On CuPy: the interval gate's output shares (r, N) in one kernel (``kernels.interval_eval``: the DCF walked at
    every breakpoint, paths shared between neighbours); ``tables`` = (shifted breakpoints, row differences, the rows
    c_{m-1} - c_0 and c_{m-1}). On NumPy: None (the gate runs its array code). A key not yet in the kernel's layout
    (one that did not come through ``prepare_keys``) is copied into it here, at the cost of that copy."""
    if not _on_gpu(hatx):
        return None
    if isinstance(key, dcf.DcfKey):
        key = kernels.interval_key(key)
    return kernels.interval_eval(key, hatx, *tables, rout, out_bits)


KERNEL_LAYOUTS = {"poly": ("dcf", kernels.interval_key)}   # gate kind -> (its part a kernel reads, that part's layout)


def prepare_keys(tape: Any) -> Any:
    """A tape on the GPU with its gate keys put in the layouts their kernels read (``KERNEL_LAYOUTS``), where the tape
    is loaded rather than in the online run; each replaced key is released, so the keys are held once."""
    for entries in tape.streams.values():
        for entry in entries:
            key = entry.material
            layout = KERNEL_LAYOUTS.get(getattr(key, "kind", None))
            if layout is not None and isinstance(key.parts.get(layout[0]), dcf.DcfKey):
                key.parts[layout[0]] = layout[1](key.parts[layout[0]])
    return tape
