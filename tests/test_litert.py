"""LiteRT export (`serving.litert`): the three forms, against the SavedModel.

Oracles: the SavedModel each `.tflite` was converted from (float32 within
1e-4; the int8 forms within a quantization tolerance), run by the
`ai-edge-litert` interpreter on the Python tokenizer's ids of real SST-2
dev sentences; the TFLite schema for "builtin ops only". Per-head float32
parity through `predict` is in test_predict.py (classifier, regression,
SQuAD v1.1, v2.0 and the beam head), test_race.py and test_tagging.py.

Tests: `official_albert.serving.litert`.
"""

import json
import pathlib

import conftest
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.tools import flatbuffer_utils
from test_export import finetuned_model  # pylint: disable=g-bad-import-order
from test_predict import LITERT

from official_albert import errors
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.data.finetuning import classification_data
from official_albert.interop import ours
from official_albert.modeling import encoder_block
from official_albert.serving import export
from official_albert.serving import finetuned
from official_albert.serving import litert
from official_albert.serving import predict

VOCAB = conftest.REPO / "assets/vocab/albert_demo_8k.model"
SEQ = 64


def _ids(root, rows=40, length=128):
  """Ids of the first SST-2 dev sentences, as `predict` makes them, padded
  to `length` (None: to the longest)."""
  tokenizer = finetuned.load(str(root / "model")).tokenizer
  texts = (root / "src/dev.tsv").read_text().splitlines()[1:rows + 1]
  encoded = [classification_data.encode_example(
      tokenizer, classification_data.Example(0, t.split("\t")[0], None, ""),
      128) for t in texts]
  return finetuned.pad_batch(encoded, tokenizer.pad_id, length)


def _run(path, ids):
  runner = Interpreter(model_path=str(path)).get_signature_runner()
  return runner(**ids)


def _builtin_only(path):
  model = flatbuffer_utils.read_model(str(path))
  codes = [max(c.builtinCode, c.deprecatedBuiltinCode)
           for c in model.operatorCodes]
  # 32: BuiltinOperator.CUSTOM (SELECT_TF_OPS and custom ops use it).
  return 32 not in codes and all(c.customCode is None
                                 for c in model.operatorCodes)


def test_classifier_forms(test_data, tmp_path_factory, tmp_path):
  """float32 = SavedModel; int8 weights and full int8 close to it, smaller,
  builtin ops only, calibrated on the task's own training records."""
  root = finetuned_model(test_data, tmp_path_factory, "sst-2")
  out = tmp_path / "sst2"
  errors.run_cli(lambda: export.main([
      "--input", str(root / "model"), "--output", str(out), "--litert",
      "dynamic_int8,int8", "--representative_examples", "50"]))
  ids = _ids(root)
  saved = tf.saved_model.load(str(root / "saved")).signatures["classify"]
  want = {k: v.numpy() for k, v in saved(**{
      k: tf.constant(v) for k, v in ids.items()}).items()}
  forms = {"float32": root / LITERT,
           "dynamic_int8": litert.output_path(str(out), "dynamic_int8"),
           "int8": litert.output_path(str(out), "int8")}
  tolerance = {"float32": 1e-4, "dynamic_int8": 0.02, "int8": 0.05}
  sizes = {}
  for form, path in forms.items():
    got = _run(path, ids)
    assert set(got) == {"logits", "probabilities", "label_id"}
    np.testing.assert_allclose(got["probabilities"], want["probabilities"],
                               atol=tolerance[form])
    assert _builtin_only(path), form
    model = litert.LiteRTModel(str(path))
    assert model.signature == "classify"
    # Any batch; the float forms any length, int8 the fixed one.
    assert model.input_shape == [-1, 128 if form == "int8" else -1]
    assert model.info["seq_length"] == 128
    assert model.info["quantization"] == form
    assert model.info["labels"] == ["0", "1"]
    assert model.metadata[litert.VOCAB_METADATA] == pathlib.Path(
        finetuned.load(str(root / "model")).vocab).read_bytes()
    # The graph's bytes: every form carries the same vocabulary and config.
    sizes[form] = pathlib.Path(path).stat().st_size - sum(
        len(v) for v in model.metadata.values())
  # The float forms at the batch's own length: the same probabilities as at
  # 128, with 3-4x fewer positions (padding is masked out of attention).
  short = _ids(root, length=None)
  assert short["input_word_ids"].shape[1] < 64
  for form in ("float32", "dynamic_int8"):
    np.testing.assert_allclose(_run(forms[form], short)["probabilities"],
                               _run(forms[form], ids)["probabilities"],
                               atol=1e-5)
  assert sizes["int8"] < sizes["float32"] / 2.5
  assert sizes["dynamic_int8"] < sizes["float32"] / 2.5
  # Full int8: the graph's activations are int8 tensors.
  model = flatbuffer_utils.read_model(str(forms["int8"]))
  types = {t.type for t in model.subgraphs[0].tensors}
  assert 9 in types  # TensorType.INT8


def test_encoder_forms(tmp_path):
  """A pretrained encoder's LiteRT forms give the SavedModel's outputs;
  int8 calibrates on pretraining records (real WikiText text)."""
  config = AlbertEncoderConfig(
      vocab_size=8000, embedding_size=16, hidden_size=32,
      num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
      max_position_embeddings=SEQ)
  model = ours.build_pretrainer(config)
  rng = np.random.default_rng(0)  # Fixed weights: a repeatable int8 error.
  for var in model.weights:
    var.assign(rng.normal(0.0, 0.02, var.shape).astype(np.float32))
  ours.save(str(tmp_path / "ckpt"), config, ours.read(model), str(VOCAB))
  (tmp_path / "records").mkdir()
  records = conftest.make_pretraining_records(tmp_path / "records", 20, SEQ,
                                              8)
  errors.run_cli(lambda: export.main([
      "--input", str(tmp_path / "ckpt"), "--output", str(tmp_path / "saved"),
      "--seq_length", str(SEQ), "--litert", "all", "--representative_data",
      str(records / "*.tfrecord"), "--representative_examples", "20"]))
  batches = litert.record_inputs(str(records / "*.tfrecord"), 8, SEQ)
  ids = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
  saved = tf.saved_model.load(str(tmp_path / "saved")).signatures["encoder"]
  want = saved(**{k: tf.constant(v) for k, v in ids.items()})
  # Relative error (norm of the difference / norm of the SavedModel's);
  # measured on these weights: float32 1.6e-7, dynamic_int8 0.0013, int8
  # 0.017 (sequence_output) and 0.098 (pooled_output).
  for form, bound in (("float32", 1e-5), ("dynamic_int8", 0.01),
                      ("int8", 0.2)):
    path = litert.output_path(str(tmp_path / "saved"), form)
    got = _run(path, ids)
    real = ids["input_mask"].astype(bool)
    for key in ("sequence_output", "pooled_output"):
      a, b = got[key], want[key].numpy()
      if key == "sequence_output":
        a, b = a[real], b[real]
      error = np.linalg.norm(a - b) / np.linalg.norm(b)
      print(form, key, "relative error", error)
      assert error < bound, (form, key)
    assert litert.LiteRTModel(path).signature == "encoder"
    assert _builtin_only(path)


def _softmax_input_scales(path):
  """The int8 scale of each SOFTMAX op's input in a `.tflite`."""
  interpreter = Interpreter(model_path=str(path))
  tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
  return [tensors[op["inputs"][0]]["quantization"][0]
          for op in interpreter._get_ops_details()  # pylint: disable=protected-access
          if op["op_name"] == "SOFTMAX"]


def test_int8_masks_attention_with_a_finite_value(tmp_path):
  """Full int8 traces attention with a finite mask (`finite_mask`).

  Keras adds -1e9 to masked attention scores: full integer quantization
  then gives the softmax input a scale of ~4e6, every real score rounds to
  the same int8 value and attention is uniform (the SST-2 tiny model's
  dev accuracy fell to chance, docs/serving.md). With the finite mask the
  scale fits the real scores, the int8 form is closer to the float model,
  and in float the two masks agree. Inputs: real text, cut to 8-32 pieces
  and padded to 64; attention kernels scaled up, so that it matters.
  """
  config = AlbertEncoderConfig(
      vocab_size=8000, embedding_size=16, hidden_size=32,
      num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
      max_position_embeddings=SEQ)
  model = ours.build_pretrainer(config)
  rng = np.random.default_rng(0)
  for var in model.weights:  # LayerNorm and biases keep their init.
    if "kernel" in var.name or "embeddings" in var.name:
      std = 0.4 if "self_attention/" in var.name else 0.02
      var.assign(rng.normal(0.0, std, var.shape).astype(np.float32))
  (tmp_path / "records").mkdir()
  records = conftest.make_pretraining_records(tmp_path / "records", 20, SEQ,
                                              8)
  batches = litert.record_inputs(str(records / "*.tfrecord"), 24, SEQ)
  for batch in batches:
    cut = np.arange(SEQ) >= rng.integers(8, SEQ // 2)
    for name in batch:
      batch[name][:, cut] = 0
  module = export.ServingModule(model, None, SEQ, True)
  specs = {n: tf.TensorSpec([None, SEQ], tf.int32, name=n)
           for n in export.ENCODER_INPUTS}

  def trace():
    return tf.function(lambda **ids: module.encode(ids)
                       ).get_concrete_function(**specs)
  keras_mask = trace()
  with encoder_block.finite_mask(model):
    finite = trace()
  assert all(layer.mask_value is None for layer in model.submodules
             if isinstance(layer, encoder_block.AlbertAttention))
  ids = {k: np.concatenate([b[k] for b in batches[:8]]) for k in batches[0]}
  real = ids["input_mask"].astype(bool)
  want = keras_mask(**ids)["sequence_output"].numpy()[real]
  np.testing.assert_allclose(finite(**ids)["sequence_output"].numpy()[real],
                             want, atol=1e-5)
  error, scales = {}, {}
  for name, served in (("keras", keras_mask), ("finite", finite)):
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(litert.convert(served, module, [None, SEQ], litert.INT8,
                                    batches))
    got = _run(path, ids)["sequence_output"][real]
    error[name] = np.linalg.norm(got - want) / np.linalg.norm(want)
    scales[name] = _softmax_input_scales(path)
  print("int8 relative error", error, "softmax input scales", scales)
  assert len(scales["keras"]) == len(scales["finite"]) == 2  # 2 layers.
  assert min(scales["keras"]) > 1e5  # 1e9 / 255: the scores collapse.
  assert max(scales["finite"]) < 1.0
  assert error["finite"] < error["keras"]


@pytest.mark.parametrize("extra,message", [
    (["--litert", "fp16"], "unknown form fp16"),
    (["--litert", "int8", "--representative_data", "NOPE/*.tfrecord"],
     "no representative records match"),
    (["--litert", "int8", "--representative_data", "SQUAD"],
     "do not fit the model"),
    (["--litert", "int8", "--representative_examples", "0"],
     "--representative_examples must be >= 1"),
])
def test_export_bad_input(test_data, tmp_path_factory, tmp_path, capsys,
                          extra, message):
  """One `error:` line, exit 2, and neither SavedModel nor .tflite."""
  root = finetuned_model(test_data, tmp_path_factory, "sst-2")
  squad = finetuned_model(test_data, tmp_path_factory, "squad")
  extra = [str(squad / "records/train.tfrecord") if e == "SQUAD" else e
           for e in extra]
  out = tmp_path / "out"
  with pytest.raises(SystemExit) as exit_info:
    errors.run_cli(lambda: export.main(
        ["--input", str(root / "model"), "--output", str(out)] + extra))
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.startswith("error: ") and message in err, err
  assert len(err.strip().splitlines()) == 1
  assert list(tmp_path.iterdir()) == []


def test_existing_litert_output_is_refused(test_data, tmp_path_factory,
                                           tmp_path, capsys):
  root = finetuned_model(test_data, tmp_path_factory, "sst-2")
  taken = tmp_path / "out.float32.tflite"
  taken.write_bytes(b"keep")
  with pytest.raises(SystemExit):
    errors.run_cli(lambda: export.main([
        "--input", str(root / "model"), "--output", str(tmp_path / "out"),
        "--litert", "float32"]))
  assert "out.float32.tflite already exists" in capsys.readouterr().err
  assert taken.read_bytes() == b"keep"
  assert not (tmp_path / "out").exists()


def test_predict_bad_litert_input(test_data, tmp_path_factory, tmp_path,
                                  capsys):
  """A .tflite for the wrong mode, a foreign one, garbage, a missing file
  and texts longer than the model's fixed length: one line each."""
  sst2 = finetuned_model(test_data, tmp_path_factory, "sst-2")
  (tmp_path / "q.jsonl").write_text(json.dumps(
      dict(question="who?", context="nobody")) + "\n")
  (tmp_path / "texts.txt").write_text("a fine film\n")
  (tmp_path / "junk.tflite").write_bytes(b"not a model at all")
  (tmp_path / "long.txt").write_text("a fine film " * 100 + "\n")
  foreign = tmp_path / "foreign.tflite"
  # The same graph without our metadata: a foreign model.
  model = flatbuffer_utils.convert_bytearray_to_object(
      bytearray((sst2 / LITERT).read_bytes()))
  model.metadata = [m for m in model.metadata
                    if not m.name.decode().startswith("official_albert")]
  foreign.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(
      model)))
  cases = [
      (["qa", "--model", str(sst2 / LITERT), "--input",
        str(tmp_path / "q.jsonl")], "is a classifier; use `predict classify`"),
      (["classify", "--model", str(foreign), "--input",
        str(tmp_path / "texts.txt")], "carries no experiment config"),
      (["classify", "--model", str(tmp_path / "junk.tflite"), "--input",
        str(tmp_path / "texts.txt")], "is not a LiteRT (.tflite) model"),
      (["classify", "--model", str(tmp_path / "none.tflite"), "--input",
        str(tmp_path / "texts.txt")], "not found; pass a .tflite file"),
      (["fill-mask", "--model", str(sst2 / LITERT), "--input",
        str(tmp_path / "texts.txt")], "holds the encoder or a fine-tuned"),
      (["classify", "--model", str(sst2 / LITERT), "--input",
        str(tmp_path / "long.txt"), "--seq_length", "300"],
       "--seq_length 300 is longer than the LiteRT model's longest input, 128"),
  ]
  for argv, message in cases:
    with pytest.raises(SystemExit) as exit_info:
      errors.run_cli(lambda: predict.main(
          argv + ["--output", str(tmp_path / "out.jsonl")]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, (argv, err)
    assert not (tmp_path / "out.jsonl").exists()
