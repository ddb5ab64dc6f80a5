"""Entity-level precision, recall and F1 for IOB tagging (CoNLL-2003).

The CoNLL shared task scores entities, not tokens (Tjong Kim Sang and De
Meulder, 2003, section 4; the `conlleval` script): a predicted entity counts
only if its type and both boundaries match a gold one. `seqeval` in its
default mode reproduces `conlleval` (an `I-X` after `O` or another type
starts an entity), which is what is computed here, over whole sentences.
"""

from typing import Dict, List, Sequence

from seqeval import metrics as seqeval_metrics


def entity_metrics(gold: Sequence[List[str]],
                   predicted: Sequence[List[str]]) -> Dict[str, float]:
  """Micro-averaged entity scores over sentences of IOB tags.

  Args:
    gold: one list of tags per sentence.
    predicted: the same shape.

  Returns:
    "precision", "recall" and "f1" in [0, 1] (0 when undefined).

  Raises:
    ValueError: if the shapes differ or there are no sentences.
  """
  if not gold or [len(s) for s in gold] != [len(s) for s in predicted]:
    raise ValueError("need one predicted tag per gold tag, sentence by "
                     "sentence")
  gold, predicted = [list(s) for s in gold], [list(s) for s in predicted]
  return dict(
      precision=float(seqeval_metrics.precision_score(gold, predicted,
                                                      zero_division=0)),
      recall=float(seqeval_metrics.recall_score(gold, predicted,
                                                zero_division=0)),
      f1=float(seqeval_metrics.f1_score(gold, predicted, zero_division=0)))
