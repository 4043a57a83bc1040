"""Command-line conventions: --version, python -m, exit codes in --help, SUF env variables, Ctrl-C, ASCII terminals."""

import json
import os
import subprocess
import sys

import pytest
from paths import REPO

from simflush import simulate
from simflush.cli import main
from simflush.environment import knobs_from_env, read_environment
from simflush.errors import ConfigError
from simflush.version import __version__


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def clean_env(**extra) -> dict:
    """The process environment without SUF's variables, plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SUF_")}, **extra}


@pytest.fixture
def no_suf_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SUF_") or name == "SOFTMAX_TRUNC_REF":
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("module", ["simflush", "simflush.cli"])
def test_version_and_python_dash_m(module):
    done = subprocess.run([sys.executable, "-m", module, "--version"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env=clean_env())
    assert done.returncode == 0 and done.stdout == f"simflush {__version__}\n"


def test_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    codes = out[out.index("exit codes:"):]
    for code, word in (("0", "ok"), ("2", "bad input"), ("3", "SUF runtime would throw"), ("130", "interrupted")):
        assert any(line.split()[:1] == [code] and word in line for line in codes.splitlines()), code


# -- SUF env variables ------------------------------------------------------------------------------------------

def test_env_knob_is_applied_like_set_with_one_notice(no_suf_env, capsys):
    _, by_set, _ = run_cli(capsys, "simulate", "--model", "bert-tiny", "--set", "SUF_GELU_CONST=0", "--json")
    _, default, _ = run_cli(capsys, "simulate", "--model", "bert-tiny", "--json")
    assert by_set != default  # the knob matters, so the comparison below means something
    no_suf_env.setenv("SUF_GELU_CONST", "0")
    code, by_env, err = run_cli(capsys, "simulate", "--model", "bert-tiny", "--json")
    assert code == 0 and by_env == by_set
    assert err.splitlines() == ["note: knobs from the environment, as --set: SUF_GELU_CONST=0"]


def test_set_wins_over_the_environment(no_suf_env, capsys):
    _, default, _ = run_cli(capsys, "simulate", "--model", "bert-tiny", "--json")
    no_suf_env.setenv("SUF_GELU_CONST", "0")
    code, out, err = run_cli(capsys, "simulate", "--model", "bert-tiny", "--set", "SUF_GELU_CONST=1", "--json")
    assert code == 0 and json.loads(out)["pfss"] == json.loads(default)["pfss"]
    assert "SUF_GELU_CONST=0 (overridden by --set)" in err


def test_env_knobs_reach_compare_and_checklist(no_suf_env, capsys):
    _, by_set, _ = run_cli(capsys, "checklist", "--model", "bert-tiny", "--set", "SUF_PER_ELEMENT_MASKS=1")
    no_suf_env.setenv("SUF_PER_ELEMENT_MASKS", "1")
    code, by_env, err = run_cli(capsys, "checklist", "--model", "bert-tiny")
    assert code == 0 and by_env == by_set and err.startswith("note: knobs from the environment")


def test_unknown_suf_variables_get_one_warning_line(no_suf_env, capsys):
    no_suf_env.setenv("SUF_LOG_LEVEL", "debug")
    no_suf_env.setenv("SUF_BENCH_ITERS", "3")
    code, _, err = run_cli(capsys, "simulate", "--model", "bert-tiny", "--layers", "1")
    assert code == 0
    assert err.splitlines() == ["warning: SUF environment variables not modelled by simflush, ignored: "
                                "SUF_BENCH_ITERS, SUF_LOG_LEVEL"]


def test_bad_env_value_is_one_line_naming_the_variable(no_suf_env, capsys):
    no_suf_env.setenv("SUF_GELU_CONST", "2")
    code, out, err = run_cli(capsys, "simulate", "--model", "bert-tiny")
    assert code == 2 and out == ""
    assert err == "error: environment variable SUF_GELU_CONST=2: allowed values are 0 or 1\n"


def test_command_without_set_warns_that_it_ignores_env_knobs(no_suf_env, capsys):
    no_suf_env.setenv("SOFTMAX_TRUNC_REF", "1")
    code, out, err = run_cli(capsys, "models")
    assert code == 0 and "bert-tiny" in out
    assert err == "warning: simflush models takes no --set; ignored from the environment: SOFTMAX_TRUNC_REF=1\n"


def test_library_reads_the_environment_only_when_asked(no_suf_env):
    plain = simulate(model="bert-tiny", layers=1).bench_json()
    no_suf_env.setenv("SUF_GELU_CONST", "0")
    assert simulate(model="bert-tiny", layers=1).bench_json() == plain
    asked = simulate(model="bert-tiny", layers=1, knobs=knobs_from_env()).bench_json()
    assert asked == simulate(model="bert-tiny", layers=1, knobs={"SUF_GELU_CONST": "0"}).bench_json() != plain


def test_read_environment_takes_env_names_only():
    env = read_environment({"SUF_LN_GPU": "1", "SOFTMAX_TRUNC_REF": "0", "rsqrt_iters": "3", "SUF_X": "1",
                            "PATH": "/bin"})
    assert env.knobs == {"SOFTMAX_TRUNC_REF": "0", "SUF_LN_GPU": "1"} and env.unknown == ("SUF_X",)
    with pytest.raises(ConfigError, match="environment variable SUF_ROWMAX_MODE=fast: allowed values are suf"):
        read_environment({"SUF_ROWMAX_MODE": "fast"})


# -- Ctrl-C -----------------------------------------------------------------------------------------------------

def test_keyboard_interrupt_is_one_line_exit_130(no_suf_env, capsys):
    import simflush.cli.simulate as cmd

    def interrupted(args):
        raise KeyboardInterrupt

    no_suf_env.setattr(cmd, "cmd_simulate", interrupted)
    code, out, err = run_cli(capsys, "simulate")
    assert (code, out, err) == (130, "", "interrupted\n")


def test_real_sigint_ends_a_long_command_with_one_line():
    # Python's own Ctrl-C handler put back first: a runner started in the background by a shell without job
    # control hands its children an ignored SIGINT, which Python then leaves ignored
    script = ("import os, signal, threading; from simflush.cli import main; "
              "signal.signal(signal.SIGINT, signal.default_int_handler); "
              "threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start(); "
              "raise SystemExit(main(['compare', '--model', 'bert-base', '--chains', '1,2,3,4', "
              "'--set', 'rsqrt_iters=1,2,3,4', '--policy', 'suf,have_pfss_work']))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env=clean_env())
    assert done.returncode == 130 and "Traceback" not in done.stderr
    assert done.stderr.rstrip("\n").rpartition("\n")[2].endswith("interrupted") and done.stdout == ""


# -- ASCII-only terminals ---------------------------------------------------------------------------------------

def _cli(args: list[str], encoding: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simflush", *args], cwd=REPO, capture_output=True, timeout=120,
                          env=clean_env(PYTHONIOENCODING=encoding))


@pytest.mark.parametrize("name", ["checklist", "reconcile", "validate", "simulate"])
def test_ascii_terminal_gets_escapes_not_a_crash(name, golden):
    args = {"checklist": ["checklist", "--model", "bert-tiny"],
            "reconcile": ["reconcile", "--model", "bert-base", "--phase", "LN1", "--open", "34", "--pfss", "18"],
            "validate": ["validate", "--measured", str(golden / "gpu_h100_prof_bert-base.json")],
            "simulate": ["simulate", "--model", "bert-tiny"]}[name]
    utf8, ascii_ = _cli(args, "utf-8"), _cli(args, "ascii")
    assert utf8.returncode == ascii_.returncode == 0, ascii_.stderr.decode()
    ascii_.stdout.decode("ascii")  # every byte is ASCII
    assert ascii_.stdout == utf8.stdout.decode("utf-8").encode("ascii", "backslashreplace")
    if name in ("checklist", "reconcile"):  # outputs with ×, −, µ, 核对表: escaped, not dropped
        assert ascii_.stdout != utf8.stdout
