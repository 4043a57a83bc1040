"""Byte-identical outputs of a fixed set of commands: a refactor must not change what users see.

Each case's stdout (and every file it writes) is compared with ``tests/snapshots/<name>.txt``.
After a change that is *meant* to alter output, regenerate them and review the diff:
``python tests/test_output_snapshots.py --regen``.
"""

import sys
from pathlib import Path

import pytest
from paths import GOLDEN

from simflush.cli import main

SNAPSHOTS = Path(__file__).with_name("snapshots")
G = str(GOLDEN)

CASES: dict[str, list[str]] = {
    "simulate_text": ["simulate"],
    "simulate_json": ["simulate", "--json"],
    "simulate_gpt2_wan": ["simulate", "--model", "gpt2", "--seq-len", "64", "--net", "wan", "--json"],
    "simulate_variants": ["simulate", "--model", "bert-tiny", "--set", "SUF_NEXP_MODE=sigma_gpu",
                          "--set", "SUF_INV_MODE=sigma_gpu", "--set", "rsqrt_iters=2", "--policy",
                          "have_pfss_work", "--chains", "2", "--deploy", "two-gpu", "--json"],
    "simulate_eager": ["simulate", "--model", "bert-tiny", "--policy", "pfss_eager", "--chains", "3",
                       "--net", "lan", "--json"],
    "simulate_cpu": ["simulate", "--model", "bert-tiny", "--runtime", "suf-cpu-bench", "--json"],
    "simulate_llama_decode": ["simulate", "--model", "llama2-7b", "--seq-len", "8", "--layers", "1",
                              "--set", "SUF_CAUSAL_PREFILL=0", "--set", "SUF_RSQRT_MODE=sigma_gpu",
                              "--set", "sigma_fss_via_pfss_batch=0", "--json"],
    "simulate_budget": ["simulate", "--model", "bert-tiny", "--policy", "budget", "--set",
                        "budget_open_words=4096", "--set", "budget_coeff_jobs=1", "--json"],
    "schedule_golden": ["schedule", "--model", "bert-base", "--layer", "0", "--format", "csv"],
    "schedule_chains": ["schedule", "--model", "gpt2", "--seq-len", "32", "--policy", "have_pfss_work",
                        "--chains", "2", "--set", "SUF_ROWMAX_MODE=sigma_gpu", "--layer", "1"],
    "checklist_md": ["checklist", "--model", "bert-base"],
    "checklist_csv": ["checklist", "--model", "gpt2", "--seq-len", "64", "--format", "csv",
                      "--set", "SUF_GELU_MODE=sigma_gpu", "--set", "rsqrt_init_mode=mul_trunc"],
    "checklist_json": ["checklist", "--model", "llama2-7b", "--seq-len", "16", "--format", "json",
                       "--set", "SUF_NEXP_MODE=sigma_gpu", "--set", "nexp_final_trunc=0"],
    "checklist_cpu_md": ["checklist", "--model", "bert-tiny", "--runtime", "suf-cpu-bench",
                         "--set", "SUF_PER_ELEMENT_MASKS=1"],
    "reconcile_bench": ["reconcile", "--bench-json", f"{G}/gpu_h100_prof_bert-base.json"],
    "reconcile_bench_json": ["reconcile", "--bench-json", f"{G}/cpu_bt_cpu.json", "--json"],
    "reconcile_counts": ["reconcile", "--model", "bert-base", "--phase", "LN1", "--open", "34",
                         "--pfss", "18"],
    "reconcile_layer": ["reconcile", "--model", "bert-tiny", "--open", "224", "--pfss", "144", "--json"],
    "reconcile_trace": ["reconcile", "--trace", f"{G}/gpu_h100_trace_bert-base.txt.gz"],
    "compare_table": ["compare", "--model", "bert-tiny", "--policy", "suf,have_pfss_work",
                      "--net", "lan,wan", "--set", "rsqrt_iters=1,2", "--chains", "1,2"],
    "compare_files": ["compare", "--model", "bert-tiny", "--layers", "1", "--policy", "suf,pfss_eager",
                      "--chains", "2", "--json", "{out}/c.json", "--csv", "{out}/c.csv",
                      "--chrome-trace", "{out}/trace.json"],
    "validate_text": ["validate", "--measured", f"{G}/gpu_h100_prof_bert-base.json"],
    "validate_trace_json": ["validate", "--measured", f"{G}/gpu_h100_traced_bert-base.json", "--trace",
                            f"{G}/gpu_h100_trace_bert-base.txt.gz", "--traced", "--json"],
    "models": ["models"],
}


def render(name: str, out_dir: Path, capsys) -> str:
    """What case ``name`` prints, followed by the files it wrote (sorted), as one text."""
    argv = [a.replace("{out}", str(out_dir)) for a in CASES[name]]
    code = main(argv)
    captured = capsys.readouterr()
    text = f"exit {code}\n{captured.out}"
    for path in sorted(out_dir.iterdir()):
        text += f"\n=== file {path.name}\n{path.read_text()}"
    return text.replace(G, "<GOLDEN>").replace(str(out_dir), "<OUT>")


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_is_unchanged(name, tmp_path, capsys):
    expected = (SNAPSHOTS / f"{name}.txt").read_text()
    assert render(name, tmp_path, capsys) == expected


if __name__ == "__main__":
    if sys.argv[1:] != ["--regen"]:
        raise SystemExit("usage: python tests/test_output_snapshots.py --regen")
    import tempfile

    class _Capture:
        """capsys for a plain run: collects stdout between calls."""

        def __init__(self):
            import io
            self.buffer = io.StringIO()
            sys.stdout = self.buffer

        def readouterr(self):
            out, self.buffer = self.buffer.getvalue(), __import__("io").StringIO()
            sys.stdout = self.buffer
            return type("C", (), {"out": out})()

    real_stdout = sys.stdout
    SNAPSHOTS.mkdir(exist_ok=True)
    for case in sorted(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            capture = _Capture()
            text = render(case, Path(tmp), capture)
            sys.stdout = real_stdout
        (SNAPSHOTS / f"{case}.txt").write_text(text)
        print(f"wrote {case}.txt ({len(text)} chars)")
