import subprocess
import sys

from real_backend.selftest import main


def test_two_process_selftest_passes():
    proc = subprocess.run([sys.executable, "-m", "real_backend.selftest", "--elems", "64", "--n-bits", "24",
                           "--frac-bits", "8", "--timeout-s", "30"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "ALL CHECKS PASSED" in proc.stdout and proc.stdout.count(" yes ") >= 9


def test_selftest_rejects_bad_arguments(capsys):
    assert main(["--n-bits", "70"]) == 2
    assert "--n-bits" in capsys.readouterr().err
