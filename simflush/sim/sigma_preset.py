"""The ``sigma-a6000`` cost preset, derived: SIGMA's testbed (one RTX A6000 per party) from the paper's
microbenchmarks and the hardware's data sheet only, never from its end-to-end tables (5, 7, 8).

Inputs (docs/sigma.md lists each with its source):
- the paper's 1M-GeLU microbenchmark (§5.1.2): 34 ms key transfer, 16 ms compute of which 88 % DReLU,
  20 ms communication; the code's GeLU test runs n = 48, f = 12 (``tests/fss/gelu.cu``);
- the A6000 data sheet: 768 GB/s memory bandwidth; 84 SMs x 64 INT32 lanes at 1.80 GHz;
- the testbed's network (§7.0.3): the ``lan`` preset, 9.4 Gbit/s and 0.05 ms round trip;
- assumptions where the sources are silent, each named below (``ASSUMED``).
``write_preset`` regenerates ``simflush/presets/sigma-a6000.json``; a test checks the file equals this.
"""

from dataclasses import dataclass
from pathlib import Path

from ..networks import get_network
from ..tasks.sigma_runtime import (
    CPU_COPY,
    CPU_RSQRT,
    FRAC_BITS,
    KERNEL,
    KEY_H2D,
    LUT_INPUT_SHIFT,
    LUT_READS,
    PACK,
    REDUCE,
    UNPACK,
)
from ..tasks.sigma_sizes import (
    WORD_BYTES,
    dpf_aes_calls,
    dpf_key_bytes,
    gapars_key_bytes,
    gpu_wire_bytes,
    lut_aes_calls,
    lut_key_bytes,
    select_key_bytes,
)
from .cost import CostModel

# the paper's microbenchmark (§5.1.2): one million GeLUs on the GPU protocol
GELU_ELEMS = 1_000_000
GELU_KEY_TRANSFER_S = 34e-3
GELU_COMPUTE_S = 16e-3
GELU_DRELU_SHARE = 0.88
GELU_COMM_S = 20e-3
GELU_BITS = 48                   # the code's GeLU test (tests/fss/gelu.cu): bw = 48, bin = 36
# RTX A6000 data sheet
HBM_BYTES_PER_S = 768e9
INT32_OPS_PER_S = 84 * 64 * 1.80e9
ASSUMED = {
    "kernel_launch_sync_s": 5e-6,        # a kernel launch followed by cudaDeviceSynchronize (CUDA: ~3-5 us)
    "exchange_handoff_s": 20e-6,         # exchangeShares: wake the sender thread, two socket syscalls
    "memcpy_latency_s": 10e-6,           # a synchronous cudaMemcpy's fixed part (pinned memory)
    "elementwise_bytes_per_word": 24,    # an elementwise kernel reads two u64 words and writes one
    "int32_ops_per_int64_mac": 4,        # a 64-bit multiply-add: wide mul, two cross products, add
    "gemm_efficiency": 0.5,              # CUTLASS SIMT int64 GEMM: half the integer peak
    "cpu_rsqrt_region_s": 20e-6,         # one OpenMP parallel region of LLAMA's rsqrt (fork/join)
    "cpu_rsqrt_s_per_row": 5000 / (64 * 1e8),  # ~5000 AES per row (2 DCFs of ~n levels) on 64 AES-NI threads
}


@dataclass(frozen=True)
class GeluBench:
    """SIGMA's GPU GeLU (Fig 7 as coded) at ``bits``, per element, as ``tasks.sigma_runtime`` models it."""

    bits: int

    @property
    def key_bytes(self) -> float:
        n, f = self.bits, FRAC_BITS
        return (gapars_key_bytes(LUT_INPUT_SHIFT, WORD_BYTES) + dpf_key_bytes(n - 2 * f + 6) + 2 / 8 + 8
                + lut_key_bytes(8, WORD_BYTES) + select_key_bytes(WORD_BYTES))

    @property
    def drelu_aes(self) -> int:
        return 3 * dpf_aes_calls(self.bits - 2 * FRAC_BITS + 6)

    def exchange_bytes(self, elems: int) -> list[int]:
        n, f = self.bits, FRAC_BITS
        widths = [(1, 64), (n - 2 * f + 7, 64), (2, 64), (8, 8), (1, 64), (n, 64), (n, 64)]
        return [gpu_wire_bytes(elems, bits, width) for bits, width in widths]


def derive() -> CostModel:
    """The preset. The GeLU test's timers (GPU-MPC ``utils/gpu_mem.cu``, ``utils/sigma_comms.cpp``) split
    as: transfer = every ``cudaMemcpy`` (the key, and each exchange's packed buffer down and up);
    communication = ``exchangeShares`` alone (the sockets); compute = the rest (kernels)."""
    bench = GeluBench(GELU_BITS)
    a = ASSUMED
    sizes = bench.exchange_bytes(GELU_ELEMS)
    copied = bench.key_bytes * GELU_ELEMS + 2 * sum(sizes)
    pcie_bytes_per_s = copied / GELU_KEY_TRANSFER_S
    aes_per_s = bench.drelu_aes * GELU_ELEMS / (GELU_DRELU_SHARE * GELU_COMPUTE_S)
    kernel_s_per_word = a["elementwise_bytes_per_word"] / HBM_BYTES_PER_S
    # the rest of the GeLU's compute: the LUT's AES and its 2^8 table reads per element, ~8 elementwise
    # kernels, and each exchange's pack and unpack kernels
    kernels = 8 * (a["kernel_launch_sync_s"] + kernel_s_per_word * GELU_ELEMS) + sum(
        2 * a["kernel_launch_sync_s"] + kernel_s_per_word * (b / WORD_BYTES + GELU_ELEMS) for b in sizes)
    rest_s = (1 - GELU_DRELU_SHARE) * GELU_COMPUTE_S - lut_aes_calls(8) * GELU_ELEMS / aes_per_s - kernels
    table_read_s = rest_s / (2 ** 8 * GELU_ELEMS)
    # the sockets: the one-way latency and the line rate, a fixed handoff per exchange (assumed), and the
    # rest per byte (the host's socket copies, in series with MSG_WAITALL)
    lan = get_network("lan")
    fixed = len(sizes) * (lan.rtt_s / 2 + a["exchange_handoff_s"])
    socket_s_per_byte = (GELU_COMM_S - fixed - sum(sizes) / lan.bandwidth_Bps) / sum(sizes)
    mac_per_s = a["gemm_efficiency"] * INT32_OPS_PER_S / a["int32_ops_per_int64_mac"]
    launch, copy = a["kernel_launch_sync_s"], a["memcpy_latency_s"]
    floors = {KEY_H2D: copy, PACK: launch, UNPACK: launch, KERNEL: launch, REDUCE: launch, CPU_COPY: copy,
              CPU_RSQRT: a["cpu_rsqrt_region_s"]}
    slopes = {KEY_H2D: WORD_BYTES / pcie_bytes_per_s, PACK: kernel_s_per_word, UNPACK: kernel_s_per_word,
              KERNEL: kernel_s_per_word, REDUCE: kernel_s_per_word, LUT_READS: table_read_s,
              CPU_COPY: WORD_BYTES / pcie_bytes_per_s, CPU_RSQRT: a["cpu_rsqrt_s_per_row"]}
    relu_prg = 17  # gates.RELU_PRG_PER_ELEM: sigma gates cost their PRG calls times the ReLU slope / 17
    zero_gates = {"ReLU": 0.0}
    return CostModel(
        name="sigma-a6000", open_floor_s=a["exchange_handoff_s"],
        open_s_per_wire_byte=2 / pcie_bytes_per_s + socket_s_per_byte,
        open_host_scatter_s_per_word=0.0, open_wait_per_s_apart=0.0, open_host_pack_s_per_word=0.0,
        open_device_pack_floor_s=0.0, open_device_pack_s_per_word=0.0,
        pfss_floor_s=launch, pfss_s_per_elem={"ReLU": relu_prg / aes_per_s}, gpu_stage_s_per_word=0.0,
        pfss_kind_floor_s={}, pfss_finish_floor_s=0.0, pfss_finish_s_per_elem=zero_gates,
        step_floor_s=0.0, step_s_per_word={"*": 0.0}, step_s_per_matmul_out=0.0,
        run_gap_floor_s=0.0, run_gap_s_per_flop=1 / (2 * mac_per_s),
        run_gap_s_per_matmul_elem=WORD_BYTES / pcie_bytes_per_s, run_gap_s_per_elem=0.0,
        local_floor_s=floors, local_s_per_word=slopes,
        provenance={
            "device": "NVIDIA RTX A6000 (SIGMA's testbed, one per party)", "runtime_profile": "sigma-gpu",
            "deploy": "two-gpu", "method": "derived by simflush.sim.sigma_preset (docs/sigma.md), not fitted",
            "derived": {"pcie_bytes_per_s": pcie_bytes_per_s, "aes_per_s": aes_per_s,
                        "gelu_key_bytes_per_elem": bench.key_bytes, "table_read_s": table_read_s,
                        "socket_s_per_byte": socket_s_per_byte, "int64_mac_per_s": mac_per_s,
                        "kernel_s_per_word": kernel_s_per_word},
            "inputs": {"gelu_elems": GELU_ELEMS, "gelu_key_transfer_s": GELU_KEY_TRANSFER_S,
                       "gelu_compute_s": GELU_COMPUTE_S, "gelu_drelu_share": GELU_DRELU_SHARE,
                       "gelu_comm_s": GELU_COMM_S, "gelu_bits": GELU_BITS, "hbm_bytes_per_s": HBM_BYTES_PER_S,
                       "int32_ops_per_s": INT32_OPS_PER_S, "assumed": dict(ASSUMED)},
        })


def write_preset(path: Path) -> None:
    path.write_text(derive().to_json() + "\n")
