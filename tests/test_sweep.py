"""The sweep command end to end, on the bundled SST-2 slice with a tiny ALBERT.

* A real sweep (2 good points x 2 seeds, and one point whose runs crash):
  killed after its first point and started again, it does not rerun the
  finished point; the report (summary.csv/md, plot, HParams summaries) is
  checked against the runs' own metrics.json and best-checkpoint info.json.
* Same seed, same metrics: a seed run repeated in-process by train.py equals
  the sweep's subprocess run; another seed differs.
* Two sweep processes on one SQLite storage share the points of a TPE
  search.
* Bad input: one line, exit status 2, no run started.

Tests: `official_albert.sweep.cli`, `official_albert.sweep.space`,
`official_albert.sweep.runner`, `official_albert.sweep.objective`,
`official_albert.sweep.report`.
"""

import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest
import sqlalchemy
import tensorflow as tf
import yaml

import sst2_slice
import train
from official.core import exp_factory
from official_albert.errors import UserError
from official_albert.metrics import glue
from official_albert.sweep import objective
from official_albert.sweep import runner
from official_albert.sweep import space
from official_albert.sweep import cli as sweep

EXPERIMENT = "albert/sentence_prediction"
DROPOUT = "task.model.dropout_rate"
LR = "trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate"


@pytest.fixture(scope="module")
def sst2(test_data, tmp_path_factory):
  root = tmp_path_factory.mktemp("sst2")
  return sst2_slice.config_files(sst2_slice.make_records(test_data, root),
                                 root)


def _flags(files, sweep_dir, *extra):
  return ([f"--experiment={EXPERIMENT}", f"--sweep_dir={sweep_dir}"]
          + [f"--config_file={f}" for f in files] + list(extra))


def _start(args):
  return subprocess.Popen(
      [sys.executable, "-m", "official_albert.sweep"] + args,
      cwd=sst2_slice.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      text=True, start_new_session=True)


def _finish(proc, timeout=600):
  out, _ = proc.communicate(timeout=timeout)
  assert proc.returncode == 0, out[-4000:]
  return out


def _summary(sweep_dir):
  with open(sweep_dir / "summary.csv", encoding="utf-8") as f:
    return list(csv.DictReader(f))


def _wait_for_next_point(sweep_dir, proc, timeout=600):
  """Waits for a point to complete and the run of the next one to start."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    assert proc.poll() is None, proc.communicate()[0][-4000:]
    rows = (_summary(sweep_dir) if (sweep_dir / "summary.csv").exists()
            else [])
    if any(r["state"] == "COMPLETE" for r in rows):
      following = 1 + max(int(r["trial"]) for r in rows)
      if (sweep_dir / f"trial-{following:04d}-seed1" / "train.log").exists():
        return
    time.sleep(0.2)
  pytest.fail("no point finished in time")


def _events(directory):
  """(tag, plugin name) of every summary value in the event files there."""
  found = set()
  for path in tf.io.gfile.glob(os.path.join(directory, "events.out.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        found.add((value.tag, value.metadata.plugin_data.plugin_name))
  return found


def test_sweep_end_to_end_with_kill_and_resume(tmp_path, sst2):
  sweep_dir = tmp_path / "sweep"
  args = _flags(sst2, sweep_dir, f"--grid={DROPOUT}=0.0,0.1,1.5",
                "--seeds=2", "--heartbeat_s=2")
  first = _start(args + ["--parallel=1"])
  _wait_for_next_point(sweep_dir, first)
  os.killpg(first.pid, signal.SIGKILL)  # The sweep and its train.py.
  first.wait()
  time.sleep(4.5)  # Its heartbeat (every 2 s) is stale after 4 s.
  done = {p: os.stat(p / "metrics.json").st_mtime_ns
          for p in sweep_dir.glob("trial-*") if (p / "metrics.json").exists()}
  assert len(done) >= 2  # Both seeds of the first point.
  _finish(_start(args + ["--parallel=2"]))
  for path, mtime in done.items():  # Not run again.
    assert os.stat(path / "metrics.json").st_mtime_ns == mtime

  rows = _summary(sweep_dir)
  assert [r["state"] for r in rows] == ["COMPLETE", "COMPLETE", "FAIL"]
  assert rows[2][DROPOUT] == "1.5"
  assert "ValueError: Invalid value 1.5 received for `rate`" in (
      rows[2]["error"])
  medians = [float(r["median"]) for r in rows[:2]]
  assert medians == sorted(medians, reverse=True)  # Best first.
  for row in rows[:2]:
    runs = [sweep_dir / f"trial-{int(row['trial']):04d}-seed{s}"
            for s in (1, 2)]
    metrics = [json.loads((d / "metrics.json").read_text()) for d in runs]
    accuracies = [m["accuracy"] for m in metrics]
    assert [float(row["seed1"]), float(row["seed2"])] == pytest.approx(
        accuracies)
    assert float(row["median"]) == pytest.approx(
        statistics.median(accuracies))
    best = runs[int(row["best_seed"]) - 1] / objective.BEST_SUBDIR
    info = json.loads((best / "info.json").read_text())
    assert int(row["best_step"]) == info["best_ckpt_global_step"] in (4, 8)
    assert ("sweep/accuracy", "scalars") in _events(runs[0])
    assert ("_hparams_/session_start_info", "hparams") in _events(runs[0])
  assert ("_hparams_/experiment", "hparams") in _events(sweep_dir)
  md = (sweep_dir / "summary.md").read_text()
  assert "| 1 |" in md and "fail: seed 1: ValueError" in md
  assert (sweep_dir / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  study = optuna.load_study(study_name="sweep",
                            storage=f"sqlite:///{sweep_dir}/study.db")
  # The killed trial was failed as stale and its point run again.
  states = [t.state.name for t in study.trials]
  assert states.count("COMPLETE") == 2 and "RUNNING" not in states
  killed = [t for t in study.trials
            if t.state.name == "FAIL" and "error" not in t.user_attrs]
  assert len(killed) == 1
  assert killed[0].params[DROPOUT] in (float(rows[0][DROPOUT]),
                                       float(rows[1][DROPOUT]))

  # Same seed, same metrics (train.py in this process against the sweep's
  # subprocess); the other seed of the point differs.
  trial_dir = sweep_dir / f"trial-{int(rows[0]['trial']):04d}-seed1"
  again = tmp_path / "again"
  train.run(EXPERIMENT, "train_and_eval", str(again),
            sst2 + [str(trial_dir / runner.RUN_CONFIG)], "")
  other_dir = sweep_dir / trial_dir.name.replace("seed1", "seed2")
  metrics = {d: json.loads((d / "metrics.json").read_text())
             for d in (again, trial_dir, other_dir)}
  assert metrics[again] == metrics[trial_dir]
  assert (metrics[other_dir]["validation_loss"]
          != metrics[trial_dir]["validation_loss"])
  weights = {d: _weights(d) for d in (again, trial_dir, other_dir)}
  assert weights[again].keys() == weights[trial_dir].keys()
  for name, value in weights[trial_dir].items():
    np.testing.assert_array_equal(weights[again][name], value)
  assert any(not np.array_equal(weights[other_dir][n], v)
             for n, v in weights[trial_dir].items())


def _weights(model_dir):
  """The model's variables in the latest checkpoint of `model_dir`."""
  reader = tf.train.load_checkpoint(str(model_dir))
  names = [n for n in reader.get_variable_to_shape_map()
           if n.startswith("model/") and "OPTIMIZER_SLOT" not in n]
  assert names
  return {n: reader.get_tensor(n) for n in names}


def test_two_processes_share_one_storage(tmp_path, sst2):
  # Optuna's TPE sampler on one SQLite study: 3 points in all, between them.
  storage = f"sqlite:///{tmp_path / 'shared.db'}"
  common = [f"--search={LR}=loguniform:1e-4:1e-2", "--trials=3",
            f"--storage={storage}", "--study_name=shared"]
  procs = [_start(_flags(sst2, tmp_path / name, *common))
           for name in ("a", "b")]
  for proc in procs:
    _finish(proc)
  study = optuna.load_study(study_name="shared", storage=storage)
  states = [t.state.name for t in study.trials]
  # Two processes finishing at the same moment may both start a third point.
  assert states in (["COMPLETE"] * 3, ["COMPLETE"] * 4)
  assert all(1e-4 <= t.params[LR] <= 1e-2 for t in study.trials)
  ran = {name: sorted(p.name for p in (tmp_path / name).glob("trial-*"))
         for name in ("a", "b")}
  assert ran["a"] and ran["b"]  # Each process ran points...
  assert not set(ran["a"]) & set(ran["b"])  # ...different ones.
  for name in ("a", "b"):  # Both reports show the whole study.
    assert len(_summary(tmp_path / name)) >= 3


@pytest.mark.parametrize("losers_statement", [
    "CREATE TABLE studies (x INT)",  # "table studies already exists"
    # "UNIQUE constraint failed: alembic_version.version_num" (CI saw it)
    "INSERT INTO alembic_version SELECT version_num FROM alembic_version"])
def test_opening_a_new_storage_survives_the_table_creation_race(
    tmp_path, monkeypatch, losers_statement):
  # Two sweeps started together on a new SQLite file: Optuna checks for its
  # tables, the other process creates them, and this one's CREATE TABLE
  # fails with SQLite's own "table studies already exists" (CI saw exactly
  # this). Reproduced here in order, with the real SQLite error.
  url = f"sqlite:///{tmp_path / 'new.db'}"
  real = optuna.storages.RDBStorage
  calls = []

  def racing(*args, **kwargs):
    calls.append(args[0])
    if len(calls) == 1:
      real(url)  # The other process creates the tables...
      engine = sqlalchemy.create_engine(url)
      with engine.connect() as connection:  # ...and ours then fails.
        connection.execute(sqlalchemy.text(losers_statement))
    return real(*args, **kwargs)

  with monkeypatch.context() as patch:  # Optuna isinstance()s the class.
    patch.setattr(optuna.storages, "RDBStorage", racing)
    storage = sweep.open_storage(url)
    # Other errors still end the command at once, with one line.
    with pytest.raises(UserError, match="cannot open --storage"):
      sweep.open_storage(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
  assert calls == [url, url, calls[-1]]
  study = optuna.create_study(storage=storage, study_name="after_race")
  assert optuna.load_study(study_name="after_race", storage=url).study_name \
      == study.study_name


def _fake_train_py(command, stdout, **unused_kwargs):
  """Stands in for the train.py subprocess, in this process: a subprocess
  has its own ram:// filesystem. Reads the run's sweep.yaml and writes
  metrics.json and best_ckpt/info.json into its model_dir, as train.py does.
  """
  flags = dict(a[2:].split("=", 1) for a in command if a.startswith("--"))
  config = [a.split("=", 1)[1] for a in command
            if a.startswith("--config_file=")][-1]
  with tf.io.gfile.GFile(config) as f:
    override = yaml.safe_load(f)
  rate = override["trainer"]["optimizer_config"]["learning_rate"][
      "polynomial"]["initial_learning_rate"]
  seed = override["task"]["seed"]
  model_dir = flags["model_dir"]
  with tf.io.gfile.GFile(f"{model_dir}/metrics.json", "w") as f:
    json.dump({"accuracy": 0.5 + 10 * rate + seed / 1000}, f)
  tf.io.gfile.makedirs(f"{model_dir}/best_ckpt")
  with tf.io.gfile.GFile(f"{model_dir}/best_ckpt/info.json", "w") as f:
    json.dump({"best_ckpt_global_step": 7 * seed}, f)
  stdout.write(f"trained in {model_dir}\n")
  return subprocess.CompletedProcess(command, 0, stderr="last log line\n")


def test_sweep_dir_on_a_url(ram, sst2, tmp_path_factory, monkeypatch):
  # gs:// stand-in: the runs' directories, their sweep.yaml and train.log,
  # the report and the HParams summaries all land on ram://; the study is
  # in a local SQLite file, which a URL sweep_dir requires.
  sweep_dir = f"{ram}/sweep"
  flags = _flags(sst2, sweep_dir, f"--grid={LR}=1e-3,2e-3", "--seeds=2")
  with pytest.raises(UserError, match="pass --storage"):
    sweep.run(flags)
  monkeypatch.setattr(runner.subprocess, "run", _fake_train_py)
  db = tmp_path_factory.mktemp("db") / "study.db"
  table = sweep.run(flags + [f"--storage=sqlite:///{db}"])
  assert [row[LR] for row in table] == [2e-3, 1e-3]  # Best first.
  assert table[0]["median"] == pytest.approx(0.5 + 0.02 + 0.0015)
  with tf.io.gfile.GFile(f"{sweep_dir}/summary.csv") as f:
    rows = list(csv.DictReader(f))
  assert [float(r[LR]) for r in rows] == [2e-3, 1e-3]
  assert {r["best_step"] for r in rows} == {"14"}  # Seed 2's step: 7 * 2.
  with tf.io.gfile.GFile(f"{sweep_dir}/sweep.png", "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert tf.io.gfile.exists(f"{sweep_dir}/summary.md")
  for trial in (0, 1):
    for seed in (1, 2):
      run = runner.run_dir(sweep_dir, trial, seed)
      with tf.io.gfile.GFile(f"{run}/train.log") as f:
        assert f.read() == f"trained in {run}\nlast log line\n"
      with tf.io.gfile.GFile(f"{run}/{runner.RUN_CONFIG}") as f:
        assert yaml.safe_load(f)["task"]["seed"] == seed
      assert ("_hparams_/session_start_info", "hparams") in _events(run)
  assert ("_hparams_/experiment", "hparams") in _events(sweep_dir)


def test_search_space_sampling():
  dims = [space.parse_search(f"{LR}=loguniform:1e-5:1e-3"),
          space.parse_search("trainer.train_steps=int:10:20"),
          space.parse_search("task.model.encoder.hidden_act=choice:gelu,relu")]
  trial_fn = runner.Trial("unused", EXPERIMENT, [], {}, dims, 1, "accuracy",
                          "maximize")
  seen = []
  study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
  study.optimize(lambda t: seen.append(trial_fn.suggest(t)) or 0.0,
                 n_trials=12)
  assert all(1e-5 <= v[LR] <= 1e-3 and isinstance(v[LR], float)
             for v in seen)
  assert all(isinstance(v["trainer.train_steps"], int)
             and 10 <= v["trainer.train_steps"] <= 20 for v in seen)
  assert {v["task.model.encoder.hidden_act"] for v in seen} <= {"gelu",
                                                                 "relu"}
  assert space.point_override(dims, seen[0])["trainer"]["train_steps"] == (
      seen[0]["trainer.train_steps"])


def _run(files, tmp_path, *extra):
  return sweep.run(_flags(files, tmp_path / "s", *extra))


@pytest.mark.parametrize("extra, message", [
    ((f"--grid={DROPOUT}x=0.1,0.2",), "unknown config key 'task.model."
     "dropout_ratex' in --grid .*did you mean 'task.model.dropout_rate'"),
    (("--grid=trainer.train_steps=10,abc",), "'trainer.train_steps' in "
     "--grid trainer.train_steps expects int, got 'abc'"),
    (("--search=trainer.train_steps=uniform:1:10", "--trials=2"),
     "expects int, got 1.0"),
    ((f"--search={LR}=loguniform:1e-5", "--trials=2"), "malformed range"),
    ((f"--search={LR}=loguniform:0:1", "--trials=2"), "need 0 < LOW < HIGH"),
    ((f"--search={LR}=uniform:2e-5:1e-5", "--trials=2"), "need LOW < HIGH"),
    ((f"--search={LR}=normal:0:1", "--trials=2"), "unknown distribution"),
    ((f"--search={LR}=uniform:1e-5:2e-5",), "needs --trials"),
    ((f"--grid={LR}=1e-5", "--search=trainer.train_steps=int:1:9"),
     "one of the two"),
    (("--grid=task.seed=1,2",), "use --seeds"),
    ((f"--grid={LR}=1e-5", "--metric=f1"), "metric 'f1' is not reported"),
    ((f"--grid={LR}=1e-5", "--storage=sqlite:////no/such/dir/x.db"),
     "cannot open --storage"),
    ((f"--grid={LR}=1e-5", "--storage=nosuchdb://host/db"),
     "cannot open --storage"),
])
def test_bad_input_fails_before_any_trial(tmp_path, sst2, extra, message):
  with pytest.raises(UserError, match=message):
    _run(sst2, tmp_path, *extra)
  assert not list(tmp_path.glob("s/trial-*"))


def test_bad_input_on_the_command_line_is_one_line_and_exit_2(tmp_path, sst2):
  result = subprocess.run(
      [sys.executable, "-m", "official_albert.sweep"]
      + _flags(sst2, tmp_path / "s", "--grid=task.model.dropout_rat=0.1"),
      cwd=sst2_slice.REPO, capture_output=True, text=True, check=False)
  assert result.returncode == 2
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: unknown config key 'task.model.dropout_rat'")


def test_nan_or_infinite_metric_fails_the_run(tmp_path):
  for value in ("NaN", "Infinity"):
    (tmp_path / "metrics.json").write_text(f'{{"accuracy": {value}}}')
    with pytest.raises(UserError, match="metric accuracy is"):
      objective.read_result(str(tmp_path), "accuracy")
  (tmp_path / "metrics.json").write_text('{"accuracy": 0.5}')
  assert objective.read_result(str(tmp_path), "accuracy") == (0.5, None)


def test_resuming_with_other_flags_is_refused(tmp_path, sst2):
  sweep_dir = tmp_path / "s"
  sweep_dir.mkdir()
  storage = sweep.open_storage(f"sqlite:///{sweep_dir}/study.db")
  study = optuna.create_study(storage=storage, study_name="sweep")
  study.set_user_attr("sweep", {"metric": "accuracy", "seeds": 5})
  with pytest.raises(UserError, match="was started with other"):
    _run(sst2, tmp_path, f"--grid={LR}=1e-5")


def test_error_line_of_a_failed_run():
  crash = ("W0000 some log line\nTraceback (most recent call last):\n"
           '  File "x.py", line 1, in <module>\n    f()\n'
           "ValueError: Invalid value 1.5 received for `rate`\n"
           "  In call to configurable 'create_trainer'\n")
  assert runner.error_line(crash, 1) == (
      "ValueError: Invalid value 1.5 received for `rate`")
  assert runner.error_line("I0000 log\nerror: no input file matches\n",
                           2) == "error: no input file matches"
  assert runner.error_line("", -9) == "train.py exited with status -9"


def test_interrupted_points_are_queued_again_failed_ones_not():
  dims = [space.parse_grid(f"{DROPOUT}=0.0,0.1,0.2")]
  study = optuna.create_study()
  dist = dims[0].distribution()
  for value, attrs in ((0.0, {}), (0.1, {"error": "seed 1: error: bad"}),
                       (0.2, {})):
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.FAIL, params={DROPOUT: value},
        distributions={DROPOUT: dist}, user_attrs=attrs))
  study.add_trial(optuna.trial.create_trial(  # 0.2 was then run again.
      state=optuna.trial.TrialState.COMPLETE, value=0.5,
      params={DROPOUT: 0.2}, distributions={DROPOUT: dist}))
  sweep._retry_interrupted(study, dims)  # pylint: disable=protected-access
  waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
  assert [t.system_attrs["fixed_params"] for t in waiting] == [{DROPOUT: 0.0}]
  assert sweep.count_points(study, dims, 1) == (2, 0)


@pytest.mark.parametrize("metric_type", glue.METRIC_TYPES)
def test_reported_metrics_for_every_glue_metric_type(metric_type):
  # A binary metric (MRPC's and QQP's f1) once failed here: the names were
  # probed with three classes, which sklearn's binary F1 refuses.
  params = exp_factory.get_exp_config("albert/sentence_prediction")
  params.override({"task": {"metric_type": metric_type,
                            "model": {"num_classes": 1 if metric_type ==
                                      "pearson_spearman_corr" else 2}}})
  main, names = objective.reported_metrics(params)
  assert main == metric_type
  assert set(glue.glue_metrics(metric_type, [0, 1, 1], [0, 1, 0])) <= names
  assert metric_type in names
