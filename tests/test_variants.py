"""Task variants (DESIGN.md §5) alone under the executor (their flush structure, both FSS routes), and the
knob table that selects them (`simflush.variants`)."""

import pytest
from test_tasks import TRUNCS3, N, counts, run_alone

from models.specs import get_model
from simflush.analysis.checklist.forms import TASK_NAMES
from simflush.analysis.reconcile.space import search_space
from simflush.cli import make_parser
from simflush.errors import ConfigError
from simflush.profiles import PROFILES, parse_overrides, resolve
from simflush.tasks import gates as G
from simflush.tasks.context import Sym
from simflush.tasks.nonlinear import cubic_poly, rsqrt
from simflush.tasks.sigma import gelu_sigma, inv_sigma, nexp_sigma, row_max_diff_sigma, rsqrt_sigma
from simflush.tasks.softmax import maxdiff_round_sizes, softmax_block
from simflush.variants import KNOBS
from simflush.workload import BUILDERS


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


# -- the knob table (simflush.variants) ----------------------------------------------------------------

def test_every_task_variant_value_selects_a_builder_and_a_closed_form():
    variants = [k for k in KNOBS.values() if k.options]
    assert len(variants) >= 5
    for knob in variants:
        assert knob.choices == tuple(c.value for c in knob.options) and knob.default == knob.choices[0]
        for c in knob.options:
            if c.kind:   # a whole task: its kind has a builder and a closed form
                assert c.kind in BUILDERS and c.kind in TASK_NAMES and c.task is c.form is None, knob.name
            else:
                assert callable(c.task) and callable(c.form), knob.name


def test_every_profile_value_is_an_allowed_value_of_its_knob():
    for profile in PROFILES.values():
        for name, value in profile.env.items():
            assert KNOBS.get(name).parse(value) == value, (profile.name, name)


def test_reconcile_searches_exactly_the_knobs_the_table_marks():
    space = search_space("suf-gpu-bench", get_model("bert-base"), {})
    assert space.knobs == sorted(k.name for k in KNOBS.values() if k.searched)
    assert (len(space.knobs), space.size) == (18, 207_360)


def test_pfss_channel_0_reaches_the_settings_and_is_off_the_profiles():
    m = get_model("bert-tiny")
    args = make_parser().parse_args(["simulate", "--set", "pfss_channel=0"])
    settings = resolve("suf-gpu-bench", m, parse_overrides(args.set))
    assert settings.overlap_pfss_open is False and settings.env["pfss_channel"] == "0"
    default = resolve("suf-gpu-bench", m, {})
    assert default.overlap_pfss_open is True and "pfss_channel" not in default.env   # outputs list no new knob
    with pytest.raises(ConfigError, match="pfss_channel=2: allowed values are 0 or 1"):
        parse_overrides(["pfss_channel=2"])
