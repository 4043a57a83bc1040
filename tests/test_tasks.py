"""Each task alone under the executor: its flush structure (spec §3), driven without SimPy."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simflush.errors import SufRuntimeError
from simflush.executor.batches import WireFormat
from simflush.executor.driver import drive
from simflush.executor.executor import PhaseExecutor, RunConfig, TaskRunner
from simflush.executor.policies import get_policy
from simflush.limits import transformer_limits
from simflush.sim.symbolic import SymbolicContext
from simflush.tasks import gates as G
from simflush.tasks.context import BeaverOp, Sym
from simflush.tasks.layernorm import LayerNormGates, layernorm
from simflush.tasks.nonlinear import cubic_poly, recip, rsqrt
from simflush.tasks.primitives import beaver, mul, relu, trunc
from simflush.tasks.softmax import maxdiff_round_sizes, row_max_diff, softmax_block

TRUNCS3 = (G.FAITHFUL_ARS,) * 3
GPU_LIMITS = transformer_limits("gpu")


def run_alone(make, limits=GPU_LIMITS):
    """Run the task built by ``make(ctx)`` alone; return the flush records of party 0."""
    ex = PhaseExecutor(0, get_policy("suf"), WireFormat(37), limits)
    ctx = SymbolicContext(ex)
    runners = drive(ex, [TaskRunner(make(ctx))], RunConfig(0, "t"))
    assert all(r.done for r in runners)
    return ex.records


def counts(records):
    opens = [r for r in records if r.event == "OPEN"]
    pfss = [r for r in records if r.event == "PFSS"]
    return (len(opens), len(pfss), sum(r.words_mask for r in opens), sum(r.words_beaver for r in opens))


N = 96


def test_mul_is_one_beaver_open_of_2n():
    assert counts(run_alone(lambda c: mul(c, Sym(N), Sym(N)))) == (1, 0, 0, 2 * N)


def test_trunc_and_relu_are_one_mask_open_and_one_job():
    assert counts(run_alone(lambda c: trunc(c, Sym(N), G.GAPARS, 12))) == (1, 1, N, 0)
    assert counts(run_alone(lambda c: relu(c, Sym(N)))) == (1, 1, N, 0)


@given(n=st.integers(1, 5000))
@settings(max_examples=20, deadline=None)
def test_per_element_trunc_flushes_once_per_1024_chunk(n):
    recs = run_alone(lambda c: trunc(c, Sym(n), G.GAPARS, 12, per_element=True))
    pfss = [r for r in recs if r.event == "PFSS"]
    assert sum(r.event == "OPEN" for r in recs) == 1
    assert len(pfss) == -(-n // 1024)
    assert sum(r.jobs for r in pfss) == n and all(r.jobs == r.words for r in pfss)


@pytest.mark.parametrize("iters", [0, 1, 2, 3])
def test_rsqrt_is_1_plus_6i_opens_and_1_plus_3i_pfss(iters):
    o, p, m, b = counts(run_alone(lambda c: rsqrt(c, Sym(N), TRUNCS3, iters)))
    assert (o, p, m, b) == (1 + 6 * iters, 1 + 3 * iters, (1 + 3 * iters) * N, 6 * iters * N)


def test_rsqrt_init_goes_through_the_coeff_batch_and_truncs_through_trunc():
    recs = run_alone(lambda c: rsqrt(c, Sym(N), TRUNCS3, 1))
    assert [r.gates[0] for r in recs if r.event == "PFSS"] == ["RsqrtInit"] + ["FaithfulARS"] * 3
    # the first PFSS demand of a run uses the planner; later coeff/trunc demands use steps 4 / 6
    assert [r.branch for r in recs if r.event == "PFSS"] == ["planner", "lastchance", "lastchance", "lastchance"]


def test_layernorm_is_12_opens_7_pfss_and_the_measured_sequence():
    rows, cols = 128, 768
    gates = LayerNormGates(G.GAPARS, G.FAITHFUL_ARS, TRUNCS3, G.FAITHFUL_ARS)
    recs = run_alone(lambda c: layernorm(c, Sym(rows * cols), rows, cols, gates))
    seq = [(r.event, r.open_kind, r.words) for r in recs]
    R, ND = rows, rows * cols
    expected = [("OPEN", "M", R), ("PFSS", "", R), ("OPEN", "B", 2 * ND), ("OPEN", "M", R), ("PFSS", "", R),
                ("OPEN", "M", R), ("PFSS", "", R)] + [("OPEN", "B", 2 * R), ("OPEN", "M", R), ("PFSS", "", R)] * 3 \
        + [("OPEN", "B", ND + R), ("OPEN", "M", ND), ("PFSS", "", ND)]
    assert seq == expected


def test_layernorm_gpu_variance_drops_the_variance_open():
    gates = LayerNormGates(G.GAPARS, G.FAITHFUL_ARS, TRUNCS3, G.FAITHFUL_ARS)
    o, p, _, _ = counts(run_alone(lambda c: layernorm(c, Sym(N * 4), N, 4, gates, gpu_variance=True)))
    assert (o, p) == (11, 7)


def test_cubic_direct_payload_and_horner():
    assert counts(run_alone(lambda c: cubic_poly(c, Sym(N), G.GELU_CONST, (G.GAPARS, G.GAPARS)))) == (1, 1, N, 0)
    assert counts(run_alone(lambda c: cubic_poly(c, Sym(N), G.SILU, (G.GAPARS, G.GAPARS)))) == (6, 3, 3 * N, 6 * N)


@pytest.mark.parametrize("iters", [0, 1, 2])
def test_recip_counts_and_local_truncs(iters):
    assert counts(run_alone(lambda c: recip(c, Sym(N), G.GAPARS, iters))) == \
        (3 + 4 * iters, 2 + 2 * iters, (2 + 2 * iters) * N, (2 + 4 * iters) * N)
    # SOFTMAX_TRUNC_REF: every trunc (1 + 2*iters of them) becomes a local shift
    assert counts(run_alone(lambda c: recip(c, Sym(N), G.GAPARS, iters, local_truncs=True))) == \
        (2 + 2 * iters, 1, N, (2 + 4 * iters) * N)


@given(lengths=st.dictionaries(st.integers(1, 300), st.integers(1, 5), min_size=1, max_size=6))
@settings(max_examples=30, deadline=None)
def test_row_max_diff_rounds_and_pairs(lengths):
    rows = [L for L, c in lengths.items() for _ in range(c)]
    total = sum(rows)
    recs = run_alone(lambda c: row_max_diff(c, Sym(total), lengths))
    K = (max(rows) - 1).bit_length()
    assert sum(r.event == "OPEN" for r in recs) == sum(r.event == "PFSS" for r in recs) == K
    expected, cur = [], rows
    while max(cur) > 1:
        expected.append(sum(L // 2 for L in cur))
        cur = [(L + 1) // 2 for L in cur]
    assert [r.words for r in recs if r.event == "OPEN"] == expected == maxdiff_round_sizes(lengths)


def test_softmax_block_alone_is_15_opens_8_pfss():
    lengths = {128: 12 * 128}
    A, R = 12 * 128 * 128, 12 * 128
    o, p, m, b = counts(run_alone(lambda c: softmax_block(c, Sym(A), lengths)))
    assert (o, p, m, b) == (15, 8, 3 * A + 4 * R + A, 6 * A + 6 * R + A + R)


def test_batched_matmul_is_one_open():
    assert counts(run_alone(lambda c: beaver(c, BeaverOp.MATMUL, None, None, shape=(12, 128, 64, 128)))) == \
        (1, 0, 0, 12 * (128 * 64 + 64 * 128))


def test_open_cap_throws_like_suf():
    with pytest.raises(SufRuntimeError, match="max_pending_words"):
        run_alone(lambda c: trunc(c, Sym((1 << 23) + 1), G.GAPARS, 12))
    with pytest.raises(SufRuntimeError, match="hatx"):
        run_alone(lambda c: trunc(c, Sym(1 << 22), G.GAPARS, 12),
                  replace(transformer_limits("gpu"), pfss_max_pending_hatx=1 << 21))
