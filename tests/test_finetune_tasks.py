"""Fine-tuning end to end: train.py on slices of real GLUE and SQuAD files.

A tiny ALBERT (H=32, 2 layers) trains a few steps; the checks are on what
users get: the metrics (against Model Garden's streaming accuracy, numpy
correlations and the official SQuAD script on the written predictions), the
prediction files, the padding of batches, the checkpoint restore, the bad-
input errors and the recipes.

Tests: `official_albert.tasks.sentence_prediction`,
`official_albert.tasks.squad`,
`official_albert.data.finetuning.finetune_dataloader`.
"""

import json
import pathlib

import conftest
import numpy as np
import pytest
from sklearn import metrics as sklearn_metrics
import tensorflow as tf
from official.nlp.tools import squad_evaluate_v1_1

import train
from official_albert.configs import encoders
from official_albert.configs import finetuning
from official_albert.configs import overrides
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.finetuning import finetune_dataloader
from official_albert.data import tokenization
from official_albert.errors import UserError
from official_albert.modeling import albert
from official_albert.tasks import sentence_prediction
from official_albert.tasks import squad
from test_finetune_data import finetune_sp_model  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sp_model(test_data, tmp_path_factory):
  return finetune_sp_model(test_data, tmp_path_factory)


@pytest.fixture(scope="module")
def tiny_yaml(sp_model, tmp_path_factory):
  vocab = tokenization.AlbertTokenizer(sp_model).vocab_size
  path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
  path.write_text(
      "task:\n  model:\n    encoder:\n"
      f"      vocab_size: {vocab}\n      embedding_size: 16\n"
      "      hidden_size: 32\n      num_hidden_layers: 2\n"
      "      num_attention_heads: 2\n      intermediate_size: 64\n")
  return str(path)


def _slice_tsv(src, dst, rows, header=True):
  lines = src.read_text(encoding="utf-8-sig").splitlines()
  head = lines[:1] if header else []
  body = lines[len(head):]
  dst.write_text("\n".join(head + body[:rows]) + "\n", encoding="utf-8")


def _records(tmp_path, test_data, sp_model, task, directory, train_rows,
             dev_rows):
  src = tmp_path / "src"
  src.mkdir()
  for name, rows in (("train.tsv", train_rows), ("dev.tsv", dev_rows)):
    _slice_tsv(test_data / "glue" / directory / name, src / name, rows,
               header=task != "cola")
  out = tmp_path / "records"
  create_finetuning_data.main(["--task", task, "--input_dir", str(src),
                               "--sp_model_file", sp_model, "--output_dir",
                               str(out), "--max_seq_length", "128"])
  return src, out


def _trainer_yaml(tmp_path, body):
  path = tmp_path / "run.yaml"
  path.write_text(body + "trainer:\n  train_steps: 6\n  steps_per_loop: 6\n"
                  "  summary_interval: 6\n  checkpoint_interval: 6\n"
                  "  validation_interval: 6\n")
  return str(path)


def test_sst2_train_and_eval(tmp_path, test_data, sp_model, tiny_yaml):
  src, records = _records(tmp_path, test_data, sp_model, "sst-2", "SST-2",
                          400, 200)
  run_yaml = _trainer_yaml(tmp_path, (
      "task:\n  metric_type: accuracy\n  model: {num_classes: 2}\n"
      f"  train_data: {{input_path: {records}/train.tfrecord, "
      "global_batch_size: 16, seq_length: 128}\n"
      f"  validation_data: {{input_path: {records}/dev.tfrecord, "
      "global_batch_size: 32, seq_length: 128}\n"))
  model_dir = tmp_path / "model"
  logs = train.run("albert/sentence_prediction", "train_and_eval",
                   str(model_dir), [tiny_yaml, run_yaml], "")
  metrics = json.loads((model_dir / "metrics.json").read_text())
  # Model Garden's streaming accuracy is the independent count.
  assert metrics["accuracy"] == pytest.approx(metrics["cls_accuracy"],
                                              abs=1e-6)
  assert logs["accuracy"] == pytest.approx(metrics["accuracy"])
  rows = (model_dir / "dev_predictions.tsv").read_text().splitlines()
  assert rows[0] == "index\tprediction"
  gold = [line.split("\t")[1] for line in
          (src / "dev.tsv").read_text().splitlines()[1:]]
  preds = [row.split("\t") for row in rows[1:]]
  assert [int(i) for i, _ in preds] == list(range(200))
  assert metrics["accuracy"] == pytest.approx(
      np.mean([p == g for (_, p), g in zip(preds, gold)]))


def test_stsb_regression(tmp_path, test_data, sp_model, tiny_yaml):
  src, records = _records(tmp_path, test_data, sp_model, "sts-b", "STS-B",
                          300, 150)
  run_yaml = _trainer_yaml(tmp_path, (
      "task:\n  metric_type: pearson_spearman_corr\n"
      "  model: {num_classes: 1}\n"
      f"  train_data: {{input_path: {records}/train.tfrecord, "
      "global_batch_size: 16, seq_length: 128, label_type: float}\n"
      f"  validation_data: {{input_path: {records}/dev.tfrecord, "
      "global_batch_size: 32, seq_length: 128, label_type: float}\n"))
  model_dir = tmp_path / "model"
  train.run("albert/sentence_prediction", "train_and_eval", str(model_dir),
            [tiny_yaml, run_yaml], "")
  metrics = json.loads((model_dir / "metrics.json").read_text())
  rows = (model_dir / "dev_predictions.tsv").read_text().splitlines()[1:]
  preds = [float(row.split("\t")[1]) for row in rows]
  gold = [float(line.split("\t")[-1]) for line in
          (src / "dev.tsv").read_text().splitlines()[1:]]
  assert len(preds) == 150
  # Predictions are written exactly (9 significant digits of float32): a
  # briefly trained model's scores can differ only in the 5th digit, and
  # 6 digits once moved Pearson by 2e-4.
  assert metrics["pearson"] == pytest.approx(np.corrcoef(preds, gold)[0, 1],
                                             abs=1e-6)
  assert {"spearman", "pearson_spearman_corr"} <= set(metrics)
  # Model Garden's streaming MSE was never updated (0.0); the oracle is
  # scikit-learn on the written predictions (uneven last batch: 150 = 4x32+22).
  assert metrics["mean_squared_error"] == pytest.approx(
      sklearn_metrics.mean_squared_error(gold, preds), rel=1e-4)


def test_num_classes_mismatch_fails_before_training(tmp_path, test_data,
                                                   sp_model, tiny_yaml):
  _, records = _records(tmp_path, test_data, sp_model, "rte", "RTE", 50, 20)
  run_yaml = _trainer_yaml(tmp_path, (
      "task:\n  model: {num_classes: 3}\n"
      f"  train_data: {{input_path: {records}/train.tfrecord}}\n"
      f"  validation_data: {{input_path: {records}/dev.tfrecord}}\n"))
  with pytest.raises(UserError, match=(
      r"have 2 classes .*num_classes=3; set task.model.num_classes=2")):
    train.run("albert/sentence_prediction", "train_and_eval",
              str(tmp_path / "model"), [tiny_yaml, run_yaml], "")
  assert not (tmp_path / "model" / "checkpoint").exists()


def test_init_checkpoint_restores_the_encoder(tmp_path, tiny_yaml):
  params = overrides.parse_configuration("albert/sentence_prediction",
                                         [tiny_yaml], "")
  pretrainer = albert.AlbertPretrainer(
      encoders.build_encoder(params.task.model.encoder))
  pretrainer(albert.dummy_inputs(max_predictions_per_seq=2))
  # A trainer checkpoint: its root holds `model`, as Model Garden writes it.
  prefix = tf.train.Checkpoint(model=pretrainer).save(str(tmp_path / "ckpt"))
  task = sentence_prediction.SentencePredictionTask(params.task)
  model = task.build_model()
  model(albert.dummy_inputs())
  task.task_config.init_checkpoint = prefix
  task.initialize(model)
  for ours, theirs in zip(model.encoder.weights, pretrainer.encoder.weights):
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
  other = tf.train.Checkpoint(head=tf.Variable(1.0)).save(
      str(tmp_path / "other"))
  task.task_config.init_checkpoint = other
  with pytest.raises(UserError, match="holds none of"):
    task.initialize(model)


def _squad_files(test_data, tmp_path, version):
  data = json.loads((test_data / f"squad/dev-v{version}.json").read_text())
  train_part = {"version": data["version"], "data": data["data"][:1]}
  held_out = dict(data["data"][-1],
                  paragraphs=data["data"][-1]["paragraphs"][:3])
  eval_part = {"version": data["version"], "data": [held_out]}
  (tmp_path / "train.json").write_text(json.dumps(train_part))
  (tmp_path / "eval.json").write_text(json.dumps(eval_part))
  return tmp_path / "train.json", tmp_path / "eval.json", held_out


@pytest.mark.parametrize("version", ["1.1", "2.0"])
def test_squad_train_and_eval(tmp_path, test_data, sp_model, tiny_yaml,
                              version):
  train_json, eval_json, held_out = _squad_files(test_data, tmp_path,
                                                 version)
  v2 = version == "2.0"
  create_finetuning_data.main(
      ["--task", "squad", "--input_files", str(train_json), "--sp_model_file",
       sp_model, "--output_dir", str(tmp_path / "records"),
       "--max_seq_length", "192"] + (["--version_2_with_negative"] if v2
                                     else []))
  run_yaml = _trainer_yaml(tmp_path, (
      f"task:\n  train_data: {{input_path: {tmp_path}/records/train.tfrecord,"
      " global_batch_size: 16, seq_length: 192}\n"
      f"  validation_data: {{input_path: {eval_json}, vocab_file: {sp_model},"
      f" global_batch_size: 32, seq_length: 192, version_2_with_negative: "
      f"{str(v2).lower()}}}\n"))
  model_dir = tmp_path / "model"
  train.run("albert/squad", "train_and_eval", str(model_dir),
            [tiny_yaml, run_yaml], "")
  metrics = json.loads((model_dir / "metrics.json").read_text())
  predictions = json.loads((model_dir / "predictions.json").read_text())
  nbest = json.loads((model_dir / "nbest_predictions.json").read_text())
  contexts = {qa["id"]: p["context"] for p in held_out["paragraphs"]
              for qa in p["qas"]}
  assert set(predictions) == set(contexts) == set(nbest)
  for qid, text in predictions.items():
    assert text in contexts[qid]  # Exact original text, never re-joined.
  if not v2:
    official = squad_evaluate_v1_1.evaluate(
        json.loads(eval_json.read_text())["data"], predictions)
    assert metrics["exact_match"] == pytest.approx(
        100 * official["exact_match"])
    assert metrics["f1"] == pytest.approx(100 * official["final_f1"])
  else:
    null_odds = json.loads((model_dir / "null_odds.json").read_text())
    for qid, text in predictions.items():
      no_span = nbest[qid] == [squad.NO_SPAN_NBEST]  # A fresh model may.
      assert (text == "") == (null_odds[qid] > 0.0 or no_span)  # threshold 0
    assert metrics["best_f1"] >= metrics["f1"] - 1e-9
    assert {"HasAns_f1", "NoAns_f1", "best_f1_thresh"} <= set(metrics)


def _lengths(records):
  return [len(tf.train.Example.FromString(r.numpy()).features.feature[
      "input_ids"].int64_list.value) for r in tf.data.TFRecordDataset(
          str(records))]


def test_batches_padded_to_their_own_length(tmp_path, test_data, sp_model):
  _, records = _records(tmp_path, test_data, sp_model, "sst-2", "SST-2",
                        300, 100)
  lengths = _lengths(records / "dev.tfrecord")

  def load(**kw):
    config = finetune_dataloader.FinetuneDataConfig(
        input_path=str(records / "dev.tfrecord"), seq_length=128,
        global_batch_size=16, is_training=False, drop_remainder=False, **kw)
    return list(finetune_dataloader.FinetuneDataLoader(config).load())

  dynamic, fixed = load(), load(dynamic_padding=False)
  assert [b["input_word_ids"].shape[1] for b in fixed] == [128] * len(fixed)
  for i, batch in enumerate(dynamic):
    assert batch["input_word_ids"].shape[1] == max(lengths[16 * i:16 * i + 16])
  for a, b in zip(dynamic, fixed):  # Same tokens, only less padding.
    width = a["input_word_ids"].shape[1]
    np.testing.assert_array_equal(a["input_word_ids"],
                                  b["input_word_ids"][:, :width])
    assert not np.any(b["input_mask"][:, width:])

  config = finetune_dataloader.FinetuneDataConfig(
      input_path=str(records / "train.tfrecord"), seq_length=128,
      global_batch_size=16, is_training=True, bucket_width=16)
  for batch in finetune_dataloader.FinetuneDataLoader(config).load().take(20):
    real = batch["input_mask"].numpy().sum(1)
    assert batch["input_word_ids"].shape[1] == real.max()
    assert real.max() // 16 == real.min() // 16  # One bucket per batch.


# (file, lr, steps, warm-up, batch) from ALBERT_FACTS.md (run_glue.sh).
_GLUE_RECIPES = [("cola", 1e-5, 5336, 320, 16), ("sst2", 1e-5, 20935, 1256, 32),
                 ("mrpc", 2e-5, 800, 200, 32), ("stsb", 2e-5, 3598, 214, 16),
                 ("qqp", 5e-5, 14000, 1000, 128),
                 ("mnli", 3e-5, 10000, 1000, 128),
                 ("qnli", 1e-5, 33112, 1986, 32), ("rte", 3e-5, 800, 200, 32)]


@pytest.mark.parametrize("name,lr,steps,warmup,batch", _GLUE_RECIPES)
def test_glue_recipes(name, lr, steps, warmup, batch):
  params = overrides.parse_configuration(
      "albert/sentence_prediction",
      [str(REPO / "configs/models/albert_base_v2.yaml"),
       str(REPO / f"experiments/glue/{name}.yaml")], "")
  opt = params.trainer.optimizer_config
  assert opt.optimizer.type == "adamw"
  assert opt.learning_rate.polynomial.initial_learning_rate == lr
  assert opt.learning_rate.polynomial.decay_steps == steps
  assert params.trainer.train_steps == steps
  assert opt.warmup.linear.warmup_steps == warmup
  assert params.task.train_data.global_batch_size == batch
  assert params.task.train_data.seq_length == 512
  assert params.task.model.encoder.hidden_size == 768


@pytest.mark.parametrize("version", ["1.1", "2.0"])
def test_squad_recipes(version):
  params = overrides.parse_configuration(
      "albert/squad", [str(REPO / "configs/models/albert_base_v2.yaml"),
                       str(REPO / f"experiments/squad/v{version}.yaml")], "")
  opt = params.trainer.optimizer_config
  assert opt.learning_rate.polynomial.initial_learning_rate == 5e-5
  assert params.task.train_data.global_batch_size == 48
  data = params.task.validation_data
  assert (data.seq_length, data.doc_stride, data.query_length) == (384, 128,
                                                                    64)
  assert data.version_2_with_negative == (version == "2.0")
  steps = params.trainer.train_steps
  assert opt.warmup.linear.warmup_steps == round(0.1 * steps)
  assert isinstance(params.task, finetuning.SquadConfig)


def test_training_batches_draw_from_the_whole_file(tmp_path):
  """The default shuffle spans the file: fine-tuning files are often ordered
  (STS-B by genre), and Model Garden's 100-record buffer would feed the
  first batches from the first ~130 records only."""
  records = conftest.make_sst2_records(tmp_path, 128)
  config = finetune_dataloader.FinetuneDataConfig(
      input_path=str(records / "train.tfrecord"), seq_length=128,
      global_batch_size=32, is_training=True, seed=1)
  first = next(iter(finetune_dataloader.FinetuneDataLoader(config).load()))
  ids = first["example_id"].numpy()
  # 256 records: a 100-record buffer gives ids < 132 only; a full shuffle
  # draws half of them from the second half of the file.
  assert (ids >= 132).sum() >= 8
