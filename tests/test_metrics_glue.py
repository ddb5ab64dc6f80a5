"""GLUE metrics against their textbook definitions, on real dev labels.

The predictions are simple, deterministic functions of the real dev texts
(sentence length, word overlap), so the labels and the confusion matrices
are those of real data; the expected values are computed here from the
definitions (confusion-matrix formulas, centred products, average ranks).

Tests: `official_albert.metrics.glue`.
"""

import numpy as np
import pytest

from official_albert.metrics import glue


def _table(test_data, task, columns):
  lines = (test_data / "glue" / task / "dev.tsv").read_text(
      encoding="utf-8-sig").splitlines()
  start = 0 if task == "CoLA" else 1
  return [[line.split("\t")[c] for c in columns] for line in lines[start:]]


def _overlap(a, b):
  a, b = set(a.lower().split()), set(b.lower().split())
  return len(a & b) / max(1, len(a | b))


def _confusion(labels, preds):
  labels, preds = np.asarray(labels), np.asarray(preds)
  tp = np.sum((labels == 1) & (preds == 1))
  tn = np.sum((labels == 0) & (preds == 0))
  fp = np.sum((labels == 0) & (preds == 1))
  fn = np.sum((labels == 1) & (preds == 0))
  return tp, tn, fp, fn


def _ranks(x):
  """Average ranks (ties share the mean of their positions), 1-based."""
  x = np.asarray(x, dtype=float)
  order = np.argsort(x, kind="stable")
  ranks = np.empty(len(x))
  i = 0
  while i < len(x):
    j = i
    while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
      j += 1
    ranks[order[i:j + 1]] = (i + j) / 2 + 1
    i = j + 1
  return ranks


def _pearson(x, y):
  x, y = np.asarray(x, float) - np.mean(x), np.asarray(y, float) - np.mean(y)
  return float(np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y)))


def test_cola_matthews_on_real_labels(test_data):
  rows = _table(test_data, "CoLA", [1, 3])
  labels = [int(label) for label, _ in rows]
  lengths = [len(text.split()) for _, text in rows]
  preds = [int(n <= np.median(lengths)) for n in lengths]
  tp, tn, fp, fn = _confusion(labels, preds)
  expected = (tp * tn - fp * fn) / np.sqrt(
      float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
  result = glue.glue_metrics("matthews_corrcoef", labels, preds)
  assert result["matthews_corrcoef"] == pytest.approx(expected, abs=1e-12)
  assert result["accuracy"] == pytest.approx((tp + tn) / len(labels))


def test_mrpc_accuracy_and_f1_on_real_labels(test_data):
  rows = _table(test_data, "MRPC", [0, 3, 4])
  labels = [int(label) for label, _, _ in rows]
  preds = [int(_overlap(a, b) > 0.5) for _, a, b in rows]
  tp, tn, fp, fn = _confusion(labels, preds)
  result = glue.glue_metrics("f1", labels, preds)
  assert result["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
  assert result["accuracy"] == pytest.approx((tp + tn) / len(labels))
  assert 0 < result["f1"] < 1 and 0 < result["accuracy"] < 1


def test_stsb_pearson_spearman_on_real_scores(test_data):
  rows = _table(test_data, "STS-B", [7, 8, 9])
  labels = [float(score) for _, _, score in rows]
  preds = [5 * _overlap(a, b) for a, b, _ in rows]
  result = glue.glue_metrics("pearson_spearman_corr", labels, preds)
  assert result["pearson"] == pytest.approx(_pearson(preds, labels))
  assert result["spearman"] == pytest.approx(
      _pearson(_ranks(preds), _ranks(labels)))
  assert result["pearson_spearman_corr"] == pytest.approx(
      (result["pearson"] + result["spearman"]) / 2)
  assert result["pearson"] > 0.3  # Word overlap does track similarity.


def test_hand_computed_small_case():
  # tp=1, tn=2, fp=0, fn=1: acc 3/4, F1 2/3, MCC 2/sqrt(12).
  result = glue.glue_metrics("matthews_corrcoef", [1, 1, 0, 0], [1, 0, 0, 0])
  assert result["accuracy"] == 0.75
  assert result["matthews_corrcoef"] == pytest.approx(2 / np.sqrt(12))
  assert glue.glue_metrics("f1", [1, 1, 0, 0], [1, 0, 0, 0])["f1"] == (
      pytest.approx(2 / 3))
  # Accuracy over three classes (MNLI-style ids).
  assert glue.glue_metrics("accuracy", [0, 1, 2, 2], [0, 2, 2, 1])[
      "accuracy"] == 0.5


def test_every_glue_task_has_a_metric():
  assert set(glue.GLUE_METRIC_TYPES) == {
      "cola", "sst-2", "mrpc", "qqp", "sts-b", "mnli", "qnli", "rte", "wnli"}
  assert set(glue.GLUE_METRIC_TYPES.values()) <= set(glue.METRIC_TYPES)


def test_bad_arguments():
  with pytest.raises(ValueError, match="unknown metric_type"):
    glue.glue_metrics("auc", [1], [1])
  with pytest.raises(ValueError, match="as many predictions as labels"):
    glue.glue_metrics("accuracy", [1, 0], [1])
