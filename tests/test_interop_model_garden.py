"""Model Garden AlbertEncoder checkpoints, in and out.

The oracle is Model Garden's own `networks.AlbertEncoder`: random weights it
holds must give our encoder the same outputs after import, and our weights
exported to it must give its outputs equal to ours.

Tests: `official_albert.interop.model_garden`,
`official_albert.interop.layout`, `official_albert.interop.tf2_checkpoint`.
"""

import re

import numpy as np
import pytest
import tensorflow as tf
from test_parity_hf import padded_batch

from official_albert import errors
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.interop import convert
from official_albert.interop import layout
from official_albert.interop import model_garden
from official_albert.interop import ours

TOLERANCE = 1e-5
CONFIG = AlbertEncoderConfig(
    vocab_size=300, embedding_size=16, hidden_size=32, num_hidden_layers=3,
    num_attention_heads=4, intermediate_size=37, max_position_embeddings=64)
ENCODER_KEYS = ("input_word_ids", "input_mask", "input_type_ids")


def randomised(variables, seed):
  """Sets every variable to random values (biases and LayerNorms included)."""
  rng = np.random.default_rng(seed)
  for var in variables:
    var.assign(rng.normal(0.0, 0.1, var.shape).astype(np.float32) +
               ("gamma" in var.name))


def encoder_batch():
  return {k: v.astype(np.int32)
          for k, v in padded_batch(CONFIG.vocab_size).items()
          if k in ENCODER_KEYS}


def compare(ours_encoder, mg_encoder):
  batch = encoder_batch()
  got = ours_encoder(batch)
  expected = mg_encoder(batch)  # [sequence_output, pooled_output]
  diffs = {key: float(np.abs(got[key].numpy() - mg.numpy()).max())
           for key, mg in zip(("sequence_output", "pooled_output"), expected)}
  assert max(diffs.values()) <= TOLERANCE, diffs
  assert np.abs(expected[0].numpy()).max() > 0.1
  return diffs


def save_model_garden(path, encoder):
  """Saves the layout tf2_albert_encoder_checkpoint_converter writes."""
  path.mkdir()
  tf.train.Checkpoint(encoder=encoder).save(str(path / "ckpt"))
  layout.save_config(CONFIG, str(path / layout.CONFIG_FILE))


def test_model_garden_to_ours(tmp_path):
  mg_encoder = model_garden.build_encoder(CONFIG)
  randomised(mg_encoder.weights, seed=1)
  save_model_garden(tmp_path / "mg", mg_encoder)
  convert.convert("model_garden", "ours", str(tmp_path / "mg"),
                  str(tmp_path / "ours"))
  config, weights, _ = ours.load(str(tmp_path / "ours"))
  assert not any(layout.head_of(n) for n in weights)
  model = ours.build_pretrainer(config)
  ours.assign(model, weights, "test")
  print("model garden -> ours max abs diff:", compare(model.encoder,
                                                      mg_encoder))


def test_ours_to_model_garden(tmp_path):
  model = ours.build_pretrainer(CONFIG)
  randomised(model.weights, seed=2)
  ours.save(str(tmp_path / "ours"), CONFIG, ours.read(model))
  convert.convert("ours", "model_garden", str(tmp_path / "ours"),
                  str(tmp_path / "mg"))
  mg_encoder = model_garden.build_encoder(CONFIG)
  tf.train.Checkpoint(encoder=mg_encoder).read(tf.train.latest_checkpoint(
      str(tmp_path / "mg"))).assert_existing_objects_matched()
  print("ours -> model garden max abs diff:", compare(model.encoder,
                                                      mg_encoder))


def test_shared_groups_cannot_go_to_model_garden(tmp_path):
  config = CONFIG.replace(num_hidden_groups=3)
  model = ours.build_pretrainer(config)
  with pytest.raises(errors.UserError, match="num_hidden_groups=3"):
    model_garden.save(str(tmp_path / "mg"), config, ours.read(model))
  assert not (tmp_path / "mg").exists()


@pytest.mark.parametrize("config_edit,message", [
    (dict(intermediate_size=40),
     "shape mismatch encoder/layer_with_weights-5/_intermediate_dense/bias "
     "(37,) (config: (40,))"),
    (dict(vocab_size=301),
     "shape mismatch encoder/layer_with_weights-0/embeddings (300, 16) "
     "(config: (301, 16))"),
])
def test_model_garden_mismatch_is_a_user_error(tmp_path, config_edit,
                                               message):
  save_model_garden(tmp_path / "mg", model_garden.build_encoder(CONFIG))
  layout.save_config(CONFIG.replace(**config_edit),
                     str(tmp_path / "cfg.json"))
  with pytest.raises(errors.UserError, match=re.escape(message)):
    model_garden.load(str(tmp_path / "mg"), str(tmp_path / "cfg.json"))


def test_ours_checkpoint_without_encoder_variable_is_a_user_error(tmp_path):
  """A checkpoint of another network is reported by key, nothing loaded."""
  mg_encoder = model_garden.build_encoder(CONFIG)
  save_model_garden(tmp_path / "mg", mg_encoder)
  with pytest.raises(errors.UserError, match="missing encoder/"):
    ours.load(str(tmp_path / "mg"))
