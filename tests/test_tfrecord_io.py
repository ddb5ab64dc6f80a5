"""tfrecord_io against TensorFlow: the same bytes for examples and files.

Oracle: `tf.train.Example.SerializeToString(deterministic=True)` and
`tf.io.TFRecordWriter` / `tf.data.TFRecordDataset`, on instances that
create_pretraining_data builds from real text (assets/corpus/heldout.txt,
WikiText-2 test).

Tests: `official_albert.data.pretraining.tfrecord_io`.
"""

import random

import tensorflow as tf

import conftest
from official_albert.data.pretraining import tfrecord_io


def tf_example(features, floats):
  feature = {}
  for name, values in features.items():
    if name in floats:
      feature[name] = tf.train.Feature(
          float_list=tf.train.FloatList(value=values))
    else:
      feature[name] = tf.train.Feature(
          int64_list=tf.train.Int64List(value=values))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def test_examples_and_files_match_tensorflow(tmp_path):
  out = conftest.make_pretraining_records(tmp_path, 4, 64, 10)
  raw = list(tf.data.TFRecordDataset(str(out / "part-00000-of-00001.tfrecord"))
             .as_numpy_iterator())
  assert len(raw) > 20
  encoder = tfrecord_io.ExampleEncoder(max_int=300)  # ids above: slow path
  for record in raw:
    parsed = tf.train.Example.FromString(record).features.feature
    features = {k: list(v.int64_list.value) or list(v.float_list.value)
                for k, v in parsed.items()}
    floats = [k for k, v in parsed.items() if v.float_list.value]
    assert encoder.encode(features, floats) == record
  rng = random.Random(0)
  odd = {"empty": [], "big": [2**40, 0, 127, 128, 16383, 16384],
         "w": [rng.uniform(-3, 3) for _ in range(5)], "one": [1]}
  expected = tf_example(odd, ["w"]).SerializeToString(deterministic=True)
  assert encoder.encode(odd, ["w"]) == expected

  with tf.io.TFRecordWriter(str(tmp_path / "tf.tfrecord")) as writer:
    for record in raw:
      writer.write(record)
  with open(tmp_path / "ours.tfrecord", "wb") as f:
    for record in raw:
      tfrecord_io.write_record(f, record)
  assert ((tmp_path / "ours.tfrecord").read_bytes()
          == (tmp_path / "tf.tfrecord").read_bytes())
  with open(tmp_path / "tf.tfrecord", "rb") as f:
    assert list(tfrecord_io.read_records(f)) == raw
