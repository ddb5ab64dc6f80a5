"""Table and plot of the small-scale study (scripts/reproduce_small.sh).

  python -m benchmarks.small_study_report --run_dir runs/small \
      [--plot docs/results_small.png]

Reads `RUN_DIR/finetune/TASK/{scratch,pretrained}/seedN/metrics.json` (the
final dev-set metrics train.py writes) and `RUN_DIR/pretrain/metrics.json`,
prints a Markdown table of the median and range (min-max) of each task's
official metric over the runs, and draws the runs as points per task.
"""

import argparse
import json
import statistics

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

from official_albert import errors
from official_albert import io_utils

# Task -> (metric key in metrics.json, label), GLUE's official metrics.
TASKS = {"sst-2": ("accuracy", "SST-2 accuracy"),
         "mrpc": ("f1", "MRPC F1"),
         "cola": ("matthews_corrcoef", "CoLA Matthews corr."),
         "sts-b": ("pearson", "STS-B Pearson"),
         "rte": ("accuracy", "RTE accuracy")}
INITS = ("scratch", "pretrained")


def collect(run_dir: str):
  """{task: {init: [metric per run]}} for the runs that finished."""
  results = {}
  for task, (key, _) in TASKS.items():
    for init in INITS:
      base = io_utils.join(run_dir, "finetune", task, init)
      values = []
      for path in io_utils.glob_files(
          io_utils.join(base, "seed*", "metrics.json")):
        with io_utils.open_file(path) as f:
          values.append(json.load(f)[key])
      results.setdefault(task, {})[init] = values
  return results


def table(results) -> str:
  """Markdown: median [min-max] (n) per init, and whether the medians differ
  by more than both ranges (judged only with at least 2 runs of each)."""
  lines = ["| task (metric) | scratch: median [range] (runs) | pretrained: "
           "median [range] (runs) | pretrained - scratch (medians) | beyond "
           "both ranges? |", "|---|---|---|---|---|"]
  for task, (_, label) in TASKS.items():
    cells, medians, ranges = [], [], []
    for init in INITS:
      values = results[task][init]
      if not values:
        cells.append("(none)")
        continue
      medians.append(statistics.median(values))
      ranges.append(max(values) - min(values))
      cells.append(f"{medians[-1]:.3f} [{min(values):.3f}-{max(values):.3f}]"
                   f" ({len(values)})")
    if len(medians) == 2:
      margin = medians[1] - medians[0]
      enough = min(len(results[task][i]) for i in INITS) >= 2
      beyond = ("yes" if abs(margin) > max(ranges) else "no") if enough else (
          "n/a (1 run)")
      cells += [f"{margin:+.3f}", beyond]
    else:
      cells += ["", ""]
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def plot(results, path: str) -> None:
  """One panel per task: each run's metric, scratch vs pretrained."""
  fig, axes = plt.subplots(1, len(TASKS), figsize=(3 * len(TASKS), 3))
  for ax, (task, (_, label)) in zip(axes, TASKS.items()):
    for x, init in enumerate(INITS):
      values = results[task][init]
      ax.scatter([x] * len(values), values, color=("grey", "tab:blue")[x])
      if values:
        ax.hlines(statistics.median(values), x - 0.2, x + 0.2,
                  color=("grey", "tab:blue")[x])
    ax.set_xticks(range(len(INITS)), INITS)
    ax.set_xlim(-0.5, len(INITS) - 0.5)
    ax.set_title(label, fontsize=9)
  fig.tight_layout()
  with io_utils.atomic_path(path) as tmp, io_utils.open_file(tmp, "wb") as f:
    fig.savefig(f, format="png", dpi=100)


def main(argv=None) -> None:
  """Prints the table and writes the plot (see the module doc)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run_dir", default="runs/small")
  parser.add_argument("--plot", default="docs/results_small.png")
  args = parser.parse_args(argv)
  results = collect(args.run_dir)
  if not any(v for r in results.values() for v in r.values()):
    errors.fail(f"no fine-tuning metrics under {args.run_dir}/finetune; run "
                "scripts/reproduce_small.sh first")
  pretrain = io_utils.join(args.run_dir, "pretrain", "metrics.json")
  if io_utils.isfile(pretrain):
    with io_utils.open_file(pretrain) as f:
      print("held-out pretraining metrics:", json.load(f))
  print(table(results))
  plot(results, args.plot)
  print(f"plot: {args.plot}")


if __name__ == "__main__":
  errors.run_cli(main)
