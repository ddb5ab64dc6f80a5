"""Input pipelines for fine-tuning records, padded per batch.

Records from `create_finetuning_data` (and the SQuAD task's evaluation
records) are stored unpadded. Instead of always padding to `seq_length`,
a batch is padded to its own longest sequence (`dynamic_padding`), and for
training, sequences of similar length are batched together
(`length_bucketing`, tf.data's `bucket_by_sequence_length`), so that a batch
of 20-piece SST-2 sentences costs 20 positions, not 512. Evaluation keeps
file order and batches without bucketing. Fixed padding (`dynamic_padding:
false`) is still available. XLA and TPUs compile one program per input
shape, so there training pads to the bucket boundaries
(`pad_to_bucket_boundary`): at most `ceil(seq_length / bucket_width)` shapes
(`official_albert.configs.accelerators` turns it on).
Reading, sharding, shuffling and prefetching are Model Garden's
`InputReader`, through its `SentencePredictionDataLoader`.
"""

import dataclasses
from typing import Dict, List, Optional

import tensorflow as tf
from official.core import input_reader
from official.common import dataset_fn
from official.nlp.data import sentence_prediction_dataloader as mg_loader

_SEQUENCE_FEATURES = ("input_ids", "input_mask", "segment_ids")


@dataclasses.dataclass
class FinetuneDataConfig(mg_loader.SentencePredictionDataConfig):
  """Fine-tuning records and how to batch them.

  Attributes (besides Model Garden's):
    seq_length: the longest sequence in the records; the padded length when
      `dynamic_padding` is off.
    dynamic_padding: pad each batch to its longest sequence.
    length_bucketing: when training with `dynamic_padding`, batch sequences
      from the same length bucket.
    bucket_width: width of the length buckets, in pieces.
    pad_to_bucket_boundary: with `length_bucketing`, pad each batch to its
      bucket's upper length (bucket_width, 2 * bucket_width, ...,
      seq_length) rather than to its longest sequence, so that batches take
      few distinct shapes.
    shuffle_buffer_size: 20,000 records, not Model Garden's 100: a
      fine-tuning file is often ordered (STS-B's by genre, SQuAD's by
      article), and a 100-record buffer then feeds batches of one genre in
      file order. With 100, our STS-B runs predicted nearly the mean (dev
      Pearson 0.12-0.14, prediction std as low as 0.001) where HuggingFace's
      fully shuffled loop on the same records and weights reached 0.16-0.17;
      with 20,000 (the whole file) ours matched it (0.168, std 0.72;
      `benchmarks/finetune_oracle.py`, docs/results.md). 20,000 records at
      sequence 128 hold about 30 MB; larger tasks (SST-2, MNLI, QQP) come
      shuffled.
  """
  seq_length: int = 512
  shuffle_buffer_size: int = 20000
  include_example_id: bool = True
  dynamic_padding: bool = True
  length_bucketing: bool = True
  bucket_width: int = 32
  pad_to_bucket_boundary: bool = False


def bucket_boundaries(seq_length: int, width: int,
                      padded: bool = False) -> List[int]:
  """Upper bounds (exclusive) of the length buckets.

  Args:
    seq_length: the longest sequence.
    width: the bucket width.
    padded: buckets for `pad_to_bucket_boundary`, which pads a bucket to its
      bound minus one and needs every length below the last bound.

  Returns:
    width, 2 * width, ... (up to seq_length); when `padded`, width + 1,
    2 * width + 1, ..., seq_length + 1, so that batches are padded to width,
    2 * width, ..., seq_length.
  """
  if padded:
    return [b + 1 for b in range(width, seq_length, width)] + [seq_length + 1]
  return list(range(width, seq_length + 1, width)) or [seq_length]


class FinetuneDataLoader(mg_loader.SentencePredictionDataLoader):
  """Loads sentence-prediction batches from unpadded (or padded) records.

  Each batch is a dict of int32 `input_word_ids`, `input_mask`,
  `input_type_ids` `[batch, length]` (length = the batch's longest sequence,
  or `seq_length` with fixed padding), `label_ids` `[batch]` (int32, or
  float32 for `label_type: float`) and int32 `example_id` `[batch]`.
  """

  # A map over batches (e.g. undoing a shift that made padding neutral).
  _postprocess = None

  def name_to_features_spec(self) -> Dict[str, tf.io.VarLenFeature]:
    """Model Garden's features, with the sequences of any length."""
    spec = super().name_to_features_spec()
    spec.update({k: tf.io.VarLenFeature(tf.int64) for k in _SEQUENCE_FEATURES})
    return spec

  def _decode(self, record: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Parses one record; int64 becomes int32, sequences become dense."""
    example = super()._decode(record)
    for name in _SEQUENCE_FEATURES:
      example[name] = tf.sparse.to_dense(example[name])
    return example

  def _batch(self, dataset: tf.data.Dataset,
             input_context: Optional[tf.distribute.InputContext]
             ) -> tf.data.Dataset:
    """Pads and batches: fixed, per batch, or per batch within buckets."""
    params = self._params
    batch_size = (input_context.get_per_replica_batch_size(
        params.global_batch_size) if input_context
                  else params.global_batch_size)
    if not params.dynamic_padding:
      # The last axis of a sequence is the token axis ([options, length]
      # for multiple choice).
      shapes = tf.nest.map_structure(
          lambda t: t.shape[:-1] + [params.seq_length] if t.shape.rank
          else [], dataset.element_spec)
      return dataset.padded_batch(batch_size, shapes,
                                  drop_remainder=params.drop_remainder)
    if params.is_training and params.length_bucketing:
      padded = params.pad_to_bucket_boundary
      boundaries = bucket_boundaries(params.seq_length, params.bucket_width,
                                     padded)
      return dataset.bucket_by_sequence_length(
          # Elements are a dict, or a (features, labels) tuple.
          lambda *element: tf.shape(element[0]["input_word_ids"])[-1],
          boundaries, [batch_size] * (len(boundaries) + 1),
          pad_to_bucket_boundary=padded,
          drop_remainder=params.drop_remainder)
    return dataset.padded_batch(batch_size,
                                drop_remainder=params.drop_remainder)

  def load(self, input_context: Optional[tf.distribute.InputContext] = None
           ) -> tf.data.Dataset:
    """Returns the batched `tf.data.Dataset` (repeated when training)."""
    reader = input_reader.InputReader(
        dataset_fn=dataset_fn.pick_dataset_fn(self._params.file_type),
        params=self._params, decoder_fn=self._decode, parser_fn=self._parse,
        transform_and_batch_fn=self._batch, postprocess_fn=self._postprocess)
    return reader.read(input_context)


@dataclasses.dataclass
class SquadDataConfig(FinetuneDataConfig):
  """SQuAD data: training records, or the evaluation JSON.

  For training, `input_path` holds records from `create_finetuning_data
  --task squad`. For evaluation it is the SQuAD JSON itself (e.g.
  dev-v1.1.json): the task tokenizes it with `vocab_file` (the SentencePiece
  model) and writes evaluation records to `input_preprocessed_data_path` (or
  the model directory).
  """
  seq_length: int = 384
  global_batch_size: int = 48
  include_example_id: bool = False
  version_2_with_negative: bool = False
  doc_stride: int = 128
  query_length: int = 64
  vocab_file: str = ""
  do_lower_case: bool = True
  input_preprocessed_data_path: str = ""
  # Read by Model Garden's QuestionAnsweringTask; only SentencePiece is used.
  tokenization: str = "SentencePiece"
  xlnet_format: bool = False


class SquadDataLoader(FinetuneDataLoader):
  """Loads SQuAD batches as `(features, labels)`.

  Features: int32 `input_word_ids`, `input_mask`, `input_type_ids`
  `[batch, length]`, and for evaluation int32 `unique_ids` `[batch]`.
  Labels (training): int32 `start_positions`, `end_positions`,
  `is_impossible` `[batch]` (token indices; 0 = [CLS]); empty for evaluation.
  """

  _LABELS = ("start_positions", "end_positions", "is_impossible")

  def name_to_features_spec(self) -> Dict[str, tf.io.FixedLenFeature]:
    """Sequences, plus the labels (training) or `unique_ids` (evaluation)."""
    scalars = self._LABELS if self._params.is_training else ("unique_ids",)
    spec = {k: tf.io.VarLenFeature(tf.int64) for k in _SEQUENCE_FEATURES}
    spec.update({k: tf.io.FixedLenFeature([], tf.int64) for k in scalars})
    return spec

  def _parse(self, record):
    """Splits a record into (features, labels)."""
    x = super()._parse(record)
    return x, {k: x.pop(k) for k in self._LABELS if k in x}
