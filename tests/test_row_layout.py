"""The row layouts' index arrays (built once per layout on the host, kept per array module) against per-row loops,
on ragged rows with empty, odd and even lengths."""
import numpy as np
import pytest

from simflush.tasks.local_ops import row_layout


def _naive(lengths):
    ids, first, dest, odd_src, odd_dest, halves = [], [], [], [], [], []
    start = out = 0
    for r, n in enumerate(lengths):
        ids += [r] * n
        for j in range(n // 2):
            first.append(start + 2 * j)
            dest.append(out + j)
        if n % 2:
            odd_src.append(start + n - 1)
            odd_dest.append(out + n // 2)
        halves.append(n - n // 2)
        start += n
        out += n - n // 2
    return ids, first, dest, odd_src, odd_dest, halves


@pytest.mark.parametrize("lengths", [[5], [0, 3, 4, 1, 0, 7], [2] * 6, list(range(1, 13)), [1, 1, 1]])
def test_layout_matches_per_row_loops(lengths):
    layout = row_layout(np.array(lengths, dtype=np.int64), np)
    ids, first, dest, odd_src, odd_dest, halves = _naive(lengths)
    ends = np.cumsum(lengths)
    assert layout.ids.tolist() == ids
    assert layout.starts.tolist() == (ends - lengths).tolist() and layout.ends.tolist() == ends.tolist()
    assert layout.pair_first.tolist() == first and layout.pair_dest.tolist() == dest
    assert layout.odd_src.tolist() == odd_src and layout.odd_dest.tolist() == odd_dest
    assert layout.halves.tolist() == halves


def test_layout_is_kept_per_lengths():
    a = row_layout(np.array([3, 4], dtype=np.int64), np)
    assert row_layout(np.array([3, 4]), np) is a            # same layout, any int dtype: the kept one
    assert row_layout(np.array([4, 3], dtype=np.int64), np) is not a
