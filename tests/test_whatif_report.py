"""The what-if report is produced by its one documented command, with its figures."""

from simflush.cli import main


def test_report_writes_markdown_and_figures(tmp_path):
    assert main(["whatif-report", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "whatif.md").read_text()
    for heading in ("## (a)", "## (b)", "## (c)", "## (d)", "## (e)", "have_pfss_work", "LUT (sigma_gpu)",
                    "nexp_final_trunc", "| rsqrt_iters=3 |", "| GeLU spline |"):
        assert heading in text
    figures = sorted((tmp_path / "whatif").glob("*.png"))
    assert len(figures) == 7 and all(f.stat().st_size > 10_000 for f in figures)
    for name in ("a_timeline_helps.png", "a_timeline_hurts.png", "b_runs.png", "c_runs.png", "d_error_vs_time.png"):
        assert f"whatif/{name}" in text
