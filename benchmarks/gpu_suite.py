"""GPU suite: pretraining speed, largest batch and bfloat16 numerics.

  bash benchmarks/gpu_suite.sh                 # one GPU, under 8 minutes
  bash benchmarks/gpu_suite.sh --tiny --out /tmp/suite.md   # CPU check

For the ALBERT-base and ALBERT-large shapes (paper table 1, V=30000, E=128,
no dropout) at sequence 128 and 512 (20 and 76 masked positions, as the
original recipe), in float32, bfloat16 and bfloat16 + XLA, it trains our
`albert/pretraining` task in `AlbertTrainer` (LAMB; the step of
`benchmarks.pretraining_throughput`) on real records made from
`assets/corpus/train.txt`:
* the largest batch that fits: powers of two from `--min_batch`, doubling
  until a step runs out of memory, `--max_batch` is reached, or the
  configuration's share of `--budget_s` is spent (then the table says ">=");
* at each batch that fits, `--steps` timed steps after `--warmup` steps
  (tracing, XLA compilation); the table reports the largest batch's steps/s,
  sequences/s, model TFLOP/s and MFU. Model FLOPs are
  `pretraining_throughput.train_flops` (layers counted unshared). MFU is
  against the device's dense peak for the compute dtype: TF32 tensor cores
  for float32 (TensorFlow's default on Ampere and later), bfloat16 otherwise;
  peaks are looked up by device name or given with `--peak_tflops_fp32` /
  `--peak_tflops_bf16`;
* the numerics check: the ALBERT-base model at sequence 128 with the same
  weights on the same real batch, float32 against bfloat16 (forward pass):
  relative difference of the pretraining loss (must stay under 3e-2, the
  tolerance of tests/test_training_speed.py) and the largest MLM-logit
  difference.
It writes the results as a markdown table to `--out` and prints it. With
`--tiny` the shapes are scaled down, one length (32) and one batch (2) are
run, so that the suite checks itself on a CPU in a minute or two
(tests/test_gpu_suite.py).
"""

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
import tensorflow as tf
import tf_keras

from benchmarks import pretraining_throughput as pt
from official_albert import errors
from official_albert.data.pretraining import create_pretraining_data
from official_albert.tasks import pretraining as pretraining_task
from official_albert.training import trainer as trainer_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {
    "base": pt.BASE,
    "large": dict(pt.BASE, hidden_size=1024, num_hidden_layers=24,
                  num_attention_heads=16, intermediate_size=4096),
}
TINY_SHAPES = {
    "base": dict(vocab_size=8000, embedding_size=16, hidden_size=32,
                 num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64),
    "large": dict(vocab_size=8000, embedding_size=16, hidden_size=48,
                  num_hidden_layers=3, num_attention_heads=4,
                  intermediate_size=96),
}
# Sequence length -> masked positions (the original recipe's 20 at 128;
# 15% of 512 rounded up for 512).
LENGTHS = {128: 20, 512: 76}
TINY_LENGTHS = {32: 5}
PRECISIONS = {"float32": ("float32", False), "bfloat16": ("bfloat16", False),
              "bfloat16 + XLA": ("bfloat16", True)}
# Dense peak TFLOP/s (TF32 tensor cores, bfloat16), NVIDIA data sheets, SXM
# parts; the first name that occurs in the device name is used.
PEAKS = {"H200": (494.7, 989.4), "H100": (494.7, 989.4),
         "A100": (156.0, 312.0), "L40S": (183.0, 366.0), "L4": (60.0, 121.0),
         "A10": (62.5, 125.0)}
NUMERICS_RTOL = 3e-2


def device_name() -> str:
  """The first GPU's name, or the CPU's."""
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    return tf.config.experimental.get_device_details(gpus[0]).get(
        "device_name", "GPU")
  with open("/proc/cpuinfo", encoding="utf-8") as f:
    model = next((line.split(":", 1)[1].strip() for line in f
                  if line.startswith("model name")), "CPU")
  return f"CPU: {model} ({os.cpu_count()} cores)"


def peaks(name: str, args) -> Dict[str, Optional[float]]:
  """Peak TFLOP/s per compute dtype, from the flags or the device name."""
  fp32, bf16 = next((p for key, p in PEAKS.items() if key in name),
                    (None, None))
  return {"float32": args.peak_tflops_fp32 or fp32,
          "bfloat16": args.peak_tflops_bf16 or bf16}


def make_records(root: str, seq: int, pred: int, num_docs: int) -> str:
  """Records from the first documents of the bundled training text."""
  with open(os.path.join(REPO, "assets/corpus/train.txt"),
            encoding="utf-8") as f:
    docs = f.read().split("\n\n")[:num_docs]
  seed = os.path.join(root, f"seed{seq}.txt")
  with open(seed, "w", encoding="utf-8") as f:
    f.write("\n\n".join(docs) + "\n")
  out = os.path.join(root, f"records{seq}")
  create_pretraining_data.main([
      "--input_file", seed, "--output_dir", out, "--sp_model_file",
      os.path.join(REPO, "assets/vocab/albert_demo_8k.model"),
      "--do_lower_case", "--max_seq_length", str(seq),
      "--max_predictions_per_seq", str(pred), "--dupe_factor", "1",
      "--num_workers", str(min(8, os.cpu_count() or 1))])
  return os.path.join(out, "*.tfrecord")


def _release() -> None:
  gc.collect()
  tf_keras.backend.clear_session()


def measure(shape: Dict, records: str, seq: int, pred: int, dtype: str,
            xla: bool, args, budget_s: float) -> Dict:
  """Largest batch that fits, and the speed at it (see the module doc)."""
  start, batch, best, limit = time.perf_counter(), args.min_batch, None, "max"
  while True:
    try:
      params = pt.ours_params(shape, records, batch, seq, pred, xla, dtype)
      run = pt.tf_peer(params, trainer_lib.AlbertTrainer, args.warmup)
      began = time.perf_counter()
      loss = run(args.steps)
      seconds = (time.perf_counter() - began) / args.steps
      if not np.isfinite(loss):
        raise RuntimeError(f"loss {loss} at batch {batch}")
      best = dict(batch=batch, step_s=seconds)
    except tf.errors.ResourceExhaustedError:
      limit = "oom"
    finally:
      run = None
      _release()
    if limit == "oom":
      break
    if batch * 2 > args.max_batch:
      limit = "cap"
      break
    if time.perf_counter() - start > budget_s:
      limit = "budget"
      break
    batch *= 2
  if best is None:
    return dict(batch=0, limit="oom")
  flops = pt.train_flops(shape, best["batch"], seq, pred)
  return dict(best, limit=limit, steps_s=1 / best["step_s"],
              seq_s=best["batch"] / best["step_s"],
              tflops=flops / best["step_s"] / 1e12)


def numerics(shape: Dict, records: str, seq: int, pred: int) -> Dict:
  """float32 vs bfloat16 forward pass: same weights, same real batch."""
  outputs = {}
  weights = None
  for dtype in ("float32", "bfloat16"):
    params = pt.ours_params(shape, records, 8, seq, pred, False, dtype)
    tf_keras.mixed_precision.set_global_policy(
        "float32" if dtype == "float32" else "mixed_bfloat16")
    try:
      task = pretraining_task.AlbertPretrainingTask(params.task)
      batch = next(iter(task.build_inputs(params.task.train_data)))
      model = task.build_model()
      model(batch)
      if weights is None:
        weights = model.get_weights()
      model.set_weights(weights)
      out = model(batch, training=False)
      outputs[dtype] = (float(task.build_losses(batch, out)),
                        tf.cast(out["mlm_logits"], tf.float32).numpy())
    finally:
      tf_keras.mixed_precision.set_global_policy("float32")
      _release()
  (loss32, logits32), (loss16, logits16) = outputs["float32"], outputs[
      "bfloat16"]
  rel = abs(loss16 - loss32) / abs(loss32)
  return dict(loss_fp32=loss32, loss_bf16=loss16, rel=rel,
              logit_diff=float(np.abs(logits16 - logits32).max()),
              passed=rel < NUMERICS_RTOL)


def table(rows: List[Dict], device: str, peak: Dict, check: Dict,
          command: str, seconds: float) -> str:
  """The markdown report."""
  lines = [
      f"Device: **{device}**. Command: `{command}`. Total time "
      f"{seconds:.0f} s.", "",
      "| shape | seq | precision | largest batch | steps/s | sequences/s "
      "| model TFLOP/s | MFU |", "|---|---|---|---|---|---|---|---|"]
  for r in rows:
    if not r["batch"]:
      lines.append(f"| {r['shape']} | {r['seq']} | {r['precision']} | "
                   f"none (out of memory at {r['min_batch']}) | | | | |")
      continue
    prefix = ">= " if r["limit"] in ("cap", "budget") else ""
    top = peak["float32" if r["precision"] == "float32" else "bfloat16"]
    mfu = f"{r['tflops'] / top:.1%}" if top else "n/a (no peak known)"
    lines.append(
        f"| {r['shape']} | {r['seq']} | {r['precision']} | "
        f"{prefix}{r['batch']} ({r['limit']}) | {r['steps_s']:.3f} | "
        f"{r['seq_s']:.1f} | {r['tflops']:.2f} | {mfu} |")
  lines += ["", "Largest batch: `oom` = the next doubling ran out of memory; "
            "`cap` = --max_batch reached; `budget` = time share spent "
            "(so the true largest batch may be higher).", "",
            f"Numerics, bfloat16 vs float32 (base shape, seq "
            f"{check['seq']}, batch 8, same weights and real batch): loss "
            f"{check['loss_fp32']:.5f} vs {check['loss_bf16']:.5f}, relative "
            f"difference {check['rel']:.2e} (limit {NUMERICS_RTOL:g}): "
            f"**{'PASS' if check['passed'] else 'FAIL'}**; largest MLM-logit "
            f"difference {check['logit_diff']:.3g}."]
  return "\n".join(lines) + "\n"


def main(argv=None) -> None:
  """Runs the suite (see the module doc) and writes the table."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--tiny", action="store_true",
                      help="tiny shapes and lengths, for a CPU check")
  parser.add_argument("--out", default="gpu_suite.md",
                      help="markdown file to write")
  parser.add_argument("--budget_s", type=float, default=400.0,
                      help="time for all batch searches together")
  parser.add_argument("--min_batch", type=int, default=8)
  parser.add_argument("--max_batch", type=int, default=1024)
  parser.add_argument("--warmup", type=int, default=2)
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--peak_tflops_fp32", type=float, default=0.0)
  parser.add_argument("--peak_tflops_bf16", type=float, default=0.0)
  args = parser.parse_args(argv)
  if args.tiny:  # One batch size and one length: six trainers in all.
    args.min_batch = args.max_batch = 2
    args.warmup, args.steps = 1, 1
  if not 1 <= args.min_batch <= args.max_batch:
    errors.fail("need 1 <= --min_batch <= --max_batch; fix the flags")
  command = "bash benchmarks/gpu_suite.sh " + " ".join(
      argv if argv is not None else sys.argv[1:])
  shapes = TINY_SHAPES if args.tiny else SHAPES
  lengths = TINY_LENGTHS if args.tiny else LENGTHS
  device = device_name()
  peak = peaks(device, args)
  started = time.perf_counter()
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    records = {seq: make_records(tmp, seq, pred, 60 if args.tiny else 400)
               for seq, pred in lengths.items()}
    share = args.budget_s / (len(shapes) * len(lengths) * len(PRECISIONS))
    for name, shape in shapes.items():
      for seq, pred in lengths.items():
        for precision, (dtype, xla) in PRECISIONS.items():
          row = dict(shape=name, seq=seq, precision=precision,
                     min_batch=args.min_batch, **measure(
                         shape, records[seq], seq, pred, dtype, xla, args,
                         share))
          print(json.dumps(row), flush=True)
          rows.append(row)
    seq = min(lengths)
    check = dict(numerics(shapes["base"], records[seq], seq, lengths[seq]),
                 seq=seq)
  report = table(rows, device, peak, check, command,
                 time.perf_counter() - started)
  with tf.io.gfile.GFile(args.out, "w") as f:
    f.write(report)
  print(report)


if __name__ == "__main__":
  errors.run_cli(main)
