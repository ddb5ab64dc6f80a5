"""GLUE dev-set metrics, computed over the whole set at once.

Per-batch averages of correlations or F1 are not the dataset's value, so the
tasks collect every prediction and call `glue_metrics` once. Metric choice per
task follows the GLUE benchmark (Wang et al., 2018, table 1) and ALBERT's
`run_glue.sh`: Matthews correlation for CoLA, Pearson and Spearman for STS-B,
accuracy and F1 (of the positive class "1") for MRPC and QQP, accuracy for the
rest. The numbers come from scikit-learn and scipy.
"""

from typing import Dict, Sequence

import numpy as np
from scipy import stats
from sklearn import metrics as sk_metrics

# metric_type of each GLUE task; user tasks pick one of METRIC_TYPES (the
# names of Model Garden's sentence_prediction task, which reports only F1 for
# "f1" and only the mean for "pearson_spearman_corr"; here both report more).
GLUE_METRIC_TYPES = {
    "cola": "matthews_corrcoef",
    "sst-2": "accuracy",
    "mrpc": "f1",
    "qqp": "f1",
    "sts-b": "pearson_spearman_corr",
    "mnli": "accuracy",
    "qnli": "accuracy",
    "rte": "accuracy",
    "wnli": "accuracy",
}
METRIC_TYPES = ("accuracy", "f1", "matthews_corrcoef",
                "pearson_spearman_corr")


def glue_metrics(metric_type: str, labels: Sequence,
                 predictions: Sequence) -> Dict[str, float]:
  """Scores a whole dev set.

  Args:
    metric_type: one of `METRIC_TYPES`.
    labels: `[num_examples]` gold class ids (int) or, for
      "pearson_spearman_corr", gold scores (float).
    predictions: `[num_examples]` predicted class ids or scores, same order.

  Returns:
    A dict of floats in [0, 1] (correlations in [-1, 1]): "accuracy",
    plus "f1" (binary F1 of class 1) for "f1", or "matthews_corrcoef" for
    "matthews_corrcoef"; for "pearson_spearman_corr", "pearson", "spearman"
    and their mean "pearson_spearman_corr" instead.

  Raises:
    ValueError: on an unknown `metric_type`, or when `labels` and
      `predictions` differ in length or are empty.
  """
  labels = np.asarray(labels).reshape(-1)
  predictions = np.asarray(predictions).reshape(-1)
  if metric_type not in METRIC_TYPES:
    raise ValueError(f"unknown metric_type {metric_type!r}; use one of "
                     f"{METRIC_TYPES}")
  if len(labels) != len(predictions) or not len(labels):
    raise ValueError(f"need as many predictions as labels, got "
                     f"{len(predictions)} and {len(labels)}")
  if metric_type == "pearson_spearman_corr":
    pearson = float(stats.pearsonr(predictions, labels)[0])
    spearman = float(stats.spearmanr(predictions, labels)[0])
    return dict(pearson=pearson, spearman=spearman,
                pearson_spearman_corr=(pearson + spearman) / 2)
  result = dict(accuracy=float(sk_metrics.accuracy_score(labels, predictions)))
  if metric_type == "f1":
    result["f1"] = float(sk_metrics.f1_score(labels, predictions,
                                             zero_division=0.0))
  elif metric_type == "matthews_corrcoef":
    result["matthews_corrcoef"] = float(
        sk_metrics.matthews_corrcoef(labels, predictions))
  return result
