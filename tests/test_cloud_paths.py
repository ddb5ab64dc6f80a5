"""Outputs and inputs addressed by URL, with TensorFlow's in-memory `ram://`.

`ram://` stands in for `gs://`: both go through `tf.io.gfile` only, so a
path handled with `open`/`os` would land in a local directory named `ram:`
(the bug this guards against: `--output_dir gs://b/x` writing `./gs:/b/x`).
Every test runs in an empty working directory and checks that nothing
appeared there (the `ram` fixture of conftest.py).

Tests: `official_albert.io_utils`,
`official_albert.data.pretraining.create_pretraining_data`,
`official_albert.data.pretraining.train_vocab`,
`official_albert.data.finetuning.create_finetuning_data`.
"""

import json
import pathlib
import uuid

import numpy as np
import pytest
import tensorflow as tf
from official.nlp.tools import squad_evaluate_v1_1

import conftest
import train
from official_albert import errors
from official_albert import io_utils
from official_albert.configs import overrides
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.pretraining import create_pretraining_data
from official_albert.data.pretraining import train_vocab

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets" / "vocab" / "albert_demo_8k.model"
gfile = tf.io.gfile


def _read(path: str, mode: str = "r"):
  with gfile.GFile(path, mode) as f:
    return f.read()


def _write(path: str, data, mode: str = "w") -> None:
  with gfile.GFile(path, mode) as f:
    f.write(data)


def test_atomic_path_on_a_url(ram):
  target = f"{ram}/out/file.txt"
  with io_utils.atomic_path(target) as tmp:
    assert tmp.startswith(f"{ram}/out/.file.txt.")
    _write(tmp, "first")
  with io_utils.atomic_path(target) as tmp:
    _write(tmp, "second")  # Overwrites.
  assert _read(target) == "second"
  with pytest.raises(RuntimeError):
    with io_utils.atomic_path(target) as tmp:
      _write(tmp, "half")
      raise RuntimeError("fails mid-way")
  assert _read(target) == "second"
  assert gfile.listdir(f"{ram}/out") == ["file.txt"]
  with io_utils.atomic_path(f"{ram}/tree") as tmp:
    gfile.makedirs(f"{tmp}/sub")
    _write(f"{tmp}/a", "a")
    _write(f"{tmp}/sub/b", "b")
  assert (_read(f"{ram}/tree/a"), _read(f"{ram}/tree/sub/b")) == ("a", "b")
  assert gfile.listdir(ram) == ["out", "tree"]


def test_config_file_on_ram(ram):
  """--config_file gs://... is read as Model Garden users pass it."""
  _write(f"{ram}/exp.yaml", "trainer:\n  train_steps: 7\n"
         "  optimizer_config:\n    learning_rate:\n"
         "      polynomial: {initial_learning_rate: 5e-5}\n")
  params = overrides.parse_configuration(
      "albert/sentence_prediction", [f"{ram}/exp.yaml"], "")
  assert params.trainer.train_steps == 7
  polynomial = params.trainer.optimizer_config.learning_rate.polynomial
  assert polynomial.initial_learning_rate == 5e-5
  with pytest.raises(errors.UserError, match="not found"):
    overrides.parse_configuration("albert/sentence_prediction",
                                  [f"{ram}/missing.yaml"], "")


def test_vocab_and_pretraining_records_to_ram(ram):
  """Inputs read from ram://, vocabulary and records written there."""
  text = (REPO / "assets/corpus/heldout.txt").read_text(encoding="utf-8")
  seed = "\n\n".join(text.split("\n\n")[:30]) + "\n"
  _write(f"{ram}/seed.txt", seed)
  train_vocab.main(["--input", f"{ram}/seed.txt", "--model_prefix",
                    f"{ram}/vocab/spm", "--vocab_size", "400"])
  assert sorted(gfile.listdir(f"{ram}/vocab")) == ["spm.model", "spm.vocab"]
  _write(f"{ram}/demo.model", VOCAB.read_bytes(), "wb")
  args = create_pretraining_data.parse_args([
      "--input_file", f"{ram}/seed*.txt", "--output_dir", f"{ram}/records",
      "--sp_model_file", f"{ram}/demo.model", "--do_lower_case",
      "--max_seq_length", "64", "--max_predictions_per_seq", "8",
      "--dupe_factor", "1", "--num_shards", "2"])
  meta = create_pretraining_data.create_pretraining_data(args)
  names = sorted(gfile.listdir(f"{ram}/records"))
  assert names == ["metadata.json", "part-00000-of-00002.tfrecord",
                   "part-00001-of-00002.tfrecord"]
  assert json.loads(_read(f"{ram}/records/metadata.json")) == meta
  assert meta["sp_model_file"] == f"{ram}/demo.model"
  records = tf.data.TFRecordDataset(
      gfile.glob(f"{ram}/records/*.tfrecord"))
  assert sum(1 for _ in records) == meta["num_instances"] > 0


def _finetuning_data(ram, test_data):
  """SST-2 and SQuAD slices copied to ram:// and converted there."""
  for name, rows in conftest.SST2_HEAD_ROWS.items():
    _write(f"{ram}/sst2/{name}", conftest.sst2_head(name, rows))
  squad = json.loads((test_data / "squad_v1.1_head" /
                      "dev-v1.1-two-articles.json").read_text())
  for name, article in (("train", 0), ("eval", 1)):
    _write(f"{ram}/squad/{name}.json", json.dumps(
        dict(squad, data=[squad["data"][article]])))
  _write(f"{ram}/vocab.model", VOCAB.read_bytes(), "wb")
  create_finetuning_data.main([
      "--task", "sst-2", "--input_dir", f"{ram}/sst2", "--sp_model_file",
      f"{ram}/vocab.model", "--output_dir", f"{ram}/sst2_records",
      "--max_seq_length", "64"])
  create_finetuning_data.main([
      "--task", "squad", "--input_files", f"{ram}/squad/train.json",
      "--sp_model_file", f"{ram}/vocab.model", "--output_dir",
      f"{ram}/squad_records", "--max_seq_length", "128"])


def _config(tmp_dir: pathlib.Path, body: str) -> str:
  """A tiny model and a six-step schedule; the YAML itself is local."""
  path = tmp_dir / f"{uuid.uuid4().hex}.yaml"
  path.write_text(
      "task:\n  model:\n    encoder:\n      vocab_size: 8000\n"
      "      embedding_size: 16\n      hidden_size: 32\n"
      "      num_hidden_layers: 2\n      num_attention_heads: 2\n"
      "      intermediate_size: 64\n" + body +
      "trainer:\n  train_steps: 6\n  steps_per_loop: 6\n"
      "  summary_interval: 6\n  checkpoint_interval: 6\n"
      "  validation_interval: 6\n")
  return str(path)


@pytest.fixture
def config_dir(tmp_path_factory):
  return tmp_path_factory.mktemp("configs")


def test_sentence_prediction_model_dir_on_ram(ram, test_data, config_dir):
  _finetuning_data(ram, test_data)
  records = f"{ram}/sst2_records"
  assert sorted(gfile.listdir(records)) == [
      "dev.tfrecord", "metadata.json", "train.tfrecord"]
  config = _config(config_dir, (
      "  metric_type: accuracy\n"
      f"  train_data: {{input_path: '{records}/train.tfrecord', "
      "global_batch_size: 16, seq_length: 64}\n"
      f"  validation_data: {{input_path: '{records}/dev.tfrecord', "
      "global_batch_size: 32, seq_length: 64}\n"))
  model_dir = f"{ram}/sst2_model"
  logs = train.run("albert/sentence_prediction", "train_and_eval", model_dir,
                   [config], "")
  metrics = json.loads(_read(f"{model_dir}/metrics.json"))
  assert metrics["accuracy"] == pytest.approx(logs["accuracy"])
  rows = _read(f"{model_dir}/dev_predictions.tsv").splitlines()
  gold = [line.split("\t")[1] for line in conftest.sst2_head(
      "dev.tsv", conftest.SST2_HEAD_ROWS["dev.tsv"]).splitlines()[1:]]
  preds = [row.split("\t")[1] for row in rows[1:]]
  assert len(preds) == 128
  assert metrics["accuracy"] == pytest.approx(
      np.mean([p == g for p, g in zip(preds, gold)]))
  names = set(gfile.listdir(model_dir))
  assert {"params.yaml", "checkpoint", "metrics.json"} <= names
  assert tf.train.latest_checkpoint(model_dir).endswith("ckpt-6")


def test_squad_model_dir_on_ram(ram, test_data, config_dir):
  _finetuning_data(ram, test_data)
  config = _config(config_dir, (
      f"  train_data: {{input_path: '{ram}/squad_records/train.tfrecord', "
      "global_batch_size: 8, seq_length: 128}\n"
      f"  validation_data: {{input_path: '{ram}/squad/eval.json', "
      f"vocab_file: '{ram}/vocab.model', global_batch_size: 8, "
      "seq_length: 128}\n"))
  model_dir = f"{ram}/squad_model"
  train.run("albert/squad", "train_and_eval", model_dir, [config], "")
  metrics = json.loads(_read(f"{model_dir}/metrics.json"))
  predictions = json.loads(_read(f"{model_dir}/predictions.json"))
  nbest = json.loads(_read(f"{model_dir}/nbest_predictions.json"))
  dataset = json.loads(_read(f"{ram}/squad/eval.json"))["data"]
  assert set(predictions) == set(nbest) == {
      qa["id"] for p in dataset[0]["paragraphs"] for qa in p["qas"]}
  official = squad_evaluate_v1_1.evaluate(dataset, predictions)
  assert metrics["f1"] == pytest.approx(100 * official["final_f1"])
  assert gfile.exists(f"{model_dir}/eval.tf_record")
