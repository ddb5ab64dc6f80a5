"""Fine-tuning throughput: length bucketing against fixed padding (SST-2).

  python -m benchmarks.finetune_bucketing [--model configs/models/albert_tiny.yaml]
      [--seq_length 128] [--batch 32] [--steps 20] [--repeats 3]

Builds SST-2 training records from ../shared/data/glue/SST-2 with
`create_finetuning_data` (the bundled demo vocabulary), then trains the
`albert/sentence_prediction` task through Model Garden's trainer with three
input pipelines on the same records and model shape:
* `bucketing`: each batch padded to its own length, sequences of similar
  length batched together (the default for training);
* `per_batch`: each batch padded to its own length, no bucketing;
* `fixed`: every batch padded to `--seq_length` (what Model Garden does).
Peers take turns (A, B, C, A, B, C, ...) so that load from other processes
hits them alike; after warm-up, the median seconds per step over the repeats
is reported, with the spread and the ratios against `fixed`. Not a test.
"""

import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

from official_albert import configs  # pylint: disable=unused-import
from official_albert import errors
from official_albert import tasks  # pylint: disable=unused-import
from official_albert.configs import overrides
from official_albert.training import trainer as trainer_lib
from benchmarks import pretraining_throughput

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"
PIPELINES = {
    "bucketing": "dynamic_padding=true,task.train_data.length_bucketing=true",
    "per_batch": "dynamic_padding=true,task.train_data.length_bucketing=false",
    "fixed": "dynamic_padding=false",
}


def make_records(out_dir: pathlib.Path, seq_length: int,
                 data_dir: str) -> pathlib.Path:
  """Writes SST-2 train records (from DATA_DIR/glue/SST-2); returns their path."""
  subprocess.run(
      [sys.executable, "-m", "official_albert.data.finetuning.create_finetuning_data",
       "--task", "sst-2", "--input_dir",
       str(pathlib.Path(data_dir) / "glue/SST-2"), "--sp_model_file",
       str(VOCAB), "--max_seq_length", str(seq_length), "--output_dir",
       str(out_dir)], check=True, cwd=REPO)
  return out_dir / "train.tfrecord"


def params_for(pipeline: str, records: pathlib.Path, args):
  """The experiment config of one peer."""
  return overrides.parse_configuration(
      "albert/sentence_prediction", [args.model],
      f"task.model.encoder.vocab_size=8000,"
      f"task.train_data.input_path='{records}',"
      f"task.train_data.seq_length={args.seq_length},"
      f"task.train_data.global_batch_size={args.batch},"
      f"task.train_data.{PIPELINES[pipeline]},"
      "task.validation_data.input_path='',"
      "runtime.distribution_strategy='one_device'")


def main() -> None:
  """Builds the records, runs the pipelines interleaved, prints the table."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", default=str(REPO.parent / "shared/data"),
                      help="the real data (glue/SST-2/train.tsv)")
  parser.add_argument("--model", default=str(
      REPO / "configs/models/albert_tiny.yaml"))
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--warmup", type=int, default=5)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  print("command:", " ".join([sys.executable, "-m",
                              "benchmarks.finetune_bucketing"] + sys.argv[1:]))
  with tempfile.TemporaryDirectory() as tmp:
    records = make_records(pathlib.Path(tmp), args.seq_length,
                           args.data_dir)
    peers = {name: pretraining_throughput.tf_peer(
        params_for(name, records, args), trainer_lib.AlbertTrainer,
        args.warmup) for name in PIPELINES}
    seconds = {name: [] for name in peers}
    for _ in range(args.repeats):
      for name, run in peers.items():
        start = time.perf_counter()
        run(args.steps)
        seconds[name].append((time.perf_counter() - start) / args.steps)
  fixed = statistics.median(seconds["fixed"])
  print(f"\nSST-2 train, batch {args.batch}, seq_length {args.seq_length}, "
        f"{args.steps} steps x {args.repeats} repeats, model {args.model}")
  print(f"{'pipeline':<10} {'s/step':>8} {'(min-max)':>16} {'steps/s':>8} "
        f"{'vs fixed':>9}")
  for name, values in seconds.items():
    median = statistics.median(values)
    print(f"{name:<10} {median:8.3f} {min(values):7.3f}-{max(values):<8.3f} "
          f"{1 / median:8.2f} {fixed / median:8.2f}x")


if __name__ == "__main__":
  errors.run_cli(main)
