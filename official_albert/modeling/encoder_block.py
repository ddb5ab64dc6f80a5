"""ALBERT's transformer block: Model Garden's, with the original's dropouts.

Its attention (`AlbertAttention`) can mask with a finite value for full
int8 export (`finite_mask`).
"""

import contextlib
from typing import Optional

import tensorflow as tf
import tf_keras
from official.nlp.modeling import layers as mg_layers

# What `finite_mask` adds to masked attention scores. Keras adds -1e9: a
# full-int8 converter then quantizes the masked scores on a range of 1e9,
# every real score rounds to the same value, and attention is uniform (the
# SST-2 tiny model's int8 dev accuracy was 0.509, float32's 0.784; with -30,
# 0.750). e^-30 leaves a masked position ~1e-13 of the weight unless its
# score exceeds the best real score by ~20, which trained attention
# scores do not.
INT8_MASK_VALUE = -30.0


class AlbertAttention(tf_keras.layers.MultiHeadAttention):
  """Keras's `MultiHeadAttention`, whose masked scores can get a finite value.

  Same arguments, inputs, outputs and variables as the parent. With
  `mask_value` None (the default) it is the parent; otherwise masked
  scores get `mask_value` added before the softmax, instead of Keras's
  -1e9. Set it through `finite_mask`, for tracing an int8 export.

  Attributes:
    mask_value: None, or the float added to masked scores.
  """

  mask_value: Optional[float] = None

  def _masked_softmax(self, attention_scores, attention_mask=None):
    if attention_mask is None or self.mask_value is None:
      return super()._masked_softmax(attention_scores, attention_mask)
    # Scores [batch, heads, query, key], mask [batch, query, key].
    adder = (1.0 - tf.cast(attention_mask[:, None], attention_scores.dtype)
             ) * self.mask_value
    return tf.nn.softmax(attention_scores + adder, axis=-1)


@contextlib.contextmanager
def finite_mask(model: tf.Module, value: float = INT8_MASK_VALUE):
  """Within the block, every `AlbertAttention` of `model` masks with `value`.

  Functions traced inside keep it: trace the int8 LiteRT export here.
  """
  layers = [m for m in model.submodules if isinstance(m, AlbertAttention)]
  for layer in layers:
    layer.mask_value = value
  try:
    yield
  finally:
    for layer in layers:
      layer.mask_value = None


class AlbertEncoderBlock(mg_layers.TransformerEncoderBlock):
  """`TransformerEncoderBlock` (post-norm) with ALBERT's dropout rates.

  Inputs and outputs are the parent's: float `[batch, seq_length,
  hidden_size]` plus an optional `[batch, seq_length, seq_length]` mask, to
  float `[batch, seq_length, hidden_size]`; the variables are the parent's.

  Model Garden applies `attention_dropout` both to the attention
  probabilities and to the attention output projection. The original ALBERT
  (`modeling.py`, `attention_ffn_block`) applies `attention_probs_dropout_prob`
  to the probabilities only and `hidden_dropout_prob` to the projected
  attention output, as to the feed-forward output. This block keeps the
  parent's `attention_dropout` for the probabilities and uses
  `output_dropout` for the attention output too, so the two rates mean what
  they mean in the original when they differ.

  Its attention is an `AlbertAttention` built with the parent's arguments
  (same variables).

  Args:
    *args, **kwargs: `TransformerEncoderBlock` arguments; pass
      `output_dropout=hidden_dropout_prob` and
      `attention_dropout=attention_probs_dropout_prob`.
  """

  def build(self, input_shape):
    super().build(input_shape)
    self._attention_layer = AlbertAttention(**self.attention_config())
    self._attention_dropout = tf_keras.layers.Dropout(
        rate=self._output_dropout_rate)

  def attention_config(self):
    """The parent's attention arguments, to build a replacement from."""
    config = self._attention_layer.get_config()
    # Shapes are recorded only once the layer has been called; it has not.
    for unset in ("query_shape", "key_shape", "value_shape"):
      del config[unset]
    return config
