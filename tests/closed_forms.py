"""The spec's closed forms (§3, §4.4), written out independently of simflush, for checking it.

Per party, per layer, full-matrix path; ``i_r``/``i_c`` generalise the rsqrt/recip iteration count
(the snapshot uses 1) from the per-task structures of spec §3.4 and §3.8.
"""

import math


def maxdiff_rounds(lengths: list[int]) -> list[int]:
    sizes, cur = [], list(lengths)
    while cur and max(cur) > 1:
        sizes.append(sum(L // 2 for L in cur))
        cur = [(L + 1) // 2 for L in cur]
    return sizes


def layer_counts(B, T, D, H, F, causal, full_cubic, i_r=1, i_c=1):
    N, R = B * T, B * H * T
    lengths = [t + 1 for t in range(T) for _ in range(B * H)] if causal else [T] * R
    A = sum(lengths)
    d = maxdiff_rounds(lengths)
    K = len(d)
    X = 1 if full_cubic else 0
    ln_opens, ln_pfss = 6 + 6 * i_r, 4 + 3 * i_r
    recip_opens, recip_pfss = 3 + 4 * i_c, 2 + 2 * i_c
    opens = 2 * ln_opens + 3 + (K + 6 + recip_opens + 2) + 3 + (3 + 5 * X)
    pfss = 2 * ln_pfss + 2 + (K + 3 + recip_pfss + 1) + 2 + (3 + 2 * X)
    ln_mask, ln_beaver = (3 + 3 * i_r) * N + N * D, 3 * N * D + (1 + 6 * i_r) * N
    mask = (2 * ln_mask + 5 * N * D + B * H * T * T + sum(d) + 4 * A + (2 + 2 * i_c) * R
            + N * F * (2 + 2 * X) + N * D)
    beaver = 2 * ln_beaver + 3 * N * D + B * H * T * T + 7 * A + (3 + 4 * i_c) * R + 6 * X * N * F
    return {"open_flushes": opens, "pfss_flushes": pfss, "opened_words_mask": mask,
            "opened_words_beaver": beaver, "hatx_words": mask, "K": K, "A": A,
            "largest_open": max(3 * N * D, B * H * T * T + N * D, 2 * A, N * F * (1 + X), 2 * N * D)}


def wire_bytes(words: int, n_bits: int) -> int:
    return 8 * math.ceil(words * n_bits / 64)
