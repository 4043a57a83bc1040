"""Fused CUDA kernels (CuPy ``RawModule``) for FSS evaluation; one thread per element, one launch per batch.

They compute exactly what the array code in ``dpf``/``dcf`` computes (tests check bit identity):
- ``dpf_lt``: SIGMA comparison walk (DPF key, n-7 ChaCha calls) with an optional DReLU epilogue;
- ``dcf_lt``: BCG+21 DCF walk (n ChaCha calls, or n - b and one PRF call with a b-bit truth-table leaf), up to two
  payload words; ``gapars_eval``, ``trfloor_eval``, ``relu_eval``: those gates' DCF walks and epilogues in one launch
  (on small tensors a gate's dozen elementwise launches cost more than its walk);
- ``lut_eval``: full-domain DPF expansion (depth-first, path nodes kept in registers) fused with the dot
  product against the table rotated by hatx;
- ``interval_eval``: the interval gate (``gates.poly``): one DCF key walked at all of an element's breakpoints in one
  thread, each walk from the deepest node it shares with the previous one, with the gate's epilogue.
Keys are level-major, so level l of element i sits at ``[l*N + i]``: consecutive threads read consecutive 16 B; but
the interval kernel's threads take elements in a sorted order, so it reads an element-major copy of its key
(``IntervalKey``, made by ``interval_key`` where the key is loaded: ``engine.prepare_keys``).

The launchers take the key objects of ``dpf`` (``DpfKey``) and ``dcf`` (``DcfKey``) but read only their fields and
properties, so this module depends on nothing above ``chacha`` (whose CUDA ChaCha it includes) and ``xp`` but the
interval walk's leaf layout and two constants it shares with the cost model (``SIBLING_LEVELS``, the most levels a
walk keeps children in, and ``PATH_LEVELS``, the levels it keeps its path's nodes in); ``engine`` decides when a
kernel runs instead of the array code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from simflush.tasks.interval_walk import PATH_LEVELS, SIBLING_LEVELS, leaf_index

from .chacha import CUDA_CHACHA
from .xp import get_xp

_SRC = CUDA_CHACHA + f"#define MAX_KEEP {SIBLING_LEVELS}\n#define PATH_LEVELS {PATH_LEVELS}\n" + r"""
typedef unsigned long long u64;
typedef unsigned int u32;

__device__ __forceinline__ void expand(const uint4 node, u32 g[16], int rounds) {
  prg_expand(node.x & ~1u, node.y, node.z, node.w, g, rounds);
}
__device__ __forceinline__ uint4 pick4(const u32 g[16], int base) {
  return make_uint4(g[base], g[base + 1], g[base + 2], g[base + 3]);
}
__device__ __forceinline__ uint4 xor_if(uint4 a, uint4 b, u32 t) {
  u32 m = 0u - t;
  return make_uint4(a.x ^ (b.x & m), a.y ^ (b.y & m), a.z ^ (b.z & m), a.w ^ (b.w & m));
}
__device__ __forceinline__ u32 word_of(uint4 b, int k) {
  return k == 0 ? b.x : (k == 1 ? b.y : (k == 2 ? b.z : b.w));
}
/* bits [lo, hi] (inclusive, block bit numbering) that fall in 32-bit word k, as a mask of that word */
__device__ __forceinline__ u32 range_mask(int k, int lo, int hi) {
  long long l = (long long)lo - 32 * k, h = (long long)hi - 32 * k + 1;
  l = l < 0 ? 0 : (l > 32 ? 32 : l);
  h = h < 0 ? 0 : (h > 32 ? 32 : h);
  u64 upto = (h == 0) ? 0ull : (0xFFFFFFFFull >> (32 - h));
  u64 below = (l == 0) ? 0ull : (0xFFFFFFFFull >> (32 - l));
  return (u32)(upto & ~below);
}
/* parity of bits lo..hi (inclusive) of a 128-bit block */
__device__ __forceinline__ u32 parity_range(uint4 b, int lo, int hi) {
  u32 acc = (b.x & range_mask(0, lo, hi)) ^ (b.y & range_mask(1, lo, hi)) ^ (b.z & range_mask(2, lo, hi)) ^ (b.w & range_mask(3, lo, hi));
  return __popc(acc) & 1u;
}

/* The PRF word of leaf entry z (interval_walk.leaf_index): z's low leaf_bits - fold bits above its top fold bits. */
__device__ __forceinline__ u32 leaf_word(u64 x, int leaf_bits, int fold) {
  const u32 z = (u32)(x & ((1ull << leaf_bits) - 1ull));
  const int low = leaf_bits - fold;
  return ((z & ((1u << low) - 1u)) << fold) | (z >> low);
}
/* The PRF part of a DCF walk's leaf (dcf.py: Convert(F(s, z')), z' = leaf_word of x's low leaf_bits, k = 1 word),
   or the seed's low word when there is no truth-table leaf (leaf_bits = 0). have_block: g already holds the block
   of z' (a point before, in the same leaf node and block). */
__device__ __forceinline__ u64 leaf_prf(uint4 seed, u64 x, int leaf_bits, int fold, int rounds, u32 g[16],
                                        bool have_block) {
  if (leaf_bits == 0) return ((u64)seed.y << 32) | seed.x;
  const u32 w = leaf_word(x, leaf_bits, fold);
  if (!have_block) prg_counter(seed.x & ~1u, seed.y, seed.z, seed.w, 1u + (w >> 3), g, rounds);
  const int k = (int)(w & 7u);
  return ((u64)g[2 * k + 1] << 32) | g[2 * k];
}
/* The leaf of a level-major DCF key: the PRF part plus t times the final CW (leaf_bits = 0) or the leaf table's
   entry z = x's low bits (fcw of shape (2^leaf_bits, N)). */
__device__ __forceinline__ u64 dcf_leaf(uint4 seed, u32 t, const u64* fcw, u64 x, int leaf_bits, int fold,
                                        int rounds, long long i, long long n, u32 g[16]) {
  const long long z = leaf_bits ? (long long)(x & ((1ull << leaf_bits) - 1ull)) : 0;
  return leaf_prf(seed, x, leaf_bits, fold, rounds, g, false) + fcw[z * n + i] * (u64)t;
}

/* SIGMA comparison [x < alpha] from a DPF key; x = hatx & low_mask; optional DReLU epilogue:
   out = d ^ (party==0 ? bit msb_shift of hatx : 0) ^ c[i]   (when c != NULL), else out = d. */
extern "C" __global__ void dpf_lt(const uint4* root, const uint4* scw, const unsigned char* tr, const uint4* leaf,
                                  const u64* hatx, u64 low_mask, int dom, int depth, int party, int rounds,
                                  const u64* c, int msb_shift, u64* out, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  u64 hx = hatx[i];
  u64 x = hx & low_mask;
  uint4 node = root[i];
  u32 p = 0, prev = 0, xi = 0;
  u32 g[16];
  for (int level = 1; level <= depth; ++level) {
    xi = (u32)((x >> (dom - level)) & 1ull);
    u32 t = node.x & 1u;
    p ^= t & (xi ^ prev);
    prev = xi;
    expand(node, g, rounds);
    uint4 child = xi ? pick4(g, 4) : pick4(g, 0);
    if (level < depth) {
      uint4 cw = scw[(long long)(level - 1) * n + i];
      u32 tcw = xi ? (u32)tr[(long long)(level - 1) * n + i] : (cw.x & 1u);
      cw.x = (cw.x & ~1u) | tcw;
      node = xor_if(child, cw, t);
    } else {
      node = xor_if(child, leaf[(long long)xi * n + i], t);
    }
  }
  int pos = (int)(x & 127ull);
  p ^= xi ? parity_range(node, pos + 1, 127) : parity_range(node, 0, pos);
  u64 r = (u64)(p ^ (u32)party);
  if (c != 0) r ^= c[i] ^ (party == 0 ? ((hx >> msb_shift) & 1ull) : 0ull);
  out[i] = r;
}

/* BCG+21 DCF: this party's shares acc[j] (unreduced) of beta_j * [x < alpha], j < k (k = 1 or 2), element i. */
__device__ __forceinline__ void dcf_shares(const uint4* root, const uint4* scw, const unsigned char* tr,
                                           const u64* vcw, const u64* fcw, u64 x, int n_bits, int leaf_bits, int fold,
                                           int k, int party, int rounds, long long i, long long n, u64 acc[2]) {
  uint4 seed = root[i];
  u32 t = (u32)party;
  u64 acc0 = 0, acc1 = 0;
  u32 g[16];
  for (int l = 0; l < n_bits - leaf_bits; ++l) {
    u32 xi = (u32)((x >> (n_bits - 1 - l)) & 1ull);
    expand(seed, g, rounds);
    uint4 s = xi ? pick4(g, 4) : pick4(g, 0);
    uint4 v = xi ? pick4(g, 12) : pick4(g, 8);
    uint4 cw = scw[(long long)l * n + i];
    u32 tcw = xi ? (u32)tr[(long long)l * n + i] : (cw.x & 1u);
    u64 tm = (u64)t;
    acc0 += (((u64)v.y << 32) | v.x) + vcw[((long long)l * k + 0) * n + i] * tm;
    if (k > 1) acc1 += (((u64)v.w << 32) | v.z) + vcw[((long long)l * k + 1) * n + i] * tm;
    u32 t_next = (s.x & 1u) ^ (t & tcw);
    cw.x &= ~1u;
    s.x &= ~1u;
    seed = xor_if(s, cw, t);
    t = t_next;
  }
  acc0 += dcf_leaf(seed, t, fcw, x, leaf_bits, fold, rounds, i, n, g);
  if (k > 1) acc1 += (((u64)seed.w << 32) | seed.z) + fcw[n + i] * (u64)t;
  acc[0] = party ? 0ull - acc0 : acc0;
  acc[1] = party ? 0ull - acc1 : acc1;
}

#define DCF_KEY(p) const uint4* p##root, const uint4* p##scw, const unsigned char* p##tr, const u64* p##vcw, \
                   const u64* p##fcw
#define DCF_ARGS(p) p##root, p##scw, p##tr, p##vcw, p##fcw

/* out[j*n + i] = share of beta_j * [x < alpha], j < k, mod 2^out_bits. */
extern "C" __global__ void dcf_lt(DCF_KEY(), const u64* xs, int n_bits, int leaf_bits, int fold, int k,
                                  u64 out_mask, int party, int rounds, u64* out, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  u64 acc[2];
  dcf_shares(DCF_ARGS(), xs[i], n_bits, leaf_bits, fold, k, party, rounds, i, n, acc);
  out[i] = acc[0] & out_mask;
  if (k > 1) out[n + i] = acc[1] & out_mask;
}

/* The truncation and ReLU gates (gates/trunc.py, gates/compare.py) in one launch each: their DCF walks and the
   epilogue of their module docs, term for term, all mod 2^n (the keys' DCFs carry no truth-table leaf). */
__device__ __forceinline__ u64 mask_of(int bits) { return bits >= 64 ? ~0ull : ((1ull << bits) - 1ull); }

/* GapARS: hp = hatx + 2^(n-2); c = carry DCF at hp mod 2^s;
   out = [party 0] ((hp >> s) - 2^(n-2-s)) - R - c + (1 - MSB(hp)) W + rout. */
extern "C" __global__ void gapars_eval(DCF_KEY(), const u64* hatx, const u64* R, const u64* W, const u64* rout,
                                       int n_bits, int shift, int party, int rounds, u64* out, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const u64 m = mask_of(n_bits);
  const u64 hp = (hatx[i] + (1ull << (n_bits - 2))) & m;
  u64 c[2];
  dcf_shares(DCF_ARGS(), hp & mask_of(shift), shift, 0, 0, 1, party, rounds, i, n, c);
  u64 y = party == 0 ? (hp >> shift) - (1ull << (n_bits - 2 - shift)) : 0ull;
  y = y - R[i] - c[0] + (1ull - (hp >> (n_bits - 1))) * W[i] + rout[i];
  out[i] = y & m;
}

/* TrFloor: c = carry DCF at hatx mod 2^s, (d0, d1) = sign DCF at hatx mod 2^(n-1), X1 = MSB(hatx);
   out = [party 0] ((hatx >> s) - X1 2^(n-s)) - R - c + X1 (R1s + d0) + (1 - 2 X1) d1 + rout. */
extern "C" __global__ void trfloor_eval(DCF_KEY(c_), DCF_KEY(d_), const u64* hatx, const u64* R, const u64* R1s,
                                        const u64* rout, int n_bits, int shift, int party, int rounds, u64* out,
                                        long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const u64 hx = hatx[i];
  u64 c[2], d[2];
  dcf_shares(DCF_ARGS(c_), hx & mask_of(shift), shift, 0, 0, 1, party, rounds, i, n, c);
  dcf_shares(DCF_ARGS(d_), hx & mask_of(n_bits - 1), n_bits - 1, 0, 0, 2, party, rounds, i, n, d);
  const u64 x1 = (hx >> (n_bits - 1)) & 1ull;
  u64 y = party == 0 ? (hx >> shift) - x1 * (1ull << (n_bits - shift)) : 0ull;
  y = y - R[i] - c[0] + x1 * (R1s[i] + d[0]) + (1ull - 2ull * x1) * d[1] + rout[i];
  out[i] = y & mask_of(n_bits);
}

/* ReLU: (P, Q) = DCF at hatx mod 2^(n-1), X1 = MSB(hatx), s = 1 - 2 X1;
   out = (1 - X1) ([party 0] hatx - r) - s hatx (r1 + P) + s (r1r + Q) + rout. */
extern "C" __global__ void relu_eval(DCF_KEY(), const u64* hatx, const u64* r, const u64* r1, const u64* r1r,
                                     const u64* rout, int n_bits, int party, int rounds, u64* out, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const u64 hx = hatx[i];
  u64 pq[2];
  dcf_shares(DCF_ARGS(), hx & mask_of(n_bits - 1), n_bits - 1, 0, 0, 2, party, rounds, i, n, pq);
  const u64 x1 = (hx >> (n_bits - 1)) & 1ull;
  const u64 s = 1ull - 2ull * x1;
  u64 y = (1ull - x1) * ((party == 0 ? hx : 0ull) - r[i]);
  y = y - s * hx * (r1[i] + pq[0]) + s * (r1r[i] + pq[1]) + rout[i];
  out[i] = y & mask_of(n_bits);
}

/* LUT: u = sum_j t_j, v = sum_j t_j * T[(hatx - j) mod size] over the full-domain DPF bits t_j (j < size). */
#define MAXD 8
extern "C" __global__ void lut_eval(const uint4* root, const uint4* scw, const unsigned char* tr, const uint4* leaf,
                                    const u64* hatx, const u64* table, int size, int depth, int rounds,
                                    u64 out_mask, u64* u_out, u64* v_out, long long n) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  u64 hx = hatx[i];
  u32 tmask = (u32)size - 1u;
  uint4 path[MAXD];
  path[0] = root[i];
  u32 g[16];
  u64 u = 0, v = 0;
  int inner = depth - 1;
  u32 count = 1u << inner;
  for (u32 q = 0; q < count; ++q) {
    int start = 1;
    if (q) { u32 diff = q ^ (q - 1); start = inner - (31 - __clz(diff)); }
    for (int lvl = start; lvl <= inner; ++lvl) {
      uint4 node = path[lvl - 1];
      u32 bit = (q >> (inner - lvl)) & 1u;
      expand(node, g, rounds);
      uint4 child = bit ? pick4(g, 4) : pick4(g, 0);
      uint4 cw = scw[(long long)(lvl - 1) * n + i];
      u32 tcw = bit ? (u32)tr[(long long)(lvl - 1) * n + i] : (cw.x & 1u);
      cw.x = (cw.x & ~1u) | tcw;
      path[lvl] = xor_if(child, cw, node.x & 1u);
    }
    uint4 node = path[inner];
    u32 t = node.x & 1u;
    expand(node, g, rounds);
    for (int side = 0; side < 2; ++side) {
      uint4 blk = xor_if(side ? pick4(g, 4) : pick4(g, 0), leaf[(long long)side * n + i], t);
      u32 base = (q * 2u + (u32)side) * 128u;
      for (int k = 0; k < 4; ++k) {
        u32 w = word_of(blk, k);
        while (w) {
          int b = __ffs(w) - 1;
          w &= w - 1u;
          u32 j = base + 32u * k + (u32)b;
          if (j < (u32)size) {
            u += 1ull;
            v += __ldg(&table[((u32)hx - j) & tmask]);
          }
        }
      }
    }
  }
  u_out[i] = u & out_mask;
  v_out[i] = v & out_mask;
}
/* Interval containment (PiecewisePoly): one DCF key (alpha = r on the shifted line, payload 1) walked at every point
   y - q_j of the element (y = hatx + 2^(n-1)) and at y itself, in one thread. Consecutive points share a path prefix
   (the breakpoints are sorted), so each point's walk starts at the deepest node it shares with the previous point:
   same bits as dcf_lt at each point, with far fewer ChaCha calls when breakpoints are close (GeLU-const: about 850
   instead of 258 x 48). A point in the leaf node and leaf block of the point before takes its PRF word from that
   block (a folded leaf: one call for 2^fold points). In the lowest keep levels of the tree (keep <= MAX_KEEP; 0 in
   the first construction, interval_fold = 0), where nearly all restarts are, a walk that goes right keeps the left
   child it computed with it: the next (smaller) point that parts from it there starts one level lower, one
   expansion fewer (GeLU-const folded: 180 calls for its 188 points, 226 without). (Keeping it at every level doubles
   the stack, and measured slower.) The path is kept only in a window: its nodes at depths depth - PATH_LEVELS ..
   depth, the lowest PATH_LEVELS levels and the leaf (the whole path was a 2,064-byte stack frame, 2.6 MB for a
   multiprocessor's 1,280 threads against 256 kB of L1); a point that parts from the one before above the window
   walks from the root again, carrying its node in registers down to the window (rare: interval_walk.PATH_LEVELS has
   what it costs). Element i of the batch is order[i]: the launcher sorts elements by the bits that decide where the
   walks restart, so that the threads of a warp restart at the same levels. Sorted threads read scattered elements,
   so the key is element-major (``IntervalKey``): a level's seed CW, tR bit and value CW in one 32-byte record, and
   the leaf table's entries in PRF-word order, so that the points served by one ChaCha block read neighbouring
   words. raw(P) is the unsigned path sum;
   out = pub + (-1)^party * S with S = (c_{m-1} - c_0) raw(y) - sum_j d_j raw(y - q_j) and pub (party 0 only)
   = c_{m-1} - sum_j d_j [y < q_j], d_j = c_j - c_{j-1} (rows of dcoef, r words each, r <= 4); rout (r, N) is added. */
#if MAX_KEEP > PATH_LEVELS
#error "a kept child must be inside the path window"
#endif
extern "C" __global__ void interval_eval(const uint4* root, const uint4* levels, const u64* leaf, const u64* hatx, const long long* order, const u64* shifted,
                                        const u64* dcoef, const u64* first, const u64* rout, int n_bits,
                                        int leaf_bits, int fold, int keep, int m1, int r, u64 out_mask, int party,
                                        int rounds, u64* out, long long n) {
  long long tid = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (tid >= n) return;
  const long long i = order[tid];
  const u64 nmask = n_bits < 64 ? ((1ull << n_bits) - 1ull) : ~0ull;
  const u64 y = (hatx[i] + (1ull << (n_bits - 1))) & nmask;
  const int depth = n_bits - leaf_bits;
  const int top = depth > PATH_LEVELS ? depth - PATH_LEVELS : 0;
  uint4 seeds[PATH_LEVELS + 1];   /* the current point's path in the window: node, control bit and path sum at
                                     depth d = top..depth at [d - top] */
  u32 ts[PATH_LEVELS + 1];
  u64 accs[PATH_LEVELS + 1];
  u64 s[4] = {0ull, 0ull, 0ull, 0ull}, pub[4] = {0ull, 0ull, 0ull, 0ull};
  u32 g[16];
  uint4 sib_seed[MAX_KEEP];  /* the left child at depth l + 1 (l >= low) of the last walk that went right at l */
  u32 sib_t[MAX_KEEP];
  u64 sib_acc[MAX_KEEP];
  if (keep > MAX_KEEP) keep = MAX_KEEP;
  const int low = depth > keep ? depth - keep : 0;
  u64 prev = 0ull;
  u32 prev_block = 0u;
  /* points j = 1..m1 (y - q_j, descending: neighbours share prefixes), then j = 0 (y itself) */
  for (int j = 1; j <= m1 + 1; ++j) {
    const bool wrap = j == m1 + 1;
    const u64 q = wrap ? 0ull : __ldg(&shifted[j - 1]);
    const u64 x = (y - q) & nmask;
    int level = 0;
    if (j > 1) {
      const u64 diff = (x ^ prev) << (64 - n_bits);
      level = diff ? __clzll(diff) : depth;   /* depth of the first differing bit: the walk restarts there */
      if (level > depth) level = depth;         /* points that differ only in the leaf's bits share the leaf */
    }
    const bool kept = j > 1 && level >= low && level < depth && x < prev;   /* prev went right where x goes left */
    prev = x;
    const u32 block = leaf_bits ? leaf_word(x, leaf_bits, fold) >> 3 : 0u;
    const bool have_block = j > 1 && level >= depth && block == prev_block;
    prev_block = block;
    uint4 seed;   /* the walk's node, control bit and path sum, in registers */
    u32 t;
    u64 acc;
    if (kept) {   /* low >= top: the kept child's depth is in the window */
      seed = seeds[level + 1 - top] = sib_seed[level - low];
      t = ts[level + 1 - top] = sib_t[level - low];
      acc = accs[level + 1 - top] = sib_acc[level - low];
      ++level;
    } else if (level < top || level == 0) {   /* parts above the window, or at the root: walk from the root */
      level = 0;
      seed = root[i];
      t = (u32)party;
      acc = 0ull;
    } else {
      seed = seeds[level - top];
      t = ts[level - top];
      acc = accs[level - top];
    }
    for (int l = level; l < depth; ++l) {
      const u32 xi = (u32)((x >> (n_bits - 1 - l)) & 1ull);
      expand(seed, g, rounds);
      uint4 sd = xi ? pick4(g, 4) : pick4(g, 0);
      const uint4 v = xi ? pick4(g, 12) : pick4(g, 8);
      const long long rec = 2 * (i * depth + l);   /* the level's 32-byte record: one sector */
      uint4 cw = levels[rec];
      const uint4 vr = levels[rec + 1];
      const u32 tl_cw = cw.x & 1u;
      const u32 tcw = xi ? vr.z : tl_cw;
      const u64 vt = (((u64)vr.y << 32) | vr.x) * (u64)t;
      cw.x &= ~1u;
      if (xi && l >= low) {   /* keep the left child: the left branch's CW bits (tL in cw's LSB, already cleared) */
        uint4 left = pick4(g, 0);
        const uint4 vl = pick4(g, 8);
        sib_acc[l - low] = acc + (((u64)vl.y << 32) | vl.x) + vt;
        sib_t[l - low] = (left.x & 1u) ^ (t & tl_cw);
        left.x &= ~1u;
        sib_seed[l - low] = xor_if(left, cw, t);
      }
      acc += (((u64)v.y << 32) | v.x) + vt;
      const u32 t_next = (sd.x & 1u) ^ (t & tcw);
      sd.x &= ~1u;
      seed = xor_if(sd, cw, t);
      t = t_next;
      if (l + 1 >= top) {
        seeds[l + 1 - top] = seed;
        ts[l + 1 - top] = t;
        accs[l + 1 - top] = acc;
      }
    }
    /* the leaf entry of x's PRF word: the words of one ChaCha block are neighbours */
    const long long entry = leaf_bits ? (i << leaf_bits) + (long long)leaf_word(x, leaf_bits, fold) : i;
    const u64 raw = acc + leaf_prf(seed, x, leaf_bits, fold, rounds, g, have_block) + leaf[entry] * (u64)t;
    if (wrap) {
      for (int w = 0; w < r; ++w) s[w] += __ldg(&first[w]) * raw;
    } else {
      const u64 below = (party == 0 && y < q) ? 1ull : 0ull;
      for (int w = 0; w < r; ++w) {
        const u64 d = __ldg(&dcoef[(long long)(j - 1) * r + w]);
        s[w] -= d * raw;
        pub[w] -= d * below;
      }
    }
  }
  for (int w = 0; w < r; ++w) {
    u64 share = party ? (0ull - s[w]) : s[w];
    if (party == 0) share += __ldg(&first[r + w]) + pub[w];
    out[(long long)w * n + i] = (share + rout[(long long)w * n + i]) & out_mask;
  }
}
"""  # noqa: E501 - CUDA source, kept verbatim

_module: dict = {}
_THREADS = 256


def _kernel(name: str) -> Any:
    import cupy as cp

    if "mod" not in _module:
        _module["mod"] = cp.RawModule(code=_SRC, options=("-std=c++14",))
    return _module["mod"].get_function(name)


def load() -> None:
    """Compile (or load from CuPy's cache) every kernel now, so that an online run does not pay for it."""
    for name in re.findall(r'extern "C" __global__ void (\w+)', _SRC):
        _kernel(name)


def _grid(n: int) -> tuple[int]:
    return ((n + _THREADS - 1) // _THREADS,)


def _bit_mask(bits: int) -> np.uint64:
    """2^bits - 1 as the uint64 kernel argument (1 <= bits <= 64)."""
    return np.uint64((1 << bits) - 1) if bits < 64 else np.uint64(2**64 - 1)


def dpf_lt(key: Any, hatx: Any, low_bits: int, c: Any = None, msb_shift: int = 0) -> Any:
    """Comparison shares (uint64 0/1) of [hatx mod 2^low_bits < alpha]; with ``c``, the DReLU epilogue."""
    import cupy as cp

    n = key.n_elems
    out = cp.empty(n, dtype=cp.uint64)
    low_mask = _bit_mask(low_bits)
    c_arg = cp.ascontiguousarray(c, dtype=cp.uint64) if c is not None else np.uint64(0)
    _kernel("dpf_lt")(_grid(n), (_THREADS,), (
        cp.ascontiguousarray(key.root), cp.ascontiguousarray(key.scw), cp.ascontiguousarray(key.tr),
        cp.ascontiguousarray(key.leaf), cp.ascontiguousarray(hatx), low_mask, np.int32(key.domain_bits),
        np.int32(key.depth), np.int32(key.party), np.int32(key.rounds), c_arg, np.int32(msb_shift), out, np.int64(n)))
    return out


def _dcf(key: Any, leafless: bool = False) -> tuple:
    """A DCF key's arrays as the kernels take them (``DCF_KEY``); ``leafless``: the kernel walks every level (the
    fused gates' keys have no truth-table leaf)."""
    import cupy as cp

    if leafless and key.leaf_bits:
        raise ValueError(f"a fused gate kernel takes DCF keys with no truth-table leaf, got leaf_bits={key.leaf_bits}")
    return tuple(cp.ascontiguousarray(a) for a in (key.root, key.scw, key.tr, key.vcw, key.fcw))


def _words(*arrays: Any) -> tuple:
    import cupy as cp

    return tuple(cp.ascontiguousarray(a, dtype=cp.uint64) for a in arrays)


def dcf_lt(key: Any, x: Any) -> Any:
    """DCF shares (k, N) uint64 of beta * [x < alpha]."""
    import cupy as cp

    n, k = key.n_elems, key.payload_words
    out = cp.empty((k, n), dtype=cp.uint64)
    out_mask = _bit_mask(key.out_bits)
    _kernel("dcf_lt")(_grid(n), (_THREADS,), (
        *_dcf(key), cp.ascontiguousarray(x), np.int32(key.n_bits),
        np.int32(key.leaf_bits), np.int32(key.leaf_fold), np.int32(k), out_mask, np.int32(key.party),
        np.int32(key.rounds), out, np.int64(n)))
    return out


def gapars_eval(key: Any, hatx: Any, parts: dict, n_bits: int, shift: int, party: int) -> Any:
    """GapARS's output share (``gates.trunc.GapARS``) in one launch: the carry walk and the epilogue."""
    import cupy as cp

    n = key.n_elems
    out = cp.empty(n, dtype=cp.uint64)
    _kernel("gapars_eval")(_grid(n), (_THREADS,), (
        *_dcf(key, True), *_words(hatx, parts["R"], parts["W"], parts["rout"]), np.int32(n_bits), np.int32(shift),
        np.int32(party), np.int32(key.rounds), out, np.int64(n)))
    return out


def trfloor_eval(carry: Any, sign: Any, hatx: Any, parts: dict, n_bits: int, shift: int, party: int) -> Any:
    """TrFloor's output share (``gates.trunc.TrFloor``) in one launch: both walks and the epilogue."""
    import cupy as cp

    n = carry.n_elems
    out = cp.empty(n, dtype=cp.uint64)
    _kernel("trfloor_eval")(_grid(n), (_THREADS,), (
        *_dcf(carry, True), *_dcf(sign, True), *_words(hatx, parts["R"], parts["R1s"], parts["rout"]), np.int32(n_bits),
        np.int32(shift), np.int32(party), np.int32(carry.rounds), out, np.int64(n)))
    return out


def relu_eval(key: Any, hatx: Any, parts: dict, n_bits: int, party: int) -> Any:
    """ReLU's output share (``gates.compare.ReLU``) in one launch: the walk and the epilogue."""
    import cupy as cp

    n = key.n_elems
    out = cp.empty(n, dtype=cp.uint64)
    _kernel("relu_eval")(_grid(n), (_THREADS,), (
        *_dcf(key, True), *_words(hatx, parts["r"], parts["r1"], parts["r1r"], parts["rout"]), np.int32(n_bits),
        np.int32(party), np.int32(key.rounds), out, np.int64(n)))
    return out


def lut_eval(key: Any, hatx: Any, table: Any, out_bits: int) -> tuple[Any, Any]:
    """Unsigned sums (u, v) of the LUT PFSS job (party sign applied by the caller)."""
    import cupy as cp

    n = key.n_elems
    u, v = cp.empty(n, dtype=cp.uint64), cp.empty(n, dtype=cp.uint64)
    out_mask = _bit_mask(out_bits)
    _kernel("lut_eval")(_grid(n), (_THREADS,), (
        cp.ascontiguousarray(key.root), cp.ascontiguousarray(key.scw), cp.ascontiguousarray(key.tr),
        cp.ascontiguousarray(key.leaf), cp.ascontiguousarray(hatx), cp.ascontiguousarray(table, dtype=cp.uint64),
        np.int32(table.shape[0]), np.int32(key.depth), np.int32(key.rounds), out_mask, u, v, np.int64(n)))
    return u, v


@dataclass
class IntervalKey:
    """One party's DCF key batch (payload 1) element-major, as ``interval_eval`` reads it: ``levels`` (N, depth, 8)
    uint32, level l of element i one 32-byte record (seed CW with tL_CW in its LSB, the value CW's two words, the tR_CW
    bit, 0); ``leaf`` (N, 2^leaf_bits) uint64, the leaf table with entry z at column ``leaf_index(z)`` (its PRF
    word), or (N, 1) the final CW when the key has no truth-table leaf."""

    party: int
    n_bits: int
    rounds: int
    leaf_bits: int
    leaf_fold: int
    root: Any
    levels: Any
    leaf: Any

    @property
    def n_elems(self) -> int:
        return int(self.root.shape[0])


def interval_key(key: Any) -> IntervalKey:
    """``key`` (a ``dcf.DcfKey`` of payload 1, NumPy or CuPy) copied element-major for ``interval_eval``."""
    if key.payload_words != 1:
        raise ValueError(f"the interval kernel takes DCF keys of 1 payload word, got {key.payload_words}")
    xp = get_xp(key.root)
    n, depth = key.n_elems, key.depth
    levels = xp.zeros((n, depth, 8), dtype=xp.uint32)
    levels[:, :, :4] = key.scw.transpose(1, 0, 2)
    levels[:, :, 4:6] = xp.ascontiguousarray(key.vcw[:, 0, :].T).view(xp.uint32).reshape(n, depth, 2)
    levels[:, :, 6] = key.tr.T
    if key.leaf_bits:
        leaf = xp.empty((n, 1 << key.leaf_bits), dtype=xp.uint64)
        words = leaf_index(xp.arange(1 << key.leaf_bits, dtype=xp.uint64), key.leaf_bits, key.leaf_fold)
        leaf[:, words.astype(xp.int64)] = key.fcw.T
    else:
        leaf = xp.ascontiguousarray(key.fcw[:1].T)
    return IntervalKey(key.party, key.n_bits, key.rounds, key.leaf_bits, key.leaf_fold,
                       xp.ascontiguousarray(key.root), levels, leaf)


def interval_eval(key: IntervalKey, hatx: Any, shifted: Any, dcoef: Any, first: Any, keep: int,
                  sort_bit: int | None, rout: Any, out_bits: int) -> Any:
    """Shares (r, N) of the coefficient row of x's interval plus ``rout`` (see the kernel's comment): ``shifted``
    (m-1,) sorted breakpoints on the shifted line, ``dcoef`` (m-1, r) row differences, ``first`` (2, r) the rows
    c_{m-1} - c_0 and c_{m-1}; ``keep``: the lowest tree levels a walk keeps its left children in
    (``interval_walk.kept_levels``); ``sort_bit``: where the bits of y that decide the restarts begin (None: elements
    in batch order, for measuring what the sort buys)."""
    import cupy as cp

    n, r, n_bits = key.n_elems, int(first.shape[1]), key.n_bits
    out = cp.empty((r, n), dtype=cp.uint64)
    # threads given elements alike in the bits that decide the restarts restart at the same levels (a warp's threads
    # then do not diverge)
    if sort_bit is None:
        order = cp.arange(n, dtype=cp.int64)
    else:
        order = cp.argsort(((hatx + np.uint64(1 << (n_bits - 1))) >> np.uint64(sort_bit)) & np.uint64(1023))
    _kernel("interval_eval")(_grid(n), (_THREADS,), (
        key.root, key.levels, key.leaf, cp.ascontiguousarray(hatx), order,
        cp.ascontiguousarray(shifted, dtype=cp.uint64), cp.ascontiguousarray(dcoef, dtype=cp.uint64),
        cp.ascontiguousarray(first, dtype=cp.uint64), cp.ascontiguousarray(rout, dtype=cp.uint64),
        np.int32(n_bits), np.int32(key.leaf_bits), np.int32(key.leaf_fold), np.int32(keep), np.int32(shifted.shape[0]),
        np.int32(r),
        _bit_mask(out_bits),
        np.int32(key.party),
        np.int32(key.rounds), out, np.int64(n)))
    return out
