"""Bad input across every command and every file kind: exit 2 (or 3), one line on stderr, no traceback,
no hang (issue #15, item 5).

Every case runs ``main()`` in-process under a SIGALRM bound (a hang fails the case instead of the suite);
an exception other than the two ``main`` turns into exit codes fails it with its traceback. Hypothesis
draws the bad values: option values, mutated fields of a bench JSON, a simflush trace JSON and a cost
profile, random bytes and truncations of every file kind, broken lines of a SUF trace.
"""

import contextlib
import gzip
import json
import math
import re
import signal

import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simflush import simulate
from simflush.cli import main
from simflush.sim.cost import load_cost
from simflush.sim.gpu import SharedGPU

CASE_TIMEOUT_S = 20
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SMALL = ["--model", "bert-tiny", "--layers", "1"]


@contextlib.contextmanager
def bounded(seconds: int = CASE_TIMEOUT_S):
    def hang(_signum, _frame):
        raise TimeoutError(f"no answer within {seconds} s: a hang")
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def refused(capsys, argv: list[str], codes=(2,)) -> str:
    """Run ``simflush ARGV``; assert it exits with one of ``codes`` and one stderr line; return that line."""
    capsys.readouterr()
    with bounded():
        code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert code in codes, (argv, code, err)
    assert len(lines) == 1 and lines[0].startswith(("error: ", "runtime error ")), (argv, err)
    assert "Traceback" not in err
    return lines[0]


# -- files --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory, golden):
    """Good inputs to break: the CPU golden bench JSON and trace (bert-tiny), a simulated trace JSON, a
    cost profile, and a directory."""
    root = tmp_path_factory.mktemp("fuzz")
    trace = simulate(model="bert-tiny", layers=1).trace
    (root / "trace.json").write_text(trace.to_json())
    (root / "cost.json").write_text(load_cost("suf-h100").to_json())
    (root / "dir").mkdir()
    (root / "grid.toml").write_text('[base]\nmodel = "bert-tiny"\nlayers = 1\n[grid]\npolicy = ["suf", "pfss_eager"]\n')
    return {"bench": golden / "cpu_bt_cpu.json", "suf_trace": golden / "cpu_bt_cpu.trace.gz",
            "trace": root / "trace.json", "cost": root / "cost.json", "grid": root / "grid.toml", "dir": root / "dir",
            "root": root}


def reading(kind: str, path, files) -> list[str]:
    """A command that reads ``path`` as a file of ``kind``."""
    out = files["root"] / "out" / "p.json"
    return {
        "bench": ["validate", "--measured", path],
        "bench-reconcile": ["reconcile", "--bench-json", path],
        "bench-calibrate": ["calibrate", "--trace", files["suf_trace"], "--bench", path, "--out", out],
        "untraced": ["calibrate", "--trace", files["trace"], "--untraced", path, "--out", out],
        "suf_trace": ["calibrate", "--trace", path, "--bench", files["bench"], "--out", out],
        "suf_trace-reconcile": ["reconcile", "--trace", path, *SMALL[:2]],
        "trace": ["calibrate", "--trace", path, "--out", out],
        "cost": ["simulate", *SMALL, "--cost", path],
        "cost-validate": ["validate", "--measured", files["bench"], "--cost", path],
        "grid": ["sweep", path, "--out", files["root"] / "out" / "sweep.jsonl"],
    }[kind]


KINDS = ["bench", "bench-reconcile", "bench-calibrate", "untraced", "suf_trace", "suf_trace-reconcile", "trace",
         "cost", "cost-validate", "grid"]
SUFFIX = {"bench": ".json", "untraced": ".json", "trace": ".json", "cost": ".json", "suf_trace": ".gz", "grid": ".toml"}


def suffix(kind: str) -> str:
    return SUFFIX[kind.split("-")[0]]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("what", ["missing", "directory", "empty", "utf16", "nul", "truncated-gzip"])
def test_unreadable_files(capsys, files, kind, what):
    path = files["root"] / f"{what}-{kind}{suffix(kind)}"
    source = files["bench"] if kind.startswith(("bench", "untraced")) else files["grid"] if kind == "grid" \
        else files["cost"]
    if what == "directory":
        path = files["dir"] if suffix(kind) not in (".json", ".toml") else files["root"] / f"adir{suffix(kind)}"
        path.mkdir(exist_ok=True)
    elif what == "empty":
        path.write_bytes(b"")
    elif what == "utf16":
        path.write_bytes(source.read_text().encode("utf-16"))
    elif what == "nul":
        path.write_bytes(b"\x00" * 64)
    elif what == "truncated-gzip":
        path.write_bytes(files["suf_trace"].read_bytes()[:300])
    line = refused(capsys, reading(kind, path, files))
    assert str(path) in line or path.name in line


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.binary(min_size=1, max_size=300))
@settings(FUZZ, max_examples=12)
def test_random_bytes(capsys, files, kind, data):
    path = files["root"] / f"random-{kind}{suffix(kind)}"
    path.write_bytes(data)
    assert path.name in refused(capsys, reading(kind, path, files))


@pytest.mark.parametrize("kind", ["bench", "trace", "cost"])
@given(cut=st.floats(0.0, 0.999))
@settings(FUZZ, max_examples=15)
def test_truncated_json(capsys, files, kind, cut):
    text = files[kind].read_text()
    end = text.rindex("}")
    path = files["root"] / f"cut-{kind}.json"
    path.write_text(text[:int(cut * end)])
    assert path.name in refused(capsys, reading(kind, path, files))


# -- mutated fields -----------------------------------------------------------------------------------

NOT_A_COUNT = st.one_of(st.integers(max_value=-1), st.just(math.nan), st.just(math.inf), st.just(1.5),
                        st.text(max_size=5), st.none(), st.booleans(), st.lists(st.integers(), max_size=2))
NOT_A_SIZE = st.one_of(st.just(0), NOT_A_COUNT)
NOT_A_TIME = st.one_of(st.floats(max_value=-1e-12), st.just(math.nan), st.just(math.inf), st.just(-math.inf),
                       st.text(max_size=5), st.none(), st.booleans(),
                       st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
DELETE = object()

BENCH_FIELDS = {
    "seq_len": NOT_A_SIZE, "batch_size": NOT_A_SIZE, "n_layers_run": st.one_of(NOT_A_SIZE, st.integers(3, 10**9)),
    "n_iters": NOT_A_SIZE, "n_bits": st.one_of(st.integers(-5, 36), st.integers(38, 128), NOT_A_COUNT),
    "timing.online_time_s": NOT_A_TIME, "pfss.open_flushes": NOT_A_COUNT, "pfss.num_flushes": NOT_A_COUNT,
    "pfss.opened_words": NOT_A_COUNT, "pfss.total_hatx_words": NOT_A_COUNT, "communication.net_bytes": NOT_A_COUNT,
    "model": st.one_of(st.text(max_size=8), st.integers(), st.none()), "backend": st.text(max_size=4),
    "preprocessing.gelu_const": st.one_of(st.integers(2, 9), st.text(max_size=3)),
    "preprocessing.open_pack_device_min_words": NOT_A_COUNT.filter(lambda v: v is not None),  # null: not echoed
    "seq_len ": st.just(DELETE), "pfss.num_jobs": NOT_A_COUNT.filter(lambda v: v is not None),
    "pfss.opened_words_mask": NOT_A_COUNT.filter(lambda v: v is not None),
}


def mutate(doc: dict, dotted: str, value) -> dict:
    node = doc
    *parents, key = dotted.strip().split(".")
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return doc


@pytest.mark.parametrize("reader", ["bench", "bench-reconcile", "bench-calibrate"])
@given(data=st.data())
@settings(FUZZ, max_examples=40)
def test_bench_json_fields(capsys, files, reader, data):
    field = data.draw(st.sampled_from(sorted(BENCH_FIELDS)))
    value = data.draw(BENCH_FIELDS[field])
    if (field == "model" and value in ("bert-tiny",)) or (field == "backend" and value == "cpu"):
        return
    doc = mutate(json.loads(files["bench"].read_text()), field, value)
    path = files["root"] / "bad-bench.json"
    path.write_text(json.dumps(doc, indent=2))
    line = refused(capsys, reading(reader, path, files))
    assert re.match(rf"error: {re.escape(str(path))}:\d+: ", line), line
    assert field.strip().split(".")[-1] in line, line


@given(data=st.data())
@settings(FUZZ, max_examples=60)
def test_trace_json_fields(capsys, files, data):
    doc = json.loads(files["trace"].read_text())
    section = data.draw(st.sampled_from(["meta", "runs", "flushes"]))
    record = doc["meta"] if section == "meta" else data.draw(st.sampled_from(doc[section]))
    numeric = [k for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    key = data.draw(st.sampled_from(numeric))
    if key in ("party",):
        value = data.draw(st.one_of(st.integers(2, 9), st.integers(max_value=-1), NOT_A_COUNT))
    elif key.endswith("_s"):
        value = data.draw(NOT_A_TIME.filter(lambda v: v is not None))  # null: the source has no clock
    elif key == "n_bits":
        value = data.draw(st.one_of(st.integers(1, 36), st.integers(38, 99), NOT_A_COUNT))
    else:
        value = data.draw(NOT_A_COUNT)
    record[key] = value
    path = files["root"] / "bad-trace.json"
    path.write_text(json.dumps(doc))
    line = refused(capsys, reading("trace", path, files))
    assert key in line, line


@pytest.mark.parametrize("reader", ["cost", "cost-validate"])
@given(data=st.data())
@settings(FUZZ, max_examples=40)
def test_cost_profile_fields(capsys, files, reader, data):
    doc = json.loads(files["cost"].read_text())
    key = data.draw(st.sampled_from([k for k, v in doc.items() if isinstance(v, (float, dict)) and k not in
                                     ("fits", "provenance")]))
    if isinstance(doc[key], dict):
        gate = data.draw(st.sampled_from(sorted(doc[key])))
        doc[key][gate] = data.draw(NOT_A_TIME)
    else:
        doc[key] = data.draw(NOT_A_TIME if key != "open_wait_per_s_apart" else st.sampled_from(
            [math.nan, math.inf, "x", None]))
    path = files["root"] / "bad-cost.json"
    path.write_text(json.dumps(doc, indent=2))
    line = refused(capsys, reading(reader, path, files))
    assert key in line, line


# -- SUF trace lines ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def suf_lines(files):
    return gzip.decompress(files["suf_trace"].read_bytes()).decode().splitlines()


@given(data=st.data())
@settings(FUZZ, max_examples=50)
def test_suf_trace_lines(capsys, files, suf_lines, data):
    """A broken field, a party that does not exist, a lost RUN line or a cut trace: cited by line."""
    lines = list(suf_lines)
    how = data.draw(st.sampled_from(["field", "party", "drop-run", "cut"]))
    flush_lines = [i for i, line in enumerate(lines) if re.search(r" (OPEN|PFSS) ", line)]
    if how == "field":
        i = data.draw(st.sampled_from(flush_lines))
        key = data.draw(st.sampled_from(re.findall(r" (words|beaver|mask|jobs|hatx)=", lines[i])))
        bad = data.draw(st.sampled_from(["", "x", "1.5", "-", "0x1", "nan"]))
        lines[i] = re.sub(rf" {key}=\S*", f" {key}={bad}", lines[i])
    elif how == "party":
        i = data.draw(st.sampled_from(flush_lines))
        lines[i] = lines[i].replace(" p=0 ", f" p={data.draw(st.sampled_from(['2', '-1', 'x', '']))} ").replace(
            " p=1 ", " p=7 ")
    elif how == "drop-run":
        i = data.draw(st.sampled_from([i for i, line in enumerate(lines) if " RUN " in line]))
        del lines[i]
    else:
        i = data.draw(st.integers(1, len(lines) - 3))
        lines = lines[:i]
    path = files["root"] / "bad-trace.txt.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode() + b"\n"))
    line = refused(capsys, reading("suf_trace", path, files))
    assert re.match(rf"error: {re.escape(str(path))}:\d+: ", line), line
    if how in ("field", "party"):
        assert f":{i + 1}: " in line, line


# -- options ------------------------------------------------------------------------------------------

BAD_INT = st.one_of(st.integers(max_value=0).map(str), st.sampled_from(["nan", "inf", "1e3", "1.5", "x", "", "0x10"]))
SIMULATING = ["simulate", "schedule", "checklist", "reconcile"]


@pytest.mark.parametrize("command", [*SIMULATING, "compare"])
@given(option=st.sampled_from(["--seq-len", "--batch", "--layers", "--chains"]), value=BAD_INT)
@settings(FUZZ, max_examples=20)
def test_sizes(capsys, command, option, value):
    if command == "compare" and value == "":
        return  # compare's empty list: the API's default
    extra = ["--open", "3"] if command == "reconcile" else []
    line = refused(capsys, [command, "--model", "bert-tiny", *extra, option, value])
    assert option in line and ("must be" in line or "expected" in line), line  # names what is allowed


@pytest.mark.parametrize("command", [*SIMULATING, "compare"])
@pytest.mark.parametrize("argv", [["--seq-len", "100000"], ["--layers", "3"], ["--chains", "65"],
                                  ["--chains", "1000000"], ["--model", "nope"], ["--policy", "nope"],
                                  ["--deploy", "nope"], ["--runtime", "nope"], ["--cost", "nope"],
                                  ["--cost", "/nonexistent/x.json"], ["--set", "NOPE=1"], ["--set", "rsqrt_iters=x"],
                                  ["--set", "novalue"]])
def test_out_of_range_options(capsys, command, argv):
    extra = ["--open", "3"] if command == "reconcile" else []
    refused(capsys, [command, "--model", "bert-tiny", *extra, *argv] if "--model" not in argv else [command, *argv])


NET = st.builds(lambda bw, rtt: f"custom:{bw},{rtt}",
                st.sampled_from(["0", "-1", "nan", "inf", "x", "", "1e400"]), st.sampled_from(["0", "1"])) | st.builds(
    lambda bw, rtt: f"custom:{bw},{rtt}", st.sampled_from(["1", "10"]), st.sampled_from(["-1", "nan", "inf", "1e400",
                                                                                          "y"])) | st.text(max_size=6)


@pytest.mark.parametrize("command", ["simulate", "compare"])
@given(net=NET)
@settings(FUZZ, max_examples=25)
def test_networks(capsys, command, net):
    if net in ("loopback", "lan", "wan") or ("," in net and command == "compare" and not net.startswith("custom:")):
        return
    refused(capsys, [command, *SMALL, "--net", net])


@pytest.mark.parametrize("argv", [
    ["schedule", *SMALL, "--layer", "1"], ["schedule", *SMALL, "--layer", "-1"], ["schedule", *SMALL, "--layer", "x"],
    ["checklist", *SMALL, "--format", "pdf"], ["compare", *SMALL, "--jobs", "0"], ["compare", *SMALL, "--jobs", "x"],
    ["reconcile", "--open", "-1"], ["reconcile", "--open", "3", "--top", "-2"],
    ["reconcile", "--open", "3", "--aggregate", "x"], ["reconcile"], ["validate"], ["calibrate", "--out", "x.json"],
    ["nope"], [], ["simulate", "--nope"], ["compare", "--set", "rsqrt_iters"], ["compare", "--seq-len", "64,x"],
])
def test_other_options(capsys, argv):
    refused(capsys, argv)


# -- outputs ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["dir-for-file", "under-a-file", "file-for-dir"])
@pytest.mark.parametrize("command,option", [
    ("calibrate", "--out"), ("calibrate", "--plot"), ("validate", "--plot"), ("compare", "--json"),
    ("compare", "--csv"), ("compare", "--chrome-trace"), ("compare", "--plot"), ("whatif-report", "--out"),
])
def test_output_paths_refused_before_the_work(capsys, files, tmp_path, how, command, option):
    is_dir = (option == "--plot" and command != "calibrate") or command == "whatif-report"
    if (how == "file-for-dir" and not is_dir) or (how == "dir-for-file" and is_dir):
        pytest.skip("not a case for this option")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    path = {"dir-for-file": tmp_path, "under-a-file": a_file / "x.out", "file-for-dir": a_file}[how]
    base = {"calibrate": ["calibrate", "--trace", files["trace"], "--out", tmp_path / "c.json"],
            "validate": ["validate", "--measured", files["bench"]],
            "compare": ["compare", *SMALL], "whatif-report": ["whatif-report"]}[command]
    line = refused(capsys, [*base, option, path])
    assert option in line and str(path) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # nothing written: refused first


# -- runaway runs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--net", "custom:1e-300,0"], ["--net", "custom:1,1e300"],
                                  ["--net", "custom:1e-12,0"], ["--cost", "HUGE"]])
def test_runaway_runs_stop_with_a_message(capsys, files, argv):
    if argv == ["--cost", "HUGE"]:
        doc = json.loads(files["cost"].read_text())
        doc["pfss_s_per_elem"] = {k: 1e30 for k in doc["pfss_s_per_elem"]}
        path = files["root"] / "huge.json"
        path.write_text(json.dumps(doc))
        argv = ["--cost", path]
    line = refused(capsys, ["simulate", *SMALL, *argv])
    assert "ran away" in line


def test_a_long_but_finite_run_finishes(capsys):
    """Past 1e4 simulated seconds the GPU model used to reschedule at zero delay forever."""
    with bounded():
        assert main(["simulate", *SMALL, "--net", "custom:1,1000000"]) == 0
    assert "online_time_s=" in capsys.readouterr().out


def test_shared_gpu_finishes_work_below_the_clock_resolution():
    """At now = 1e5 s (clock resolution 1.5e-11 s) a job of 2e-12 s beside another cannot elapse (now + 4e-12
    == now): it used to be rescheduled at zero delay forever; it is done at once."""
    env = simpy.Environment(initial_time=1e5)
    gpu = SharedGPU(env)
    finished = []

    def job(work_s):
        yield from gpu.run(work_s)
        finished.append(work_s)
    for work in (2e-12, 1.0):
        env.process(job(work))
    for _ in range(1000):
        if env.peek() == math.inf:
            break
        env.step()
    assert finished == [2e-12, 1.0]
    assert env.now == pytest.approx(1e5 + 1.0)


@pytest.mark.parametrize(("section", "key", "value"), [("runs", "party", True), ("flushes", "party", False),
                                                        ("meta", "chains", 0), ("meta", "chains", True)])
def test_a_bool_party_or_a_chain_count_below_one_is_refused(capsys, files, section, key, value):
    """Found by the fuzz above: ``Literal[0, 1]`` took True and False for a party."""
    doc = json.loads(files["trace"].read_text())
    (doc["meta"] if section == "meta" else doc[section][0])[key] = value
    path = files["root"] / "bad-trace.json"
    path.write_text(json.dumps(doc))
    assert key in refused(capsys, reading("trace", path, files))
