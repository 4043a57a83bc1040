"""SIGMA's 1-bit DPF (BGI16 tree, 127-bit seeds, early termination at 128-bit leaves) and the comparison
evaluated from the same key (SIGMA Thm 2).

Domain: n-bit inputs (1 <= n <= 64). Domains under 8 bits are padded to 8 (one tree level) so one code path
serves all widths. With ``dom = max(n, 8)`` the tree has ``d = dom - 7`` levels: levels 1..d-1 produce seeds
and carry a correction word each; level d produces the two 128-bit leaf blocks, corrected by two leaf CWs.
Input bits are read MSB first; bit i of the path is bit (dom - i) of x; the leaf slot is x mod 128.

Key of party b (level-major, element index fastest):
- ``root`` (N, 4) uint32: 127-bit seed with t = b in its LSB;
- ``scw`` (d-1, N, 4) uint32: seed CWs with tL_CW in their LSB; ``tr`` (d-1, N) uint8: tR_CW bits;
- ``leaf`` (2, N, 4) uint32: leaf CWs for the left and right child of the last level.
Size per element on the wire: 16*d + 32 + ceil((d-1)/8) bytes.

Eval outputs XOR shares: point eval gives [x == alpha]; comparison eval gives [x < alpha]. Everything here is array
code that runs on NumPy or CuPy arrays alike; ``engine`` picks the fused CUDA kernels instead for CuPy inputs.
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

_LUT_CHUNK = 256  # elements per full-domain block in ``eval_lut_sums`` (bounds memory at 2^b * 8 B per element)


def domain_bits(n_bits: int) -> int:
    """Padded domain width used by the tree (at least 8)."""
    return max(n_bits, 8)


def tree_depth(n_bits: int) -> int:
    """Number of PRG levels of an n-bit DPF (= PRG calls per point evaluation)."""
    return domain_bits(n_bits) - 7


def key_bytes(n_bits: int) -> float:
    """Bytes per element of one party's key (t_R bits packed)."""
    d = tree_depth(n_bits)
    return 16 * d + 32 + -(-(d - 1) // 8)


@dataclass
class DpfKey:
    """One party's batch of N DPF keys (see module doc for the layout)."""

    party: int
    n_bits: int
    rounds: int
    root: Any
    scw: Any
    tr: Any
    leaf: Any

    @property
    def n_elems(self) -> int:
        return int(self.root.shape[0])

    @property
    def domain_bits(self) -> int:
        """Padded domain width of the tree (see :func:`domain_bits`)."""
        return domain_bits(self.n_bits)

    @property
    def depth(self) -> int:
        return tree_depth(self.n_bits)

    def subset(self, elems: slice) -> DpfKey:
        """The keys of the elements ``elems`` (views of this batch's arrays)."""
        return DpfKey(self.party, self.n_bits, self.rounds, self.root[elems], self.scw[:, elems], self.tr[:, elems],
                      self.leaf[:, elems])


def _path_bit(x: Any, dom: int, level: int) -> Any:
    """Bit taken at tree level ``level`` (1-based) by inputs x (uint64): bit (dom - level) of x, as uint32."""
    return ((x >> np.uint64(dom - level)) & np.uint64(1)).astype(np.uint32)


def keygen(alpha: Any, n_bits: int, stream: RandomStream, rounds: int = 12) -> tuple[DpfKey, DpfKey]:
    """Keys for the point functions f_alpha(x) = [x == alpha] (1-bit output) for each element of ``alpha``."""
    check_bits("n_bits", n_bits, 1, 64)
    check_rounds(rounds)
    xp = stream.xp
    alpha = check_words(xp.asarray(alpha), n_bits, int(np.size(alpha)), "alpha")
    n = alpha.shape[0]
    dom, d = domain_bits(n_bits), tree_depth(n_bits)
    roots = stream.seeds(2 * n).reshape(2, n, 4)
    roots = B.with_lsb(roots, xp.stack([xp.zeros(n, xp.uint32), xp.ones(n, xp.uint32)]))
    node = roots.copy()
    scw = xp.zeros((d - 1, n, 4), dtype=xp.uint32)
    tr = xp.zeros((d - 1, n), dtype=xp.uint8)
    for level in range(1, d):
        a = _path_bit(alpha, dom, level)
        g = prg(B.clear_lsb(node).reshape(2 * n, 4), rounds).reshape(2, n, 16)
        left, right = g[..., 0:4], g[..., 4:8]
        lose = B.select(a, left, right)
        keep = B.select(a, right, left)
        s_cw = B.clear_lsb(lose[0] ^ lose[1])
        tl_cw = B.lsb(left[0]) ^ B.lsb(left[1]) ^ a ^ np.uint32(1)
        tr_cw = B.lsb(right[0]) ^ B.lsb(right[1]) ^ a
        scw[level - 1] = B.with_lsb(s_cw, tl_cw)
        tr[level - 1] = tr_cw.astype(xp.uint8)
        corr = B.with_lsb(s_cw, xp.where(a.astype(bool), tr_cw, tl_cw))
        t = B.lsb(node)
        node = keep ^ B.mask_by(t, corr[None])
    a = _path_bit(alpha, dom, d)
    g = prg(B.clear_lsb(node).reshape(2 * n, 4), rounds).reshape(2, n, 16)
    e = B.unit(alpha & np.uint64(127), xp)
    leaf_l = g[0, :, 0:4] ^ g[1, :, 0:4] ^ B.mask_by(np.uint32(1) - a, e)
    leaf_r = g[0, :, 4:8] ^ g[1, :, 4:8] ^ B.mask_by(a, e)
    leaf = xp.stack([leaf_l, leaf_r])
    k0, k1 = (DpfKey(b, n_bits, rounds, roots[b], scw.copy(), tr.copy(), leaf.copy()) for b in (0, 1))
    return k0, k1


def _walk(key: DpfKey, x: Any, compare: bool) -> Any:
    """Walk x's path; return the corrected leaf block and, for comparisons, the XOR of control bits at
    direction changes (SIGMA Thm 2)."""
    xp = get_xp(key.root)
    dom, d = key.domain_bits, key.depth
    node = key.root
    p = xp.zeros(key.n_elems, dtype=xp.uint32)
    prev = xp.zeros(key.n_elems, dtype=xp.uint32)
    for level in range(1, d + 1):
        xi = _path_bit(x, dom, level)
        t = B.lsb(node)
        if compare:
            p ^= t & (xi ^ prev)
            prev = xi
        g = prg(B.clear_lsb(node), key.rounds)
        child = B.select(xi, g[:, 4:8], g[:, 0:4])
        if level < d:
            cw = key.scw[level - 1]
            tcw = xp.where(xi.astype(bool), key.tr[level - 1].astype(xp.uint32), B.lsb(cw))
            node = child ^ B.mask_by(t, B.with_lsb(cw, tcw))
        else:
            node = child ^ B.mask_by(t, B.select(xi, key.leaf[1], key.leaf[0]))
    return node, p, prev


def eval_point(key: DpfKey, x: Any) -> Any:
    """XOR share (uint32 0/1) of [x == alpha] per element."""
    x = check_words(x, key.n_bits, key.n_elems)
    leaf, _, _ = _walk(key, x, compare=False)
    return B.get_bit(leaf, x & np.uint64(127))


def eval_lt(key: DpfKey, x: Any) -> Any:
    """XOR share (uint32 0/1) of [x < alpha] per element, from the DPF key (SIGMA Thm 2).

    Array code; ``engine.dpf_lt`` runs the fused kernel ``kernels.dpf_lt`` on CuPy inputs (same bits)."""
    x = check_words(x, key.n_bits, key.n_elems)
    xp = get_xp(x)
    leaf, p, last = _walk(key, x, compare=True)
    pos = (x & np.uint64(127)).astype(xp.int64)
    right = last.astype(bool)
    lo = xp.where(right, pos + 1, 0)
    hi = xp.where(right, 127, pos)
    p ^= B.parity_range(leaf, lo, hi)
    return p ^ np.uint32(key.party)


def eval_all(key: DpfKey) -> Any:
    """Full-domain evaluation: XOR shares of the one-hot vector e_alpha, shape (N, 2^n) uint8 (n <= 20)."""
    check_bits("n_bits (full-domain eval)", key.n_bits, 1, 20)
    xp = get_xp(key.root)
    d, n = key.depth, key.n_elems
    nodes = key.root[:, None, :]  # (N, width, 4)
    for level in range(1, d + 1):
        w = nodes.shape[1]
        t = B.lsb(nodes)
        g = prg(B.clear_lsb(nodes).reshape(n * w, 4), key.rounds).reshape(n, w, 16)
        if level < d:
            cw = key.scw[level - 1][:, None, :]
            corr_l = B.mask_by(t, cw)
            corr_r = B.mask_by(t, B.with_lsb(cw, key.tr[level - 1][:, None].astype(xp.uint32)))
        else:
            corr_l = B.mask_by(t, key.leaf[0][:, None, :])
            corr_r = B.mask_by(t, key.leaf[1][:, None, :])
        nodes = xp.stack([g[..., 0:4] ^ corr_l, g[..., 4:8] ^ corr_r], axis=2).reshape(n, 2 * w, 4)
    shifts = xp.arange(32, dtype=xp.uint32)
    bits = ((nodes[..., None] >> shifts) & np.uint32(1)).astype(xp.uint8).reshape(n, -1)
    return bits[:, : 1 << key.n_bits]


def dot_rotated(bits: Any, table: Any, hatx: Any, ring: Ring) -> tuple[Any, Any]:
    """Per element: sum_j bits[j] and sum_j bits[j] * table[(hatx - j) mod 2^b], in ``ring``."""
    xp = get_xp(bits)
    size = table.shape[0]
    j = xp.arange(size, dtype=np.uint64)
    idx = (hatx[:, None] - j[None, :]) & np.uint64(size - 1)
    b64 = bits.astype(np.uint64)
    return ring.reduce(b64.sum(axis=1, dtype=np.uint64)), ring.reduce((b64 * table[idx]).sum(axis=1, dtype=np.uint64))


def eval_lut_sums(key: DpfKey, hatx: Any, table: Any, ring: Ring) -> tuple[Any, Any]:
    """The LUT's unsigned sums (u, v) in ``ring`` (see ``gates.lut``): full-domain bits t_j of each key dotted with
    the table rotated by its hatx, :data:`_LUT_CHUNK` elements at a time.

    Array code; ``engine.lut_sums`` runs the fused kernel ``kernels.lut_eval`` on CuPy inputs (same bits)."""
    xp = get_xp(hatx)
    us, vs = [], []
    for lo in range(0, key.n_elems, _LUT_CHUNK):
        elems = slice(lo, lo + _LUT_CHUNK)
        u, v = dot_rotated(eval_all(key.subset(elems)), table, hatx[elems], ring)
        us.append(u)
        vs.append(v)
    return xp.concatenate(us), xp.concatenate(vs)
