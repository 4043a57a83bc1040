"""BCG+21 distributed comparison function (Boyle et al., EUROCRYPT'21) with an arithmetic payload.

f_{alpha,beta}(x) = beta if x < alpha else 0, with beta a vector of k (1 or 2) elements of Z_2^l. One ChaCha
block per level gives both child seeds and both child values (128 bits each: up to two 64-bit payload words).

Key of party b (level-major, element index fastest):
- ``root`` (N, 4) uint32: seed (LSB cleared; t = b implicitly);
- ``scw`` (d, N, 4) uint32: seed CWs with tL_CW in the LSB; ``tr`` (d, N) uint8: tR_CW bits;
- ``vcw`` (d, k, N) uint64: value CWs; ``fcw`` (k, N) uint64: final CW (the leaf table with truth-table leaves).
Size per element on the wire: 16 + d*(16 + 8k) + ceil(d/8) + 8k bytes. Eval: d PRG calls; d = n.

**Truth-table leaves** (``leaf_bits`` = b > 0, payload 1): the tree covers the top d = n - b bits of x, and
``fcw`` is a correction table L of shape (2^b, N) instead of one final CW. With x = (X, z), X = x >> b,
[x < alpha] = [X < A] + [X = A][z < a]: the tree gives [X < A] as any DCF does, and the leaf of X adds
(-1)^b (Convert(F(s, z)) + t L[z]), F a PRF of the leaf seed (ChaCha keyed by s, counter 1 + z/8, word pair z mod 8).
Off the path of A both parties' leaves are equal and cancel; on it the dealer sets
L[z] = (-1)^{t1} (C1(z) - C0(z) - V + beta [z < a]) (V: the parties' path-sum difference), the fcw rule with the
comparison of the low bits folded in. So b levels cost one PRF call, for 8 (2^b - 1) - b (16 + 8) bytes more key:
worth it where one key is walked at many points that share their low bits (the interval gate, ``gates.poly``).
With ``leaf_fold`` = k, z's PRF word is word z' of F(s, .), z' = (z mod 2^(b-k)) 2^k + z div 2^(b-k): the 2^k
values of z's top k bits (points 2^(b-k) apart, which an interval key's neighbouring points are) sit in one ChaCha
block, so one call serves all of them (``simflush.tasks.interval_walk``: the fold, and ``leaf_index``, the layout).
A permutation of the words, so every entry still has its own PRF word.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simflush.tasks.interval_walk import leaf_index

from . import block128 as B
from .chacha import chacha_block, check_rounds, prg, seed_state
from .ring import Ring, check_bits, check_words
from .rng import RandomStream
from .xp import get_xp


def key_bytes(n_bits: int, payload_words: int, leaf_bits: int = 0) -> float:
    """Bytes per element of one party's key (t_R bits packed)."""
    depth = n_bits - leaf_bits
    final = 8 * (1 << leaf_bits) if leaf_bits else 8 * payload_words
    return 16 + depth * (16 + 8 * payload_words) + -(-depth // 8) + final


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
    fcw: Any                # (k, N) final CW, or the (2^leaf_bits, N) leaf table
    leaf_bits: int = 0
    leaf_fold: int = 0      # the leaf's top bits whose PRF words share a block (module doc)

    @property
    def n_elems(self) -> int:
        return int(self.root.shape[0])

    @property
    def payload_words(self) -> int:
        return int(self.vcw.shape[1])

    @property
    def depth(self) -> int:
        """Tree levels (the bits above the truth-table leaf)."""
        return self.n_bits - self.leaf_bits


def _convert(block: Any, k: int, ring: Ring) -> Any:
    """The first k payload words of 128-bit blocks (N, 4) -> (k, N) ring elements."""
    return ring.reduce(get_xp(block).stack([B.low_u64(block, j) for j in range(k)]))


def keygen(alpha: Any, beta: Any, n_bits: int, out_bits: int, stream: RandomStream,
           rounds: int = 12, leaf_bits: int = 0, leaf_fold: int = 0) -> tuple[DcfKey, DcfKey]:
    """Keys for f(x) = beta * [x < alpha]; ``alpha`` (N,) uint64 n-bit, ``beta`` (k, N) uint64 (k = 1 or 2);
    ``leaf_bits``: the low bits covered by a truth-table leaf, ``leaf_fold``: its PRF layout (module doc; payload 1
    only)."""
    check_bits("n_bits", n_bits, 1, 64)
    check_bits("out_bits", out_bits, 1, 64)
    check_bits("leaf_bits", leaf_bits, 0, min(n_bits - 1, MAX_LEAF_BITS))
    check_bits("leaf_fold", leaf_fold, 0, min(3, leaf_bits))
    check_rounds(rounds)
    xp = stream.xp
    n = int(np.size(alpha))
    alpha = check_words(xp.asarray(alpha), n_bits, n, "alpha")
    beta = xp.asarray(beta, dtype=xp.uint64)
    if beta.ndim != 2 or beta.shape[1] != n or beta.shape[0] not in (1, 2):
        raise ValueError(f"beta must have shape (k, {n}) with k in (1, 2), got {beta.shape}")
    k = beta.shape[0]
    if leaf_bits and k != 1:
        raise ValueError(f"a truth-table leaf (leaf_bits={leaf_bits}) takes a payload of 1 word, got {k}")
    depth = n_bits - leaf_bits
    ring = Ring(out_bits)
    seeds = B.clear_lsb(stream.seeds(2 * n).reshape(2, n, 4))
    t = xp.stack([xp.zeros(n, xp.uint32), xp.ones(n, xp.uint32)])
    v_alpha = xp.zeros((k, n), dtype=xp.uint64)
    scw = xp.zeros((depth, n, 4), dtype=xp.uint32)
    tr = xp.zeros((depth, n), dtype=xp.uint8)
    vcw = xp.zeros((depth, k, n), dtype=xp.uint64)
    roots = seeds.copy()
    for i in range(depth):
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
    if leaf_bits:
        z = xp.arange(1 << leaf_bits, dtype=xp.uint64)[:, None]
        below = (z < (alpha & np.uint64((1 << leaf_bits) - 1))[None, :]).astype(xp.uint64) * beta
        raw = ring.add(ring.sub(ring.sub(leaf_values(seeds[1], leaf_bits, ring, rounds, fold=leaf_fold),
                                         leaf_values(seeds[0], leaf_bits, ring, rounds, fold=leaf_fold)), v_alpha),
                       below)
    else:
        raw = ring.sub(ring.sub(_convert(seeds[1], k, ring), _convert(seeds[0], k, ring)), v_alpha)
    fcw = xp.where(t[1].astype(bool), ring.neg(raw), raw)
    k0, k1 = (DcfKey(b, n_bits, out_bits, rounds, roots[b], scw.copy(), tr.copy(), vcw.copy(), fcw.copy(),
                     leaf_bits, leaf_fold) for b in (0, 1))
    return k0, k1


MAX_LEAF_BITS = 12


def leaf_values(seeds: Any, leaf_bits: int, ring: Ring, rounds: int, z: Any = None, fold: int = 0) -> Any:
    """Convert(F(s, z')) of leaf seeds (N, 4), z' = ``leaf_index`` of z: at every z < 2^leaf_bits, shape
    (2^leaf_bits, N), or at one z per seed (``z`` (N,)), shape (N,). F(s, w) is word pair w mod 8 of ChaCha keyed by s
    at counter 1 + w // 8 (the tree's PRG uses counter 0)."""
    xp = get_xp(seeds)
    if z is None:
        blocks = [_leaf_block(seeds, xp.full(seeds.shape[0], c, dtype=xp.uint32), rounds)
                  for c in range(max(1, (1 << leaf_bits) // 8))]
        words = xp.concatenate([_pairs(b) for b in blocks], axis=0)[: 1 << leaf_bits]
        at = leaf_index(xp.arange(1 << leaf_bits, dtype=xp.uint64), leaf_bits, fold).astype(xp.int64)
        return ring.reduce(words[at])
    w = leaf_index(z, leaf_bits, fold)
    block = _leaf_block(seeds, (w >> np.uint64(3)).astype(xp.uint32), rounds)
    pairs = _pairs(block)
    return ring.reduce(xp.take_along_axis(pairs, (w & np.uint64(7)).astype(xp.int64)[None, :], axis=0)[0])


def _leaf_block(seeds: Any, counter: Any, rounds: int) -> Any:
    state = seed_state(seeds)
    state[:, 12] = counter + np.uint32(1)
    return chacha_block(state, rounds)


def _pairs(block: Any) -> Any:
    """A ChaCha block (N, 16) uint32 as its 8 little-endian uint64 words, shape (8, N)."""
    xp = get_xp(block)
    return xp.stack([block[:, 2 * w].astype(xp.uint64) | (block[:, 2 * w + 1].astype(xp.uint64) << np.uint64(32))
                     for w in range(8)])


def tile(key: DcfKey, times: int) -> DcfKey:
    """The batch of keys repeated ``times`` times along the elements (copy i of element e at i * N + e): one
    evaluation then serves ``times`` points of every element."""
    xp = get_xp(key.root)

    def rep(a: Any, axis: int) -> Any:
        return xp.concatenate([a] * times, axis=axis)

    return DcfKey(key.party, key.n_bits, key.out_bits, key.rounds, rep(key.root, 0), rep(key.scw, 1),
                  rep(key.tr, 1), rep(key.vcw, 2), rep(key.fcw, 1), key.leaf_bits, key.leaf_fold)


def eval_lt(key: DcfKey, x: Any) -> Any:
    """Additive shares (k, N) uint64 mod 2^out_bits of beta * [x < alpha].

    Array code; ``engine.dcf_lt`` runs the fused kernel ``kernels.dcf_lt`` on CuPy inputs (same bits)."""
    x = check_words(x, key.n_bits, key.n_elems)
    return _walk_points(key, x[None, :], get_xp(x).arange(key.n_elems))


POINTS_PER_WALK = 1 << 20   # element-points walked at once by ``eval_lt_points`` (about 200 bytes of state each)


def eval_lt_points(key: DcfKey, points: Any) -> Any:
    """``eval_lt`` at M points of every element (``points`` (M, N), each row checked as ``eval_lt`` checks x):
    shares (M, N) of beta * [points < alpha], payload 1 (the first word of a longer one).

    Array code of the interval gate (``gates.poly``): consecutive points of an element that share a path prefix
    share its nodes, so each level expands only the nodes that differ from the previous point's (GeLU-const's 258
    points: about 850 expansions an element instead of 258 walks). Same bits as ``eval_lt`` point by point; the
    fused kernel ``kernels.interval_eval`` does the same walk on the GPU."""
    xp = get_xp(points)
    m, n = points.shape
    for row in points:
        check_words(row, key.n_bits, key.n_elems)
    out = xp.empty((m, n), dtype=xp.uint64)
    step = max(1, POINTS_PER_WALK // max(m, 1))
    for start in range(0, n, step):
        stop = min(n, start + step)
        out[:, start:stop] = _walk_points(key, points[:, start:stop], xp.arange(start, stop))[0].reshape(-1, m).T
    return out


def _walk_points(key: DcfKey, points: Any, elems: Any) -> Any:
    """The DCF's shares (k, M * N) at the M points of each of the elements ``elems`` (the columns of ``points``),
    element-major (an element's points consecutive), each level expanding only the nodes not shared with the
    element's previous point."""
    xp = get_xp(points)
    m, n = points.shape
    ring, k = Ring(key.out_bits), key.payload_words
    x = points.T.reshape(-1)
    elem = xp.repeat(elems, m)
    first = xp.zeros(m * n, dtype=bool)
    first[::m] = True
    seed = key.root[elem]
    t = xp.full(m * n, key.party, dtype=xp.uint32)
    acc = xp.zeros((k, m * n), dtype=xp.uint64)
    for i in range(key.depth):
        new = first.copy()                         # the nodes at depth i not shared with the element's previous point
        if i:
            prefix = x >> np.uint64(key.n_bits - i)
            new[1:] |= prefix[1:] != prefix[:-1]
        g = prg(seed[new], key.rounds)[xp.cumsum(new) - 1]
        xi = ((x >> np.uint64(key.n_bits - 1 - i)) & np.uint64(1)).astype(xp.uint32)
        s_side = B.select(xi, g[:, 4:8], g[:, 0:4])
        v_side = B.select(xi, g[:, 12:16], g[:, 8:12])
        cw = key.scw[i][elem]
        tcw = xp.where(xi.astype(bool), key.tr[i][elem].astype(xp.uint32), B.lsb(cw))
        acc = ring.add(acc, ring.add(_convert(v_side, k, ring), key.vcw[i][:, elem] * t.astype(xp.uint64)))
        t_next = B.lsb(s_side) ^ (t & tcw)
        seed = B.clear_lsb(s_side) ^ B.mask_by(t, B.clear_lsb(cw))
        t = t_next
    if key.leaf_bits:
        z = x & np.uint64((1 << key.leaf_bits) - 1)
        leaf = ring.add(leaf_values(seed, key.leaf_bits, ring, key.rounds, z, key.leaf_fold),
                        key.fcw[z.astype(xp.int64), elem] * t.astype(xp.uint64))[None, :]
    else:
        leaf = ring.add(_convert(seed, k, ring), key.fcw[:, elem] * t.astype(xp.uint64))
    acc = ring.add(acc, leaf)
    return ring.neg(acc) if key.party else acc
