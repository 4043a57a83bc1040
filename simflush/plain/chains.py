"""Values through staggered chains (``--chains K``): a task's inputs cut into its chain pieces, their outputs joined.

``models.layer.split_into_chains`` splits each task's row dimension by sizes only; here the same split is given to
values. Every task computes its rows (or elements, or matmul batches and rows) independently of the others, so any
assignment with the pieces' sizes gives the unsplit task's values: LayerNorm rows, elementwise words and matmul
batches go to the pieces in order, a matmul with fewer batches than chains splits its left rows, and a softmax's
rows of each valid length are dealt in order to the pieces that take rows of that length (as many as each takes).
"""
from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np

from models.layer import TaskSpec

from ..tasks.local_ops import kept_copy, row_starts
from ..tasks.values import RingArray


def split_inputs(task: TaskSpec, pieces: list[TaskSpec], feed: Iterator[RingArray], xp: Any
                 ) -> tuple[list[RingArray], list[list[RingArray]]]:
    """The unsplit task's inputs, taken from ``feed`` as its builder would, and each piece's inputs (in the order
    the pieces' builders ask for them)."""
    kind, p = task.kind, task.params
    if kind in ("layernorm", "trunc", "cubic", "gelu_sigma"):
        x = next(feed)
        sizes = [q.params["rows"] * p["cols"] if kind == "layernorm" else q.params["n"] for q in pieces]
        return [x], [[piece] for piece in _cut(x, sizes)]
    if kind == "matmul":
        left, right = next(feed), next(feed)
        b, m, k, n = p["batches"], p["m"], p["k"], p["n"]
        if pieces[0].params["batches"] != b:
            sizes = [q.params["batches"] for q in pieces]
            return [left, right], [list(pair) for pair in zip(_cut(left, [s * m * k for s in sizes]),
                                                              _cut(right, [s * k * n for s in sizes]), strict=True)]
        rows = left.data.reshape(b, m, k)
        ends = np.cumsum([q.params["m"] for q in pieces])
        return [left, right], [[RingArray(rows[:, e - q.params["m"]:e].reshape(-1), left.scale), right]
                               for q, e in zip(pieces, ends, strict=True)]
    if kind in ("attention_softmax", "decode_softmax"):
        scores = next(feed)
        picks = _row_picks(scores.rows, pieces)
        out = [[_rows_of(scores, rows, xp)] for rows in picks]
        if kind == "attention_softmax":
            return [scores], out
        values, width = next(feed), p["head_dim"] * next(iter(p["lengths"]))   # each row's cur_len x Dh values
        for piece_inputs, rows in zip(out, picks, strict=True):
            piece_inputs.append(_blocks_of(values, rows, width, xp))
        return [scores, values], out
    raise ValueError(f"no chain split for task kind {kind!r}")


def join_outputs(task: TaskSpec, pieces: list[TaskSpec], inputs: list[RingArray], outputs: list[RingArray],
                 xp: Any) -> RingArray:
    """The unsplit task's output from its pieces' ``outputs`` (``inputs``: the unsplit task's)."""
    kind, p = task.kind, task.params
    scale = outputs[0].scale
    if kind == "matmul" and pieces[0].params["batches"] == p["batches"]:
        b, n = p["batches"], p["n"]
        parts = [o.data.reshape(b, q.params["m"], n) for o, q in zip(outputs, pieces, strict=True)]
        return RingArray(xp.concatenate(parts, axis=1).reshape(-1), scale)
    if kind in ("attention_softmax", "decode_softmax"):
        picks = _row_picks(inputs[0].rows, pieces)
        width = 1 if kind == "attention_softmax" else p["head_dim"]   # probabilities per element; context per row
        lengths = inputs[0].rows if kind == "attention_softmax" else np.full(inputs[0].rows.size, 1, np.int64)
        joined = xp.empty(int(lengths.sum()) * width, dtype=outputs[0].data.dtype)
        for o, rows in zip(outputs, picks, strict=True):
            joined[_element_index(lengths * width, rows, xp)] = o.data
        return RingArray(joined, scale, inputs[0].rows if kind == "attention_softmax" else None)
    return RingArray(xp.concatenate([o.data for o in outputs]), scale)


def _cut(x: RingArray, sizes: list[int]) -> list[RingArray]:
    if x.rows is not None:
        raise ValueError("a value with row structure cannot be cut elementwise between chains")
    ends = np.cumsum(sizes)
    return [RingArray(x.data[e - s:e], x.scale) for s, e in zip(sizes, ends, strict=True)]


def _row_picks(lengths: np.ndarray, pieces: list[TaskSpec]) -> list[np.ndarray]:
    """Each piece's rows (indices, in order): the rows of each valid length, in order, dealt to the pieces that
    take that length, as many as each takes."""
    picks: list[list[np.ndarray]] = [[] for _ in pieces]
    for length in sorted({int(v) for v in lengths}):
        rows = np.flatnonzero(lengths == length)
        counts = [q.params["lengths"].get(length, 0) for q in pieces]
        if sum(counts) != rows.size:
            raise ValueError(f"the chain pieces take {sum(counts)} rows of length {length}; the value has {rows.size}")
        for pick, part in zip(picks, np.split(rows, np.cumsum(counts)[:-1]), strict=True):
            pick.append(part)
    return [np.sort(np.concatenate(p)) for p in picks]


def _element_index(lengths: np.ndarray, rows: np.ndarray, xp: Any) -> Any:
    """Where the elements of ``rows`` are, rows of ``lengths`` laid back to back; kept per layout (every layer has
    the same), on ``xp``."""
    return _index_on(np.asarray(lengths, dtype=np.int64).tobytes(), np.asarray(rows, dtype=np.int64).tobytes(), xp)


@lru_cache(maxsize=256)
def _index_on(lengths_key: bytes, rows_key: bytes, xp: Any) -> Any:
    lengths, rows = np.frombuffer(lengths_key, dtype=np.int64), np.frombuffer(rows_key, dtype=np.int64)
    counts = lengths[rows]
    offsets = np.arange(int(counts.sum())) - np.repeat(row_starts(counts), counts)   # each element within its row
    return kept_copy(np.repeat(row_starts(lengths)[rows], counts) + offsets, xp)


def _rows_of(x: RingArray, rows: np.ndarray, xp: Any) -> RingArray:
    return RingArray(x.data[_element_index(x.rows, rows, xp)], x.scale, x.rows[rows])


def _blocks_of(x: RingArray, rows: np.ndarray, width: int, xp: Any) -> RingArray:
    count = x.words // width
    return RingArray(x.data[_element_index(np.full(count, width, np.int64), rows, xp)], x.scale)
