"""Model Garden interop when embedding_size == hidden_size (albert_tiny.yaml).

Model Garden's `AlbertEncoder` creates `embedding_projection` only when
E != H (as the original release); ours always applies one. The oracle is
Model Garden's encoder itself: its outputs must equal ours after conversion
in either direction.

Tests: `official_albert.interop.model_garden`.
"""

import pathlib

import numpy as np
import pytest
import tensorflow as tf
from test_interop_model_garden import randomised

from official_albert import errors
from official_albert.configs import overrides
from official_albert.interop import convert
from official_albert.interop import layout
from official_albert.interop import model_garden
from official_albert.interop import ours

REPO = pathlib.Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def config():
  params = overrides.parse_configuration(
      "albert/pretraining", [str(REPO / "configs/models/albert_tiny.yaml")], "")
  config = params.task.model.encoder
  assert config.embedding_size == config.hidden_size == 128
  return config


def _batch(config):
  rng = np.random.default_rng(0)
  mask = np.ones((2, 24), np.int32)
  mask[1, 15:] = 0
  return {"input_word_ids": rng.integers(5, config.vocab_size, (2, 24),
                                         dtype=np.int32) * mask,
          "input_mask": mask,
          "input_type_ids": np.repeat([[0] * 12 + [1] * 12], 2, 0)
                            .astype(np.int32) * mask}


def _max_diff(ours_encoder, mg_encoder, config):
  batch = _batch(config)
  got = ours_encoder(batch)
  sequence, pooled = mg_encoder(batch)
  assert np.abs(sequence.numpy()).max() > 0.1
  return max(float(np.abs(got["sequence_output"].numpy() - sequence).max()),
             float(np.abs(got["pooled_output"].numpy() - pooled).max()))


def test_model_garden_without_projection_to_ours(tmp_path, config):
  mg_encoder = model_garden.build_encoder(config)
  assert not any("embedding_projection" in v.name for v in mg_encoder.weights)
  randomised(mg_encoder.weights, seed=3)
  (tmp_path / "mg").mkdir()
  tf.train.Checkpoint(encoder=mg_encoder).save(str(tmp_path / "mg" / "ckpt"))
  layout.save_config(config, str(tmp_path / "mg" / layout.CONFIG_FILE))
  convert.convert("model_garden", "ours", str(tmp_path / "mg"),
                  str(tmp_path / "ours"))
  loaded, weights, _ = ours.load(str(tmp_path / "ours"))
  np.testing.assert_array_equal(
      weights[layout.PROJECTION_PREFIX + "kernel"], np.eye(128))
  model = ours.build_pretrainer(loaded)
  ours.assign(model, weights, "test")
  diff = _max_diff(model.encoder, mg_encoder, config)
  print("model garden (E=H) -> ours max abs diff:", diff)
  assert diff <= TOLERANCE
  # And back: the identity projection is dropped again.
  convert.convert("ours", "model_garden", str(tmp_path / "ours"),
                  str(tmp_path / "mg2"))
  back = model_garden.build_encoder(config)
  tf.train.Checkpoint(encoder=back).read(tf.train.latest_checkpoint(
      str(tmp_path / "mg2"))).assert_existing_objects_matched()
  for a, b in zip(back.weights, mg_encoder.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_ours_to_model_garden_without_projection(tmp_path, config):
  model = ours.build_pretrainer(config)
  randomised(model.weights, seed=4)
  weights = ours.read(model)
  identity = dict(weights, **{
      layout.PROJECTION_PREFIX + "kernel": np.eye(128, dtype=np.float32),
      layout.PROJECTION_PREFIX + "bias": np.zeros(128, np.float32)})
  ours.assign(model, identity, "test")
  ours.save(str(tmp_path / "ours"), config, identity)
  convert.convert("ours", "model_garden", str(tmp_path / "ours"),
                  str(tmp_path / "mg"))
  mg_encoder = model_garden.build_encoder(config)
  tf.train.Checkpoint(encoder=mg_encoder).read(tf.train.latest_checkpoint(
      str(tmp_path / "mg"))).assert_existing_objects_matched()
  diff = _max_diff(model.encoder, mg_encoder, config)
  print("ours (E=H) -> model garden max abs diff:", diff)
  assert diff <= TOLERANCE


def test_trained_projection_cannot_go_to_model_garden(tmp_path, config):
  """A projection that is not the identity has no place there: one error."""
  model = ours.build_pretrainer(config)
  randomised(model.weights, seed=5)
  ours.save(str(tmp_path / "ours"), config, ours.read(model))
  with pytest.raises(errors.UserError, match=(
      "no E->H projection when embedding_size == hidden_size .*not the "
      "identity")):
    convert.convert("ours", "model_garden", str(tmp_path / "ours"),
                    str(tmp_path / "mg"))
  assert not (tmp_path / "mg").exists()
