"""The training input pipeline mixes shards like the original.

Tests: `official_albert.data.pretraining.pretrain_dataloader`.
"""

import collections

import pytest

import conftest
import tensorflow as tf

from official_albert.data.pretraining import pretrain_dataloader

SEQ, PRED, SHARDS, BATCH = 64, 10, 4, 16


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
  """(config, {input_ids tuple: shard index}) for 4 shards of real records."""
  out = conftest.make_pretraining_records(
      tmp_path_factory.mktemp("shards"), 20, SEQ, PRED, num_shards=SHARDS)
  files = sorted(tf.io.gfile.glob(str(out / "*.tfrecord")))
  owner = {}
  for i, path in enumerate(files):
    for record in tf.data.TFRecordDataset(path):
      example = tf.train.Example.FromString(record.numpy())
      ids = tuple(example.features.feature["input_ids"].int64_list.value)
      assert ids not in owner  # Records are told apart by their tokens.
      owner[ids] = i
  assert len(files) == SHARDS and len(set(owner.values())) == SHARDS
  config = pretrain_dataloader.AlbertPretrainDataConfig(
      input_path=str(out / "*.tfrecord"), global_batch_size=BATCH,
      seq_length=SEQ, max_predictions_per_seq=PRED, is_training=True)
  return config, owner


def _records(config, count):
  dataset = pretrain_dataloader.AlbertPretrainDataLoader(config).load()
  ids = []
  for batch in dataset.take(-(-count // BATCH)):
    ids.extend(map(tuple, batch["input_word_ids"].numpy().tolist()))
  return ids[:count]


def test_batches_draw_from_several_shards(shards):
  config, owner = shards
  ids = _records(config, 20 * BATCH)
  per_batch = [len({owner[x] for x in ids[i:i + BATCH]})
               for i in range(0, len(ids), BATCH)]
  # Reading one shard after another gave 1 shard per batch.
  assert min(per_batch) >= 3, per_batch
  # The first batches already come from every shard.
  assert len({owner[x] for x in ids[:2 * BATCH]}) == SHARDS


def test_every_record_once_per_epoch(shards):
  config, owner = shards
  n = len(owner)
  # Without the shuffle buffer, the interleaved files give each record
  # exactly once per epoch.
  ids = _records(config.replace(shuffle_buffer_size=1), 2 * n)
  assert collections.Counter(ids[:n]) == collections.Counter(set(owner))
  assert collections.Counter(ids[n:]) == collections.Counter(set(owner))
  # The shuffle buffer only delays records: over three epochs each record is
  # seen three times, give or take one at the epochs' edges.
  counts = collections.Counter(_records(config, 3 * n))
  assert set(counts) == set(owner)
  assert set(counts.values()) <= {2, 3, 4}
  assert sum(c == 3 for c in counts.values()) > 0.9 * n
