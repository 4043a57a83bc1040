"""What SIGMA's GPU code stores and sends per element: key bytes, wire bytes, AES calls.

Facts of GPU-MPC @ f24bf3e0 (../shared/reference/sigma_protocols.md §2, §6, §7):
- keys are structure-of-arrays at the element type's full width (u64, or u8/u16 where templated); only
  1- and 2-bit values are packed (32 to a u32);
- a DPF comparison on b > 7 bits stores b - 5 AES blocks (root seed, b - 8 level words, two leaf words)
  and b - 7 packed t bits; on b <= 7 bits it is a secret-shared truth table of 2^b bits (at least a byte);
- the wire is bit-packed (``compressKernel``) into u64 words, except 1-bit values (warp-packed u32 words),
  2-bit values (packed into u32 words) and values as wide as their type (u8, u16, u64: sent raw);
- the CPU LLAMA path (LayerNorm's rsqrt) sends whole bytes: 8 per value above 32 bits, 4 above 16, 2 above 8.
All sizes are bytes per party.
"""

import math

AES_BLOCK_BYTES = 16
WORD_BYTES = 8


def dpf_key_bytes(bits: int) -> float:
    """One DPF (comparison) key on ``bits`` bits."""
    if bits <= 7:
        return max(1, 2 ** (bits - 3))
    return AES_BLOCK_BYTES * (bits - 5) + (bits - 7) / 8


def dpf_aes_calls(bits: int) -> int:
    """Half-PRG calls of one evaluation (one AES per level below the early-terminated leaf)."""
    return max(bits - 7, 0)


def lut_key_bytes(bits: int, out_bytes: int) -> float:
    """A ``bits``-bit LUT: the eval-all DPF (its t bits one u32 per element), the mask bit, the Select key."""
    return AES_BLOCK_BYTES * (bits - 5) + 4 + 1 / 8 + select_key_bytes(out_bytes)


def lut_aes_calls(bits: int) -> int:
    """Full-domain evaluation, depth first: 2^(b-6) - 2 AES calls (plus 2^b table reads)."""
    return max(2 ** (bits - 6) - 2, 0)


def select_key_bytes(out_bytes: int) -> int:
    """Select (bit x value): five words a, b, c, d1, d2 of the output type."""
    return 5 * out_bytes


def gapars_key_bytes(shift: int, out_bytes: int) -> float:
    """GapARS (``TrWithSlack``): a comparison on the low ``shift`` bits, its mask bit, three words."""
    return dpf_key_bytes(shift) + 1 / 8 + 3 * out_bytes


def trfloor_key_bytes(bits: int, shift: int) -> float:
    """ARS without gap (``TrFloor`` = TR + SignExt): comparisons on ``shift`` and ``bits - shift`` bits,
    two mask bits, four u64 words."""
    return dpf_key_bytes(shift) + dpf_key_bytes(bits - shift) + 2 / 8 + 4 * WORD_BYTES


def relu_key_bytes(bits_in: int, out_bytes: int) -> float:
    """ReLU = DReLU (a comparison on ``bits_in - 1`` bits and its mask bit) + Select."""
    return dpf_key_bytes(bits_in - 1) + 1 / 8 + select_key_bytes(out_bytes)


def type_bits(bits: int) -> int:
    """The narrowest of u8, u16, u64 that holds ``bits`` (SIGMA's templated element types)."""
    return 8 if bits <= 8 else 16 if bits <= 16 else 64


def gpu_wire_bytes(elems: int, bits: int, width: int = 64) -> int:
    """Bytes one party sends to reconstruct ``elems`` values of ``bits`` bits held in a ``width``-bit type."""
    if bits == 1:
        return 4 * math.ceil(elems / 32)
    if bits == 2:
        return 4 * math.ceil(elems / 16)
    if bits == width:
        return elems * width // 8
    return WORD_BYTES * math.ceil(elems * bits / 64)


def cpu_wire_bytes(elems: int, bits: int) -> int:
    """Bytes one party sends in a LLAMA CPU ``reconstruct`` (no packing: whole bytes per value)."""
    per = 8 if bits > 32 else 4 if bits > 16 else 2 if bits > 8 else 1
    return elems * per


def llama_dcf_key_bytes(bits_in: int, bits_out: int) -> float:
    """A LLAMA CPU DCF key (BCG+20, used by the CPU rsqrt): a seed and a value word per level, the t bits,
    the final word. Its share of any model's keys is below 0.1% (docs/sigma.md)."""
    return (bits_in + 1) * AES_BLOCK_BYTES + (bits_in + 1) * WORD_BYTES * math.ceil(bits_out / 64) + bits_in / 4


def cpu_rsqrt_key_bytes(bits: int) -> float:
    """Per row: F2BF16 (a DCF on ``bits`` bits, a DCF on ``bits - 8`` bits, six words) + a 13-bit CPU LUT."""
    f2bf16 = llama_dcf_key_bytes(bits, bits) + llama_dcf_key_bytes(bits - 8, 8) + 6 * WORD_BYTES
    return f2bf16 + dpf_key_bytes(13) + 2 * WORD_BYTES
