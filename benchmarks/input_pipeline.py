"""Input throughput alone: our pretraining data loader on real records.

  python -m benchmarks.input_pipeline --records '/tmp/bench_records/*.tfrecord'

Builds `task.train_data` exactly as training does (`AlbertPretrainingTask.
build_inputs`: Model Garden's `InputReader` with parallel interleave over
files, parallel parsing, shuffling, batching and an autotuned prefetch) and
times `--batches` batches after a warm-up, `--repeats` times; prints the
median and spread of batches/s, sequences/s and tokens/s. Compare the
sequences/s with the model's (benchmarks/pretraining_throughput.py): the
ratio is the headroom, how many times faster than the model the pipeline
can feed it on the same cores.
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# pylint: disable=g-import-not-at-top,wrong-import-position
from official.core import task_factory

from official_albert import errors
from official_albert.data.pretraining import pretrain_dataloader

from benchmarks import pretraining_throughput


def main(argv=None) -> None:
  """Parses `argv` (default: sys.argv), runs the benchmark, prints results."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--records", required=True,
                      help="pretraining TFRecords (file pattern)")
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--predictions", type=int, default=20)
  parser.add_argument("--batches", type=int, default=200,
                      help="batches per timed measurement")
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--model_seq_per_s", type=float, default=0.0,
                      help="the model's training sequences/s, for headroom")
  args = parser.parse_args(argv)
  pretrain_dataloader.input_files(args.records, "--records")  # UserError.
  print("command: python -m benchmarks.input_pipeline "
        + " ".join(argv if argv is not None else sys.argv[1:]), flush=True)
  params = pretraining_throughput.ours_params(
      pretraining_throughput.BASE, args.records, args.batch, args.seq_length,
      args.predictions)
  data = params.task.train_data
  print(f"train_data: cycle_length={data.cycle_length} (None = autotuned), "
        f"shuffle_buffer_size={data.shuffle_buffer_size}, "
        f"prefetch_buffer_size={data.prefetch_buffer_size} "
        "(None = autotuned), parsing with AUTOTUNE parallel calls")
  dataset = task_factory.get_task(params.task).build_inputs(data)
  iterator = iter(dataset)
  for _ in range(args.batches):  # Warm-up: fill shuffle and prefetch buffers.
    next(iterator)
  rates = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    for _ in range(args.batches):
      next(iterator)
    rates.append(args.batches / (time.perf_counter() - start))
  rate = statistics.median(rates)
  print(f"batch {args.batch}, seq {args.seq_length}: {rate:.0f} batches/s "
        f"(min-max {min(rates):.0f}-{max(rates):.0f}), "
        f"{rate * args.batch:.0f} sequences/s, "
        f"{rate * args.batch * args.seq_length:.0f} tokens/s, "
        f"median of {args.repeats} x {args.batches} batches")
  if args.model_seq_per_s:
    headroom = rate * args.batch / args.model_seq_per_s
    print(f"headroom over the model: {headroom:.0f}x")


if __name__ == "__main__":
  errors.run_cli(main)
