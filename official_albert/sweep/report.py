"""The sweep's report, rewritten after every trial from the study's storage.

* `SWEEP_DIR/summary.csv` and `summary.md`: one row per point (the latest
  finished trial of it; a point re-run after a kill shows its new trial),
  each seed's metric, the median, min and max, and the step of the best
  checkpoint (of the seed with the best metric), best point first; failed
  points last, with their error line.
* `SWEEP_DIR/sweep.png`: the metric against each swept key (one dot per seed
  run, a bar at the median).
* TensorBoard HParams: the experiment summary in `SWEEP_DIR` and one session
  per seed run in its run directory, so `tensorboard --logdir SWEEP_DIR`
  shows the sweep in the HParams tab.

Files are written to a temporary name and renamed, so a reader (or a second
sweep process writing the same report) never sees half a file.
"""

import csv
import posixpath
from typing import Any, Dict, List, Sequence

import matplotlib
matplotlib.use("Agg")  # Files only; no display.
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
import optuna
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from official_albert import io_utils
from official_albert.sweep import space

SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
PLOT = "sweep.png"
_STATE_ORDER = {"COMPLETE": 0, "RUNNING": 1, "FAIL": 2}


def rows(study: optuna.Study, dimensions: Sequence[space.Dimension],
         seeds: int) -> List[Dict[str, Any]]:
  """One dict per point, best first (see the module docstring).

  Keys: "trial", "state" (COMPLETE, RUNNING or FAIL), each swept key,
  "seed1".."seedK" (float or None), "median", "min", "max", "best_step",
  "best_seed", "error".
  """
  points: Dict[tuple, List[optuna.trial.FrozenTrial]] = {}
  for t in study.get_trials(deepcopy=False):
    if t.state.name not in _STATE_ORDER or any(
        d.key not in t.params for d in dimensions):
      continue
    points.setdefault(tuple(repr(t.params[d.key]) for d in dimensions),
                      []).append(t)
  maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
  out = []
  for trials in points.values():
    t = min(trials, key=lambda t: (_STATE_ORDER[t.state.name], -t.number))
    row = {"trial": t.number, "state": t.state.name}
    row.update({d.key: t.params[d.key] for d in dimensions})
    results = {s: t.user_attrs.get(f"seed{s}") for s in range(1, seeds + 1)}
    for s, result in results.items():
      row[f"seed{s}"] = result["metric"] if result else None
    done = {s: r for s, r in results.items() if r}
    metrics = [r["metric"] for r in done.values()]
    row["median"] = t.value if t.state.name == "COMPLETE" else None
    row["min"] = min(metrics) if metrics else None
    row["max"] = max(metrics) if metrics else None
    best_seed = (max if maximize else min)(
        done, key=lambda s: done[s]["metric"]) if done else None
    row["best_seed"] = best_seed
    row["best_step"] = done[best_seed]["best_step"] if done else None
    row["error"] = t.user_attrs.get("error", "")
    out.append(row)
  sign = -1 if maximize else 1
  out.sort(key=lambda r: (_STATE_ORDER[r["state"]],
                          sign * r["median"] if r["median"] is not None
                          else 0, r["trial"]))
  return out


def _fmt(value: Any) -> str:
  if value is None:
    return ""
  if isinstance(value, float):
    return f"{value:.4g}" if abs(value) < 1e-3 and value else f"{value:.4f}"
  return str(value)


def write_summary(sweep_dir: str, table: List[Dict[str, Any]],
                  dimensions: Sequence[space.Dimension], seeds: int,
                  metric: str, direction: str) -> None:
  """Writes summary.csv and summary.md."""
  keys = [d.key for d in dimensions]
  seed_cols = [f"seed{s}" for s in range(1, seeds + 1)]
  columns = (["rank", "trial", "state"] + keys + seed_cols
             + ["median", "min", "max", "best_step", "best_seed", "error"])
  with io_utils.atomic_path(io_utils.join(sweep_dir, SUMMARY_CSV)) as tmp:
    with io_utils.open_file(tmp, "w") as f:
      writer = csv.DictWriter(f, columns)
      writer.writeheader()
      for rank, row in enumerate(table, 1):
        writer.writerow({"rank": rank, **{k: "" if row.get(k) is None
                                          else row[k] for k in columns[1:]}})
  short = [k.rsplit(".", 1)[-1] for k in keys]
  head = (["rank", "trial"] + short + [f"seed {s}" for s in range(1, seeds + 1)]
          + [f"median {metric}", "min-max", "best ckpt step (seed)", "state"])
  lines = [f"# Sweep: {metric} ({direction}), median over {seeds} seed(s)",
           "", *[f"- {line}" for line in space.describe(dimensions)], "",
           "| " + " | ".join(head) + " |",
           "|" + "---|" * len(head)]
  for rank, row in enumerate(table, 1):
    spread = (f"{_fmt(row['min'])}-{_fmt(row['max'])}"
              if row["min"] is not None else "")
    best = (f"{row['best_step']} (seed {row['best_seed']})"
            if row["best_step"] else "")
    state = row["state"].lower() + (f": {row['error']}" if row["error"]
                                    else "")
    cells = ([str(rank), str(row["trial"])] + [_fmt(row[k]) for k in keys]
             + [_fmt(row[c]) for c in seed_cols]
             + [_fmt(row["median"]), spread, best,
                state.replace("|", "/")])
    lines.append("| " + " | ".join(cells) + " |")
  with io_utils.atomic_path(io_utils.join(sweep_dir, SUMMARY_MD)) as tmp:
    with io_utils.open_file(tmp, "w") as f:
      f.write("\n".join(lines) + "\n")


def write_plot(sweep_dir: str, table: List[Dict[str, Any]],
               dimensions: Sequence[space.Dimension], seeds: int,
               metric: str) -> None:
  """Writes sweep.png: the metric against each swept key."""
  fig, axes = plt.subplots(1, len(dimensions),
                           figsize=(4.5 * len(dimensions), 3.6), squeeze=False)
  done = [r for r in table if r["min"] is not None]
  for ax, d in zip(axes[0], dimensions):
    categorical = d.kind in ("grid", "choice") and not all(
        isinstance(v, (int, float)) and not isinstance(v, bool)
        for v in d.values)
    position = ({repr(v): i for i, v in enumerate(d.values)} if categorical
                else None)
    for row in done:
      x = position[repr(row[d.key])] if categorical else row[d.key]
      ys = [row[f"seed{s}"] for s in range(1, seeds + 1)
            if row[f"seed{s}"] is not None]
      ax.scatter([x] * len(ys), ys, s=14, color="0.55", zorder=2)
      if row["median"] is not None:
        ax.scatter([x], [row["median"]], marker="_", s=300, color="C0",
                   zorder=3)
    if categorical:
      ax.set_xticks(range(len(d.values)), [str(v) for v in d.values])
    elif d.log_scale:
      ax.set_xscale("log")
    ax.set_xlabel(d.key.rsplit(".", 1)[-1])
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
  fig.suptitle(f"{metric}: seeds (dots) and median (bar)", fontsize=10)
  fig.tight_layout()
  with io_utils.atomic_path(io_utils.join(sweep_dir, PLOT)) as tmp:
    with io_utils.open_file(tmp, "wb") as f:
      fig.savefig(f, format="png", dpi=100)
  plt.close(fig)


def _domain(d: space.Dimension):
  if d.kind == "int":
    return hp.IntInterval(int(d.low), int(d.high))
  if d.kind in ("uniform", "loguniform"):
    return hp.RealInterval(float(d.low), float(d.high))
  if len({type(v) for v in d.values}) == 1 and isinstance(
      d.values[0], (int, float, str, bool)):
    return hp.Discrete(list(d.values))
  return None


def _hparam_value(value: Any) -> Any:
  return value if isinstance(value, (bool, int, float, str)) else str(value)


def write_hparams_config(sweep_dir: str, dimensions: Sequence[space.Dimension],
                         seeds: int, metric: str) -> None:
  """The HParams experiment summary (columns: keys, seed, the metric)."""
  hparams = [hp.HParam(d.key, _domain(d)) for d in dimensions]
  hparams.append(hp.HParam("seed", hp.Discrete(list(range(1, seeds + 1)))))
  with tf.summary.create_file_writer(sweep_dir).as_default():
    hp.hparams_config(hparams=hparams,
                      metrics=[hp.Metric(f"sweep/{metric}",
                                         display_name=metric)])


def write_hparams_session(model_dir: str, values: Dict[str, Any], seed: int,
                          metric: str, value: float) -> None:
  """One HParams session: a seed run's values and its metric."""
  session = {k: _hparam_value(v) for k, v in values.items()}
  session["seed"] = seed
  with tf.summary.create_file_writer(model_dir).as_default():
    hp.hparams(session, trial_id=posixpath.basename(model_dir))
    tf.summary.scalar(f"sweep/{metric}", value, step=0)


def write_all(sweep_dir: str, study: optuna.Study,
              dimensions: Sequence[space.Dimension], seeds: int, metric: str,
              direction: str) -> List[Dict[str, Any]]:
  """Writes summary.csv, summary.md and sweep.png; returns the rows."""
  table = rows(study, dimensions, seeds)
  write_summary(sweep_dir, table, dimensions, seeds, metric, direction)
  write_plot(sweep_dir, table, dimensions, seeds, metric)
  return table

