"""Pretraining step throughput: albert/pretraining vs Model Garden vs HF.

  python -m benchmarks.pretraining_throughput \
    --records '/tmp/bench_records/*.tfrecord'
  python -m benchmarks.pretraining_throughput --shape demo --peers hf,ours \
    --records 'runs/demo/data/train/*.tfrecord' --steps 20 --warmup 10

Each peer trains the same shape (ALBERT-base by default: V=30000, E=128,
H=768, 12 layers, 12 heads; `--shape demo`: the demo's tiny model, batch and
records), batch and sequence length on the same real
records, through its real training step:
* `ours`: our `albert/pretraining` task in our `AlbertTrainer` (Model Garden's
  trainer, with XLA honoured on CPU), float32 or bfloat16, with or without XLA;
* `ours_cached`: `ours` training on one batch held in memory, so that
  `ours` minus `ours_cached` is the time the input pipeline adds per step
  (reading, parsing, batching records) and `ours_cached` is the step itself;
* `mg`: Model Garden's `bert/pretraining` experiment (`masked_lm` task) with
  its `AlbertEncoder`, in Model Garden's own trainer, as registered (its
  `enable_xla: true` only takes effect with GPUs);
* `hf`: HuggingFace `AlbertForPreTraining` (PyTorch, eager), AdamW, in a
  child process that this one drives.
All TF peers use LAMB with the same schedule (warm-up and decay set
explicitly). Peers run interleaved (A, B, C, A, B, C ...), one at a time, so
that load from other processes on a shared machine hits them alike; each
measurement times `--steps` steps after `--warmup` steps (tracing, XLA
compilation), and the table reports the median and the spread (min-max)
over `--repeats` measurements. Model FLOPs utilisation is printed when
`--peak_tflops` (the device's peak for the compute dtype) is given.
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from typing import Callable, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np
import tensorflow as tf
import tf_keras
from official.core import exp_factory
from official.core import task_factory
from official.core import train_utils
# Registers Model Garden's `bert/pretraining` and its masked_lm task.
from official.nlp.configs import pretraining_experiments  # pylint: disable=unused-import
from official.nlp.tasks import masked_lm  # pylint: disable=unused-import

from official_albert import configs  # pylint: disable=unused-import
from official_albert import errors
from official_albert import tasks  # pylint: disable=unused-import
from official_albert.configs import optimization
from official_albert.data.pretraining import pretrain_dataloader
from official_albert.training import trainer as trainer_lib

# ALBERT-base (paper table 1), without dropout as in v2.
BASE = dict(vocab_size=30000, embedding_size=128, hidden_size=768,
            num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072)
# The demo's tiny model (configs/models/albert_tiny.yaml, 8k vocabulary).
DEMO = dict(vocab_size=8000, embedding_size=128, hidden_size=128,
            num_hidden_layers=4, num_attention_heads=2, intermediate_size=512)
# --shape: (model, batch, sequence length, predictions per sequence).
SHAPES = {"base": (BASE, 8, 128, 20),
          "demo": (DEMO, 64, 64, 10)}  # experiments/pretraining/demo.yaml


def data_override(records: str, batch: int, seq: int, pred: int) -> Dict:
  """The train_data section shared by our task and Model Garden's."""
  return dict(input_path=records, global_batch_size=batch, seq_length=seq,
              max_predictions_per_seq=pred)


def ours_params(shape: Dict, records: str, batch: int, seq: int, pred: int,
                xla: bool = False, dtype: str = "float32"):
  """The `albert/pretraining` config of one benchmark peer."""
  params = exp_factory.get_exp_config("albert/pretraining")
  params.override({
      "task": {"model": {"encoder": dict(
                   shape, hidden_dropout_prob=0.0,
                   attention_probs_dropout_prob=0.0)},
               "train_data": data_override(records, batch, seq, pred)},
      "runtime": {"enable_xla": xla, "mixed_precision_dtype": dtype},
  }, is_strict=True)
  return params


def mg_params(shape: Dict, records: str, batch: int, seq: int, pred: int):
  """Model Garden's `bert/pretraining` with its ALBERT encoder, same shape."""
  params = exp_factory.get_exp_config("bert/pretraining")
  params.override({
      "task": {
          "model": {
              "encoder": {"type": "albert", "albert": dict(
                  vocab_size=shape["vocab_size"],
                  embedding_width=shape["embedding_size"],
                  hidden_size=shape["hidden_size"],
                  num_layers=shape["num_hidden_layers"],
                  num_attention_heads=shape["num_attention_heads"],
                  intermediate_size=shape["intermediate_size"],
                  dropout_rate=0.0, attention_dropout_rate=0.0)},
              "cls_heads": [dict(inner_dim=shape["hidden_size"], num_classes=2,
                                 dropout_rate=0.0, name="next_sentence")]},
          "train_data": dict(data_override(records, batch, seq, pred),
                             use_next_sentence_label=True)},
  }, is_strict=True)
  # The registered default has no warm-up/decay steps and cannot build its
  # schedule; use our LAMB recipe so both TF peers run the same optimizer.
  params.trainer.optimizer_config = optimization.lamb(
      1e-3, 10000, 100)
  return params


def tf_peer(params, trainer_cls, warmup: int,
            cached: bool = False) -> Callable[[int], float]:
  """Builds a trainer for `params`, runs `warmup` steps; returns `run`.

  With `cached`, the task's input is its first batch, cached and repeated.

  `run(steps)` trains `steps` steps and returns the last loss. The Keras
  mixed-precision policy is global and layers create their sublayers when
  first called: it is set while this peer's model is built and warmed up,
  then reset to float32, so peers built later are unaffected.
  """
  dtype = params.runtime.mixed_precision_dtype or "float32"
  tf_keras.mixed_precision.set_global_policy(
      {"float32": "float32", "bfloat16": "mixed_bfloat16",
       "float16": "mixed_float16"}[dtype])
  try:
    task = task_factory.get_task(params.task)
    if cached:
      build_inputs = task.build_inputs
      task.build_inputs = lambda *args, **kwargs: build_inputs(
          *args, **kwargs).take(1).cache().repeat()
    trainer = train_utils.create_trainer(params, task, train=True,
                                         evaluate=False,
                                         trainer_cls=trainer_cls)

    def run(steps: int) -> float:
      logs = trainer.train(tf.constant(steps, tf.int32))
      return float(logs["training_loss"])  # Blocks until the steps are done.
    run(warmup)
  finally:
    tf_keras.mixed_precision.set_global_policy("float32")
  return run


def _receive(conn) -> int:
  """The next request from the parent; 0 (stop) once the parent is gone."""
  try:
    return conn.recv()
  except EOFError:
    return 0


def _hf_worker(conn, shape: Dict, batches: List[Dict]) -> None:
  """Child process: trains HF `AlbertForPreTraining` on request.

  Receives a number of steps, trains that many on `batches` (cycled) and
  sends back the last loss; stops on 0 or when the parent exits. HF's MLM
  loss takes labels over all positions (-100 elsewhere), so its MLM logits
  are computed at every position, as HF users train it.
  """
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(os.cpu_count())
  torch.manual_seed(0)
  config = transformers.AlbertConfig(
      vocab_size=shape["vocab_size"], embedding_size=shape["embedding_size"],
      hidden_size=shape["hidden_size"],
      num_hidden_layers=shape["num_hidden_layers"],
      num_attention_heads=shape["num_attention_heads"],
      intermediate_size=shape["intermediate_size"], hidden_act="gelu_new",
      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
      classifier_dropout_prob=0.0)
  model = transformers.AlbertForPreTraining(config).train()
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4,
                                weight_decay=0.01)
  inputs = []
  for x in batches:
    ids = torch.from_numpy(x["input_word_ids"]).long()
    labels = torch.full_like(ids, -100)
    positions = torch.from_numpy(x["masked_lm_positions"]).long()
    keep = torch.from_numpy(x["masked_lm_weights"]) > 0
    rows = torch.arange(ids.shape[0])[:, None].expand_as(positions)
    labels[rows[keep], positions[keep]] = torch.from_numpy(
        x["masked_lm_ids"]).long()[keep]
    inputs.append(dict(
        input_ids=ids, attention_mask=torch.from_numpy(x["input_mask"]).long(),
        token_type_ids=torch.from_numpy(x["input_type_ids"]).long(),
        labels=labels, sentence_order_label=torch.from_numpy(
            x["sentence_order_label"]).long()[:, 0]))
  done = 0
  while steps := _receive(conn):
    for _ in range(steps):
      loss = model(**inputs[done % len(inputs)]).loss
      loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
      optimizer.step()
      optimizer.zero_grad()
      done += 1
    conn.send(loss.item())


def hf_peer(shape: Dict, records: str, batch: int, seq: int, pred: int,
            warmup: int) -> Callable[[int], float]:
  """HuggingFace `AlbertForPreTraining` (PyTorch CPU, AdamW) on our records.

  It runs in a child process: PyTorch and TensorFlow thread pools in one
  process slow each other down (HF took 47 s/step there, 15 alone), and
  the parent only waits while the child trains, so the peers still
  alternate.
  """
  params = ours_params(shape, records, batch, seq, pred)
  dataset = task_factory.get_task(params.task).build_inputs(
      params.task.train_data)
  batches = [{k: v.numpy() for k, v in x.items()} for x in dataset.take(8)]
  context = multiprocessing.get_context("spawn")
  conn, child_conn = context.Pipe()
  context.Process(target=_hf_worker, args=(child_conn, shape, batches),
                  daemon=True).start()

  def run(steps: int) -> float:
    conn.send(steps)
    return conn.recv()
  run(warmup)
  return run


def train_flops(shape: Dict, batch: int, seq: int, pred: int) -> float:
  """Model FLOPs of one training step (forward + backward = 3x forward).

  Counts matmuls as if layers were not shared (sharing saves memory, not
  FLOPs): per token 6 * (4 H^2 + 2 H I) per layer + 12 L s H for attention
  scores and values, plus the E->H projection, and the MLM head at the
  predicted positions only (H->E dense and E x V logits).
  """
  h, e, v = shape["hidden_size"], shape["embedding_size"], shape["vocab_size"]
  layers, inter = shape["num_hidden_layers"], shape["intermediate_size"]
  tokens = batch * seq
  per_token = 6 * (layers * (4 * h * h + 2 * h * inter) + e * h)
  attention = 12 * layers * seq * h
  head = 6 * batch * pred * (h * e + e * v)
  return tokens * (per_token + attention) + head


def build_peers(names: List[str], args) -> Dict[str, Callable[[int], float]]:
  """Builds and warms up the named peers (see `--peers`)."""
  shape = dict(SHAPES[args.shape][0], vocab_size=args.vocab_size)
  common = (args.records, args.batch, args.seq_length, args.predictions)
  warmup = args.warmup
  peers = {}
  for name in names:
    if name == "mg":
      peers[name] = tf_peer(mg_params(shape, *common),
                            trainer_lib.base_trainer.Trainer, warmup)
    elif name == "hf":
      peers[name] = hf_peer(shape, *common, warmup)
    elif name.startswith("ours"):
      peers[name] = tf_peer(
          ours_params(shape, *common, xla="xla" in name,
                      dtype="bfloat16" if "bf16" in name else "float32"),
          trainer_lib.AlbertTrainer, warmup, cached="cached" in name)
    else:
      raise ValueError(f"unknown peer {name!r}")
    print(f"built and warmed up {name}", flush=True)
  return peers


def main(argv=None) -> None:
  """Runs the peers interleaved and prints the throughput table."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--records", required=True,
                      help="pretraining TFRecords (file pattern)")
  parser.add_argument("--peers", default="mg,hf,ours,ours_xla,ours_bf16,"
                      "ours_xla_bf16")
  parser.add_argument("--shape", choices=sorted(SHAPES), default="base",
                      help="base: ALBERT-base, batch 8, seq 128, 20 "
                      "predictions; demo: the demo's tiny model, batch 64, "
                      "seq 64, 10 predictions (the flags below override)")
  parser.add_argument("--vocab_size", type=int)
  parser.add_argument("--batch", type=int)
  parser.add_argument("--seq_length", type=int)
  parser.add_argument("--predictions", type=int)
  parser.add_argument("--warmup", type=int, default=2,
                      help="untimed steps per peer (tracing, compilation)")
  parser.add_argument("--steps", type=int, default=2,
                      help="steps per timed measurement")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--peak_tflops", type=float, default=0.0,
                      help="device peak, for model FLOPs utilisation")
  args = parser.parse_args(argv)
  model, batch, seq, pred = SHAPES[args.shape]
  for name, default in (("vocab_size", model["vocab_size"]), ("batch", batch),
                        ("seq_length", seq), ("predictions", pred)):
    if getattr(args, name) is None:
      setattr(args, name, default)
  pretrain_dataloader.input_files(args.records, "--records")  # UserError.
  print("command: python -m benchmarks.pretraining_throughput "
        + " ".join(argv if argv is not None else sys.argv[1:]), flush=True)
  names = args.peers.split(",")
  peers = build_peers(names, args)
  times = {name: [] for name in names}
  for _ in range(args.repeats):
    for name in names:
      start = time.perf_counter()
      loss = peers[name](args.steps)
      times[name].append((time.perf_counter() - start) / args.steps)
      if not np.isfinite(loss):
        raise RuntimeError(f"{name}: loss {loss}")
  flops = train_flops(dict(model, vocab_size=args.vocab_size), args.batch,
                      args.seq_length, args.predictions)
  print(f"\nbatch {args.batch}, seq {args.seq_length}, {args.predictions} "
        f"predictions, {flops / 1e12:.3f} TFLOP/step, {os.cpu_count()} CPUs, "
        f"medians of {args.repeats} x {args.steps} steps")
  print(f"{'peer':<15}{'s/step':>8}{'(min-max)':>16}{'steps/s':>9}"
        f"{'seq/s':>8}{'tokens/s':>10}{'GFLOP/s':>9}"
        + ("   MFU" if args.peak_tflops else ""))
  median = {name: statistics.median(t) for name, t in times.items()}
  for name in names:
    sec = median[name]
    row = (f"{name:<15}{sec:8.2f}  ({min(times[name]):5.2f}-"
           f"{max(times[name]):5.2f}){1 / sec:9.3f}{args.batch / sec:8.2f}"
           f"{args.batch * args.seq_length / sec:10.0f}"
           f"{flops / sec / 1e9:9.0f}")
    if args.peak_tflops:
      row += f"{flops / sec / (args.peak_tflops * 1e12):6.1%}"
    print(row)
  for base in ("mg", "hf"):
    if base in median:
      print(f"speed-up vs {base}: " + ", ".join(
          f"{n} {median[base] / median[n]:.2f}x" for n in names if n != base))


if __name__ == "__main__":
  errors.run_cli(main)
