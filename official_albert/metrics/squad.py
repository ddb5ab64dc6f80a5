"""SQuAD v1.1 / v2.0 scores, by Model Garden's copies of the official scripts.

`official.nlp.tools.squad_evaluate_v1_1` and `squad_evaluate_v2_0` are the
official evaluation scripts (answers lower-cased, punctuation and the articles
a/an/the removed, whitespace collapsed; exact match and token F1, max over the
gold answers; v2.0 adds HasAns/NoAns splits and the best no-answer threshold).
This module only adds what they lack: reading the dataset with a clear error,
one scale (percent) for both versions, and, for v2.0, searching the threshold
over the best non-null answers rather than over already-thresholded
predictions, and not letting the raw scores pass through the script's
`na_prob > 1.0` rule (meant for probabilities, not logit differences).
"""

import json
from typing import Dict, List, Optional

import tensorflow as tf
from official.nlp.tools import squad_evaluate_v1_1
from official.nlp.tools import squad_evaluate_v2_0

from official_albert import errors


def load_dataset(path: str) -> List[dict]:
  """Returns the `data` list (articles) of a SQuAD JSON file.

  Raises:
    UserError: if the file is missing, not JSON, or has no `data` list.
  """
  try:
    with tf.io.gfile.GFile(path) as f:
      data = json.load(f)
  except tf.errors.NotFoundError:
    errors.fail(f"SQuAD file {path!r} not found; pass the path of "
                "dev-v1.1.json or dev-v2.0.json")
  except json.JSONDecodeError as e:
    errors.fail(f"SQuAD file {path!r} is not valid JSON (line {e.lineno}: "
                f"{e.msg}); pass the original dataset file")
  if not isinstance(data, dict) or not isinstance(data.get("data"), list):
    errors.fail(f"SQuAD file {path!r} has no top-level 'data' list; pass the "
                "original dataset file")
  return data["data"]


def squad_v1_metrics(dataset: List[dict],
                     predictions: Dict[str, str]) -> Dict[str, float]:
  """Official SQuAD v1.1 scores.

  Args:
    dataset: the `data` list of the SQuAD JSON.
    predictions: question id -> answer text; a missing id scores 0.

  Returns:
    "exact_match" and "f1" in percent, and "total" (number of questions).
  """
  scores = squad_evaluate_v1_1.evaluate(dataset, predictions)
  total = sum(len(p["qas"]) for a in dataset for p in a["paragraphs"])
  return dict(exact_match=100.0 * scores["exact_match"],
              f1=100.0 * scores["final_f1"], total=total)


def squad_v2_metrics(dataset: List[dict], predictions: Dict[str, str],
                     null_score_diffs: Optional[Dict[str, float]] = None,
                     non_null_predictions: Optional[Dict[str, str]] = None
                     ) -> Dict[str, float]:
  """Official SQuAD v2.0 scores, and the best no-answer threshold.

  Args:
    dataset: the `data` list of the SQuAD JSON.
    predictions: question id -> answer text, "" for "no answer". Questions
      without a prediction are left out, as in Model Garden's script.
    null_score_diffs: question id -> no-answer score minus best span score
      (logits); when given, the threshold on it that maximises EM and F1 is
      searched.
    non_null_predictions: question id -> best non-empty answer; the
      threshold search scores these (defaults to `predictions`).

  Returns:
    "exact", "f1", "total" and the same for the "HasAns_" and "NoAns_"
    subsets, in percent; with `null_score_diffs` also "best_exact",
    "best_exact_thresh", "best_f1", "best_f1_thresh" (predict no answer when
    the difference is above the threshold).
  """
  # Without no-answer scores the script's threshold and precision-recall
  # figures describe a constant score, so only the plain scores are kept.
  scores = {k: v for k, v in
            squad_evaluate_v2_0.evaluate(dataset, predictions).items()
            if not k.startswith(("final_", "pr_"))}
  if null_score_diffs is not None:
    best = squad_evaluate_v2_0.evaluate(
        dataset, non_null_predictions or predictions, null_score_diffs)
    scores.update(best_exact=best["final_exact"],
                  best_exact_thresh=best["final_exact_thresh"],
                  best_f1=best["final_f1"],
                  best_f1_thresh=best["final_f1_thresh"])
  return scores
