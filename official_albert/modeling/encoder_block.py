"""ALBERT's transformer block: Model Garden's, with the original's dropouts."""

import tf_keras
from official.nlp.modeling import layers as mg_layers


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

  Args:
    *args, **kwargs: `TransformerEncoderBlock` arguments; pass
      `output_dropout=hidden_dropout_prob` and
      `attention_dropout=attention_probs_dropout_prob`.
  """

  def build(self, input_shape):
    super().build(input_shape)
    self._attention_dropout = tf_keras.layers.Dropout(
        rate=self._output_dropout_rate)
