r"""Sweeps `--params_override` of one experiment on Optuna, median over seeds.

  python -m official_albert.sweep --experiment=albert/sentence_prediction \
    --config_file=configs/models/albert_tiny.yaml \
    --config_file=configs/runtime/cpu.yaml --config_file=run.yaml \
    --sweep_dir=runs/sweep_sst2 \
    --grid trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate=1e-5,3e-5,1e-4 \
    --seeds 5

Input: train.py's --experiment, --config_file (repeatable) and
--params_override, and a search space: --grid KEY=V1,V2,... (repeatable;
every combination is run, by Optuna's GridSampler) or --search
KEY=loguniform:LOW:HIGH | uniform:LOW:HIGH | int:LOW:HIGH | choice:A,B,...
(repeatable) with --trials N (Optuna's TPE sampler). Every point runs with
--seeds K seeds (task.seed = 1..K), each a train.py subprocess in
SWEEP_DIR/trial-0007-seed1; the point's value is the median of --metric
(default: the task's main metric) over its seeds, optimised in --direction
(default: max, min for losses).

--parallel P runs P points at once. --storage (default
sqlite:///SWEEP_DIR/study.db; any RDB URL Optuna accepts) and --study_name let
several processes or machines work on one study: start the same command on
each. Started again, a sweep skips the points already finished; a point whose
run was killed runs again. A failed run (or a NaN/infinite metric) fails its
point with the first line of its error, and the sweep goes on.

After every point: SWEEP_DIR/summary.md, summary.csv, sweep.png and the
TensorBoard HParams summaries (`tensorboard --logdir SWEEP_DIR`).
SWEEP_DIR may be a URL (gs://bucket/sweep; any scheme tf.io.gfile knows):
runs, reports and summaries go there, each run's train.log when the run
ends; the study then needs a --storage off the object store.
Bad input ends with one line `error: ...` and exit status 2 before any run.

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.sweep --experiment=albert/sentence_prediction \
      --sweep_dir=/tmp/albert_example/sweep \
      --config_file=configs/models/albert_tiny.yaml \
      --config_file=configs/runtime/cpu.yaml \
      --config_file=experiments/glue/sst2_demo.yaml \
      --params_override="task.init_checkpoint=/tmp/albert_example/pretrain,task.train_data.input_path=/tmp/albert_example/sst2/train.tfrecord,task.validation_data.input_path=/tmp/albert_example/sst2/dev.tfrecord,task.train_data.seq_length=64,task.validation_data.seq_length=64,trainer.train_steps=20,trainer.steps_per_loop=10,trainer.checkpoint_interval=20,trainer.validation_interval=20" \
      --grid trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate=1e-4,1e-3 \
      --seeds 1
"""

import argparse
import os
import sys
import threading
import time
import warnings
from typing import Any, Dict, List, Optional, Tuple

import optuna
from tqdm import tqdm

from official_albert import configs  # pylint: disable=unused-import
from official_albert import errors
from official_albert import io_utils
from official_albert import tasks  # pylint: disable=unused-import
from official_albert.configs import overrides
from official_albert.sweep import objective
from official_albert.sweep import report
from official_albert.sweep import runner
from official_albert.sweep import space

DB_FILE = "study.db"
_DIRECTIONS = {"max": "maximize", "min": "minimize"}
# Tries to open a storage whose tables another process is creating.
_SCHEMA_ATTEMPTS = 5
# What the loser of the table-creation race sees (SQLite's messages).
_SCHEMA_RACE_ERRORS = ("already exists",
                       "UNIQUE constraint failed: alembic_version")


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="python -m official_albert.sweep",
      description=__doc__.splitlines()[0])
  parser.add_argument("--experiment", required=True)
  parser.add_argument("--config_file", action="append", default=[])
  parser.add_argument("--params_override", default="")
  parser.add_argument("--sweep_dir", required=True)
  parser.add_argument("--grid", action="append", default=[],
                      help="KEY=V1,V2,... (repeatable)")
  parser.add_argument("--search", action="append", default=[],
                      help="KEY=loguniform:LOW:HIGH, uniform:LOW:HIGH, "
                      "int:LOW:HIGH or choice:A,B,... (repeatable)")
  parser.add_argument("--trials", type=int, help="points to try (--search)")
  parser.add_argument("--seeds", type=int, default=1)
  parser.add_argument("--metric", help="default: the task's main metric")
  parser.add_argument("--direction", choices=sorted(_DIRECTIONS))
  parser.add_argument("--parallel", type=int, default=1)
  parser.add_argument("--storage", help="default: sqlite:///SWEEP_DIR/"
                      + DB_FILE)
  parser.add_argument("--study_name", default="sweep")
  parser.add_argument("--heartbeat_s", type=int, default=60,
                      help="a running point whose process sent no heartbeat "
                      "for twice this long was killed; it runs again")
  parser.add_argument("--mode", default="train_and_eval",
                      help="train.py --mode; must evaluate")
  return parser


def _check_flags(args) -> List[space.Dimension]:
  if bool(args.grid) == bool(args.search):
    errors.fail("give the search space as --grid KEY=V1,V2 or as --search "
                "KEY=DIST:... with --trials N (one of the two)")
  if args.search and (args.trials is None or args.trials < 1):
    errors.fail("--search needs --trials N (N >= 1 points to try)")
  if args.grid and args.trials is not None:
    errors.fail("--trials applies to --search; a --grid runs every point")
  for flag, value in (("--seeds", args.seeds), ("--parallel", args.parallel),
                      ("--heartbeat_s", args.heartbeat_s)):
    if value < 1:
      errors.fail(f"{flag} must be at least 1, got {value}")
  if "eval" not in args.mode:
    errors.fail(f"--mode {args.mode!r} does not evaluate; use "
                "train_and_eval (a sweep needs the metric)")
  return ([space.parse_grid(g) for g in args.grid]
          + [space.parse_search(s) for s in args.search])


def _metric(args, params) -> str:
  main, names = objective.reported_metrics(params)
  metric = args.metric or main
  if not metric:
    errors.fail(f"experiment {args.experiment!r} has no default metric; "
                "pass --metric NAME")
  if names is not None and metric not in names:
    errors.fail(f"metric {metric!r} is not reported by {args.experiment} "
                f"with this config; it reports {', '.join(sorted(names))}")
  return metric


def open_storage(url: str, heartbeat_s: int = 60
                 ) -> optuna.storages.RDBStorage:
  """Opens (and creates if needed) an Optuna RDB storage.

  Running trials send a heartbeat every `heartbeat_s` seconds; one silent for
  twice that is failed as stale (its process was killed) and queued again
  with the same point (Optuna's `RetryHeartbeatStaleTrialCallback`).

  Several processes may open a new database at once: the one that loses the
  race to create the tables tries again.

  Raises:
    UserError: when the URL cannot be opened.
  """
  kwargs = {"heartbeat_interval": heartbeat_s,
            "grace_period": 2 * heartbeat_s}
  if url.startswith("sqlite"):
    # Several processes on one SQLite file wait for the lock, not fail.
    kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
  with warnings.catch_warnings():  # Heartbeats are "experimental" (v2.8+).
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    kwargs["heartbeat_stale_trial_callback"] = (
        optuna.storages.RetryHeartbeatStaleTrialCallback())
    for attempt in range(_SCHEMA_ATTEMPTS):
      try:
        return optuna.storages.RDBStorage(url, **kwargs)
      except Exception as e:  # pylint: disable=broad-except  # Driver errors.
        # Processes started together on a new database race to create its
        # tables (Optuna checks, then creates): the loser sees "table ...
        # already exists", or a duplicate schema-version row ("UNIQUE
        # constraint failed: alembic_version..."), and a second try finds
        # the tables made.
        lost_race = any(m in str(e) for m in _SCHEMA_RACE_ERRORS)
        if lost_race and attempt + 1 < _SCHEMA_ATTEMPTS:
          time.sleep(0.5)
          continue
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        errors.fail(f"cannot open --storage {url!r}: {first}; give a "
                    "database URL Optuna accepts, e.g. sqlite:///DIR/study.db")


def _study(args, storage, dimensions, definition: Dict[str, Any],
           direction: str) -> optuna.Study:
  if dimensions[0].kind == "grid":
    sampler = optuna.samplers.GridSampler(
        {d.key: list(d.values) for d in dimensions}, seed=0)
  else:
    sampler = optuna.samplers.TPESampler()  # Unseeded: machines differ.
  study = optuna.create_study(storage=storage, study_name=args.study_name,
                              sampler=sampler, direction=direction,
                              load_if_exists=True)
  held = study.user_attrs.get("sweep")
  if held is None:
    study.set_user_attr("sweep", definition)
  elif held != definition:
    changed = sorted(k for k in definition if held.get(k) != definition[k])
    errors.fail(f"study {args.study_name!r} in the storage was started with "
                f"other {', '.join(changed)}; pass the same flags to resume "
                "it, or another --study_name / --sweep_dir")
  return study


def count_points(study: optuna.Study, dimensions,
                 seeds: int) -> Tuple[int, int]:
  """(finished, running) points.

  Finished: the point's trial completed or failed with a recorded error. A
  trial killed or interrupted (FAIL without an error attribute) does not
  count: its point runs again. Running: being run now, here or by another
  process on the storage.
  """
  table = report.rows(study, dimensions, seeds)
  finished = sum(r["state"] == "COMPLETE" or bool(r["error"]) for r in table)
  return finished, sum(r["state"] == "RUNNING" for r in table)


def _retry_interrupted(study: optuna.Study, dimensions) -> None:
  """Queues again the points whose only trials were interrupted (Ctrl-C)."""
  seen, interrupted = set(), {}
  for t in study.get_trials(deepcopy=False):
    if any(d.key not in t.params for d in dimensions):
      continue
    point = tuple(repr(t.params[d.key]) for d in dimensions)
    if t.state.name == "FAIL" and "error" not in t.user_attrs:
      interrupted[point] = t.params
    elif t.state.name in ("COMPLETE", "FAIL", "WAITING"):
      seen.add(point)
  for point, params in interrupted.items():
    if point not in seen:
      study.enqueue_trial(params)


def run(argv: Optional[List[str]] = None) -> List[Dict[str, Any]]:
  """Runs the sweep; returns the report's rows (best first)."""
  args = _parser().parse_args(argv)
  dimensions = _check_flags(args)
  params = overrides.parse_configuration(args.experiment, args.config_file,
                                         args.params_override)
  space.check(dimensions, params)
  metric = _metric(args, params)
  direction = (_DIRECTIONS[args.direction] if args.direction
               else objective.default_direction(metric))
  sweep_dir = (args.sweep_dir if io_utils.is_url(args.sweep_dir)
               else os.path.abspath(args.sweep_dir))
  if io_utils.is_url(sweep_dir) and not args.storage:
    errors.fail(f"--sweep_dir {sweep_dir} is not on the local disk, where "
                "the default SQLite storage must be; pass --storage, e.g. "
                "sqlite:////local/dir/study.db or a database server's URL")
  io_utils.makedirs(sweep_dir)
  storage = open_storage(
      args.storage or f"sqlite:///{os.path.join(sweep_dir, DB_FILE)}",
      args.heartbeat_s)
  definition = {"experiment": args.experiment,
                "config_file": args.config_file,
                "params_override": args.params_override,
                "space": space.describe(dimensions), "seeds": args.seeds,
                "metric": metric, "direction": direction}
  optuna.logging.set_verbosity(optuna.logging.ERROR)
  study = _study(args, storage, dimensions, definition, direction)
  total = (space.grid_size(dimensions) if dimensions[0].kind == "grid"
           else args.trials)
  report.write_hparams_config(sweep_dir, dimensions, args.seeds, metric)
  objective_fn = runner.Trial(
      sweep_dir, args.experiment, args.config_file,
      overrides.parse_override(args.params_override), dimensions, args.seeds,
      metric, direction, args.mode,
      on_run=lambda d, values, seed, value: report.write_hparams_session(
          d, values, seed, metric, value))
  with warnings.catch_warnings():  # "Experimental" since Optuna 2.9.
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    optuna.storages.fail_stale_trials(study)  # Killed runs: queued again.
  _retry_interrupted(study, dimensions)
  done, running = count_points(study, dimensions, args.seeds)
  lock = threading.Lock()
  bar = tqdm(total=total, initial=min(done, total), unit="point",
             desc="sweep", file=sys.stderr)

  def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial):
    with lock:
      if trial.state.name == "FAIL":
        bar.write(f"trial {trial.number} failed: "
                  f"{trial.user_attrs.get('error', 'interrupted')}")
      finished, running = count_points(study, dimensions, args.seeds)
      bar.update(max(0, min(finished, total) - bar.n))
      report.write_all(sweep_dir, study, dimensions, args.seeds, metric,
                       direction)
      if finished + running >= total:
        study.stop()  # Every point is done or being run (maybe elsewhere).

  if done + running < total:
    try:
      # No more workers than points left: each would start a trial.
      jobs = min(args.parallel, total - done - running)
      study.optimize(objective_fn, n_trials=None, n_jobs=jobs,
                     catch=(runner.TrialFailed,), callbacks=[after_trial])
    except KeyboardInterrupt:
      bar.close()
      errors.fail("interrupted; start the same command again to resume")
  bar.close()
  done, running = count_points(study, dimensions, args.seeds)
  if running:
    print(f"{running} point(s) still running in another process, or killed "
          f"less than {2 * args.heartbeat_s} s ago (start the sweep again "
          "later to rerun those)")
  table = report.write_all(sweep_dir, study, dimensions, args.seeds, metric,
                           direction)
  print(f"summary: {io_utils.join(sweep_dir, report.SUMMARY_MD)}")
  if table and table[0]["median"] is not None:
    best = table[0]
    print(f"best: trial {best['trial']} median {metric}={best['median']:.4f} "
          + " ".join(f"{d.key}={best[d.key]}" for d in dimensions))
  return table


def main() -> None:
  """Command-line entry: user errors exit 2 with one line."""
  errors.run_cli(run)


if __name__ == "__main__":
  main()
