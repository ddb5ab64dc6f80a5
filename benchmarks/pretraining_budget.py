"""Which pretraining model learns most per CPU-second (docs/results.md).

  python -m benchmarks.pretraining_budget --run_dir runs/budget \
      --train 'runs/small/data/train/*.tfrecord' \
      --eval 'runs/small/data/heldout/*.tfrecord' [--budget_s 600] \
      [--widths 128,256,312]

Each width is a 4-layer ALBERT with one shared layer, E=128, no dropout,
the small study's pretraining recipe (experiments/pretraining/small.yaml:
sequence length 128, batch 64, LAMB 0.005) and the demo's 8k vocabulary:

  128: configs/models/albert_tiny.yaml (2 heads, FFN 512);
  256: 4 heads, FFN 1024 (BERT-Mini's width);
  312: 12 heads, FFN 1248 (the width of the "ALBERT-tiny" and TinyBERT-4
       models).

For each, a probe of 60 steps measures its steps/s; the run then gets
`0.9 * budget_s * steps/s` steps (so that start-up and four held-out
evaluations fit the same budget), warm-up 5% and linear decay over them,
and a held-out evaluation (20 batches of 128) at each quarter. Prints, per
width, the wall time from launch to each evaluation and its MLM and SOP
accuracy: the widths compared at equal CPU time. Runs skip what exists.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

from official_albert.tools import run_report

HEADS_AND_FFN = {128: (2, 512), 256: (4, 1024), 312: (12, 1248)}
PROBE_STEPS = 60


def _train(model_dir: pathlib.Path, width: int, args, steps: int,
           extra: str, mode: str) -> float:
  """Runs train.py; returns its wall time in s (start-up included)."""
  heads, ffn = HEADS_AND_FFN[width]
  override = ",".join([
      "task.model.encoder.vocab_size=8000",
      f"task.model.encoder.hidden_size={width}",
      f"task.model.encoder.num_attention_heads={heads}",
      f"task.model.encoder.intermediate_size={ffn}",
      f"task.train_data.input_path={args.train}",
      f"task.validation_data.input_path={args.eval}",
      f"trainer.train_steps={steps}",
      "trainer.optimizer_config.learning_rate.polynomial.decay_steps="
      f"{steps}",
      f"trainer.optimizer_config.warmup.linear.warmup_steps={steps // 20}",
      extra])
  start = time.time()
  with open(model_dir.parent / f"{model_dir.name}.log", "w") as log:
    subprocess.run(
        [sys.executable, "train.py", "--experiment=albert/pretraining",
         f"--mode={mode}", f"--model_dir={model_dir}",
         "--config_file=configs/models/albert_tiny.yaml",
         "--config_file=configs/runtime/cpu.yaml",
         "--config_file=experiments/pretraining/small.yaml",
         f"--params_override={override}"],
        check=True, stdout=log, stderr=subprocess.STDOUT)
  return time.time() - start


def run_width(width: int, args) -> dict:
  """Probe, then the budgeted run, of one width; its results dict."""
  root = pathlib.Path(args.run_dir) / f"h{width}"
  root.mkdir(parents=True, exist_ok=True)
  result_path = root / "result.json"
  if result_path.exists():
    return json.loads(result_path.read_text())
  probe = root / "probe"
  _train(probe, width, args, PROBE_STEPS,
         f"trainer.steps_per_loop={PROBE_STEPS // 2},"
         f"trainer.summary_interval={PROBE_STEPS // 2},"
         f"trainer.checkpoint_interval={PROBE_STEPS}", "train")
  # The second loop's rate: the first one includes tracing.
  rate = run_report.read_curves(str(probe), ("steps_per_second",))[
      "train"]["steps_per_second"][-1][1]
  steps = int(0.9 * args.budget_s * rate) // 100 * 100
  quarter = steps // 4
  launched = time.time()
  wall = _train(root / "model", width, args, steps,
                f"trainer.validation_interval={quarter},"
                f"trainer.checkpoint_interval={quarter}",
                "train_and_eval")
  curves = run_report.read_curves(str(root / "model"), with_time=True)
  held_out = curves["validation"]
  points = [dict(step=step, seconds=round(t - launched, 1),
                 masked_lm_accuracy=mlm, sentence_order_accuracy=sop)
            for (step, mlm, t), (_, sop, _) in zip(
                held_out["masked_lm_accuracy"],
                held_out["sentence_order_accuracy"])]
  result = dict(width=width, steps_per_second=rate, steps=steps,
                wall_s=round(wall, 1), points=points)
  result_path.write_text(json.dumps(result, indent=1))
  return result


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run_dir", required=True)
  parser.add_argument("--train", required=True, help="training records glob")
  parser.add_argument("--eval", required=True, help="held-out records glob")
  parser.add_argument("--budget_s", type=float, default=600.0)
  parser.add_argument("--widths", default="128,256,312")
  args = parser.parse_args()
  results = [run_width(int(w), args) for w in args.widths.split(",")]
  print(f"budget {args.budget_s:.0f} s per width; held-out evaluations "
        "(seconds since launch: MLM / SOP accuracy)")
  print("| H | steps/s | steps | wall (s) | evaluations |\n|---|---|---|---|---|")
  for r in results:
    evals = "; ".join(
        f"{p['seconds']:.0f} s: {p['masked_lm_accuracy']:.3f} / "
        f"{p['sentence_order_accuracy']:.3f}" for p in r["points"])
    print(f"| {r['width']} | {r['steps_per_second']:.2f} | {r['steps']} | "
          f"{r['wall_s']:.0f} | {evals} |")


if __name__ == "__main__":
  main()
