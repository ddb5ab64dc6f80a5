"""Input pipeline for ALBERT pretraining records.

Reads the original ALBERT TFRecord layout (`input_ids`, `input_mask`,
`segment_ids`, `masked_lm_positions`, `masked_lm_ids`, `masked_lm_weights`,
`next_sentence_labels`), whether written by our `create_pretraining_data` or by
the original script; extra features such as `token_boundary` are ignored.
Model Garden's `InputReader` (through `BertPretrainDataLoader`) shards files
across workers, interleaves, shuffles, batches and prefetches; this module
renames the SOP label, checks the records against the config first, and for
training reads all of a worker's files at once (see `AlbertPretrainDataLoader`).
"""

import dataclasses
import json
import os
from typing import Dict, List

import tensorflow as tf
from official.nlp.data import data_loader_factory
from official.nlp.data import pretrain_dataloader as mg_pretrain

from official_albert import errors

# Training reads at most this many files at once (one open reader each).
MAX_CYCLE_LENGTH = 64


@dataclasses.dataclass
class AlbertPretrainDataConfig(mg_pretrain.BertPretrainDataConfig):
  """Pretraining records: the original ALBERT TFRecord layout.

  `input_path` is a file pattern (or comma-separated patterns) of TFRecords
  written by `official_albert.data.pretraining.create_pretraining_data` or by
  the original ALBERT script; `seq_length` and `max_predictions_per_seq` must match them.
  """
  global_batch_size: int = 4096
  seq_length: int = 512
  max_predictions_per_seq: int = 20


def input_files(pattern: str, key: str = "input_path") -> List[str]:
  """Expands a comma-separated list of file patterns.

  Args:
    pattern: the patterns.
    key: the config key they come from, for messages.

  Raises:
    UserError: if no file matches or every matching file is empty.
  """
  files = sorted({f for p in pattern.split(",") if p.strip()
                  for f in tf.io.gfile.glob(p.strip())})
  if not files:
    errors.fail(f"no input file matches {key}={pattern!r}; create records "
                "with `python -m "
                "official_albert.data.pretraining.create_pretraining_data`"
                " or fix the path")
  if all(tf.io.gfile.stat(f).length == 0 for f in files):
    errors.fail(f"every file matching {pattern!r} is empty; re-create the "
                "records")
  return files


def check_records(params: AlbertPretrainDataConfig,
                  vocab_size: int, key: str) -> None:
  """Checks that the records fit the config, before any training work.

  Reads the first record of the first file (and `metadata.json` beside the
  files when present) and compares the sequence length, the number of
  predictions and the vocabulary size.

  Args:
    params: the data config.
    vocab_size: the encoder's `vocab_size`.
    key: the config key of `params`, e.g. "task.train_data", for messages.

  Raises:
    UserError: on missing or empty files, or a mismatch.
  """
  files = input_files(params.input_path, f"{key}.input_path")
  try:
    first = next(iter(tf.data.TFRecordDataset(files[0]).take(1)))
  except StopIteration:
    errors.fail(f"{files[0]} holds no record; re-create the records")
  except tf.errors.DataLossError:
    errors.fail(f"{files[0]} is not a TFRecord file; point input_path at the "
                "records")
  features = tf.train.Example.FromString(first.numpy()).features.feature
  for name, want, field in (
      ("input_ids", params.seq_length, "seq_length"),
      ("masked_lm_positions", params.max_predictions_per_seq,
       "max_predictions_per_seq")):
    if name not in features:
      errors.fail(f"{files[0]} has no feature {name!r}; it is not an ALBERT "
                  "pretraining record")
    got = len(features[name].int64_list.value)
    if got != want:
      errors.fail(f"records in {files[0]} have {name} of length {got} but "
                  f"{key}.{field}={want}; set {key}.{field}={got} or "
                  "re-create the records")
  meta_path = os.path.join(os.path.dirname(files[0]), "metadata.json")
  if tf.io.gfile.exists(meta_path):
    with tf.io.gfile.GFile(meta_path) as f:
      meta_vocab = json.load(f).get("vocab_size")
    if meta_vocab is not None and meta_vocab != vocab_size:
      errors.fail(f"records in {os.path.dirname(files[0])} were made with a "
                  f"{meta_vocab}-piece vocabulary but the encoder has "
                  f"vocab_size={vocab_size}; set "
                  f"task.model.encoder.vocab_size={meta_vocab}")


@data_loader_factory.register_data_loader_cls(
    AlbertPretrainDataConfig)
class AlbertPretrainDataLoader(mg_pretrain.BertPretrainDataLoader):
  """Loads ALBERT pretraining batches.

  Each batch is a dict of int32 tensors `input_word_ids`, `input_mask`,
  `input_type_ids` `[batch, seq_length]`, `masked_lm_positions`,
  `masked_lm_ids` `[batch, max_predictions_per_seq]`, `sentence_order_label`
  `[batch, 1]` (1 = segments swapped), and float32 `masked_lm_weights`
  `[batch, max_predictions_per_seq]`.

  Training interleaves the files record by record: when `cycle_length` is
  unset it becomes the number of matched files (at most MAX_CYCLE_LENGTH)
  with `block_length` 1, and the `shuffle_buffer_size` shuffle then mixes
  the shards, as the original `run_pretraining.py` does (parallel interleave
  over the input files, then a shuffle). Model Garden's default (an
  autotuned cycle with non-deterministic parallel reads) let one file fill
  every batch and read the shards one after another. Per-worker sharding of
  the files stays Model Garden's.
  """

  def __init__(self, params: AlbertPretrainDataConfig):
    if params.is_training and params.cycle_length is None:
      files = input_files(params.input_path)
      params = params.replace(
          cycle_length=min(len(files), MAX_CYCLE_LENGTH), block_length=1)
    super().__init__(params)

  def _parse(self, record: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    x = super()._parse(record)
    x["sentence_order_label"] = x.pop("next_sentence_labels")
    return x
