"""Multiple choice: one score per option from the pooled output.

As the original ALBERT `race_utils.create_model` (and HuggingFace's
`AlbertForMultipleChoice`): the options of a question run through the
encoder as separate sequences, dropout then a dense layer with one output
turns each pooled [CLS] vector into a score, and the scores of a question's
options are its logits (softmax over options in the loss).
"""

from typing import Optional

import tensorflow as tf

from official_albert.modeling import albert
from official_albert.modeling import heads

_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


class AlbertMultipleChoice(heads.AlbertClassifier):
  """Encoder + dropout + one-unit dense on each option's pooled output.

  Inputs: int `input_word_ids`, `input_mask`, `input_type_ids`
  `[batch, num_options, length]`; other keys are ignored.

  Output: float logits `[batch, num_options]`.

  Args:
    encoder: an `AlbertEncoder`.
    dropout_rate: dropout on the pooled output (0.1 in the original).
    initializer_range: stddev of the truncated-normal kernel initializer;
      defaults to the encoder's.
  """

  def __init__(self, encoder: albert.AlbertEncoder, dropout_rate: float = 0.1,
               initializer_range: Optional[float] = None, **kwargs):
    super().__init__(encoder, 1, dropout_rate, initializer_range, **kwargs)

  def call(self, inputs, training=None) -> tf.Tensor:
    shape = tf.shape(inputs["input_word_ids"])
    flat = {k: tf.reshape(inputs[k], [-1, shape[-1]]) for k in _INPUTS}
    return tf.reshape(super().call(flat, training=training), shape[:2])
