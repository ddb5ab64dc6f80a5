"""benchmarks/gpu_suite.sh on a CPU with tiny shapes (--tiny).

No GPU is lent to this project's CI: this checks that the script runs end to
end (records, every shape x precision, the numerics check, the table), not
its figures.

Tests: `benchmarks.gpu_suite`.
"""

import pathlib
import re
import subprocess

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_gpu_suite_tiny_writes_the_table(tmp_path):
  out = tmp_path / "suite.md"
  run = subprocess.run(
      ["bash", str(REPO / "benchmarks/gpu_suite.sh"), "--tiny", "--out",
       str(out)], capture_output=True, text=True, check=False)
  assert run.returncode == 0, run.stderr[-3000:]
  report = out.read_text()
  assert report.startswith("Device: **CPU")
  rows = [line for line in report.splitlines()
          if re.match(r"\| (base|large) \| 32 \|", line)]
  assert [r.split(" | ")[2] for r in rows] == [
      "float32", "bfloat16", "bfloat16 + XLA"] * 2
  for row in rows:
    cells = row.strip("|").split(" | ")
    assert cells[3] == ">= 2 (cap)"
    assert float(cells[4]) > 0 and float(cells[5]) > 0
  assert re.search(r"relative difference [0-9.e+-]+ \(limit 0\.03\): "
                   r"\*\*PASS\*\*", report)
