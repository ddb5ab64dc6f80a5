"""Our checkpoints: a pretraining model_dir converts to HuggingFace.

A Model Garden trainer's model_dir (checkpoint with `model` and an optimizer
with slots, `params.yaml` from `albert/pretraining`) is the real output of
pretraining; converted to HuggingFace, transformers must reproduce the
trained model's outputs.

Tests: `official_albert.interop.ours`.
"""

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers
from official.core import exp_factory
from official.core import train_utils
from official.modeling import optimization
from test_parity_hf import padded_batch

import official_albert.configs  # noqa: F401 (registers albert/pretraining)
from official_albert import errors
from official_albert.interop import convert
from official_albert.interop import ours

TOLERANCE = 1e-5
TINY = dict(vocab_size=300, embedding_size=16, hidden_size=32,
            num_hidden_layers=3, num_hidden_groups=3, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=64)


def trained_model_dir(path):
  """A model_dir as Model Garden's trainer leaves it, after one LAMB step."""
  params = exp_factory.get_exp_config("albert/pretraining")
  params.override({"task": {"model": {"encoder": TINY}}})
  train_utils.serialize_config(params, str(path))
  model = ours.build_pretrainer(params.task.model.encoder)
  factory = optimization.OptimizerFactory(params.trainer.optimizer_config)
  optimizer = factory.build_optimizer(factory.build_learning_rate())
  batch = {k: tf.constant(v, tf.int32) for k, v in padded_batch(300).items()}
  with tf.GradientTape() as tape:
    out = model(batch, training=True)
    loss = tf.reduce_mean(out["mlm_logits"] ** 2) + tf.reduce_mean(
        out["sop_logits"] ** 2)
  grads = tape.gradient(loss, model.trainable_variables)
  optimizer.apply_gradients(zip(grads, model.trainable_variables))
  tf.train.Checkpoint(model=model, optimizer=optimizer).save(
      str(path / "ckpt"))
  return model


def test_training_model_dir_converts_to_huggingface(tmp_path):
  model = trained_model_dir(tmp_path / "model_dir")
  convert.convert("ours", "hf", str(tmp_path / "model_dir"),
                  str(tmp_path / "hf"))
  hf_model = transformers.AlbertForPreTraining.from_pretrained(
      tmp_path / "hf").eval()
  batch = padded_batch(300)
  got = model({k: v.astype(np.int32) for k, v in batch.items()})
  with torch.no_grad():
    expected = hf_model(input_ids=torch.tensor(batch["input_word_ids"]),
                        attention_mask=torch.tensor(batch["input_mask"]),
                        token_type_ids=torch.tensor(batch["input_type_ids"]))
  rows = np.arange(len(batch["input_word_ids"]))[:, None]
  mlm = expected.prediction_logits.numpy()[rows, batch["masked_lm_positions"]]
  assert np.abs(got["mlm_logits"].numpy() - mlm).max() <= TOLERANCE
  assert np.abs(got["sop_logits"].numpy() -
                expected.sop_logits.numpy()).max() <= TOLERANCE


def test_wrong_config_for_a_model_dir_is_a_user_error(tmp_path):
  trained_model_dir(tmp_path / "model_dir")
  params = tmp_path / "model_dir" / ours.TRAINER_PARAMS
  params.write_text(params.read_text().replace("intermediate_size: 37",
                                               "intermediate_size: 38"))
  with pytest.raises(errors.UserError, match=r"shape mismatch model/encoder/"
                     r".*_intermediate_dense/bias \(37,\) \(config: \(38,\)\)"):
    ours.load(str(tmp_path / "model_dir"))
