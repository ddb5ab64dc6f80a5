"""The original SQuAD 2.0 head (`task.model.head: beam`).

Oracles: the head's math restated in numpy from the original
`squad_utils.create_v2_model` on the original-named weights
(`interop.squad_v2_head`), and the official SQuAD 2.0 script (Model Garden's
copy) on the predictions `train.py` writes for a real dev-v2.0 slice
(tests/data/squad), for both heads at equal steps.

Tests: `official_albert.modeling.squad_v2`,
`official_albert.interop.squad_v2_head`, `official_albert.interop.convert`,
`official_albert.tasks.squad`.
"""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from official.nlp.tasks import question_answering
from official.nlp.tools import squad_evaluate_v2_0

import train
from official_albert.configs import encoders
from official_albert.configs import overrides
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.finetuning import squad_data
from official_albert.data import tokenization
from official_albert.errors import UserError
from official_albert.interop import convert
from official_albert.interop import ours
from official_albert.interop import squad_v2_head
from official_albert.interop import tf1
from official_albert.modeling import squad_v2
from official_albert.serving import finetuned
from official_albert.tasks import squad
from test_finetune_tasks import _trainer_yaml  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = str(REPO / "assets/vocab/albert_demo_8k.model")
TINY = str(REPO / "configs/models/albert_tiny.yaml")


def _model(seed=0, vocab_size=100):
  tf.keras.utils.set_random_seed(seed)
  encoder = encoders.build_encoder(encoders.AlbertEncoderConfig(
      vocab_size=vocab_size, embedding_size=8, hidden_size=16,
      num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
  return squad_v2.AlbertSquadV2Labeler(encoder)


def _inputs():
  # Two windows: [CLS] q q [SEP] p... [SEP] pad; 5 paragraph pieces or more.
  ids = np.array([[2, 11, 12, 3, 20, 21, 22, 23, 24, 25, 3, 0],
                  [2, 13, 3, 30, 31, 32, 33, 34, 35, 36, 37, 3]], np.int32)
  types = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0],
                    [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]], np.int32)
  return dict(input_word_ids=ids, input_mask=(ids > 0).astype(np.int32),
              input_type_ids=types)


def _log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _layer_norm(x, gamma, beta):
  mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
  return (x - mean) / np.sqrt(var + 1e-12) * gamma + beta


def _original_head(seq, p_mask, w, k=5):
  """create_v2_model at inference, batch-major; p_mask 1 = not a candidate."""
  start = (seq @ w["start_logits/dense/kernel"])[..., 0] + w[
      "start_logits/dense/bias"]
  start = start * (1 - p_mask) - 1e30 * p_mask
  start_log_probs = _log_softmax(start)
  top_start = np.argsort(-start_log_probs, -1)[:, :k]
  out = dict(start_top_index=top_start, start_top_log_probs=np.take_along_axis(
      start_log_probs, top_start, -1), end_top_index=[], end_top_log_probs=[])
  for b in range(len(seq)):
    ends, end_probs = [], []
    for s in top_start[b]:
      x = np.concatenate([seq[b], np.repeat(seq[b, s][None], len(seq[b]), 0)],
                         -1)
      h = np.tanh(x @ w["end_logits/dense_0/kernel"] +
                  w["end_logits/dense_0/bias"])
      h = _layer_norm(h, w["end_logits/LayerNorm/gamma"],
                      w["end_logits/LayerNorm/beta"])
      end = (h @ w["end_logits/dense_1/kernel"])[:, 0] + w[
          "end_logits/dense_1/bias"]
      end = _log_softmax(end * (1 - p_mask[b]) - 1e30 * p_mask[b])
      top = np.argsort(-end)[:k]
      ends += list(top)
      end_probs += list(end[top])
    out["end_top_index"].append(ends)
    out["end_top_log_probs"].append(end_probs)
  start_p = np.exp(start_log_probs)
  feature = np.concatenate([(seq * start_p[..., None]).sum(1), seq[:, 0]], -1)
  h = np.tanh(feature @ w["answer_class/dense_0/kernel"] +
              w["answer_class/dense_0/bias"])
  out["cls_logits"] = (h @ w["answer_class/dense_1/kernel"])[:, 0]
  return out


def test_head_equals_the_original_math():
  model = _model()
  inputs = _inputs()
  out = model(inputs, training=False)
  weights = squad_v2_head.to_original(model)
  assert weights["end_logits/dense_0/kernel"].shape == (32, 16)
  assert weights["answer_class/dense_1/kernel"].shape == (16, 1)
  seq = model.encoder(inputs, training=False)["sequence_output"].numpy()
  p_mask = 1 - squad_v2.paragraph_mask(inputs["input_mask"],
                                       inputs["input_type_ids"]).numpy()
  # [CLS] and the paragraph only: query, [SEP]s and padding are masked.
  np.testing.assert_array_equal(p_mask[0], [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1,
                                            1])
  want = _original_head(seq, p_mask.astype(np.float32), weights)
  np.testing.assert_array_equal(out["start_top_index"], want["start_top_index"])
  np.testing.assert_allclose(out["start_top_predictions"],
                             want["start_top_log_probs"], atol=1e-5)
  np.testing.assert_array_equal(out["end_top_index"], want["end_top_index"])
  np.testing.assert_allclose(out["end_top_predictions"],
                             want["end_top_log_probs"], atol=1e-5)
  np.testing.assert_allclose(out["class_logits"], want["cls_logits"],
                             atol=1e-5)


def test_original_names_round_trip(tmp_path):
  source, target = _model(0), _model(1)
  inputs = _inputs()
  source(inputs)
  target(inputs)
  weights = squad_v2_head.to_original(source)
  # A fine-tuned original checkpoint: encoder, head, optimizer slots.
  variables = {name: tf.Variable(value, name=name.replace("/", "_"))
               for name, value in weights.items()}
  variables["bert/embeddings/LayerNorm/gamma"] = tf.Variable(np.ones(8))
  variables["start_logits/dense/kernel/adam_m"] = tf.Variable(
      weights["start_logits/dense/kernel"])
  variables["global_step"] = tf.Variable(7, dtype=tf.int64)
  prefix = tf.compat.v1.train.Saver(var_list=variables).save(
      None, str(tmp_path / "model.ckpt"), write_meta_graph=False)
  encoder_part, head_part = squad_v2_head.split_tf1(prefix)
  assert set(encoder_part) == {"bert/embeddings/LayerNorm/gamma"}
  assert set(head_part) == set(squad_v2_head.NAMES)
  target.encoder.set_weights(source.encoder.get_weights())
  squad_v2_head.from_original(target, head_part, prefix)
  for key, value in source(inputs, training=False).items():
    np.testing.assert_array_equal(value, target(inputs, training=False)[key])
  del head_part["answer_class/dense_1/kernel"]
  with pytest.raises(UserError, match=r"lacks .*answer_class/dense_1/kernel"):
    squad_v2_head.from_original(target, head_part, prefix)


def test_convert_cli_both_ways(tmp_path, capsys):
  """`convert --from tf1 --to ours` turns a run_squad_v2.py checkpoint into a
  model directory that `predict` serves with the original's outputs, and
  `--from ours --to tf1` gives back every variable under its name."""
  model = _model(0, vocab_size=8000)
  inputs = _inputs()
  want = model(inputs, training=False)
  original = tmp_path / "original"
  tf1.save(str(original), ours.config_of(model.encoder), ours.read(
      model.encoder), VOCAB, head=squad_v2_head.to_original(model))
  names = tf.train.load_checkpoint(str(original / "model.ckpt"))
  assert set(squad_v2_head.NAMES) <= set(names.get_variable_to_shape_map())
  run = lambda *a: convert.main(list(a))
  run("--from", "tf1", "--to", "ours", "--input", str(original),
      "--output", str(tmp_path / "model"))
  served = finetuned.load(str(tmp_path / "model"))
  assert served.kind == finetuned.SQUAD and served.params.task.model.head == (
      "beam")
  got = served.predict(inputs)
  for key in finetuned.BEAM_OUTPUTS:
    np.testing.assert_allclose(got[key], want[key], atol=1e-6)
  run("--from", "ours", "--to", "tf1", "--input", str(tmp_path / "model"),
      "--output", str(tmp_path / "back"))
  back = tf.train.load_checkpoint(str(tmp_path / "back/model.ckpt"))
  shapes = names.get_variable_to_shape_map()
  assert back.get_variable_to_shape_map() == shapes
  for name in shapes:
    np.testing.assert_array_equal(back.get_tensor(name), names.get_tensor(name))
  assert (tmp_path / "back/spiece.model").read_bytes() == pathlib.Path(
      VOCAB).read_bytes()
  # A fine-tuned input goes to its pair only; the [CLS] head has no
  # original names.
  with pytest.raises(UserError, match="converts only --to tf1"):
    run("--from", "ours", "--to", "hf", "--input", str(tmp_path / "model"),
        "--output", str(tmp_path / "x"))
  with pytest.raises(UserError, match="convert it --to ours"):
    run("--from", "tf1", "--to", "hf", "--input", str(original),
        "--output", str(tmp_path / "x"))
  params = tmp_path / "model/params.yaml"
  params.write_text(params.read_text().replace("head: beam", "head: cls"))
  with pytest.raises(UserError, match="task.model.head=beam"):
    run("--from", "ours", "--to", "tf1", "--input", str(tmp_path / "model"),
        "--output", str(tmp_path / "x"))
  assert not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def records(test_data, tmp_path_factory):
  out = tmp_path_factory.mktemp("squad2") / "records"
  create_finetuning_data.main(
      ["--task", "squad", "--input_files",
       str(test_data / "squad/dev-v2.0-train.json"), "--version_2_with_negative",
       "--sp_model_file", VOCAB, "--output_dir", str(out),
       "--max_seq_length", "192"])
  return out


@pytest.mark.parametrize("head", ["beam", "cls"])
def test_both_heads_train_and_score(tmp_path, test_data, records, head):
  eval_json = test_data / "squad/dev-v2.0-eval.json"
  run_yaml = _trainer_yaml(tmp_path, (
      f"task:\n  model: {{head: {head}}}\n"
      f"  train_data: {{input_path: {records}/dev-v2.0-train.tfrecord, "
      "global_batch_size: 16, seq_length: 192}\n"
      f"  validation_data: {{input_path: {eval_json}, vocab_file: {VOCAB}, "
      "global_batch_size: 32, seq_length: 192}\n"))
  model_dir = tmp_path / "model"
  train.run("albert/squad", "train_and_eval", str(model_dir),
            [TINY, str(REPO / "experiments/squad/v2.0.yaml"), run_yaml], "")
  metrics = json.loads((model_dir / "metrics.json").read_text())
  predictions = json.loads((model_dir / "predictions.json").read_text())
  null_odds = json.loads((model_dir / "null_odds.json").read_text())
  dataset = json.loads(eval_json.read_text())["data"]
  contexts = {qa["id"]: p["context"] for a in dataset
              for p in a["paragraphs"] for qa in p["qas"]}
  assert set(predictions) == set(contexts) == set(null_odds)
  for qid, text in predictions.items():
    assert text in contexts[qid]
    assert (text == "") == (null_odds[qid] > 0.0)  # threshold 0.0
  official = squad_evaluate_v2_0.evaluate(dataset, predictions)
  for key in ("f1", "exact", "HasAns_f1", "NoAns_f1"):
    assert metrics[key] == pytest.approx(official[key])
  assert metrics["best_f1"] >= metrics["f1"] - 1e-9


def test_v2_recipe_uses_the_beam_head():
  params = overrides.parse_configuration(
      "albert/squad", [str(REPO / "experiments/squad/v2.0.yaml")], "")
  model = params.task.model
  assert (model.head, model.start_n_top, model.end_n_top) == ("beam", 5, 5)
  params = overrides.parse_configuration(
      "albert/squad", [str(REPO / "experiments/squad/v1.1.yaml")], "")
  assert params.task.model.head == "cls"


def test_the_beam_head_is_its_own_task_on_model_gardens_xlnet_task():
  params = overrides.parse_configuration(
      "albert/squad", [str(REPO / "experiments/squad/v2.0.yaml")], "")
  # task_factory.get_task(params.task) calls SquadTask (registered for the
  # config), whose __new__ picks the class; built here without __init__,
  # which would read the evaluation JSON.
  beam = squad.SquadTask.__new__(squad.SquadTask, params.task)
  assert type(beam) is squad.SquadBeamTask  # pylint: disable=unidiomatic-typecheck
  xlnet = question_answering.XLNetQuestionAnsweringTask
  for method in ("build_losses", "process_metrics",
                 "process_compiled_metrics", "validation_step",
                 "aggregate_logs"):
    assert getattr(squad.SquadBeamTask, method) is getattr(xlnet, method)
    assert method not in vars(squad.SquadTask)  # No dispatch left.
  params.task.model.head = "cls"
  cls_task = squad.SquadTask.__new__(squad.SquadTask, params.task)
  assert type(cls_task) is squad.SquadTask  # pylint: disable=unidiomatic-typecheck


def _decode(tmp_path, contexts, head, results):
  """`decode_answers` (v2.0, `head`, n-best 2) of one question per context,
  with `results(features)` for their windows (one each)."""
  path = tmp_path / "q.json"
  path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "t",
      "paragraphs": [{"context": context, "qas": [
          {"id": f"q{i}", "question": "When?", "answers": [],
           "is_impossible": True}]} for i, context in enumerate(contexts)]}]}))
  examples = squad_data.read_examples(str(path), False, True)
  features = []
  squad_data.convert_examples(
      examples, tokenization.AlbertTokenizer(str(VOCAB)), 64, 32, 16, False,
      features.append)
  assert len(features) == len(contexts)
  config = overrides.parse_configuration("albert/squad", None, (
      f"task.model.head={head},task.model.start_n_top=2,"
      "task.model.end_n_top=2,task.n_best_size=2,"
      "task.validation_data.version_2_with_negative=true")).task
  return features, squad.decode_answers(config, examples, features,
                                        results(features))


def _beam_decode(tmp_path, context, spans):
  """`_decode` (beam head) of one question on `context`, with beam results
  whose start/end candidates are `spans` (piece positions in the window),
  best first."""
  (s1, e1), (s2, e2) = spans
  features, decoded = _decode(tmp_path, [context], "beam", lambda f: [
      question_answering.RawAggregatedResult(
          unique_id=f[0].unique_id, start_logits=[-1.0, -2.0],
          end_logits=[-1.0, -1.5, -2.0, -2.5], start_indexes=[s1, s2],
          end_indexes=[e1, e1, e2, e2], class_logits=-5.0)])
  return features[0], decoded


def test_cls_decoding_answers_a_question_without_a_valid_span(tmp_path):
  # Model Garden's v2.0 decoding asserted when no n-best start x end pair of
  # a question was a valid span (a CI run with a briefly trained model hit
  # it). Question q0's best starts are in the question, q1's make a span.
  def results(features):
    out = []
    for feature in features:
      start, end = np.full((2, len(feature.input_ids)), -9.0, np.float32)
      start[0], end[0] = 1.0, 0.5  # The [CLS] no-answer span: 1.5.
      doc = feature.tokens.index("[SEP]") + 1
      if feature.example_index == 0:
        start[1:3] = 2.0  # In the question: invalid.
      else:
        start[doc], end[doc + 1] = 3.0, 2.0
      out.append(question_answering.RawAggregatedResult(
          unique_id=feature.unique_id, start_logits=start, end_logits=end))
    return out
  contexts = ["The war ended in 1990.", "Peace came in 1991."]
  features, (predictions, nbest, null_diffs) = _decode(
      tmp_path, contexts, "cls", results)
  assert predictions["q0"] == "" and nbest["q0"] == [squad.NO_SPAN_NBEST]
  assert null_diffs["q0"] == pytest.approx(1.5)
  doc = features[1].tokens.index("[SEP]") + 1
  assert features[1].tokens[doc:doc + 2] == ["▁peace", "▁came"]
  assert predictions["q1"] == "Peace came"  # The original text.
  assert null_diffs["q1"] == pytest.approx(1.5 - 5.0)
  assert [e["text"] for e in nbest["q1"]][0] == predictions["q1"]


def test_beam_decoding_never_answers_with_a_bare_space(tmp_path):
  # SentencePiece splits " (" into a bare "▁" and "(": a span of that piece
  # alone has no text. Model Garden's XLNet-mode decoding asserted when all
  # of a question's beam candidates were such spans (a CI run with a freshly
  # initialised model hit it).
  context = "The war ( 1990 ) ended."
  feature, _ = _beam_decode(tmp_path, context, [(0, 0), (0, 0)])
  bare = [i for i, t in enumerate(feature.tokens) if t == "▁"]
  assert len(bare) == 2 and feature.tokens[bare[0] + 1] == "("
  _, (predictions, _, _) = _beam_decode(
      tmp_path, context, [(bare[0], bare[0]), (bare[1], bare[1])])
  assert predictions == {"q0": ""}  # No valid span left: no answer.
  # A bare "▁" may still end a span that starts on text.
  _, (predictions, nbest, _) = _beam_decode(
      tmp_path, context, [(bare[0], bare[0]), (bare[0] - 1, bare[0])])
  assert predictions == {"q0": "war"}
  assert [e["text"] for e in nbest["q0"]] == ["war"]
