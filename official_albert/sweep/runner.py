"""One trial of a sweep: a point of the search space, run once per seed.

Each seed is one `train.py` subprocess with its own model directory
`SWEEP_DIR/trial-0007-seed1`, started with the sweep's `--config_file`s and
one more config file, `sweep.yaml`, written into that directory: the user's
`--params_override` with the point's values, `task.seed` and the
best-checkpoint exporter on top. The trial's value is the median over seeds
of the run's metric (`metrics.json`); each seed's metric and best-checkpoint
step are kept as trial attributes for the report. A seed run that fails or
reports a NaN or infinite metric fails the whole trial, with the first line
of its error.
"""

import os
import pathlib
import statistics
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

import optuna
import yaml

from official_albert import errors
from official_albert import io_utils
from official_albert.sweep import objective
from official_albert.sweep import space

TRAIN_PY = pathlib.Path(__file__).resolve().parents[2] / "train.py"
RUN_CONFIG = "sweep.yaml"
LOG_FILE = "train.log"


class TrialFailed(Exception):
  """A seed run of a trial failed; the message is its first error line."""


def run_dir(sweep_dir: str, trial_number: int, seed: int) -> str:
  """`SWEEP_DIR/trial-0007-seed1`."""
  return io_utils.join(sweep_dir, f"trial-{trial_number:04d}-seed{seed}")


def error_line(stderr: str, returncode: int) -> str:
  """The line that says why a run failed.

  Our commands end a user error with one `error: ...` line. A crash prints a
  traceback whose exception line is the first unindented line after
  "Traceback (most recent call last):" (gin may add indented notes after
  it). Otherwise the last line of stderr.
  """
  lines = [l.rstrip() for l in stderr.splitlines() if l.strip()]
  for line in reversed(lines):
    if line.startswith("error: "):
      return line
  head = "Traceback (most recent call last):"
  if head in lines:
    last = len(lines) - 1 - lines[::-1].index(head)
    for line in lines[last + 1:]:
      if not line[0].isspace():
        return line
  return lines[-1] if lines else f"train.py exited with status {returncode}"


class Trial:
  """Runs the seeds of one point (the Optuna objective).

  Args:
    sweep_dir: where the run directories go.
    experiment, config_files: as for train.py.
    base_override: the user's `--params_override`, parsed to a mapping.
    dimensions: the search space.
    seeds: seeds 1..seeds are run for every point.
    metric, direction: the objective; direction "maximize" or "minimize".
    mode: train.py's --mode (must evaluate).
    on_run: called as `on_run(model_dir, values, seed, metric_value)` after
      each successful seed run (the HParams summary).
  """

  def __init__(self, sweep_dir: str, experiment: str,
               config_files: Sequence[str], base_override: Dict[str, Any],
               dimensions: Sequence[space.Dimension], seeds: int, metric: str,
               direction: str, mode: str = "train_and_eval",
               on_run: Optional[Callable[..., None]] = None):
    self.sweep_dir = sweep_dir
    self.experiment = experiment
    self.config_files = list(config_files)
    self.base_override = base_override
    self.dimensions = list(dimensions)
    self.seeds = seeds
    self.metric = metric
    self.direction = direction
    self.mode = mode
    self.on_run = on_run

  def suggest(self, trial: optuna.Trial) -> Dict[str, Any]:
    """The point's value of every key (from the trial's sampler)."""
    values = {}
    for d in self.dimensions:
      dist = d.distribution()
      if isinstance(dist, optuna.distributions.CategoricalDistribution):
        values[d.key] = trial.suggest_categorical(d.key, list(d.values))
      elif isinstance(dist, optuna.distributions.IntDistribution):
        values[d.key] = trial.suggest_int(d.key, dist.low, dist.high)
      else:
        values[d.key] = trial.suggest_float(d.key, dist.low, dist.high,
                                            log=dist.log)
    return values

  def _override(self, values: Dict[str, Any], seed: int) -> Dict[str, Any]:
    comp = "higher" if self.direction == "maximize" else "lower"
    extra = {"task": {"seed": seed}, "trainer": {
        "best_checkpoint_export_subdir": objective.BEST_SUBDIR,
        "best_checkpoint_eval_metric": self.metric,
        "best_checkpoint_metric_comp": comp}}
    return space.merge(space.merge(self.base_override, extra),
                       space.point_override(self.dimensions, values))

  def run_seed(self, trial_number: int, values: Dict[str, Any],
               seed: int) -> Dict[str, Any]:
    """Runs train.py for one seed; returns {"metric", "best_step"}.

    Raises:
      TrialFailed: with the run's error line.
    """
    model_dir = run_dir(self.sweep_dir, trial_number, seed)
    io_utils.makedirs(model_dir)
    config = io_utils.join(model_dir, RUN_CONFIG)
    with io_utils.atomic_path(config) as tmp:
      with io_utils.open_file(tmp, "w") as f:
        yaml.safe_dump(self._override(values, seed), f, sort_keys=True)
    command = ([sys.executable, str(TRAIN_PY),
                f"--experiment={self.experiment}", f"--mode={self.mode}",
                f"--model_dir={model_dir}"]
               + [f"--config_file={c}" for c in self.config_files + [config]])
    # The log is written as the run goes; on an object store (no appends) it
    # is written locally and copied there when the run ends.
    with io_utils.local_directory(model_dir, read=False) as logs:
      with open(os.path.join(logs, LOG_FILE), "w", encoding="utf-8") as log:
        proc = subprocess.run(command, stdout=log, stderr=subprocess.PIPE,
                              text=True, check=False)
        log.write(proc.stderr)
    if proc.returncode != 0:
      raise TrialFailed(error_line(proc.stderr, proc.returncode))
    try:
      value, best_step = objective.read_result(model_dir, self.metric)
    except errors.UserError as e:
      raise TrialFailed(str(e)) from None
    if self.on_run:
      self.on_run(model_dir, values, seed, value)
    return {"metric": value, "best_step": best_step}

  def __call__(self, trial: optuna.Trial) -> float:
    """Optuna objective: the median of the point's metric over the seeds."""
    values = self.suggest(trial)
    results: List[float] = []
    for seed in range(1, self.seeds + 1):
      try:
        result = self.run_seed(trial.number, values, seed)
      except TrialFailed as e:
        trial.set_user_attr("error", f"seed {seed}: {e}")
        raise
      trial.set_user_attr(f"seed{seed}", result)
      results.append(result["metric"])
    return statistics.median(results)
