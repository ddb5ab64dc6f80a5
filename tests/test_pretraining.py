"""The albert/pretraining task end to end: records, losses, train.py, checkpoints.

Tests: `official_albert.tasks.pretraining`,
`official_albert.tasks.checkpoints`.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.special
import tensorflow as tf
import conftest

from official_albert.configs import overrides
from official_albert.data import tokenization
from official_albert.errors import UserError
from official_albert.modeling import albert
from official_albert.tasks import checkpoints
from official_albert.tasks import pretraining as pretraining_task

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"
SEQ, PRED = 64, 10
TINY = ("task.model.encoder.vocab_size=8000,task.model.encoder.embedding_size=16,"
        "task.model.encoder.hidden_size=32,task.model.encoder.num_hidden_layers=2,"
        "task.model.encoder.num_attention_heads=2,"
        "task.model.encoder.intermediate_size=64,"
        f"task.train_data.seq_length={SEQ},task.validation_data.seq_length={SEQ},"
        f"task.train_data.max_predictions_per_seq={PRED},"
        f"task.validation_data.max_predictions_per_seq={PRED},"
        "task.train_data.global_batch_size=8,"
        "task.validation_data.global_batch_size=8,"
        "runtime.distribution_strategy='one_device',"
        "trainer.steps_per_loop=2,trainer.summary_interval=2,"
        "trainer.checkpoint_interval=2,trainer.validation_interval=2,"
        "trainer.validation_steps=2,"
        "trainer.optimizer_config.learning_rate.polynomial.decay_steps=10,"
        "trainer.optimizer_config.warmup.linear.warmup_steps=1")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
  """Records made by our CLI from the first documents of real held-out text."""
  return conftest.make_pretraining_records(
      tmp_path_factory.mktemp("records"), 6, SEQ, PRED, num_shards=2)


def _train(model_dir, records, *extra, steps=2, mode="train_and_eval"):
  override = (f"{TINY},trainer.train_steps={steps},"
              f"task.train_data.input_path='{records}/*.tfrecord',"
              f"task.validation_data.input_path='{records}/*.tfrecord'")
  return subprocess.run(
      [sys.executable, str(REPO / "train.py"),
       "--experiment=albert/pretraining", f"--mode={mode}",
       f"--model_dir={model_dir}", f"--params_override={override}", *extra],
      capture_output=True, text=True, cwd=REPO, check=False)


def _feature(values, float_list=False):
  if float_list:
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def test_reads_records_in_the_original_layout(tmp_path):
  """A record laid out as the original `write_instance_to_example_files`."""
  tok = tokenization.AlbertTokenizer(str(VOCAB))
  sentences = (REPO / "assets/corpus/heldout.txt").read_text(
      encoding="utf-8").split("\n")[:2]
  a, b = tok.tokenize(sentences[0])[:20], tok.tokenize(sentences[1])[:20]
  tokens = ["[CLS]"] + a + ["[SEP]"] + b + ["[SEP]"]
  ids = tok.convert_tokens_to_ids(tokens)
  segment = [0] * (len(a) + 2) + [1] * (len(b) + 1)
  pad = SEQ - len(ids)
  positions = [1, 2, len(a) + 3]
  masked = [ids[p] for p in positions]
  example = tf.train.Example(features=tf.train.Features(feature={
      "input_ids": _feature(ids + [0] * pad),
      "input_mask": _feature([1] * len(ids) + [0] * pad),
      "segment_ids": _feature(segment + [0] * pad),
      "token_boundary": _feature([1] * len(ids) + [0] * pad),
      "masked_lm_positions": _feature(positions + [0] * (PRED - 3)),
      "masked_lm_ids": _feature(masked + [0] * (PRED - 3)),
      "masked_lm_weights": _feature([1.0] * 3 + [0.0] * (PRED - 3), True),
      "next_sentence_labels": _feature([1]),
  }))
  path = tmp_path / "original.tfrecord"
  with tf.io.TFRecordWriter(str(path)) as writer:
    writer.write(example.SerializeToString())
  params = overrides.parse_configuration(
      "albert/pretraining", None,
      f"{TINY},task.train_data.input_path='{path}',"
      "task.train_data.global_batch_size=1")
  task = pretraining_task.AlbertPretrainingTask(params.task)
  task.check_inputs("train")
  batch = next(iter(task.build_inputs(params.task.train_data)))
  assert batch["input_word_ids"].dtype == tf.int32
  assert batch["input_word_ids"].numpy()[0].tolist() == ids + [0] * pad
  assert batch["input_type_ids"].numpy()[0].tolist() == segment + [0] * pad
  assert batch["masked_lm_ids"].numpy()[0, :3].tolist() == masked
  assert batch["sentence_order_label"].numpy().tolist() == [[1]]
  assert batch["masked_lm_weights"].dtype == tf.float32
  assert "token_boundary" not in batch and "next_sentence_labels" not in batch


def test_losses_equal_a_numpy_oracle():
  rng = np.random.default_rng(0)
  mlm_logits = rng.normal(size=(3, 4, 11)).astype(np.float32)
  sop_logits = rng.normal(size=(3, 2)).astype(np.float32)
  ids = rng.integers(0, 11, size=(3, 4))
  weights = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], np.float32)
  sop = np.array([[0], [1], [1]])
  mlm_loss, sop_loss = pretraining_task.pretraining_losses(
      dict(masked_lm_ids=ids, masked_lm_weights=weights,
           sentence_order_label=sop),
      dict(mlm_logits=mlm_logits, sop_logits=sop_logits))
  log_p = scipy.special.log_softmax(mlm_logits, axis=-1)
  nll = -np.take_along_axis(log_p, ids[..., None], -1)[..., 0]
  want_mlm = (nll * weights).sum() / weights.sum()
  log_q = scipy.special.log_softmax(sop_logits, axis=-1)
  want_sop = -np.take_along_axis(log_q, sop, -1).mean()
  np.testing.assert_allclose(mlm_loss.numpy(), want_mlm, rtol=1e-5)
  np.testing.assert_allclose(sop_loss.numpy(), want_sop, rtol=1e-5)


def test_eval_losses_pool_uneven_batches():
  """Like the original metric_fn: one mean over all predictions / examples.

  A full batch of 6 and a short last batch of 2, with uneven MLM weights:
  the mean of per-batch means would weigh the short batch as much as the
  full one.
  """
  rng = np.random.default_rng(1)
  task = _task("task.train_data.input_path=''")
  metrics = task.build_metrics()
  batches, nll_all, w_all, sop_all = [], [], [], []
  for size in (6, 2):
    logits = rng.normal(size=(size, 5, 11)).astype(np.float32) * 3
    sop_logits = rng.normal(size=(size, 2)).astype(np.float32) * 3
    ids = rng.integers(0, 11, size=(size, 5))
    weights = (rng.random((size, 5)) < (0.9 if size == 6 else 0.3)).astype(
        np.float32)
    weights[:, 0] = 1
    sop = rng.integers(0, 2, size=(size, 1))
    task.process_metrics(
        metrics, dict(masked_lm_ids=ids, masked_lm_weights=weights,
                      sentence_order_label=sop),
        dict(mlm_logits=logits, sop_logits=sop_logits))
    nll = -np.take_along_axis(scipy.special.log_softmax(logits, -1),
                              ids[..., None], -1)[..., 0]
    sop_nll = -np.take_along_axis(scipy.special.log_softmax(sop_logits, -1),
                                  sop, -1)[:, 0]
    batches.append(((nll * weights).sum() / weights.sum(), sop_nll.mean()))
    nll_all.append((nll * weights).ravel())
    w_all.append(weights.ravel())
    sop_all.append(sop_nll)
  result = {m.name: m.result().numpy() for m in metrics}
  want_mlm = np.concatenate(nll_all).sum() / np.concatenate(w_all).sum()
  want_sop = np.concatenate(sop_all).mean()
  np.testing.assert_allclose(result["masked_lm_loss"], want_mlm, rtol=1e-5)
  np.testing.assert_allclose(result["sentence_order_loss"], want_sop,
                             rtol=1e-5)
  # The old mean of batch means is measurably different here.
  mean_of_means = np.mean(batches, axis=0)
  assert abs(mean_of_means[0] - want_mlm) > 1e-2
  assert abs(mean_of_means[1] - want_sop) > 1e-2


def _task(override):
  params = overrides.parse_configuration("albert/pretraining", None,
                                         f"{TINY},{override}")
  return pretraining_task.AlbertPretrainingTask(params.task)


def test_check_inputs_rejects_bad_inputs(records, tmp_path):
  good = f"task.train_data.input_path='{records}/*.tfrecord'"
  _task(good).check_inputs("train")
  with pytest.raises(UserError, match="no input file matches"):
    _task(f"task.train_data.input_path='{tmp_path}/none*'").check_inputs(
        "train")
  (tmp_path / "empty.tfrecord").write_bytes(b"")
  with pytest.raises(UserError, match="is empty"):
    _task(f"task.train_data.input_path='{tmp_path}/empty.tfrecord'"
          ).check_inputs("train")
  with pytest.raises(UserError, match=r"input_ids of length 64 but "
                     r"task.train_data.seq_length=128; set "
                     r"task.train_data.seq_length=64"):
    _task(f"{good},task.train_data.seq_length=128").check_inputs("train")
  with pytest.raises(UserError, match="8000-piece vocabulary but the encoder "
                     "has vocab_size=30000"):
    _task(f"{good},task.model.encoder.vocab_size=30000").check_inputs("train")
  with pytest.raises(UserError, match=r"has 8000 pieces but "
                     r"task.model.encoder.vocab_size=9000"):
    _task(f"{good},task.model.encoder.vocab_size=9000,"
          f"task.sp_model_file='{VOCAB}'").check_inputs("train")
  with pytest.raises(UserError, match="no input file matches "
                     "task.validation_data.input_path=''"):
    _task(good).check_inputs("train_and_eval")  # No validation input_path.


def test_train_py_trains_evaluates_and_resumes(records, tmp_path):
  model_dir = tmp_path / "model"
  run = _train(model_dir, records, steps=2)
  assert run.returncode == 0, run.stderr[-3000:]
  assert "final train_and_eval metrics" in run.stdout
  metrics = json.loads((model_dir / "metrics.json").read_text())
  assert set(metrics) >= {"masked_lm_accuracy", "masked_lm_loss",
                          "sentence_order_accuracy", "sentence_order_loss"}
  assert 0.0 <= metrics["sentence_order_accuracy"] <= 1.0
  assert (model_dir / "params.yaml").exists()
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-2")
  # Running again to 4 steps restores ckpt-2 and continues from step 2.
  run = _train(model_dir, records, steps=4, mode="train")
  assert run.returncode == 0, run.stderr[-3000:]
  assert "restored model from" in run.stdout
  assert "training until step 4" in run.stdout
  assert "step:      2 | steps/sec" not in run.stdout
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-4")


def test_init_checkpoint_restores_encoder_and_starts_missing_heads(tmp_path):
  params = overrides.parse_configuration("albert/pretraining", None, TINY)
  task = pretraining_task.AlbertPretrainingTask(params.task)
  source = task.build_model()
  source(albert.dummy_inputs(2, 8, 3))
  # A converted release checkpoint: encoder and MLM head, no SOP head.
  prefix = tf.train.Checkpoint(encoder=source.encoder,
                               masked_lm=source.masked_lm).write(
                                   str(tmp_path / "release"))
  params = overrides.parse_configuration(
      "albert/pretraining", None, f"{TINY},task.init_checkpoint='{prefix}'")
  task = pretraining_task.AlbertPretrainingTask(params.task)
  target = task.build_model()
  target(albert.dummy_inputs(2, 8, 3))
  sop_before = target.sop_classifier.kernel.numpy().copy()
  task.initialize(target)
  for a, b in zip(source.encoder.weights, target.encoder.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  np.testing.assert_array_equal(source.masked_lm.bias.numpy(),
                                target.masked_lm.bias.numpy())
  np.testing.assert_array_equal(sop_before,
                                target.sop_classifier.kernel.numpy())


def test_restore_items_errors(tmp_path):
  encoder = albert.AlbertEncoder(vocab_size=50, embedding_size=8,
                                 hidden_size=16, num_hidden_layers=1,
                                 num_attention_heads=2, intermediate_size=32)
  encoder(albert.dummy_inputs())
  with pytest.raises(UserError, match="not found"):
    checkpoints.restore_items(str(tmp_path / "missing"), encoder=encoder)
  other = tf.train.Checkpoint(step=tf.Variable(1)).write(
      str(tmp_path / "other"))
  with pytest.raises(UserError, match="holds none of"):
    checkpoints.restore_items(other, encoder=encoder)
  wider = albert.AlbertEncoder(vocab_size=50, embedding_size=8,
                               hidden_size=32, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=32)
  wider(albert.dummy_inputs())
  prefix = tf.train.Checkpoint(encoder=wider).write(str(tmp_path / "wide"))
  with pytest.raises(UserError, match="does not match the ALBERT config"):
    checkpoints.restore_items(prefix, encoder=encoder)


@pytest.mark.parametrize("flags, message", [
    (["--experiment=albert/nope"], "unknown experiment 'albert/nope'"),
    (["--params_override=task.modle.encoder.hidden_size=8"],
     "unknown config key 'task.modle' in --params_override; did you mean "
     "'task.model'?"),
    (["--params_override=trainer.train_steps='ten'"], "expects int"),
    (["--params_override=task.train_data.input_path='/nonexistent/*'"],
     "no input file matches task.train_data.input_path='/nonexistent/"),
])
def test_train_py_bad_input_is_one_line_and_writes_nothing(flags, message,
                                                           tmp_path):
  model_dir = tmp_path / "model"
  args = [sys.executable, str(REPO / "train.py"), "--mode=train",
          f"--model_dir={model_dir}"]
  if not any(f.startswith("--experiment") for f in flags):
    args.append("--experiment=albert/pretraining")
  run = subprocess.run(args + flags, capture_output=True, text=True,
                       cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                       check=False)
  assert run.returncode == 2
  error_lines = [l for l in run.stderr.splitlines() if l.startswith("error:")]
  assert len(error_lines) == 1 and message in error_lines[0], run.stderr
  assert "Traceback" not in run.stderr
  assert not model_dir.exists()


def test_baselines_match_a_record_by_record_count(records):
  from official_albert.tools import baselines  # pylint: disable=g-import-not-at-top
  pattern = f"{records}/*.tfrecord"
  got = baselines.compute(pattern, pattern)
  masked, labels = [], []
  for path in sorted(records.glob("*.tfrecord")):
    for raw in tf.data.TFRecordDataset(str(path)):
      ex = tf.train.Example.FromString(raw.numpy()).features.feature
      weights = ex["masked_lm_weights"].float_list.value
      masked += [i for i, w in zip(ex["masked_lm_ids"].int64_list.value,
                                   weights) if w > 0]
      labels.append(ex["next_sentence_labels"].int64_list.value[0])
  top = max(set(masked), key=masked.count)
  assert got["most_frequent_masked_id"] == top
  assert got["masked_lm_accuracy"] == pytest.approx(
      masked.count(top) / len(masked))
  share = sum(labels) / len(labels)
  assert got["sentence_order_accuracy"] == pytest.approx(max(share, 1 - share))
