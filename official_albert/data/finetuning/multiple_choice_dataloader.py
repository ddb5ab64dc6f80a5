"""Input pipeline for multiple-choice records, padded per batch.

Records from `create_finetuning_data --task race` hold each question's
options padded to the longest of them and flattened. This loader restores
the `[num_options, length]` shape and batches like `FinetuneDataLoader`:
padded to the batch's longest option, questions of similar length bucketed
together for training, or padded to `seq_length` with `dynamic_padding:
false` (static shapes for XLA and TPUs).
"""

from typing import Dict

import tensorflow as tf

from official_albert.data.finetuning import finetune_dataloader

_SEQUENCES = ("input_ids", "input_mask", "segment_ids")


class MultipleChoiceDataLoader(finetune_dataloader.FinetuneDataLoader):
  """Loads multiple-choice batches.

  Each batch is a dict of int32 `input_word_ids`, `input_mask`,
  `input_type_ids` `[batch, num_options, length]`, `label_ids` `[batch]`
  (the right option's index), `example_id` `[batch]` and `level` `[batch]`
  (RACE: 0 middle, 1 high; -1 otherwise).

  Args:
    params: a `FinetuneDataConfig`.
    num_options: options per question (4 for RACE); the records' count.
  """

  def __init__(self, params: finetune_dataloader.FinetuneDataConfig,
               num_options: int):
    super().__init__(params)
    self._num_options = num_options

  def name_to_features_spec(self) -> Dict[str, tf.io.FixedLenFeature]:
    spec = super().name_to_features_spec()
    spec["level"] = tf.io.FixedLenFeature([], tf.int64)
    return spec

  def _decode(self, record: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Parses one record into `[num_options, length]` sequences."""
    example = super()._decode(record)
    for name in _SEQUENCES:
      example[name] = tf.reshape(example[name], [self._num_options, -1])
    return example
