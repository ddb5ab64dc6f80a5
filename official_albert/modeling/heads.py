"""Fine-tuning models: an ALBERT encoder with a classifier or a span head.

As in the original release's `run_classifier.py` and `squad_utils.py`
(BERT-style heads): sentence prediction is dropout then a dense layer on the
pooled output (the tanh-pooled [CLS] vector), or, with `pooling="mean"`, on
the mean of the sequence output over the real tokens; span prediction is one dense
layer over the sequence output giving start and end logits per token
(Model Garden's `SpanLabeling` network). SQuAD v2.0 no-answer is the [CLS]
span (start = end = 0), decided at post-processing by comparing its score
with the best span's (see `official_albert.tasks.squad`).
"""

from typing import Dict, Optional, Tuple

import tensorflow as tf
import tf_keras
from official.nlp.modeling import networks

from official_albert.modeling import albert


POOLINGS = ("cls", "mean")


def masked_mean(sequence: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
  """Mean of `sequence` over the positions where `mask` is 1.

  Args:
    sequence: float `[batch, seq_length, width]`.
    mask: int or float `[batch, seq_length]`, 1 for real tokens, 0 for
      padding; a row without real tokens gives zeros, not NaN.

  Returns:
    float `[batch, width]`, in `sequence`'s dtype.
  """
  weights = tf.cast(mask, sequence.dtype)[:, :, None]
  total = tf.reduce_sum(sequence * weights, axis=1)
  return total / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


class AlbertClassifier(tf_keras.Model):
  """Encoder + dropout + dense on a sentence vector.

  The sentence vector is the encoder's `pooled_output`, tanh(dense([CLS]))
  (`pooling="cls"`, the original), or the mean of its `sequence_output`
  over the real tokens, `input_mask` = 1 (`pooling="mean"`; no dense+tanh
  follows, so the encoder's pooler is unused).

  Inputs: the encoder's dict (`input_word_ids`, `input_mask`,
  `input_type_ids`, int `[batch, seq_length]`); other keys are ignored.

  Output: float logits `[batch, num_classes]` (`num_classes` = 1 for
  regression: the predicted score).

  Args:
    encoder: an `AlbertEncoder`.
    num_classes: number of classes, 1 for regression.
    dropout_rate: dropout on the sentence vector (0.1 in the original).
    initializer_range: stddev of the truncated-normal kernel initializer;
      defaults to the encoder's.
    pooling: "cls" or "mean" (see above).

  Raises:
    ValueError: if `num_classes` < 1 or `pooling` is not in `POOLINGS`.
  """

  def __init__(self, encoder: albert.AlbertEncoder, num_classes: int,
               dropout_rate: float = 0.1,
               initializer_range: Optional[float] = None,
               pooling: str = "cls",
               **kwargs):
    super().__init__(**kwargs)
    if num_classes < 1:
      raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if pooling not in POOLINGS:
      raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    self.pooling = pooling
    self.encoder = encoder
    stddev = initializer_range or encoder.get_config()["initializer_range"]
    self.dropout = tf_keras.layers.Dropout(dropout_rate)
    self.classifier = tf_keras.layers.Dense(
        num_classes,
        kernel_initializer=tf_keras.initializers.TruncatedNormal(stddev=stddev),
        name="output")

  @property
  def checkpoint_items(self) -> Dict[str, tf.Module]:
    """Sub-objects a checkpoint can be restored into by name."""
    return dict(encoder=self.encoder)

  def call(self, inputs: Dict[str, tf.Tensor], training=None) -> tf.Tensor:
    outputs = self.encoder(inputs, training=training)
    if self.pooling == "mean":
      pooled = masked_mean(outputs["sequence_output"], inputs["input_mask"])
    else:
      pooled = outputs["pooled_output"]
    return self.classifier(self.dropout(pooled, training=training))


class AlbertSpanLabeler(tf_keras.Model):
  """Encoder + per-token start/end logits (Model Garden's `SpanLabeling`).

  Inputs: the encoder's dict; other keys are ignored.

  Output: a tuple `(start_logits, end_logits)`, each float
  `[batch, seq_length]`.

  Args:
    encoder: an `AlbertEncoder`, or a TF-Hub encoder
      (`tasks.hub_encoder`).
    initializer_range: stddev of the truncated-normal kernel initializer;
      defaults to the encoder's.
    hidden_size: the encoder's output width H; defaults to the encoder's.
  """

  def __init__(self, encoder: albert.AlbertEncoder,
               initializer_range: Optional[float] = None,
               hidden_size: Optional[int] = None, **kwargs):
    super().__init__(**kwargs)
    self.encoder = encoder
    stddev = initializer_range or encoder.get_config()["initializer_range"]
    self.span_labeling = networks.SpanLabeling(
        input_width=hidden_size or encoder.get_config()["hidden_size"],
        initializer=tf_keras.initializers.TruncatedNormal(stddev=stddev))

  @property
  def checkpoint_items(self) -> Dict[str, tf.Module]:
    """Sub-objects a checkpoint can be restored into by name."""
    return dict(encoder=self.encoder)

  def call(self, inputs: Dict[str, tf.Tensor],
           training=None) -> Tuple[tf.Tensor, tf.Tensor]:
    sequence = self.encoder(inputs, training=training)["sequence_output"]
    start_logits, end_logits = self.span_labeling(sequence)
    return start_logits, end_logits
