"""simflush sweep: grid files, records reduced in the worker, resume, Ctrl-C, and byte-identical results
whatever runs them (one process, a process pool, a Dask LocalCluster)."""

import functools
import gc
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from paths import REPO

import simflush
from simflush.analysis.whatif import sweep
from simflush.analysis.whatif.grid import load_sweep
from simflush.cli import main
from simflush.cli.progress import callback

GRID = """
[base]
model = "bert-tiny"
seq_len = 16
layers = 1

[grid]
policy = ["suf", "budget"]
knobs.rsqrt_iters = [1, 2]

[[configs]]
deploy = "colocated"

[[configs]]
deploy = "two-gpu"
chains = 2
"""


@pytest.fixture
def grid(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_grid_file_is_its_entries_times_the_product_of_its_axes(grid):
    sweep = load_sweep(grid)
    configs = list(sweep)
    assert len(sweep) == len(configs) == 8
    assert configs[0] == {"model": "bert-tiny", "seq_len": 16, "batch": 1, "layers": 1, "runtime": "suf-gpu-bench",
                          "net": "loopback", "cost": "suf-h100", "policy": "suf", "deploy": "colocated", "chains": 1,
                          "knobs": {"rsqrt_iters": "1"}}
    assert [(c["deploy"], c["chains"], c["policy"], c["knobs"]["rsqrt_iters"]) for c in configs[3:5]] == [
        ("colocated", 1, "budget", "2"), ("two-gpu", 2, "suf", "1")]


@pytest.mark.parametrize(("text", "where"), [
    ("[base]\nseq_len = 0\n", "base.seq_len"),
    ("[grid]\npolicy = []\n", "grid.policy"),
    ("[grid]\npolcy = ['suf']\n", "grid.polcy: unknown key"),
    ("[[configs]]\nchains = 2\n[[configs]]\nchains = 'x'\n", "configs[1].chains"),
    ("[base\n", "not TOML"),
    ("[grid]\npolicy = ['suf', 'nope']\n", "configuration 1: "),
])
def test_a_bad_grid_file_is_one_line_naming_file_and_key(tmp_path, capsys, text, where):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err and where in err
    assert not path.with_suffix(".jsonl").exists() or not path.with_suffix(".jsonl").read_text()


def test_a_record_is_flat_self_describing_and_the_simulation_in_suf_field_names(grid, capsys):
    assert main(["sweep", str(grid), "--jobs", "1"]) == 0
    assert "8 configurations" in capsys.readouterr().out
    records = _records(grid.with_suffix(".jsonl"))
    assert [r["index"] for r in records] == list(range(8)) and len({r["key"] for r in records}) == 8
    # every record has the same fields with the same types (constant settings included)
    assert len({tuple((k, type(v).__name__) for k, v in r.items()) for r in records}) == 1
    first = records[0]
    assert not any(isinstance(v, dict) for v in first.values())
    assert first["error"] is None and first["model"] == "bert-tiny" and first["cost"] == "suf-h100"
    doc = simflush.simulate(model="bert-tiny", seq_len=16, layers=1, knobs={"rsqrt_iters": "1"}).bench_json()
    assert first["pfss.open_flushes"] == doc["pfss"]["open_flushes"] > 0
    assert first["pfss.num_flushes"] == doc["pfss"]["num_flushes"]
    assert first["communication.net_bytes"] == doc["communication"]["net_bytes"]
    assert first["timing.online_time_s"] == doc["timing"]["online_time_s"]
    assert first["settings.rsqrt_iters"] == "1" and first["knobs.rsqrt_iters"] == "1"
    branches = {k[len("branches."):]: v for k, v in first.items() if k.startswith("branches.")}
    assert len(branches) == 16 and {k: v for k, v in branches.items() if v} == doc["branches"]
    assert len(grid.with_suffix(".jsonl").read_text()) < 8 * 10_000  # small: no per-run table, no trace


def test_a_sweep_worker_runs_full_collections_rarely(grid, monkeypatch):
    """Its schedule cache is a large long-lived heap, which a full collection traverses and finds alive."""
    thresholds = gc.get_threshold()
    monkeypatch.setattr(sweep, "_rarer_full_collections", functools.cache(sweep._rarer_full_collections.__wrapped__))
    try:
        gc.set_threshold(*thresholds[:2], 10)  # Python's default (an in-process sweep may have set it)
        sweep.reduce_config(0, next(iter(load_sweep(grid))))
        assert gc.get_threshold() == (*thresholds[:2], sweep.FULL_COLLECTION_EVERY)
    finally:
        gc.set_threshold(*thresholds)


@pytest.fixture(scope="module")
def dask_scheduler():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def test_one_process_a_pool_and_dask_write_the_same_bytes(grid, tmp_path, dask_scheduler):
    outs = {}
    for name, flags in {"jobs1": ["--jobs", "1"], "pool": ["--jobs", "2"], "dask": ["--dask", "local", "--jobs", "2"],
                        "scheduler": ["--scheduler", dask_scheduler]}.items():
        outs[name] = tmp_path / f"{name}.jsonl"
        assert main(["sweep", str(grid), "--out", str(outs[name]), *flags]) == 0
    assert len({path.read_bytes() for path in outs.values()}) == 1


def test_a_task_that_fails_on_dask_raises_its_error(dask_scheduler):
    """Results are waited for in short polls (Ctrl-C deferred to them): a task's exception still comes back."""
    from simflush.analysis.whatif.executors import Dask

    with pytest.raises(ValueError, match="invalid literal"):
        list(Dask(dask_scheduler).map_unordered(int, ["12", "not a number"]))


def test_compare_flags_are_a_shorthand_for_a_grid_file(grid, tmp_path):
    out = tmp_path / "flags.jsonl"
    assert main(["sweep", "--model", "bert-tiny", "--seq-len", "16", "--layers", "1", "--policy", "suf,budget",
                 "--set", "rsqrt_iters=1,2", "--out", str(out), "--jobs", "1"]) == 0
    assert main(["sweep", str(grid), "--jobs", "1"]) == 0
    assert out.read_text().splitlines() == grid.with_suffix(".jsonl").read_text().splitlines()[:4]


def test_resume_runs_only_the_rest_and_gives_the_same_file(grid, tmp_path, capsys):
    full = grid.with_suffix(".jsonl")
    assert main(["sweep", str(grid), "--jobs", "1"]) == 0
    cut = tmp_path / "cut.jsonl"
    lines = full.read_text().splitlines(keepends=True)
    cut.write_text(lines[5] + lines[2] + lines[0] + lines[7][:40])  # out of order, the last line cut by a crash
    capsys.readouterr()
    assert main(["sweep", str(grid), "--out", str(cut), "--jobs", "2"]) == 2  # never overwritten by mistake
    assert "--resume" in capsys.readouterr().err
    assert main(["sweep", str(grid), "--out", str(cut), "--resume", "--jobs", "2"]) == 0
    assert "(5 run now, 3 resumed" in capsys.readouterr().out
    assert cut.read_bytes() == full.read_bytes()


def test_resume_refuses_another_sweeps_file(grid, tmp_path, capsys):
    other = tmp_path / "other.toml"
    other.write_text(GRID.replace('seq_len = 16', 'seq_len = 32'))
    assert main(["sweep", str(other), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1"]) == 0
    assert main(["sweep", str(grid), "--out", str(tmp_path / "o.jsonl"), "--resume", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "8 records are not configurations of this sweep" in err


def _sigint_default():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a test runner started in the background may ignore it


@pytest.mark.parametrize("executor", [["--jobs", "2"], ["--dask", "local", "--jobs", "2"]], ids=["pool", "dask"])
def test_ctrl_c_keeps_every_finished_record_and_says_how_to_resume(tmp_path, executor):
    grid = tmp_path / "slow.toml"
    grid.write_text('[base]\nmodel = "bert-tiny"\nseq_len = 32\n[grid]\nchains = [1, 2, 3, 4, 5, 6, 7, 8]\n'
                    'policy = ["suf", "budget", "pfss_eager", "have_pfss_work"]\n')
    out = grid.with_suffix(".jsonl")
    cmd = [sys.executable, "-m", "simflush.cli", "sweep", str(grid), *executor]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_sigint_default)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.read_text().count("\n") < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group, workers too
    stdout, stderr = proc.communicate(timeout=60)
    written = out.read_text().count("\n")
    assert proc.returncode == 130 and stdout == ""
    assert stderr.splitlines() == [f"interrupted: {written} of 32 configurations written to {out}; rerun with --resume"]
    assert 2 <= written < 32
    done = subprocess.run([*cmd[:5], "--jobs", "2", "--resume"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and f"{32 - written} run now, {written} resumed" in done.stdout
    assert [r["index"] for r in _records(out)] == list(range(32))


def test_an_unreachable_scheduler_is_one_line_within_the_timeout(grid, capsys):
    start = time.monotonic()
    assert main(["sweep", str(grid), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert time.monotonic() - start < 15
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "tcp://127.0.0.1:9: cannot connect within 10 s" in err
    assert main(["sweep", str(grid), "--scheduler", "localhost"]) == 2
    assert "expected tcp://HOST:PORT" in capsys.readouterr().err


def test_the_progress_bar_shows_rate_and_eta_on_a_terminal_only(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        progress = callback("sweep")
        for done in range(1, 4):
            progress(done, 3)
        text = stream.getvalue()
        assert ("3/3" in text and "config/s" in text and "<00:00" in text) == shown
        assert text == "" or shown


def test_plot_draws_the_overview_from_the_records_file(grid, tmp_path, capsys):
    """--plot reads the finished file: every record on the figure, named by the settings that vary."""
    from matplotlib.image import imread

    from simflush.analysis.whatif.sweep import overview_records

    out, png = tmp_path / "s.jsonl", tmp_path / "overview.png"
    assert main(["sweep", str(grid), "--out", str(out), "--jobs", "1", "--plot", str(png)]) == 0
    assert f"wrote {png}" in capsys.readouterr().out
    records, shared = overview_records(out)
    assert len(records) == len(_records(out)) == 8
    assert {"policy", "rsqrt_iters", "deploy", "chains"} <= set(records[0]) and "model" not in records[0]
    assert shared["model"] == "bert-tiny" and "policy" not in shared
    assert records[0]["config"] == "policy=suf deploy=colocated chains=1 rsqrt_iters=1"
    assert all(r["online_time_s"] > 0 for r in records)
    height, width, _ = imread(png).shape
    assert width == 1540 and height < 1000
