"""Input pipeline for token-classification records, padded per batch.

Records from `create_finetuning_data --task conll` are unpadded, with label
-1 on the pieces the loss ignores. Batching pads with 0, so labels are
shifted by one before batching and back after it: padding ends up -1 too,
and is ignored like the other non-first pieces. Batching (per-batch padding,
length buckets, or fixed `seq_length`) is `FinetuneDataLoader`'s.
"""

from typing import Dict, Tuple

import tensorflow as tf

from official_albert.data.finetuning import finetune_dataloader

_SEQUENCES = ("input_ids", "input_mask", "segment_ids", "label_ids")


class TaggingDataLoader(finetune_dataloader.FinetuneDataLoader):
  """Loads token-classification batches as `(features, labels)`.

  Features: int32 `input_word_ids`, `input_mask`, `input_type_ids`
  `[batch, length]`, `sentence_id` and `example_id` `[batch]`. Labels:
  int32 `[batch, length]`, the tag id on each word's first piece and -1
  elsewhere (other pieces, `[CLS]`, `[SEP]`, padding).
  """

  def name_to_features_spec(self) -> Dict[str, tf.io.FixedLenFeature]:
    spec = {k: tf.io.VarLenFeature(tf.int64) for k in _SEQUENCES}
    spec.update({k: tf.io.FixedLenFeature([], tf.int64)
                 for k in ("sentence_id", "example_id")})
    return spec

  def _decode(self, record: tf.Tensor) -> Dict[str, tf.Tensor]:
    example = super()._decode(record)
    example["label_ids"] = tf.sparse.to_dense(example["label_ids"]) + 1
    return example

  def _parse(self, record):
    x = super()._parse(record)
    return x, x.pop("label_ids")

  def _postprocess(self, features: Dict[str, tf.Tensor],
                   labels: tf.Tensor) -> Tuple[Dict[str, tf.Tensor],
                                               tf.Tensor]:
    return features, labels - 1
