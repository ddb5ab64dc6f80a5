"""Pretraining data creation: ours (1 and N workers) vs Model Garden's script.

  python -m benchmarks.data_creation --input_file assets/corpus/train.txt \
      --sp_model_file assets/vocab/albert_demo_8k.model --repeats 3

Each peer turns the same seed-format text (one sentence per line, a blank
line between documents) into pretraining TFRecords with the same
SentencePiece vocabulary and settings (seq 128, 20 predictions, masked_lm_prob
0.15, dupe_factor 5, short_seq_prob 0.1, n-grams up to 3, lower-cased, one
output file):
* `ours-1`, `ours-N`: `python -m official_albert.data.pretraining.create_pretraining_data`
  with `--num_workers 1` and `--num_workers N` (N = `os.cpu_count()`;
  `--workers 1 2 4` sets the counts, `--num_shards` our output shards);
* `mg`: `python -m official.nlp.data.create_pretraining_data` (single process,
  NSP pairs) with `--tokenization SentencePiece --do_whole_word_mask
  --max_ngram_size 3`, its n-gram masking (whose "words" are single pieces,
  as it only joins WordPiece `##` continuations);
* with `--beam`, `beam-N`: `python -m official_albert.data.pretraining.beam_pipeline` on
  the DirectRunner with N worker processes (run this script with a Python
  that has requirements-beam.txt installed).
Every run is a fresh subprocess, timed wall-clock from start to exit, so both
tools pay for importing TensorFlow (ours no longer imports it). Peers run interleaved (ours-1, mg, ours-N,
ours-1, mg, ...) so that load from other processes on a shared machine hits
them alike; the table shows the median and the spread (min-max) over
`--repeats` runs. `cpu s` is user + system time of the run and its workers
(more than wall time means the run used several cores; less, that it
waited for them). Memory is reported two ways: `maxrss`, the peak resident
set of the largest single process of the run (`os.wait4` rusage, Linux
semantics: the maximum over the process and its reaped children), and
`tree_rss`, the peak of the summed RSS of the process and its children
sampled every 0.1 s (an upper bound for forked workers, whose pages shared
with the parent count once per process).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List

import psutil

from official_albert import errors
from official_albert.data.pretraining import create_pretraining_data as cpd

SETTINGS = dict(max_seq_length=128, max_predictions_per_seq=20,
                masked_lm_prob=0.15, dupe_factor=5, short_seq_prob=0.1,
                random_seed=12345)


def peer_commands(args: argparse.Namespace, out: str) -> Dict[str, List[str]]:
  """The command line of each peer, writing under directory `out`."""
  common = [f"--{k}={v}" for k, v in SETTINGS.items()]
  ours = [sys.executable, "-m", "official_albert.data.pretraining.create_pretraining_data",
          "--input_file", *args.input_file,
          "--sp_model_file", args.sp_model_file, "--do_lower_case",
          "--ngram=3", *common]
  workers = os.cpu_count()
  ours += [f"--num_shards={args.num_shards}"]
  peers = {
      "mg": [sys.executable, "-m", "official.nlp.data.create_pretraining_data",
             "--input_file=" + ",".join(args.input_file),
             "--output_file=" + os.path.join(out, "mg.tfrecord"),
             "--tokenization=SentencePiece",
             "--sp_model_file=" + args.sp_model_file, "--do_lower_case",
             "--do_whole_word_mask", "--max_ngram_size=3", *common],
  }
  for n in args.workers or [1, workers]:
    peers[f"ours-{n}"] = ours + ["--output_dir",
                                 os.path.join(out, f"ours-{n}"),
                                 f"--num_workers={n}"]
  if args.beam:
    peers[f"beam-{workers}"] = [
        sys.executable, "-m", "official_albert.data.pretraining.beam_pipeline",
        *ours[3:], "--output_dir", os.path.join(out, "beam"),
        "--runner=DirectRunner", f"--direct_num_workers={workers}",
        "--direct_running_mode=multi_processing"]
  return peers


def run_measured(command: List[str], log_path: str) -> Dict:
  """Runs `command` to completion, its stdout and stderr going to `log_path`.

  Returns:
    seconds (wall), cpu (user + system seconds of the process and its
    workers), maxrss and tree_rss (MiB, see the module doc) and log (the
    command's output).

  Raises:
    RuntimeError: the command exits non-zero (its output's tail is included).
  """
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  done = threading.Event()
  tree_peak = [0]
  with open(log_path, "w") as log:
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env=env)

    def sample():
      root = psutil.Process(proc.pid)
      while not done.is_set():
        try:
          procs = [root] + root.children(recursive=True)
          tree_peak[0] = max(tree_peak[0],
                             sum(p.memory_info().rss for p in procs))
        except psutil.Error:  # a worker or the root exited mid-sample
          pass
        time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4 rather than Popen.wait: it returns this child's own rusage
    # (RUSAGE_CHILDREN would be a running maximum over all earlier runs).
    _, status, rusage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
  with open(log_path) as f:
    output = f.read()
  if proc.returncode:
    raise RuntimeError(f"{' '.join(command[:3])} failed ({proc.returncode}): "
                       f"{output[-2000:]}")
  return dict(seconds=seconds, cpu=rusage.ru_utime + rusage.ru_stime,
              maxrss=rusage.ru_maxrss / 1024,  # KiB on Linux
              tree_rss=tree_peak[0] / 2**20, log=output)


def count_instances(name: str, output: str, out_dir: str) -> int:
  """Instances a run wrote, from its own report.

  Raises:
    RuntimeError: the report line is missing.
  """
  pattern = (r"Wrote (\d+) total instances" if name == "mg"
             else r"wrote (\d+) instances")
  match = re.search(pattern, output)
  if not match:
    raise RuntimeError(f"{name}: no instance count in its output under "
                       f"{out_dir}")
  return int(match.group(1))


def spread(values: List[float], fmt: str) -> str:
  """`median (min-max)` of `values` formatted with `fmt`."""
  return (f"{statistics.median(values):{fmt}} "
          f"({min(values):{fmt}}-{max(values):{fmt}})")


def main(argv=None) -> None:
  """Runs the peers interleaved and prints the table, ratios and commands."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input_file", nargs="+",
                      default=["assets/corpus/train.txt"])
  parser.add_argument("--sp_model_file",
                      default="assets/vocab/albert_demo_8k.model")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--peers", nargs="+", default=None,
                      help="run only these peers (names as in the table)")
  parser.add_argument("--workers", type=int, nargs="+", default=None,
                      help="worker counts of our peers (default: 1 and the "
                      "number of CPUs)")
  parser.add_argument("--num_shards", type=int, default=1,
                      help="our output shards (memory holds one at a time)")
  parser.add_argument("--beam", action="store_true",
                      help="add our Beam pipeline on the DirectRunner with "
                      "N worker processes (needs requirements-beam.txt)")
  parser.add_argument("--work_dir", default=None,
                      help="where runs write (default: a temporary "
                      "directory, removed at the end)")
  args = parser.parse_args(argv)
  stats = []
  num_docs = sum(1 for _ in cpd.read_documents(
      cpd.input_files(args.input_file), SETTINGS["max_seq_length"], stats))
  megabytes = sum(s.bytes for s in stats) / 1e6
  work = args.work_dir or tempfile.mkdtemp(prefix="bench_data_")
  results = {}
  try:
    for repeat in range(args.repeats):
      out = os.path.join(work, str(repeat))
      for name, command in peer_commands(args, out).items():
        if args.peers and name not in args.peers:
          continue
        os.makedirs(out, exist_ok=True)
        run = run_measured(command, os.path.join(work, f"{name}-{repeat}.log"))
        run["instances"] = count_instances(name, run["log"], work)
        results.setdefault(name, []).append(run)
        print(f"repeat {repeat} {name}: {run['seconds']:.1f} s, "
              f"cpu {run['cpu']:.1f} s, {run['instances']} instances, "
              f"maxrss {run['maxrss']:.0f} MiB, "
              f"tree_rss {run['tree_rss']:.0f} MiB", file=sys.stderr,
              flush=True)
  finally:
    if not args.work_dir:
      shutil.rmtree(work)

  print(f"\n{num_docs} documents, {megabytes:.1f} MB; median (min-max) over {args.repeats} "
        f"interleaved runs; {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end\n")
  print("| peer | wall s | cpu s | documents/s | MB/s | instances | "
        "maxrss MiB | tree_rss MiB |")
  print("|---|---|---|---|---|---|---|---|")
  for name, runs in results.items():
    seconds = [r["seconds"] for r in runs]
    print(f"| {name} | {spread(seconds, '.1f')} | "
          f"{spread([r['cpu'] for r in runs], '.1f')} | "
          f"{spread([num_docs / s for s in seconds], '.2f')} | "
          f"{spread([megabytes / s for s in seconds], '.3f')} | "
          f"{spread([r['instances'] for r in runs], '.0f')} | "
          f"{spread([r['maxrss'] for r in runs], '.0f')} | "
          f"{spread([r['tree_rss'] for r in runs], '.0f')} |")
  base = "mg" if "mg" in results else next(iter(results))
  base_seconds = statistics.median(r["seconds"] for r in results[base])
  print(f"\nspeed-up over {base} (median wall time ratio):")
  for name, runs in results.items():
    if name != base:
      median = statistics.median(r["seconds"] for r in runs)
      print(f"  {name}: {base_seconds / median:.2f}x")
  print("\ncommands (OUT = the run's directory):")
  for name, command in peer_commands(args, "OUT").items():
    print(f"  {name}: {' '.join(command)}")
  this = [sys.executable, "-m", __spec__.name] + (argv or sys.argv[1:])
  print(f"\nthis table: {' '.join(this)}")


if __name__ == "__main__":
  errors.run_cli(main)
