r"""Learning curves: pretrained against scratch with few labelled examples.

  python -m benchmarks.learning_curves --checkpoint runs/demo/model \
      [--data_dir ../shared/data] [--tasks sst-2,mrpc,rte] \
      [--sizes 100,300,1000] [--seeds 1,2,3] [--rates 3e-4,1e-3] \
      [--run_dir runs/learning_curves] [--plot docs/learning_curves.png]

Pretraining's gain is largest when labels are few (the question of issue
16). For each task, training-set size N and seed, the training records are
a random N of the task's full training records (drawn with the seed, so
the seed varies the subset and the initialisation together), and the
small study's fine-tuning (`benchmarks.finetune_oracle.study_override`:
`albert_tiny.yaml`, sequence 128, batch 32, AdamW, 10% warm-up, linear
decay, `train.py --experiment=albert/sentence_prediction`) runs from the
pretrained checkpoint and from random initialisation, scored on the full
dev set with the official metric.

Steps: `clip(ceil(5 N / 32), 100, 800)`: 5 epochs, at least 100 updates
(at N = 100 that is 32 epochs) and at most the study's 800.

Learning rate: each initialisation gets its own. With several `--rates`,
`official_albert.sweep` runs a `--grid` over them at the middle size (the
first seed's subset, `task.seed` 1), and the rate with the best dev metric
there is used for that initialisation and task at every size and seed (the
grid's runs are reported too, and the chosen rate's run is the curve's
point when the first seed is 1). Selecting on the dev set that is also
reported favours both sides equally; it is how the GLUE papers pick rates.

Outputs under `--run_dir`: the subsets (`<task>/train_<N>_seed<S>.tfrecord`),
one model directory per run with `oracle.json`, `results.json` and the
table (also printed); `--plot` draws the metric against N per task, the
median and the seed range shaded for each initialisation. Finished runs are
reused, so an interrupted benchmark resumes.
"""

import argparse
import json
import math
import statistics
import time
from typing import Dict, List

import numpy as np
import tensorflow as tf

from benchmarks import finetune_oracle as oracle
from official_albert import errors
from official_albert import io_utils
from official_albert.sweep import cli as sweep_cli

INITS = ("scratch", "pretrained")
LEARNING_RATE = ("trainer.optimizer_config.learning_rate.polynomial."
                 "initial_learning_rate")


def subset(records: str, n: int, seed: int) -> str:
  """Writes a random `n` of `records/train.tfrecord` (unless written), and
  returns its file name in `records`.

  Raises:
    UserError: if the task has fewer than `n` training records.
  """
  name = f"train_{n}_seed{seed}.tfrecord"
  path = io_utils.join(records, name)
  if io_utils.isfile(path):
    return name
  rows = list(tf.data.TFRecordDataset(io_utils.join(
      records, "train.tfrecord")).as_numpy_iterator())
  if n > len(rows):
    errors.fail(f"--sizes asks for {n} examples; {records} has {len(rows)}")
  chosen = np.random.default_rng(seed).permutation(len(rows))[:n]
  with io_utils.atomic_path(path) as tmp:
    with tf.io.TFRecordWriter(tmp) as writer:
      for i in sorted(chosen):
        writer.write(rows[i])
  return name


def steps_for(n: int) -> int:
  """5 epochs at batch 32, clipped to [100, 800] updates."""
  return min(800, max(100, math.ceil(5 * n / 32)))


def run_override(args, task: str, n: int, seed: int, init: str,
                 task_seed: int) -> str:
  """The study's `--params_override` for one fine-tuning of `task` on the
  subset of `n` examples drawn with `seed` (written if missing), `steps_for(n)`
  updates, `task.seed` `task_seed`, from `args.checkpoint` when `init` is
  "pretrained" and from random initialisation otherwise.

  Raises:
    UserError: if the task has fewer than `n` training records.
  """
  records = io_utils.join(args.records_dir, task)
  return oracle.study_override(
      task, steps_for(n), task_seed, records,
      args.checkpoint if init == "pretrained" else "",
      train_file=subset(records, n, seed))


def one_run(args, task: str, n: int, seed: int, init: str, rate: float
            ) -> Dict:
  """One fine-tuning run (reused when its `oracle.json` exists)."""
  steps = steps_for(n)
  out = io_utils.join(args.run_dir, task, f"n{n}", f"lr{rate:g}", init,
                      f"seed{seed}")
  result = oracle.read_json(io_utils.join(out, "oracle.json"))
  if result is None:
    print(f"== {task} N={n} {init} lr {rate:g} seed {seed} ({steps} steps)",
          flush=True)
    override = run_override(args, task, n, seed, init, task_seed=seed)
    override += f",{LEARNING_RATE}={rate}"
    io_utils.remove(out)  # A leftover checkpoint would end the run at once.
    result = oracle.ours_run([args.model_config, *oracle.CONFIG_FILES],
                             override, out, oracle.TASKS[task][3])
    print(f"   {oracle.TASKS[task][2]} {result[oracle.TASKS[task][2]]:.4f} "
          f"({result['seconds']:.0f} s)", flush=True)
  return dict(task=task, n=n, seed=seed, init=init, rate=rate, steps=steps,
              score=result[oracle.TASKS[task][2]], seconds=result["seconds"])


def rate_sweep(args, task: str, n: int, seed: int, init: str,
               rates: List[float]) -> List[Dict]:
  """Chooses the learning rate with `official_albert.sweep`: a `--grid`
  over `rates` at size `n` (the subset drawn with `seed`), `task.seed` 1,
  under `<run_dir>/<task>/n<n>/sweep_<init>_seed<seed>` (resumed when
  started again).

  Returns:
    One run (as `one_run` returns) per rate; "seconds" is the sweep's wall
    time shared equally by its points (the sweep does not time a run).

  Raises:
    UserError: if a point of the sweep failed (its error line named).
  """
  steps = steps_for(n)
  override = run_override(args, task, n, seed, init, task_seed=1)
  metric = oracle.TASKS[task][2]
  print(f"== {task} N={n} {init}: sweep of {LEARNING_RATE} over "
        f"{','.join(f'{r:g}' for r in rates)} ({steps} steps)", flush=True)
  start = time.time()
  rows = sweep_cli.run(
      [f"--experiment={oracle.EXPERIMENT}"]
      + [f"--config_file={f}" for f in (args.model_config,
                                         *oracle.CONFIG_FILES)]
      + [f"--params_override={override}", "--seeds=1", f"--metric={metric}",
         f"--sweep_dir={io_utils.join(args.run_dir, task, f'n{n}', f'sweep_{init}_seed{seed}')}",
         f"--grid={LEARNING_RATE}=" + ",".join(f"{r:g}" for r in rates)])
  failed = [r for r in rows if r["state"] != "COMPLETE"]
  if failed:
    errors.fail(f"the {task} {init} sweep at {LEARNING_RATE}="
                f"{failed[0][LEARNING_RATE]} failed: {failed[0]['error']}")
  seconds = (time.time() - start) / len(rows)
  return [dict(task=task, n=n, seed=seed, init=init,
               rate=float(r[LEARNING_RATE]), steps=steps, score=r["seed1"],
               seconds=seconds) for r in rows]


def grid_point_reused(rates: List[float], seeds: List[int]) -> bool:
  """Whether the sweep's run at the chosen rate stands for the curve's
  point (middle size, first seed): it ran with `task.seed` 1."""
  return len(rates) > 1 and seeds[0] == 1


def summary(values: List[float]) -> str:
  """`median [min-max]`."""
  return (f"{statistics.median(values):.3f} [{min(values):.3f}-"
          f"{max(values):.3f}]")


def table(runs: List[Dict], chosen: Dict) -> str:
  """Markdown: a row per task and size, both initialisations, the gap of
  the medians, and whether the ranges are apart."""
  lines = ["| task (metric) | N | steps | scratch (lr) | pretrained (lr) | "
           "pretrained - scratch (medians) | beyond the seed ranges? |",
           "|---|---|---|---|---|---|---|"]
  for task in dict.fromkeys(r["task"] for r in runs):
    for n in sorted({r["n"] for r in runs if r["task"] == task}):
      cells, values = [], {}
      for init in INITS:
        rate = chosen[task, init]
        values[init] = [r["score"] for r in runs if (
            r["task"], r["n"], r["init"], r["rate"]) == (task, n, init, rate)]
        cells.append(f"{summary(values[init])} ({rate:g})")
      gap = statistics.median(values["pretrained"]) - statistics.median(
          values["scratch"])
      apart = ("pretrained higher" if min(values["pretrained"]) > max(
          values["scratch"]) else "scratch higher" if min(
              values["scratch"]) > max(values["pretrained"]) else "no")
      lines.append(f"| {task} ({oracle.TASKS[task][2]}) | {n} | "
                   f"{steps_for(n)} | {cells[0]} | {cells[1]} | {gap:+.3f} | "
                   f"{apart} |")
  return "\n".join(lines)


def plot(runs: List[Dict], chosen: Dict, path: str) -> None:
  """Metric against N per task: medians, seed ranges shaded."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  tasks = list(dict.fromkeys(r["task"] for r in runs))
  fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4))
  for ax, task in zip(np.atleast_1d(axes), tasks):
    for init, color in zip(INITS, ("tab:gray", "tab:blue")):
      sizes = sorted({r["n"] for r in runs if r["task"] == task})
      scores = [[r["score"] for r in runs if (
          r["task"], r["n"], r["init"], r["rate"]) == (
              task, n, init, chosen[task, init])] for n in sizes]
      ax.plot(sizes, [statistics.median(s) for s in scores], "o-",
              color=color, label=f"{init} (lr {chosen[task, init]:g})")
      ax.fill_between(sizes, [min(s) for s in scores],
                      [max(s) for s in scores], color=color, alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("training examples")
    ax.set_ylabel(f"dev {oracle.TASKS[task][2]}")
    ax.set_title(task)
    ax.legend(fontsize=8)
  fig.tight_layout()
  with io_utils.atomic_path(path) as tmp:
    with io_utils.open_file(tmp, "wb") as f:
      fig.savefig(f, format="png", dpi=110)


def main(argv=None) -> None:
  """Runs the grid and the curves, prints the table, writes the plot.

  Raises:
    UserError: on a bad flag, a missing checkpoint or data directory, or a
      failed run.
  """
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--checkpoint", default="runs/demo/model")
  parser.add_argument("--data_dir", default="../shared/data")
  parser.add_argument("--records_dir", default="runs/small/glue",
                      help="full records per task (made here when missing)")
  parser.add_argument("--run_dir", default="runs/learning_curves")
  parser.add_argument("--model_config", default=oracle.MODEL_CONFIG)
  parser.add_argument("--tasks", default="sst-2,mrpc,rte")
  parser.add_argument("--sizes", default="100,300,1000")
  parser.add_argument("--seeds", default="1,2,3")
  parser.add_argument("--rates", default="3e-4,1e-3")
  parser.add_argument("--plot", default="")
  args = parser.parse_args(argv)
  tasks = oracle._csv(args.tasks, list(oracle.TASKS), "--tasks")  # pylint: disable=protected-access
  try:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    rates = [float(s) for s in args.rates.split(",")]
  except ValueError:
    errors.fail("--sizes and --seeds take comma-separated integers, --rates "
                "numbers")
  if not io_utils.isdir(args.checkpoint):
    errors.fail(f"checkpoint {args.checkpoint} not found; run "
                "`bash scripts/demo.sh` or pass --checkpoint")
  start = time.time()
  runs, chosen = [], {}
  for task in tasks:
    oracle.make_records(task, args.data_dir,
                        io_utils.join(args.records_dir, task))
    middle = sizes[len(sizes) // 2]
    for init in INITS:
      grid = (rate_sweep(args, task, middle, seeds[0], init, rates)
              if len(rates) > 1 else [])
      runs += grid
      chosen[task, init] = (max(grid, key=lambda r: r["score"])["rate"]
                            if grid else rates[0])
    for seed in seeds:
      for n in sizes:
        for init in INITS:
          # The sweep's run at the chosen rate is this point when its
          # task.seed (1) is the point's seed.
          if not (grid_point_reused(rates, seeds) and
                  (n, seed) == (middle, seeds[0])):
            runs.append(one_run(args, task, n, seed, init,
                                chosen[task, init]))
  runs = list({(r["task"], r["n"], r["seed"], r["init"], r["rate"]): r
               for r in runs}.values())
  text = table(runs, chosen)
  print(text)
  print(f"wall time of this invocation: {time.time() - start:.0f} s; "
        f"run seconds summed: {sum(r['seconds'] for r in runs):.0f}")
  with io_utils.atomic_path(io_utils.join(args.run_dir, "results.json")) as t:
    with io_utils.open_file(t, "w") as f:
      json.dump(dict(runs=runs, chosen={f"{k[0]} {k[1]}": v
                                        for k, v in chosen.items()}), f,
                indent=1)
  with io_utils.atomic_path(io_utils.join(args.run_dir, "table.md")) as t:
    with io_utils.open_file(t, "w") as f:
      f.write(text + "\n")
  if args.plot:
    plot(runs, chosen, args.plot)


if __name__ == "__main__":
  errors.run_cli(main)
