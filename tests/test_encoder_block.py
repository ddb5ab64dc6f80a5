"""ALBERT's dropout semantics in the transformer block (original modeling.py).

Tests: `official_albert.modeling.encoder_block`.
"""

import numpy as np
import pytest
import tensorflow as tf

from official_albert.configs import encoders
from official_albert.modeling import encoder_block


def _block(hidden, attention):
  block = encoder_block.AlbertEncoderBlock(
      num_attention_heads=1, inner_dim=16, inner_activation="relu",
      output_dropout=hidden, attention_dropout=attention)
  block(tf.zeros([1, 1, 8]))
  return block


def _distinct_training_outputs(block, runs=40):
  x = tf.constant(np.random.default_rng(0).normal(size=[1, 1, 8]), tf.float32)
  outputs = {tuple(np.round(block(x, training=True).numpy().ravel(), 5))
             for _ in range(runs)}
  return len(outputs)


def test_attention_output_uses_the_hidden_rate():
  """With one token and one head, attention-probability dropout can only
  zero or double the whole context vector: 2 possible block outputs. A
  dropout on the attention output at that rate (Model Garden's semantics)
  would zero elements one by one: many outputs."""
  tf.random.set_seed(0)
  assert _distinct_training_outputs(_block(hidden=0.0, attention=0.5)) == 2
  # The hidden rate does reach the attention output (and the FFN output).
  assert _distinct_training_outputs(_block(hidden=0.5, attention=0.0)) > 10


@pytest.mark.parametrize("attention_type", ["exact", "nystrom"])
def test_encoder_wires_the_original_rates(attention_type):
  config = encoders.AlbertEncoderConfig(
      vocab_size=100, embedding_size=8, hidden_size=16, num_hidden_layers=2,
      num_attention_heads=2, intermediate_size=32, hidden_dropout_prob=0.1,
      attention_probs_dropout_prob=0.3, attention_type=attention_type,
      num_landmarks=4)
  encoder = encoders.build_encoder(config)
  encoder({k: tf.ones([1, 8], tf.int32) for k in
           ("input_word_ids", "input_mask", "input_type_ids")})
  for block in (b for group in encoder.groups for b in group):
    assert block._attention_dropout.rate == 0.1
    assert block._output_dropout.rate == 0.1
    assert block._attention_layer._dropout == 0.3
