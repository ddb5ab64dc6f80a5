"""Multiple choice: one score per option from the pooled output.

As the original ALBERT `race_utils.create_model` (and HuggingFace's
`AlbertForMultipleChoice`): the options of a question run through the
encoder as separate sequences, dropout then a dense layer with one output
turns each pooled [CLS] vector into a score, and the scores of a question's
options are its logits (softmax over options in the loss).
"""

from typing import Dict, Optional

import tensorflow as tf
import tf_keras

from official_albert.modeling import albert

_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


class AlbertMultipleChoice(tf_keras.Model):
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
    super().__init__(**kwargs)
    self.encoder = encoder
    stddev = initializer_range or encoder.get_config()["initializer_range"]
    self.dropout = tf_keras.layers.Dropout(dropout_rate)
    self.classifier = tf_keras.layers.Dense(
        1, kernel_initializer=tf_keras.initializers.TruncatedNormal(
            stddev=stddev), name="output")

  @property
  def checkpoint_items(self) -> Dict[str, tf.Module]:
    """Sub-objects a checkpoint can be restored into by name."""
    return dict(encoder=self.encoder)

  def call(self, inputs: Dict[str, tf.Tensor], training=None) -> tf.Tensor:
    shape = tf.shape(inputs["input_word_ids"])
    flat = {k: tf.reshape(inputs[k], [-1, shape[-1]]) for k in _INPUTS}
    pooled = self.encoder(flat, training=training)["pooled_output"]
    scores = self.classifier(self.dropout(pooled, training=training))
    return tf.reshape(scores, shape[:2])
