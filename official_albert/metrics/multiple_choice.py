"""Multiple-choice accuracy, overall and per RACE level.

RACE results are reported as accuracy on RACE-M (middle school), RACE-H
(high school) and both (Lai et al., 2017, table 4; the ALBERT paper,
table 13).
"""

from typing import Dict, Sequence

import numpy as np

from official_albert.data.finetuning import multiple_choice_data


def accuracy_by_level(labels: Sequence[int], predictions: Sequence[int],
                      levels: Sequence[int]) -> Dict[str, float]:
  """Accuracy over all questions and over each RACE level present.

  Args:
    labels: `[num_questions]` right option indices.
    predictions: `[num_questions]` predicted option indices.
    levels: `[num_questions]` level ids (index in
      `multiple_choice_data.LEVELS`; -1 for questions outside RACE).

  Returns:
    "accuracy" in [0, 1], and "accuracy_middle" / "accuracy_high" for the
    levels that have questions.

  Raises:
    ValueError: if the arrays differ in length or are empty.
  """
  labels, predictions, levels = (np.asarray(a).reshape(-1) for a in
                                 (labels, predictions, levels))
  if not len(labels) or not len(labels) == len(predictions) == len(levels):
    raise ValueError(f"need as many predictions as labels and levels, got "
                     f"{len(predictions)}, {len(labels)}, {len(levels)}")
  correct = labels == predictions
  result = dict(accuracy=float(correct.mean()))
  for level, name in enumerate(multiple_choice_data.LEVELS):
    if np.any(levels == level):
      result[f"accuracy_{name}"] = float(correct[levels == level].mean())
  return result
