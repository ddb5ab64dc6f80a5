"""A pretraining run's final table and learning curves, read from its files.

  python -m official_albert.tools.run_report --model_dir runs/demo/model \
      --train 'runs/demo/data/train/*.tfrecord' \
      --eval 'runs/demo/data/heldout/*.tfrecord' [--plot runs/demo/curves.png]

Prints one table: each held-out metric of the run's last evaluation
(`metrics.json`, written by train.py), its trivial baseline
(`tools.baselines`: the most frequent masked piece, the majority SOP label,
ln 2 for the SOP loss) and, for accuracies, the 95% Wilson score interval
over the evaluated predictions (SOP: examples, independent; MLM: masked
pieces, which share sequences, so that interval is optimistic). Draws the
training and held-out curves of the MLM and SOP losses and accuracies from
the run's TensorBoard summaries (`train/`, `validation/`) into a PNG.
"""

import argparse
import json
import math
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import tensorflow as tf

from official_albert import errors
from official_albert import io_utils
from official_albert.tools import baselines

CURVES = ("masked_lm_loss", "sentence_order_loss", "masked_lm_accuracy",
          "sentence_order_accuracy")


# The standard normal's 97.5% quantile: a two-sided 95% interval.
Z_95 = 1.959963984540054


def wilson_interval(p: float, n: float, z: float = Z_95):
  """The Wilson score interval (Wilson 1927) of a proportion `p` in [0, 1]
  over `n` trials, as (low, high)."""
  centre = (p + z * z / (2 * n)) / (1 + z * z / n)
  half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
  return centre - half, centre + half


def read_curves(model_dir: str, tags=CURVES, with_time: bool = False):
  """{split: {tag: [(step, value)]}} from the run's summary event files;
  with `with_time`, (step, value, wall time in s since the epoch)."""
  curves = {}
  for split in ("train", "validation"):
    for path in sorted(tf.io.gfile.glob(os.path.join(model_dir, split, "events*"))):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if value.tag in tags:
            number = float(tf.make_ndarray(value.tensor)) if value.HasField(
                "tensor") else value.simple_value
            curves.setdefault(split, {}).setdefault(value.tag, []).append(
                (event.step, number, event.wall_time) if with_time else
                (event.step, number))
  return curves


def table(metrics: dict, base: dict) -> str:
  """The final table (see the module doc), as aligned text."""
  rows = [("metric", "value", "baseline", "95% interval")]
  for name, n_key in (("masked_lm_accuracy", "eval_masked"),
                      ("sentence_order_accuracy", "eval_examples")):
    low, high = wilson_interval(metrics[name], base[n_key])
    rows.append((name, f"{metrics[name]:.3f}", f"{base[name]:.3f}",
                 f"{low:.3f}-{high:.3f}"))
  rows.append(("masked_lm_loss", f"{metrics['masked_lm_loss']:.3f}", "", ""))
  rows.append(("sentence_order_loss", f"{metrics['sentence_order_loss']:.3f}",
               f"{math.log(2):.3f} (ln 2)", ""))
  widths = [max(len(r[i]) for r in rows) for i in range(4)]
  return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                   for r in rows)


def plot(curves: dict, path: str) -> None:
  """2 x 2 panels: training and held-out curve of each of CURVES."""
  fig, axes = plt.subplots(2, 2, figsize=(9, 6))
  for ax, tag in zip(axes.ravel(), CURVES):
    for split, style in (("train", "-"), ("validation", "o-")):
      points = sorted(curves.get(split, {}).get(tag, []))
      if points:
        ax.plot(*zip(*points), style,
                label="held-out" if split == "validation" else "training")
    ax.set_title(tag)
    ax.set_xlabel("step")
    ax.legend()
  fig.tight_layout()
  with io_utils.atomic_path(path) as tmp:
    fig.savefig(tmp, format="png", dpi=90)


def main(argv=None) -> None:
  """Prints the table and writes the PNG (see the module doc)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--model_dir", required=True)
  parser.add_argument("--train", required=True, help="training records glob")
  parser.add_argument("--eval", required=True, help="held-out records glob")
  parser.add_argument("--plot", help="PNG path (default MODEL_DIR/curves.png)")
  args = parser.parse_args(argv)
  path = os.path.join(args.model_dir, "metrics.json")
  if not tf.io.gfile.exists(path):
    errors.fail(f"{path} not found; run train.py with --mode=train_and_eval "
                "first")
  with tf.io.gfile.GFile(path) as f:
    metrics = json.load(f)
  base = baselines.compute(args.train, args.eval)
  print(table(metrics, base))
  out = args.plot or os.path.join(args.model_dir, "curves.png")
  plot(read_curves(args.model_dir), out)
  print(f"curves: {out}")


if __name__ == "__main__":
  errors.run_cli(main)
