"""The ChaCha block function (Bernstein 2008; RFC 8439 §2.3) and the seed PRG built on it.

Two implementations give identical bits: a vectorised array version (NumPy, also runs on CuPy) and a CUDA
kernel (CuPy ``RawKernel``) used on the GPU. ``rounds`` is 12 by default (ChaCha12) and may be 8, 12 or 20.

Seed PRG ``G``: a 128-bit seed s (4 uint32 words, little-endian) keys ChaCha in its 128-bit-key form
("expand 16-byte k", key words s||s), counter 0, nonce 0. The 512-bit output block is read as four 128-bit
blocks: ``[0:4]`` left child, ``[4:8]`` right child, ``[8:12]`` left value, ``[12:16]`` right value.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .xp import get_xp, is_cupy

SIGMA32 = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k"
TAU16 = (0x61707865, 0x3120646E, 0x79622D36, 0x6B206574)  # "expand 16-byte k"
ALLOWED_ROUNDS = (8, 12, 20)

_U32 = np.uint32


def check_rounds(rounds: int) -> int:
    """Validate the ChaCha round count."""
    if rounds not in ALLOWED_ROUNDS:
        raise ValueError(f"chacha rounds={rounds!r} not supported; allowed: {ALLOWED_ROUNDS}")
    return rounds


def _rotl(v: Any, k: int) -> Any:
    return (v << _U32(k)) | (v >> _U32(32 - k))


# A double round: four quarter rounds on the columns of the 4x4 state, then four on its diagonals (RFC 8439 §2.3).
_DOUBLE_ROUND = ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
                 (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14))


def _quarter(x: list, a: int, b: int, c: int, d: int) -> None:
    x[a] = x[a] + x[b]
    x[d] = _rotl(x[d] ^ x[a], 16)
    x[c] = x[c] + x[d]
    x[b] = _rotl(x[b] ^ x[c], 12)
    x[a] = x[a] + x[b]
    x[d] = _rotl(x[d] ^ x[a], 8)
    x[c] = x[c] + x[d]
    x[b] = _rotl(x[b] ^ x[c], 7)


def _block_arrays(state: Any, rounds: int) -> Any:
    """Vectorised ChaCha over rows of ``state`` (shape (N, 16), uint32). Returns (N, 16) uint32."""
    xp = get_xp(state)
    s = [xp.ascontiguousarray(state[:, i]) for i in range(16)]
    x = list(s)
    for _ in range(rounds // 2):
        for quarter in _DOUBLE_ROUND:
            _quarter(x, *quarter)
    return xp.stack([x[i] + s[i] for i in range(16)], axis=1)


CUDA_CHACHA = r"""
#define ROTL(v, k) (((v) << (k)) | ((v) >> (32 - (k))))
#define QR(a, b, c, d) \
  a += b; d = ROTL(d ^ a, 16); c += d; b = ROTL(b ^ c, 12); \
  a += b; d = ROTL(d ^ a, 8);  c += d; b = ROTL(b ^ c, 7);
__device__ __forceinline__ void chacha_rounds(unsigned int x[16], int rounds) {
  unsigned int s[16];
  #pragma unroll
  for (int i = 0; i < 16; ++i) s[i] = x[i];
  for (int r = 0; r < rounds; r += 2) {
    QR(x[0], x[4], x[8], x[12]); QR(x[1], x[5], x[9], x[13]);
    QR(x[2], x[6], x[10], x[14]); QR(x[3], x[7], x[11], x[15]);
    QR(x[0], x[5], x[10], x[15]); QR(x[1], x[6], x[11], x[12]);
    QR(x[2], x[7], x[8], x[13]); QR(x[3], x[4], x[9], x[14]);
  }
  #pragma unroll
  for (int i = 0; i < 16; ++i) x[i] += s[i];
}
/* G(seed): seed = 4 words (LSB of word 0 ignored by callers that clear it). */
__device__ __forceinline__ void prg_expand(const unsigned int s0, const unsigned int s1, const unsigned int s2,
                                           const unsigned int s3, unsigned int out[16], int rounds) {
  out[0] = 0x61707865u; out[1] = 0x3120646Eu; out[2] = 0x79622D36u; out[3] = 0x6B206574u;
  out[4] = s0; out[5] = s1; out[6] = s2; out[7] = s3; out[8] = s0; out[9] = s1; out[10] = s2; out[11] = s3;
  out[12] = 0; out[13] = 0; out[14] = 0; out[15] = 0;
  chacha_rounds(out, rounds);
}
/* The leaf PRF of a DCF with a truth-table leaf: ChaCha keyed by the seed at block counter ctr (>= 1). */
__device__ __forceinline__ void prg_counter(const unsigned int s0, const unsigned int s1, const unsigned int s2,
                                            const unsigned int s3, unsigned int ctr, unsigned int out[16],
                                            int rounds) {
  out[0] = 0x61707865u; out[1] = 0x3120646Eu; out[2] = 0x79622D36u; out[3] = 0x6B206574u;
  out[4] = s0; out[5] = s1; out[6] = s2; out[7] = s3; out[8] = s0; out[9] = s1; out[10] = s2; out[11] = s3;
  out[12] = ctr; out[13] = 0; out[14] = 0; out[15] = 0;
  chacha_rounds(out, rounds);
}
"""

_BLOCK_KERNEL = CUDA_CHACHA + r"""
extern "C" __global__ void chacha_block_kernel(const unsigned int* state, unsigned int* out, long long n, int rounds) {
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  unsigned int x[16];
  #pragma unroll
  for (int k = 0; k < 16; ++k) x[k] = state[i * 16 + k];
  chacha_rounds(x, rounds);
  #pragma unroll
  for (int k = 0; k < 16; ++k) out[i * 16 + k] = x[k];
}
"""

_kernel_cache: dict = {}


def _cuda_block(state: Any, rounds: int) -> Any:
    import cupy as cp

    if "block" not in _kernel_cache:
        _kernel_cache["block"] = cp.RawKernel(_BLOCK_KERNEL, "chacha_block_kernel")
    state = cp.ascontiguousarray(state, dtype=cp.uint32)
    out = cp.empty_like(state)
    n = state.shape[0]
    if n:
        threads = 256
        _kernel_cache["block"](((n + threads - 1) // threads,), (threads,), (state, out, np.int64(n), np.int32(rounds)))
    return out


def chacha_block(state: Any, rounds: int = 20, force_arrays: bool = False) -> Any:
    """ChaCha block function on each row of ``state`` ((N, 16) uint32): rounds, then add the input state.

    On CuPy input the CUDA kernel runs, unless ``force_arrays`` asks for the vectorised array version
    (used by tests to compare the two).
    """
    check_rounds(rounds)
    xp = get_xp(state)
    state = xp.asarray(state, dtype=xp.uint32)
    if state.ndim != 2 or state.shape[1] != 16:
        raise ValueError(f"chacha state must have shape (N, 16), got {state.shape}")
    if is_cupy(xp) and not force_arrays:
        return _cuda_block(state, rounds)
    return _block_arrays(state, rounds)


def seed_state(seeds: Any) -> Any:
    """The ChaCha input states for the seed PRG: (N, 4) uint32 seeds -> (N, 16) uint32."""
    xp = get_xp(seeds)
    n = seeds.shape[0]
    st = xp.zeros((n, 16), dtype=xp.uint32)
    st[:, 0:4] = xp.asarray(TAU16, dtype=xp.uint32)
    st[:, 4:8] = seeds
    st[:, 8:12] = seeds
    return st


def prg(seeds: Any, rounds: int = 12) -> Any:
    """Seed PRG G: (N, 4) uint32 seeds -> (N, 16) uint32 (children L, R, values L, R; see module doc)."""
    return chacha_block(seed_state(seeds), rounds)
