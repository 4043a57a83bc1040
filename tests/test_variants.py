"""Task variants (DESIGN.md §5) alone under the executor: their flush structure, both FSS routes."""

import pytest
from test_tasks import TRUNCS3, N, counts, run_alone

from simflush.tasks import gates as G
from simflush.tasks.context import Sym
from simflush.tasks.nonlinear import cubic_poly, rsqrt
from simflush.tasks.sigma import gelu_sigma, inv_sigma, nexp_sigma, row_max_diff_sigma, rsqrt_sigma
from simflush.tasks.softmax import maxdiff_round_sizes, softmax_block


def pfss_if(via: bool, k: int = 1) -> int:
    return k if via else 0


@pytest.mark.parametrize("via", [True, False])
def test_row_max_diff_sigma_is_three_opens_per_round(via):
    lengths = {128: 4, 77: 3}
    d = maxdiff_round_sizes(lengths)
    o, p, m, b = counts(run_alone(lambda c: row_max_diff_sigma(c, Sym(4 * 128 + 3 * 77), lengths, via)))
    assert (o, p, m, b) == (3 * len(d), pfss_if(via, len(d)), sum(d), 4 * sum(d))


@pytest.mark.parametrize("via", [True, False])
@pytest.mark.parametrize("final", [True, False])
def test_nexp_sigma(via, final):
    o, p, m, b = counts(run_alone(lambda c: nexp_sigma(c, Sym(N), via, G.GAPARS if final else None)))
    assert (o, p) == (2 + final, pfss_if(via) + final)
    assert (m, b) == (N * (1 + final), 2 * N)


@pytest.mark.parametrize("via", [True, False])
@pytest.mark.parametrize("muls", [0, 2, 3])
def test_inv_sigma(via, muls):
    assert counts(run_alone(lambda c: inv_sigma(c, Sym(N), via, muls))) == (1 + muls, pfss_if(via), N, 2 * N * muls)


@pytest.mark.parametrize("via", [True, False])
def test_gelu_sigma(via):
    assert counts(run_alone(lambda c: gelu_sigma(c, Sym(N), via))) == (2, pfss_if(via), N, 2 * N)


@pytest.mark.parametrize("via", [True, False])
@pytest.mark.parametrize("steps", [0, 1])
def test_rsqrt_sigma_lut_then_at_most_one_truncated_newton_step(via, steps):
    o, p, m, b = counts(run_alone(lambda c: rsqrt_sigma(c, Sym(N), via, steps, G.FAITHFUL_ARS)))
    assert (o, p, m, b) == (1 + 4 * steps, pfss_if(via) + steps, N * (1 + steps), 6 * N * steps)


def test_rsqrt_sigma_rejects_two_steps():
    with pytest.raises(ValueError, match="0 or 1"):
        run_alone(lambda c: rsqrt_sigma(c, Sym(N), True, 2, G.GAPARS))


@pytest.mark.parametrize("iters", [0, 1, 2])
def test_rsqrt_with_live_init_adds_one_mul_and_one_trunc(iters):
    o, p, m, b = counts(run_alone(lambda c: rsqrt(c, Sym(N), TRUNCS3, iters, live_init=True)))
    assert (o, p) == (3 + 6 * iters, 2 + 3 * iters)
    assert (m, b) == ((2 + 3 * iters) * N, (2 + 6 * iters) * N)


def test_cubic_without_final_trunc():
    assert counts(run_alone(lambda c: cubic_poly(c, Sym(N), G.NEXP, (G.GAPARS, None)))) == (5, 2, 2 * N, 6 * N)


def test_softmax_without_prob_trunc():
    lengths = {16: 8}
    assert counts(run_alone(lambda c: softmax_block(c, Sym(128), lengths, prob_trunc=None)))[:2] == (14, 7)


def test_direct_fss_is_recorded_as_local_work_not_a_flush():
    from simflush.executor.batches import WireFormat
    from simflush.executor.driver import drive
    from simflush.executor.executor import PhaseExecutor, RunConfig, TaskRunner
    from simflush.executor.policies import get_policy
    from simflush.sim.symbolic import SymbolicContext

    ex = PhaseExecutor(0, get_policy("suf"), WireFormat(37))
    ctx = SymbolicContext(ex)
    drive(ex, [TaskRunner(gelu_sigma(ctx, Sym(N), via_batch=False))], RunConfig(0, "r"))
    assert [(g.name, w) for g, w in ctx.take_direct_work()] == [("GeLULUT", N)]
    assert ctx.take_direct_work() == []
