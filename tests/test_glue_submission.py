"""GLUE test sets: unlabelled records and the leaderboard files.

On real slices of SST-2, CoLA and WNLI (tests/data/glue, PROVENANCE.md):
records are made from train, dev and the unlabelled test file, the tiny
model trains a few steps through `train.py` (dev accuracy checked against a
count over the written predictions), then `--mode=eval` on the test records
writes `glue_submission/<TASK>.tsv`, checked against the test file itself:
one row per index, in order, with the task's label strings.

Tests: `official_albert.data.finetuning.glue_submission`.
"""

import csv
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import train
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.finetuning import glue_submission
from official_albert.errors import UserError
from test_finetune_tasks import _trainer_yaml  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = str(REPO / "assets/vocab/albert_demo_8k.model")
TINY = str(REPO / "configs/models/albert_tiny.yaml")


def _rows(path: pathlib.Path, header: bool):
  with open(path, encoding="utf-8", newline="") as f:
    rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
  return rows[1:] if header else rows


@pytest.mark.parametrize("task,directory,gold_column,dev_header", [
    ("sst-2", "SST-2", 1, True), ("cola", "CoLA", 1, False),
    ("wnli", "WNLI", 3, True)])
def test_train_eval_and_submission(tmp_path, test_data, task, directory,
                                   gold_column, dev_header):
  src = test_data / "glue" / directory
  records = tmp_path / "records"
  create_finetuning_data.main(["--task", task, "--input_dir", str(src),
                               "--sp_model_file", VOCAB, "--output_dir",
                               str(records), "--max_seq_length", "128"])
  meta = json.loads((records / "metadata.json").read_text())
  test_rows = _rows(src / "test.tsv", header=True)
  assert meta["files"]["test.tfrecord"]["labelled"] is False
  assert meta["files"]["test.tfrecord"]["examples"] == len(test_rows)
  assert meta["files"]["dev.tfrecord"]["labelled"] is True

  data = ("task:\n  model: {num_classes: 2}\n"
          f"  train_data: {{input_path: {records}/train.tfrecord, "
          "global_batch_size: 16, seq_length: 128}\n"
          f"  validation_data: {{input_path: {records}/%s.tfrecord, "
          "global_batch_size: 16, seq_length: 128}\n")
  model_dir = tmp_path / "model"
  train.run("albert/sentence_prediction", "train_and_eval", str(model_dir),
            [TINY, str(REPO / f"experiments/glue/{task.replace('-', '')}.yaml"),
             _trainer_yaml(tmp_path, data % "dev")], "")
  # Dev: the accuracy is a count over the written predictions.
  metrics = json.loads((model_dir / "metrics.json").read_text())
  gold = [r[gold_column] for r in _rows(src / "dev.tsv", dev_header)]
  preds = [r[1] for r in _rows(model_dir / "dev_predictions.tsv", True)]
  assert metrics["accuracy"] == pytest.approx(
      np.mean([p == g for p, g in zip(preds, gold)]))

  # Test: the leaderboard file, and no score against placeholder labels.
  logs = train.run("albert/sentence_prediction", "eval", str(model_dir),
                   [TINY, _trainer_yaml(tmp_path, data % "test")], "")
  assert logs == {"test_examples": len(test_rows)}
  name = {"sst-2": "SST-2.tsv", "cola": "CoLA.tsv", "wnli": "WNLI.tsv"}[task]
  assert glue_submission.submission_name(
      task, f"{records}/test.tfrecord") == name
  submission = (model_dir / "glue_submission" / name).read_text().splitlines()
  assert submission[0] == "index\tprediction"
  rows = [line.split("\t") for line in submission[1:]]
  assert [i for i, _ in rows] == [r[0] for r in test_rows]
  assert {p for _, p in rows} <= {"0", "1"}


def _test_records(tmp_path, task, text):
  src = tmp_path / "src"
  src.mkdir()
  (src / "test.tsv").write_text(text, encoding="utf-8")
  create_finetuning_data.main(["--task", task, "--input_dir", str(src),
                               "--sp_model_file", VOCAB, "--output_dir",
                               str(tmp_path / "out")])
  return tmp_path / "out"


def test_test_records_keep_the_glue_index(tmp_path, test_data):
  lines = (test_data / "glue/SST-2/test.tsv").read_text().splitlines()
  # Rows in another order: example_id follows the file's index, not the order.
  out = _test_records(tmp_path, "sst-2",
                      "\n".join([lines[0], lines[3], lines[1]]) + "\n")
  ids = [tf.train.Example.FromString(r.numpy()).features.feature[
      "example_id"].int64_list.value[0]
         for r in tf.data.TFRecordDataset(str(out / "test.tfrecord"))]
  assert ids == [2, 0]


@pytest.mark.parametrize("body,message", [
    ("index\tsentence\nx\ta film .\n", r"test.tsv:2: index 'x' is not"),
    ("index\tsentence\n0\ta film .\n0\tanother .\n",
     r"test.tsv:3: index '0' is not a new"),
    ("id\tsentence\n0\ta film .\n", r"no column named 'index'")])
def test_bad_test_files(tmp_path, body, message):
  with pytest.raises(UserError, match=message):
    _test_records(tmp_path, "sst-2", body)
  assert not (tmp_path / "out" / "test.tfrecord").exists()
