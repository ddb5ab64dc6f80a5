"""Trivial baselines for pretraining metrics, to read the demo's numbers against.

  python -m official_albert.tools.baselines --train 'DIR/train/*.tfrecord' \
      --eval 'DIR/heldout/*.tfrecord' [--sp_model_file M.model]

`masked_lm_accuracy` baseline: always predict the piece most often masked in
the training records, scored on the evaluation records' masked positions
(weighted as the task weights them). `sentence_order_accuracy` baseline:
always predict the evaluation records' majority label.
"""

import argparse
import collections
import json

import numpy as np
import tensorflow as tf

from official_albert import errors
from official_albert.data.pretraining import pretrain_dataloader

_FEATURES = {
    "masked_lm_ids": tf.io.VarLenFeature(tf.int64),
    "masked_lm_weights": tf.io.VarLenFeature(tf.float32),
    "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
}


def _read(pattern: str):
  """Yields (masked ids, weights, SOP labels) per batch of records, as numpy.

  Ids and weights are `[batch, max_predictions_per_seq]`, labels `[batch]`.
  """
  files = pretrain_dataloader.input_files(pattern, "--train/--eval")
  batches = tf.data.TFRecordDataset(files).batch(4096).map(
      lambda r: tf.io.parse_example(r, _FEATURES))
  for ex in batches:
    yield (tf.sparse.to_dense(ex["masked_lm_ids"]).numpy(),
           tf.sparse.to_dense(ex["masked_lm_weights"]).numpy(),
           ex["next_sentence_labels"].numpy()[:, 0])


def compute(train_pattern: str, eval_pattern: str) -> dict:
  """Returns the baseline accuracies (fractions in [0, 1]), the piece id and
  the evaluation counts (`eval_masked` weighted predictions, `eval_examples`).

  Raises:
    UserError: if a pattern matches no file, or the training records hold no
      masked position.
  """
  counts = collections.Counter()
  for ids, weights, _ in _read(train_pattern):
    counts.update(ids[weights > 0].tolist())
  if not counts:
    errors.fail(f"no masked position in the records matching {train_pattern!r}"
                "; are they pretraining records?")
  top_id = counts.most_common(1)[0][0]
  hits = total = 0.0
  labels = []
  for ids, weights, label in _read(eval_pattern):
    hits += float(np.sum(weights * (ids == top_id)))
    total += float(np.sum(weights))
    labels.extend(label.tolist())
  majority = max(np.mean(labels), 1 - np.mean(labels))
  return dict(most_frequent_masked_id=int(top_id),
              masked_lm_accuracy=hits / total,
              sentence_order_accuracy=float(majority),
              eval_masked=total, eval_examples=len(labels))


def main():
  """Prints the trivial baselines (see the module docstring) as JSON."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--train", required=True, help="training records glob")
  parser.add_argument("--eval", required=True, help="evaluation records glob")
  parser.add_argument("--sp_model_file", help="to name the predicted piece")
  args = parser.parse_args()
  result = compute(args.train, args.eval)
  if args.sp_model_file:
    from official_albert.data import tokenization  # pylint: disable=g-import-not-at-top
    tok = tokenization.AlbertTokenizer(args.sp_model_file)
    result["most_frequent_masked_piece"] = tok.convert_ids_to_tokens(
        [result["most_frequent_masked_id"]])[0]
  print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
  errors.run_cli(main)
