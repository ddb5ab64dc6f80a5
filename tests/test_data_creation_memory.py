"""create_pretraining_data's bucketed shard shuffle (bounded memory).

A shard larger than SHUFFLE_BUCKET_BYTES is shuffled in buckets; the
threshold is lowered here so that 4 WikiText-2/Emma documents
(assets/corpus/train.txt) need several buckets. Oracle: the whole-shard
shuffle of the same records (same multiset, same metadata) and the tool
itself with another worker count (same bytes).

Tests: `official_albert.data.pretraining.create_pretraining_data`.
"""

import collections
import json
import os

import tensorflow as tf

from official_albert.data.pretraining import create_pretraining_data as cpd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, "assets", "vocab", "albert_demo_8k.model")


def run(tmp_path, name, workers):
  with open(os.path.join(REPO, "assets", "corpus", "train.txt"),
            encoding="utf-8") as f:
    docs = f.read(300_000).split("\n\n")[:4]
  seed = tmp_path / "seed.txt"
  seed.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
  out = tmp_path / name
  cpd.create_pretraining_data(cpd.parse_args([
      "--input_file", str(seed), "--output_dir", str(out),
      "--sp_model_file", MODEL, "--do_lower_case", "--max_seq_length", "64",
      "--max_predictions_per_seq", "10", "--dupe_factor", "2",
      "--num_shards", "2", "--num_workers", str(workers)]))
  return out


def shards(out):
  meta = json.loads((out / "metadata.json").read_text())
  return meta, [list(tf.data.TFRecordDataset(str(out / n)).as_numpy_iterator())
                for n in meta["files"]]


def test_bucketed_shuffle_is_a_permutation_and_worker_independent(
    tmp_path, monkeypatch):
  whole_meta, whole = shards(run(tmp_path, "whole", 1))
  monkeypatch.setattr(cpd, "SHUFFLE_BUCKET_BYTES", 20_000)
  assert sum(map(len, whole[0])) > 3 * cpd.SHUFFLE_BUCKET_BYTES
  meta, bucketed = shards(run(tmp_path, "bucketed", 1))
  for a, b in zip(whole, bucketed):
    assert collections.Counter(a) == collections.Counter(b) and a != b
  for key in ("num_instances", "num_tokens", "inputs"):
    assert meta[key] == whole_meta[key]
  out2 = run(tmp_path, "bucketed2", 2)
  for name in meta["files"]:
    assert (out2 / name).read_bytes() == (tmp_path / "bucketed" / name
                                          ).read_bytes()
  assert not [p for p in os.listdir(out2) if p.startswith(".")]
