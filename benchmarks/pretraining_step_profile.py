"""Where one pretraining step's time goes, part by part.

  python -m benchmarks.pretraining_step_profile \
    --records 'runs/demo/data/train/*.tfrecord'

Times, on one real batch held in memory (so that the input pipeline is out
of it; `pretraining_throughput --peers ours,ours_cached` measures that part),
cumulative slices of our `albert/pretraining` train step, each compiled as
one `tf.function` and run `--steps` times per measurement:

1. `forward`: `model(inputs, training=True)` (encoder, MLM and SOP heads);
2. `+ loss, gradients`: the losses and `GradientTape.gradient` on top;
3. `+ LAMB update`: `task.train_step` without metrics (clipping, LAMB,
   weight decay, the learning-rate schedule);
4. `+ metrics`: the full `task.train_step` as the trainer runs it.

Each row's increment is the cost of its part. Measurements are interleaved
(1, 2, 3, 4, 1, 2, ...) so that load from other processes hits all alike;
the table gives medians over `--repeats`. Shape: `--shape` of
`benchmarks.pretraining_throughput` (default the demo's), with the demo
model's dropout (0.1) unless `--dropout` says otherwise.
"""

import argparse
import statistics
import sys
import time
from typing import Callable, Dict

import tensorflow as tf
from official.core import task_factory

from benchmarks import pretraining_throughput as throughput
from official_albert.data.pretraining import pretrain_dataloader


def step_parts(task, model, optimizer, batch: Dict[str, tf.Tensor]
               ) -> Dict[str, Callable[[], tf.Tensor]]:
  """The four cumulative slices of one step, as compiled functions."""
  metrics = task.build_metrics(training=True)

  @tf.function
  def forward():
    return model(batch, training=True)["sop_logits"]

  @tf.function
  def gradients():
    with tf.GradientTape() as tape:
      loss = task.build_losses(batch, model(batch, training=True))
    return tape.gradient(loss, model.trainable_variables)[0]

  @tf.function
  def update():
    return task.train_step(batch, model, optimizer)["loss"]

  @tf.function
  def full():
    return task.train_step(batch, model, optimizer, metrics)["loss"]

  return {"forward": forward, "+ loss, gradients": gradients,
          "+ LAMB update": update, "+ metrics": full}


def main(argv=None) -> None:
  """Prints the per-part table (ms per step, increment, share)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--records", required=True,
                      help="pretraining TFRecords (file pattern)")
  parser.add_argument("--shape", choices=sorted(throughput.SHAPES),
                      default="demo")
  parser.add_argument("--dropout", type=float, default=0.1)
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--repeats", type=int, default=5)
  args = parser.parse_args(argv)
  pretrain_dataloader.input_files(args.records, "--records")  # UserError.
  print("command: python -m benchmarks.pretraining_step_profile "
        + " ".join(argv if argv is not None else sys.argv[1:]), flush=True)
  model_shape, batch_size, seq, pred = throughput.SHAPES[args.shape]
  params = throughput.ours_params(model_shape, args.records, batch_size, seq,
                                  pred)
  params.task.model.encoder.hidden_dropout_prob = args.dropout
  params.task.model.encoder.attention_probs_dropout_prob = args.dropout
  task = task_factory.get_task(params.task)
  model = task.build_model()
  optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                    params.runtime)
  batch = next(iter(task.build_inputs(params.task.train_data)))
  parts = step_parts(task, model, optimizer, batch)
  for fn in parts.values():  # Trace, build, first run.
    fn().numpy()
  times = {name: [] for name in parts}
  for _ in range(args.repeats):
    for name, fn in parts.items():
      start = time.perf_counter()
      for _ in range(args.steps):
        out = fn()
      out.numpy()  # Blocks until the steps are done.
      times[name].append((time.perf_counter() - start) / args.steps)
  total = statistics.median(times["+ metrics"])
  print(f"\nshape {args.shape}: batch {batch_size}, seq {seq}, {pred} "
        f"predictions, dropout {args.dropout}; medians of {args.repeats} x "
        f"{args.steps} steps on one batch in memory")
  print(f"{'part':<20}{'ms/step':>9}{'increment':>11}{'share':>8}")
  previous = 0.0
  for name, samples in times.items():
    ms = statistics.median(samples) * 1e3
    print(f"{name:<20}{ms:9.1f}{ms - previous:11.1f}"
          f"{(ms - previous) / (total * 1e3):8.0%}")
    previous = ms


if __name__ == "__main__":
  main()
