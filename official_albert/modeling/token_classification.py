"""Token classification: per-token logits on the sequence output.

As HuggingFace's `AlbertForTokenClassification` and Model Garden's
`BertTokenClassifier`: dropout on the encoder's sequence output, then one
dense layer giving a logit per class for every token.
"""

from typing import Dict, Optional

import tensorflow as tf
import tf_keras

from official_albert.modeling import albert


class AlbertTokenClassifier(tf_keras.Model):
  """Encoder + dropout + dense over every token.

  Inputs: the encoder's dict (`input_word_ids`, `input_mask`,
  `input_type_ids`, int `[batch, length]`); other keys are ignored.

  Output: `{"logits": float [batch, length, num_classes]}` (the dict Model
  Garden's tagging task reads).

  Args:
    encoder: an `AlbertEncoder`.
    num_classes: number of tags.
    dropout_rate: dropout on the sequence output (0.1, as HuggingFace's
      `classifier_dropout_prob`).
    initializer_range: stddev of the truncated-normal kernel initializer;
      defaults to the encoder's.

  Raises:
    ValueError: if `num_classes` < 1.
  """

  def __init__(self, encoder: albert.AlbertEncoder, num_classes: int,
               dropout_rate: float = 0.1,
               initializer_range: Optional[float] = None, **kwargs):
    super().__init__(**kwargs)
    if num_classes < 1:
      raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    self.encoder = encoder
    stddev = initializer_range or encoder.get_config()["initializer_range"]
    self.dropout = tf_keras.layers.Dropout(dropout_rate)
    self.classifier = tf_keras.layers.Dense(
        num_classes, kernel_initializer=tf_keras.initializers.TruncatedNormal(
            stddev=stddev), name="output")

  @property
  def checkpoint_items(self) -> Dict[str, tf.Module]:
    """Sub-objects a checkpoint can be restored into by name."""
    return dict(encoder=self.encoder)

  def call(self, inputs: Dict[str, tf.Tensor],
           training=None) -> Dict[str, tf.Tensor]:
    sequence = self.encoder(inputs, training=training)["sequence_output"]
    return dict(logits=self.classifier(self.dropout(sequence,
                                                    training=training)))
