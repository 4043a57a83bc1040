"""The real backend's interval kernel in a cost profile (``calibrate --interval-bench``): the grid's fit recovers
the kernel that made it, bad grid lines are refused in one line, a job below a full GPU costs its threads' latency
(not shared with the other party) and above it its work (shared), and the simulator charges sigma LUT gates so."""

import json

import pytest

from simflush.analysis.calibration.interval_fit import fit_interval_kernel, read_grid
from simflush.errors import ConfigError
from simflush.sim.charges import gate_job_s
from simflush.sim.cost import load_cost
from simflush.tasks import gates as G
from simflush.tasks.gates import with_params
from simflush.tasks.interval_walk import IntervalBuild, gate_walk

LATENCY = {128: (3e-5, 8e-7, 3e-6), 1536: (3.5e-5, 1.1e-6, 5e-6)}   # floor, per call, per point
FULL, PER_CALL_ELEM, PER_POINT_ELEM = 196608, 4.5e-11, 1.7e-11
SHAPES = {"consecutive-16": (127.0, 17), "consecutive-4096": (8287.0, 4097), "spaced64-256": (851.0, 257),
          "spaced64-4096": (12371.0, 4097), "random-256": (10586.0, 257), "GeLUConst": (850.0, 258)}


def grid_lines(**change):
    lines = []
    for gate, (calls, points) in SHAPES.items():
        for n, (floor, per_call, per_point) in LATENCY.items():
            lines.append(dict(gate=gate, n_bits=48, points=points, elements=n, calls_per_elem=calls,
                              seconds=floor + calls * per_call + points * per_point, card="H200"))
        if not gate.startswith("random"):   # the full GPU's lines the fit reads
            lines.append(dict(gate=gate, n_bits=48, points=points, elements=FULL, calls_per_elem=calls,
                              seconds=FULL * (calls * PER_CALL_ELEM + points * PER_POINT_ELEM), card="H200"))
    lines[0].update(change)
    return lines


def write(tmp_path, lines):
    path = tmp_path / "grid.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_the_fit_recovers_the_kernel_that_made_the_grid(tmp_path):
    fit = fit_interval_kernel(read_grid(write(tmp_path, grid_lines())))
    for n, (floor, per_call, per_point) in LATENCY.items():
        assert fit["interval_floor_s"][str(n)] == pytest.approx(floor, rel=1e-6)
        assert fit["interval_s_per_call"][str(n)] == pytest.approx(per_call, rel=1e-6)
        assert fit["interval_s_per_point"][str(n)] == pytest.approx(per_point, rel=1e-6)
    assert str(FULL) not in fit["interval_s_per_call"]
    assert fit["interval_s_per_call_elem"] == pytest.approx(PER_CALL_ELEM, rel=1e-6)
    assert fit["interval_s_per_point_elem"] == pytest.approx(PER_POINT_ELEM, rel=1e-6)


@pytest.mark.parametrize("change,named", [({"seconds": -1.0}, "field seconds: -1.0"),
                                          ({"elements": "many"}, "field elements: 'many'"),
                                          ({"card": "A100"}, "mix rings or cards")])
def test_a_bad_grid_line_is_refused_in_one_line(tmp_path, change, named):
    with pytest.raises(ConfigError, match=named) as err:
        read_grid(write(tmp_path, grid_lines(**change)))
    assert "\n" not in str(err.value)


def test_below_a_full_gpu_a_job_costs_its_latency_alone_and_above_it_its_shared_work():
    cost = load_cost("real-h200")
    calls, points = 24662.0, 8194
    alone, shared = cost.interval_gate_s(calls, points, 1536)
    at_1536 = (cost.interval_floor_s["1536"] + calls * cost.interval_s_per_call["1536"]
               + points * cost.interval_s_per_point["1536"])
    assert alone + shared == pytest.approx(at_1536) and alone > 10 * shared
    alone, shared = cost.interval_gate_s(calls, points, 4 * FULL)
    assert alone == 0 and shared == pytest.approx(4 * FULL * (calls * cost.interval_s_per_call_elem
                                                              + points * cost.interval_s_per_point_elem))
    ends = sorted(sum(cost.interval_gate_s(calls, points, n)) for n in (1536, 12288))
    assert ends[0] < sum(cost.interval_gate_s(calls, points, 4000)) < ends[1]   # interpolated between the two


def test_the_simulator_charges_a_sigma_lut_by_its_walk_in_a_profile_that_prices_the_kernel():
    inv = with_params(G.INV_LUT, in_scale_bits=12, row_len=128)
    real, suf = load_cost("real-h200"), load_cost("suf-h100")
    at48, at52 = IntervalBuild(48), IntervalBuild(52)
    assert gate_job_s(real, inv, 1536, at48) == real.interval_gate_s(*gate_walk(inv, at48, 12), 1536)
    assert sum(gate_job_s(real, inv, 1536, at52)) > sum(gate_job_s(real, inv, 1536, at48))   # deeper walks
    # SUF's own gates keep their traced cost; a profile without the kernel scales ReLU by PRG calls
    traced = IntervalBuild(48, 2)   # the build real-h200's traces ran
    assert gate_job_s(real, G.GELU_CONST, 1000, traced) == (0.0, real.pfss_work_s("GeLUConst", 1000))
    assert gate_job_s(suf, inv, 1536, IntervalBuild(37)) == (0.0, suf.pfss_work_s("ReLU", 1536) * inv.cost_scale)


def test_a_suf_gate_keeps_its_traced_cost_at_the_traces_build_and_scales_with_the_kernel_at_another():
    """real-h200 was fitted on folded traces (fold 2) at 48 bits: there GeLU-const costs its traced slope; unfolded,
    that slope times the kernel model's unfolded/folded cost; a profile that records no build does not scale."""
    from dataclasses import replace

    real = load_cost("real-h200")
    assert real.traced_interval_build == IntervalBuild(48, 2)
    at0, at2 = IntervalBuild(48, 0), IntervalBuild(48, 2)
    traced = real.pfss_work_s("GeLUConst", 393216)
    assert gate_job_s(real, G.GELU_CONST, 393216, at2) == (0.0, traced)
    kernel = {b: sum(real.interval_gate_s(*gate_walk(G.GELU_CONST, b, 12), 393216)) for b in (at0, at2)}
    unfolded = gate_job_s(real, G.GELU_CONST, 393216, at0)
    assert unfolded == (0.0, pytest.approx(traced * kernel[at0] / kernel[at2]))
    assert unfolded[1] > 3 * traced   # 850 calls an element against 180
    unrecorded = replace(real, provenance={k: v for k, v in real.provenance.items() if k != "interval_build"})
    assert gate_job_s(unrecorded, G.GELU_CONST, 393216, at0) == (0.0, traced)
