"""The local (communication-free) operations tasks ask of their context, by name (issue #11, item 2).

Each ``LocalOp`` has a ``LocalOpDef``: what it computes, its symbolic size rule (output words from the inputs' words
and the call's parameters: what ``SymbolicContext`` uses), and its semantics on ring arrays (``apply``), written for one
party's view so that the same definition serves cleartext (``PlainContext`` is the one party holding everything) and
shares (the real backend): public constants are added by party 0 only. ``share_local`` is False for an operation
that no party can compute on its share alone (SUF takes two such shortcuts on some paths): a value context refuses it.

Row-structured values carry their row lengths (``RingArray.rows``: ragged causal rows included); an operation given
a value without rows and a ``rows`` parameter splits it into that many equal rows.
"""

from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np

from .values import GateOutput, RingArray


class LocalOp(StrEnum):
    SLICE = "slice"                    # elements [start, start + count)
    CONCAT = "concat"                  # the inputs back to back
    PART = "part"                      # output ``index`` of a gate (a coefficient c_k, a LUT value, a bit)
    ADD_PART = "add_part"              # x + (output ``index`` of a gate) * 2^shift   (Horner's + c_k 2^f, + c0)
    ROW_SUM_SCALED = "row_sum_scaled"  # per row: sum * ``const`` at ``const_scale`` (LayerNorm's sum * 1/D)
    SUB_ROW = "sub_row"                # x - v[row]                                   (x - mean)
    ADD_CONST = "add_const"            # x + ``const`` (a word at x's scale)          (var + eps)
    CONST_MINUS = "const_minus"        # ``const`` - x                                 (1.5 - x y^2 / 2, 2 - t)
    PAIRWISE_DIFF = "pairwise_diff"    # per row: m[2j] - m[2j+1] for j < floor(L/2)
    MAX_FROM_RELU = "max_from_relu"    # per row: m[2j+1] + relu_j, an odd last element carried: ceil(L/2)
    ROWMAX_MINUS = "rowmax_minus"      # m[row] - x                                   (t = max - score >= 0)
    ROW_SUMS = "row_sums"              # per-row sums
    SUB = "sub"                        # x - y                                         (ReLU - (ReLU - GeLU))
    B2A_OWN = "b2a_own"                # the boolean share of party ``holder`` (the other party: 0)
    B2A_COMBINE = "b2a_combine"        # b_p - 2 [b0 b1]_p: arithmetic shares of the bit
    SHIFT = "shift"                    # floor(x / 2^shift) on each share (SOFTMAX_TRUNC_REF): not share-local
    ROW_VARIANCE = "row_variance"      # per row: sum of squares * const (SUF_LN_GPU): not share-local
    # SIGMA's runtime (tasks/sigma_runtime.py) models GPU-MPC's local work for its cost model only: the caller
    # gives the words (``words=``); these have no values (the cost presets price them by name)
    SIGMA_KEY_H2D = "sigma_key_h2d"          # u64 words of key copied host -> device
    SIGMA_PACK = "sigma_pack"                # values -> packed u64 wire words
    SIGMA_UNPACK = "sigma_unpack"            # the peer's packed words unpacked and added
    SIGMA_KERNEL = "sigma_kernel"            # an elementwise kernel (linear combination, select, correction, mux)
    SIGMA_REDUCE = "sigma_reduce"            # a row or tree reduction (sum, pairwise max step)
    SIGMA_LUT_READS = "sigma_lut_reads"      # table words read by full-domain LUT evaluation (2^b per element)
    SIGMA_CPU_COPY = "sigma_cpu_copy"        # words moved between GPU and CPU around the LLAMA rsqrt
    SIGMA_CPU_RSQRT = "sigma_cpu_rsqrt"      # the LLAMA CPU evaluation of F2BF16 and the 13-bit LUT, per row


SizeRule = Callable[[tuple[int, ...], dict], int]


@dataclass(frozen=True)
class LocalOpDef:
    meaning: str
    size: SizeRule
    apply: Callable[..., RingArray]   # (arith, party, *inputs, **params) -> RingArray
    share_local: bool = True


# --- row layout -----------------------------------------------------------------------------------------------------
# Row lengths live on the host (NumPy int64) and every index array derived from them is built there once per layout
# and kept, with one copy per array module: on a GPU, computing them from device lengths synchronised at each call
# (``repeat`` with device counts, ``nonzero``, a sum read back), and the same layouts recur in every layer.

def row_lengths(x: RingArray, rows: int | None) -> np.ndarray:
    """``x``'s row lengths (host int64), or ``rows`` equal rows when it has none."""
    if x.rows is not None:
        return x.rows
    if not rows or x.words % rows:
        raise ValueError(f"{x.words} words do not split into {rows} equal rows")
    return np.full(rows, x.words // rows, dtype=np.int64)


@dataclass(frozen=True)
class RowLayout:
    """Index arrays of rows of ``lengths`` laid back to back (one array module's copies)."""

    ids: Any          # the row of each element
    starts: Any       # each row's first element
    ends: Any         # one past each row's last element
    pair_first: Any   # the first element (2j) of each pair (2j, 2j+1), row by row
    pair_dest: Any    # where each pair's result goes in the halved rows (ceil(L/2) each)
    odd_src: Any      # the last element of each odd-length row ...
    odd_dest: Any     # ... and where it is carried to in the halved rows
    halves: np.ndarray   # the halved rows' lengths (host)


def row_layout(lengths: np.ndarray, xp: Any) -> RowLayout:
    return _layout_on(np.asarray(lengths, dtype=np.int64).tobytes(), xp)


def row_starts(lengths: np.ndarray) -> np.ndarray:
    """Where each of rows of ``lengths``, laid back to back, begins."""
    return np.cumsum(lengths) - lengths


@lru_cache(maxsize=256)
def _host_layout(key: bytes) -> RowLayout:
    lengths = np.frombuffer(key, dtype=np.int64)
    pairs, halves = lengths // 2, lengths - lengths // 2
    starts, half_starts = row_starts(lengths), row_starts(halves)
    pair_rows = np.repeat(np.arange(lengths.size), pairs)
    j = np.arange(pair_rows.size) - row_starts(pairs)[pair_rows]   # each pair's index within its row
    odd = np.flatnonzero(lengths % 2)
    return RowLayout(np.repeat(np.arange(lengths.size), lengths), starts, starts + lengths,
                     starts[pair_rows] + 2 * j, half_starts[pair_rows] + j, starts[odd] + lengths[odd] - 1,
                     half_starts[odd] + pairs[odd], halves)


@lru_cache(maxsize=256)
def _layout_on(key: bytes, xp: Any) -> RowLayout:
    host = _host_layout(key)
    if xp is np:
        return host
    return RowLayout(**{f.name: kept_copy(getattr(host, f.name), xp) for f in fields(RowLayout) if f.name != "halves"},
                     halves=host.halves)


def kept_copy(host: np.ndarray, xp: Any) -> Any:
    """``host`` on array module ``xp``, for a cache: on a GPU the copy has landed when this returns, since threads
    on other streams read it without waiting for this one."""
    if xp is np:
        return host
    out = xp.asarray(host)
    xp.cuda.get_current_stream().synchronize()
    return out


def row_ids(lengths: np.ndarray, xp: Any) -> Any:
    """The row of each element of rows of ``lengths`` laid back to back."""
    return row_layout(lengths, xp).ids


def _same_scale(op: str, *values: RingArray) -> int:
    scales = {v.scale for v in values}
    if len(scales) != 1:
        raise ValueError(f"{op}: operands at different scales {sorted(scales)}")
    return scales.pop()


# --- semantics ------------------------------------------------------------------------------------------------------

def _slice(a, party, x, *, start: int, count: int) -> RingArray:
    return RingArray(x.data[start:start + count], x.scale)


def _concat(a, party, *xs) -> RingArray:
    rows = None if any(x.rows is None for x in xs) else np.concatenate([x.rows for x in xs])
    return RingArray(a.xp.concatenate([x.data for x in xs]), _same_scale("concat", *xs), rows)


def _part(a, party, out: GateOutput, *, index: int) -> RingArray:
    return out.parts[index]


def _add_part(a, party, x, out: GateOutput, *, index: int, shift: int) -> RingArray:
    c = out.parts[index]
    if c.scale + shift != x.scale:
        raise ValueError(f"add_part: coefficient at scale {c.scale} << {shift} added to a value at scale {x.scale}")
    return RingArray(a.wrap(x.data + c.data * a.const(1 << shift)), x.scale, x.rows)


def _row_sum_scaled(a, party, x, *, rows: int, const: int, const_scale: int) -> RingArray:
    sums = _sums(a, x.data, row_lengths(x, rows))
    return RingArray(a.wrap(sums * a.const(const)), x.scale + const_scale)


def _sums(a, data, lengths) -> Any:
    """Per-row sums as differences of one running sum (uint64 wraps mod 2^64, a multiple of 2^n)."""
    xp = a.xp
    running = xp.concatenate([xp.zeros(1, dtype=a.dtype), xp.cumsum(data, dtype=a.dtype)])
    layout = row_layout(lengths, xp)
    return a.wrap(running[layout.ends] - running[layout.starts])


def _sub_row(a, party, x, v, *, rows: int | None = None) -> RingArray:
    lengths = row_lengths(x, rows or v.words)
    return RingArray(a.wrap(x.data - v.data[row_ids(lengths, a.xp)]), _same_scale("sub_row", x, v), x.rows)


def _add_const(a, party, x, *, const: int) -> RingArray:
    return RingArray(a.wrap(x.data + a.const(const)) if party == 0 else x.data, x.scale, x.rows)


def _const_minus(a, party, x, *, const: int) -> RingArray:
    c = a.const(const) if party == 0 else a.const(0)
    return RingArray(a.wrap(c - x.data), x.scale, x.rows)


def _pairwise_diff(a, party, m, *, pairs: int) -> RingArray:
    lengths = row_lengths(m, 1)
    first = row_layout(lengths, a.xp).pair_first
    return RingArray(a.wrap(m.data[first] - m.data[first + 1]), m.scale, lengths // 2)


def _max_from_relu(a, party, m, r) -> RingArray:
    """max(x, y) = y + ReLU(x - y) per pair; the last element of an odd row is carried over."""
    layout = row_layout(row_lengths(m, 1), a.xp)
    out = a.xp.empty(int(layout.halves.sum()), dtype=m.data.dtype)
    out[layout.pair_dest] = a.wrap(m.data[layout.pair_first + 1] + r.data)
    out[layout.odd_dest] = m.data[layout.odd_src]
    return RingArray(out, _same_scale("max_from_relu", m, r), layout.halves)


def _rowmax_minus(a, party, x, m) -> RingArray:
    lengths = row_lengths(x, m.words)
    return RingArray(a.wrap(m.data[row_ids(lengths, a.xp)] - x.data), _same_scale("rowmax_minus", x, m), x.rows)


def _row_sums(a, party, x, *, rows: int) -> RingArray:
    return RingArray(_sums(a, x.data, row_lengths(x, rows)), x.scale)


def _sub(a, party, x, y) -> RingArray:
    return RingArray(a.wrap(x.data - y.data), _same_scale("sub", x, y), x.rows)


def _b2a_own(a, party, bit, *, holder: int) -> RingArray:
    return RingArray(bit.data if party == holder else a.xp.zeros_like(bit.data), 0, bit.rows)


def _b2a_combine(a, party, bit, prod) -> RingArray:
    return RingArray(a.wrap(bit.data - prod.data * a.const(2)), 0, bit.rows)


def _shift(a, party, x, *, shift: int) -> RingArray:
    return RingArray(a.floor_shift(a.signed(x.data), shift), x.scale - shift, x.rows)


def _row_variance(a, party, x, *, rows: int, const: int, const_scale: int) -> RingArray:
    sq = RingArray(a.wrap(x.data * x.data), 2 * x.scale, x.rows)
    return _row_sum_scaled(a, party, sq, rows=rows, const=const, const_scale=const_scale)


def _first(words: tuple[int, ...], params: dict) -> int:
    return words[0]


def _schedule_only(a, party, *inputs, **params) -> RingArray:
    raise ValueError("SIGMA's runtime tasks model its schedule and costs; they have no values")


def _given(words: tuple[int, ...], params: dict) -> int:
    return params["words"]


LOCAL_OPS: dict[LocalOp, LocalOpDef] = {
    LocalOp.SLICE: LocalOpDef("elements [start, start + count)", lambda w, p: p["count"], _slice),
    LocalOp.CONCAT: LocalOpDef("the inputs back to back", lambda w, p: sum(w), _concat),
    LocalOp.PART: LocalOpDef("output `index` of a gate", _first, _part),
    LocalOp.ADD_PART: LocalOpDef("x + part[index] * 2^shift", _first, _add_part),
    LocalOp.ROW_SUM_SCALED: LocalOpDef("per row: sum * const", lambda w, p: p["rows"], _row_sum_scaled),
    LocalOp.SUB_ROW: LocalOpDef("x - v[row]", _first, _sub_row),
    LocalOp.ADD_CONST: LocalOpDef("x + const (party 0)", _first, _add_const),
    LocalOp.CONST_MINUS: LocalOpDef("const (party 0) - x", _first, _const_minus),
    LocalOp.PAIRWISE_DIFF: LocalOpDef("per row: m[2j] - m[2j+1]", lambda w, p: p["pairs"], _pairwise_diff),
    LocalOp.MAX_FROM_RELU: LocalOpDef("per row: m[2j+1] + relu_j, odd last carried", lambda w, p: w[0] - w[1],
                                      _max_from_relu),
    LocalOp.ROWMAX_MINUS: LocalOpDef("m[row] - x", _first, _rowmax_minus),
    LocalOp.ROW_SUMS: LocalOpDef("per-row sums", lambda w, p: p["rows"], _row_sums),
    LocalOp.SUB: LocalOpDef("x - y", _first, _sub),
    LocalOp.B2A_OWN: LocalOpDef("party `holder`'s boolean share, 0 at the other", _first, _b2a_own),
    LocalOp.B2A_COMBINE: LocalOpDef("b_p - 2 [b0 b1]_p", _first, _b2a_combine),
    LocalOp.SHIFT: LocalOpDef("floor(share / 2^shift)", _first, _shift, share_local=False),
    LocalOp.ROW_VARIANCE: LocalOpDef("per row: sum of squares * const", lambda w, p: p["rows"], _row_variance,
                                     share_local=False),
    **{op: LocalOpDef(f"SIGMA's {op.removeprefix('sigma_').replace('_', ' ')} (a schedule model)", _given,
                      _schedule_only, share_local=False)
       for op in LocalOp if op.startswith("sigma_")},
}
