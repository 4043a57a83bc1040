"""BCG+21 distributed comparison function (Boyle et al., EUROCRYPT'21) with an arithmetic payload.

f_{alpha,beta}(x) = beta if x < alpha else 0, with beta a vector of k (1 or 2) elements of Z_2^l. One ChaCha
block per level gives both child seeds and both child values (128 bits each: up to two 64-bit payload words).

Key of party b (level-major, element index fastest):
- ``root`` (N, 4) uint32: seed (LSB cleared; t = b implicitly);
- ``scw`` (n, N, 4) uint32: seed CWs with tL_CW in the LSB; ``tr`` (n, N) uint8: tR_CW bits;
- ``vcw`` (n, k, N) uint64: value CWs; ``fcw`` (k, N) uint64: final CW.
Size per element on the wire: 16 + n*(16 + 8k) + ceil(n/8) + 8k bytes. Eval: n PRG calls.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import block128 as B
from .chacha import check_rounds, prg
from .ring import Ring, check_bits, check_words
from .rng import RandomStream
from .xp import get_xp


def key_bytes(n_bits: int, payload_words: int) -> float:
    """Bytes per element of one party's key (t_R bits packed)."""
    return 16 + n_bits * (16 + 8 * payload_words) + -(-n_bits // 8) + 8 * payload_words


@dataclass
class DcfKey:
    """One party's batch of N DCF keys (see module doc)."""

    party: int
    n_bits: int
    out_bits: int
    rounds: int
    root: Any
    scw: Any
    tr: Any
    vcw: Any
    fcw: Any

    @property
    def n_elems(self) -> int:
        return int(self.root.shape[0])

    @property
    def payload_words(self) -> int:
        return int(self.fcw.shape[0])


def _convert(block: Any, k: int, ring: Ring) -> Any:
    """The first k payload words of 128-bit blocks (N, 4) -> (k, N) ring elements."""
    return ring.reduce(get_xp(block).stack([B.low_u64(block, j) for j in range(k)]))


def keygen(alpha: Any, beta: Any, n_bits: int, out_bits: int, stream: RandomStream,
           rounds: int = 12) -> tuple[DcfKey, DcfKey]:
    """Keys for f(x) = beta * [x < alpha]; ``alpha`` (N,) uint64 n-bit, ``beta`` (k, N) uint64 (k = 1 or 2)."""
    check_bits("n_bits", n_bits, 1, 64)
    check_bits("out_bits", out_bits, 1, 64)
    check_rounds(rounds)
    xp = stream.xp
    n = int(np.size(alpha))
    alpha = check_words(xp.asarray(alpha), n_bits, n, "alpha")
    beta = xp.asarray(beta, dtype=xp.uint64)
    if beta.ndim != 2 or beta.shape[1] != n or beta.shape[0] not in (1, 2):
        raise ValueError(f"beta must have shape (k, {n}) with k in (1, 2), got {beta.shape}")
    k = beta.shape[0]
    ring = Ring(out_bits)
    seeds = B.clear_lsb(stream.seeds(2 * n).reshape(2, n, 4))
    t = xp.stack([xp.zeros(n, xp.uint32), xp.ones(n, xp.uint32)])
    v_alpha = xp.zeros((k, n), dtype=xp.uint64)
    scw = xp.zeros((n_bits, n, 4), dtype=xp.uint32)
    tr = xp.zeros((n_bits, n), dtype=xp.uint8)
    vcw = xp.zeros((n_bits, k, n), dtype=xp.uint64)
    roots = seeds.copy()
    for i in range(n_bits):
        a = ((alpha >> np.uint64(n_bits - 1 - i)) & np.uint64(1)).astype(xp.uint32)
        g = prg(seeds.reshape(2 * n, 4), rounds).reshape(2, n, 16)
        sl, sr, vl, vr = g[..., 0:4], g[..., 4:8], g[..., 8:12], g[..., 12:16]
        s_lose, s_keep = B.select(a, sl, sr), B.select(a, sr, sl)
        v_lose, v_keep = B.select(a, vl, vr), B.select(a, vr, vl)
        sign_neg = t[1].astype(bool)  # sigma = (-1)^{t1}
        s_cw = B.clear_lsb(s_lose[0] ^ s_lose[1])
        raw = ring.sub(ring.sub(_convert(v_lose[1], k, ring), _convert(v_lose[0], k, ring)), v_alpha)
        raw = ring.add(raw, beta * a.astype(xp.uint64))
        v_cw = xp.where(sign_neg, ring.neg(raw), raw)
        v_alpha = ring.add(ring.sub(v_alpha, _convert(v_keep[1], k, ring)), _convert(v_keep[0], k, ring))
        v_alpha = ring.add(v_alpha, xp.where(sign_neg, ring.neg(v_cw), v_cw))
        tl_cw = B.lsb(sl[0]) ^ B.lsb(sl[1]) ^ a ^ np.uint32(1)
        tr_cw = B.lsb(sr[0]) ^ B.lsb(sr[1]) ^ a
        scw[i], tr[i], vcw[i] = B.with_lsb(s_cw, tl_cw), tr_cw.astype(xp.uint8), v_cw
        t_keep = B.lsb(s_keep) ^ t * xp.where(a.astype(bool), tr_cw, tl_cw)
        seeds = B.clear_lsb(s_keep) ^ B.mask_by(t, s_cw[None])
        t = t_keep
    raw = ring.sub(ring.sub(_convert(seeds[1], k, ring), _convert(seeds[0], k, ring)), v_alpha)
    fcw = xp.where(t[1].astype(bool), ring.neg(raw), raw)
    k0, k1 = (DcfKey(b, n_bits, out_bits, rounds, roots[b], scw.copy(), tr.copy(), vcw.copy(), fcw.copy())
              for b in (0, 1))
    return k0, k1


def tile(key: DcfKey, times: int) -> DcfKey:
    """The batch of keys repeated ``times`` times along the elements (copy i of element e at i * N + e): one
    evaluation then serves ``times`` points of every element."""
    xp = get_xp(key.root)

    def rep(a: Any, axis: int) -> Any:
        return xp.concatenate([a] * times, axis=axis)

    return DcfKey(key.party, key.n_bits, key.out_bits, key.rounds, rep(key.root, 0), rep(key.scw, 1),
                  rep(key.tr, 1), rep(key.vcw, 2), rep(key.fcw, 1))


def eval_lt(key: DcfKey, x: Any) -> Any:
    """Additive shares (k, N) uint64 mod 2^out_bits of beta * [x < alpha].

    Array code; ``engine.dcf_lt`` runs the fused kernel ``kernels.dcf_lt`` on CuPy inputs (same bits)."""
    x = check_words(x, key.n_bits, key.n_elems)
    xp = get_xp(x)
    ring, k = Ring(key.out_bits), key.payload_words
    seed, t = key.root, xp.full(key.n_elems, key.party, dtype=xp.uint32)
    acc = xp.zeros((k, key.n_elems), dtype=xp.uint64)
    for i in range(key.n_bits):
        xi = ((x >> np.uint64(key.n_bits - 1 - i)) & np.uint64(1)).astype(xp.uint32)
        g = prg(seed, key.rounds)
        s_side = B.select(xi, g[:, 4:8], g[:, 0:4])
        v_side = B.select(xi, g[:, 12:16], g[:, 8:12])
        cw = key.scw[i]
        tcw = xp.where(xi.astype(bool), key.tr[i].astype(xp.uint32), B.lsb(cw))
        acc = ring.add(acc, ring.add(_convert(v_side, k, ring), key.vcw[i] * t.astype(xp.uint64)))
        t_next = B.lsb(s_side) ^ (t & tcw)
        seed = B.clear_lsb(s_side) ^ B.mask_by(t, B.clear_lsb(cw))
        t = t_next
    acc = ring.add(acc, ring.add(_convert(seed, k, ring), key.fcw * t.astype(xp.uint64)))
    return ring.neg(acc) if key.party else acc
