"""Original TF1 checkpoints: export names, import quirks, round trips, errors.

transformers 5 removed `load_tf_weights_in_albert`, so the exported names are
checked against the original release's names and shapes (ALBERT_FACTS.md,
spelled out here) read back with `tf.train.load_checkpoint`, and against an
independent reader of the original format: Model Garden's
`tf2_albert_encoder_checkpoint_converter`, whose encoder must then reproduce
our outputs.

Tests: `official_albert.interop.tf1`.
"""

import re

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers
from safetensors import numpy as safetensors_numpy
from official.legacy.albert import configs as mg_configs
from official.nlp.tools import tf2_albert_encoder_checkpoint_converter
from test_parity_hf import padded_batch
from test_parity_hf import tiny_hf_model

from official_albert import errors
from official_albert.interop import convert
from official_albert.interop import hf
from official_albert.interop import layout
from official_albert.interop import ours
from official_albert.interop import tf1

TOLERANCE = 1e-5


def hf_weights(groups=1, inner=1, model=None):
  """(config, interchange weights) of a random-init tiny HF model."""
  model = model or tiny_hf_model(groups, inner)
  config = hf.config_from_hf(model.config.to_dict(), "test")
  return config, hf.from_state_dict(model.state_dict(), config, "test")


def write_tf1(prefix, variables):
  """Writes a name-based checkpoint the way the original TF1 code does."""
  tf_vars = {n: tf.Variable(v) for n, v in variables.items()}
  tf.compat.v1.train.Saver(var_list=tf_vars).save(None, str(prefix),
                                                  write_meta_graph=False)


def test_export_has_original_names_and_runs_in_model_garden(tmp_path):
  config, weights = hf_weights()
  tf1.save(str(tmp_path / "tf1"), config, weights)
  stored = dict(tf.train.list_variables(str(tmp_path / "tf1")))
  # Names and shapes of the original release (ALBERT_FACTS.md); V=300, E=16,
  # H=32, I=37, 64 positions.
  block = "bert/encoder/transformer/group_0/inner_group_0/"
  for name, shape in {
      "bert/embeddings/word_embeddings": [300, 16],
      "bert/embeddings/position_embeddings": [64, 16],
      "bert/embeddings/token_type_embeddings": [2, 16],
      "bert/embeddings/LayerNorm/gamma": [16],
      "bert/encoder/embedding_hidden_mapping_in/kernel": [16, 32],
      block + "attention_1/self/query/kernel": [32, 32],
      block + "attention_1/output/dense/kernel": [32, 32],
      block + "LayerNorm/beta": [32],
      block + "ffn_1/intermediate/dense/kernel": [32, 37],
      block + "ffn_1/intermediate/output/dense/kernel": [37, 32],
      block + "LayerNorm_1/gamma": [32],
      "bert/pooler/dense/kernel": [32, 32],
      "cls/predictions/transform/dense/kernel": [32, 16],
      "cls/predictions/output_bias": [300],
      "cls/seq_relationship/output_weights": [2, 32],
      "cls/seq_relationship/output_bias": [2],
  }.items():
    assert stored[name] == shape, name
  assert len(stored) == 16 + 9 + 7  # block, outer encoder, heads

  # Model Garden's own TF1 reader, on our export and our albert_config.json.
  # (It saves a renamed copy in <output dir>/temp_v1 but does not create it.)
  (tmp_path / "mg" / "temp_v1").mkdir(parents=True)
  mg_config = mg_configs.AlbertConfig.from_json_file(
      str(tmp_path / "tf1" / layout.CONFIG_FILE))
  tf2_albert_encoder_checkpoint_converter.convert_checkpoint(
      mg_config, str(tmp_path / "mg" / "ckpt"),
      str(tmp_path / "tf1" / tf1.CHECKPOINT), "encoder")
  mg_encoder = tf2_albert_encoder_checkpoint_converter._create_albert_model(
      mg_config)
  tf.train.Checkpoint(encoder=mg_encoder).read(tf.train.latest_checkpoint(
      str(tmp_path / "mg"))).assert_existing_objects_matched()
  model = ours.build_pretrainer(config)
  ours.assign(model, weights, "test")
  batch = {k: v.astype(np.int32) for k, v in padded_batch(300).items()}
  got = model(batch)
  # Model Garden's encoder returns [sequence_output, pooled_output].
  expected = mg_encoder({k: batch[k] for k in ("input_word_ids", "input_mask",
                                               "input_type_ids")})
  for key, mg_output in zip(("sequence_output", "pooled_output"), expected):
    diff = float(np.abs(got[key].numpy() - mg_output.numpy()).max())
    print(f"ours vs Model Garden converter {key}: max abs diff {diff}")
    assert diff <= TOLERANCE


def test_import_drops_optimizer_slots_and_hub_prefix(tmp_path):
  config, weights = hf_weights(2, 2)
  stored = {"module/" + n: v for n, v in weights.items()}
  stored.update({"module/" + n + suffix: np.ones_like(v)
                 for n, v in weights.items() for suffix in ("/adam_m",
                                                            "/adam_v")})
  stored["global_step"] = np.int64(1000)
  write_tf1(tmp_path / "model.ckpt-1000", stored)
  layout.save_config(config, str(tmp_path / layout.CONFIG_FILE))
  loaded_config, loaded, _ = tf1.load(str(tmp_path))
  assert loaded_config == config
  assert loaded.keys() == weights.keys()
  for name in weights:
    np.testing.assert_array_equal(loaded[name], weights[name])


def test_round_trip_hf_ours_tf1_hf_is_exact(tmp_path):
  model = tiny_hf_model(2, 2)
  model.save_pretrained(tmp_path / "hf")
  for source, target in (("hf", "ours"), ("ours", "tf1"), ("tf1", "hf")):
    convert.convert(source, target, str(tmp_path / source),
                    str(tmp_path / (target + ("2" if target == "hf" else ""))))
  original = {k: v.numpy() for k, v in model.state_dict().items()}
  back = safetensors_numpy.load_file(str(tmp_path / "hf2" /
                                         hf.SAFETENSORS_FILE))
  worst = max(float(np.abs(back[k] - original[k]).max()) for k in back)
  print("hf -> ours -> tf1 -> hf max abs diff:", worst)
  assert worst == 0.0
  assert set(original) - set(back) == {"predictions.decoder.weight",
                                       "predictions.decoder.bias"}


def test_release_without_projection_when_e_equals_h(tmp_path):
  """The original skips the E->H projection when E == H; HF applies one.

  An HF model whose projection is the identity is the same network as the
  original's, so its outputs are the oracle.
  """
  hf_config = tiny_hf_model(1, 1).config
  hf_config.embedding_size = 32
  torch.manual_seed(3)
  square = transformers.AlbertForPreTraining(hf_config).eval()
  with torch.no_grad():
    for param in square.parameters():
      param.normal_(0.0, 0.1)
    mapping = square.albert.encoder.embedding_hidden_mapping_in
    mapping.weight.copy_(torch.eye(32))
    mapping.bias.zero_()
  config, weights = hf_weights(model=square)
  del weights["bert/encoder/embedding_hidden_mapping_in/kernel"]
  del weights["bert/encoder/embedding_hidden_mapping_in/bias"]
  write_tf1(tmp_path / "model.ckpt", weights)
  layout.save_config(config, str(tmp_path / layout.CONFIG_FILE))
  _, loaded, _ = tf1.load(str(tmp_path))
  ours_model = ours.build_pretrainer(config)
  ours.assign(ours_model, loaded, "test")
  batch = padded_batch(300)
  got = ours_model({k: v.astype(np.int32) for k, v in batch.items()})
  with torch.no_grad():
    expected = square.albert(
        input_ids=torch.tensor(batch["input_word_ids"]),
        attention_mask=torch.tensor(batch["input_mask"]),
        token_type_ids=torch.tensor(batch["input_type_ids"]))
  diff = np.abs(got["sequence_output"].numpy() -
                expected.last_hidden_state.numpy()).max()
  assert diff <= TOLERANCE


@pytest.mark.parametrize("edit,message", [
    (lambda w, c: w.pop("bert/pooler/dense/bias"),
     "missing bert/pooler/dense/bias"),
    (lambda w, c: setattr(c, "intermediate_size", 40),
     "shape mismatch bert/encoder/transformer/group_0/inner_group_0/"
     "ffn_1/intermediate/dense/bias (37,) (config: (40,))"),
    (lambda w, c: w.pop("cls/predictions/output_bias"),
     "missing cls/predictions/output_bias"),
    (lambda w, c: w.update({"bert/encoder/extra": np.zeros(3, np.float32)}),
     "unexpected bert/encoder/extra"),
    (lambda w, c: setattr(c, "num_hidden_groups", 2),
     "missing bert/encoder/transformer/group_1/inner_group_0/"),
])
def test_bad_tf1_input_is_a_user_error(tmp_path, edit, message):
  config, weights = hf_weights()
  edit(weights, config)
  write_tf1(tmp_path / "model.ckpt", weights)
  layout.save_config(config, str(tmp_path / layout.CONFIG_FILE))
  with pytest.raises(errors.UserError, match=re.escape(message)):
    convert.convert("tf1", "ours", str(tmp_path), str(tmp_path / "out"))
  assert not (tmp_path / "out").exists()


def test_tf1_without_config_or_checkpoint_is_a_user_error(tmp_path):
  config, weights = hf_weights()
  write_tf1(tmp_path / "model.ckpt", weights)
  with pytest.raises(errors.UserError, match="albert_config.json not found"):
    tf1.load(str(tmp_path))
  layout.save_config(config, str(tmp_path / "cfg.json"))
  with pytest.raises(errors.UserError, match="no .*nope.index"):
    tf1.load(str(tmp_path / "nope"), str(tmp_path / "cfg.json"))
  (tmp_path / "cfg.json").write_text('{"hidden_size": 32, "hiden_act": "x"}')
  with pytest.raises(errors.UserError, match="unknown ALBERT config keys "
                     r"\['hiden_act'\]"):
    tf1.load(str(tmp_path), str(tmp_path / "cfg.json"))
