"""The original ALBERT SQuAD 2.0 head: start/end beam and an answer classifier.

The published ALBERT SQuAD 2.0 scores come from the original
`run_squad_v2.py` (`squad_utils.create_v2_model`), whose head is XLNet's
(Yang et al., 2019, section 3 and appendix; the same code): start logits
from one dense unit over the paragraph; end logits conditioned on the
start, `dense_0` (2H -> H, tanh) on `[token; start token]`, LayerNorm,
`dense_1` (H -> 1), with the gold start in training and a beam of the
`start_n_top` best starts (each with its `end_n_top` best ends) at
inference; and `cls_logits`, an answerability score from `dense_0`
(2H -> H, tanh), dropout and `dense_1` (H -> 1, no bias) on
`[attention-pooled start feature; [CLS]]`. Logits outside the paragraph
(query, `[SEP]`, padding) are masked; [CLS] stays a valid start and end,
the target of unanswerable windows. This is Model Garden's
`XLNetSpanLabeling` layer, used here on the ALBERT encoder with the
paragraph mask computed from the packed ids.
"""

from typing import Dict, Optional

import tensorflow as tf
import tf_keras
from official.nlp.modeling import networks



def paragraph_mask(input_mask: tf.Tensor, input_type_ids: tf.Tensor
                   ) -> tf.Tensor:
  """1 on [CLS] and the paragraph's pieces of `[CLS] q [SEP] p [SEP]`.

  Args:
    input_mask, input_type_ids: int `[batch, length]`.

  Returns:
    int32 `[batch, length]`: segment-1 positions except the last real one
    (the final `[SEP]`), plus position 0.
  """
  length = tf.reduce_sum(tf.cast(input_mask, tf.int32), -1, keepdims=True)
  positions = tf.range(tf.shape(input_mask)[1])[None, :]
  paragraph = tf.logical_and(tf.equal(input_type_ids, 1),
                             positions < length - 1)
  return tf.cast(tf.logical_or(paragraph, tf.equal(positions, 0)), tf.int32)


class _SpanLabeling(networks.XLNetSpanLabeling):
  """`XLNetSpanLabeling` whose end logits keep a batch of one.

  Model Garden squeezes every unit axis of the end logits, which drops the
  batch axis when the last evaluation batch holds one window.
  """

  def end_logits(self, inputs):
    """`[batch, length, 2H]` -> `[batch, length]` (gold start), or
    `[batch, length, k, 2H]` -> `[batch, length, k]` (beam)."""
    gold_start = len(inputs.shape) == 3
    if gold_start:
      inputs = tf.expand_dims(inputs, axis=2)
    hidden = self.end_logits_layer_norm(self.end_logits_inner_dense(inputs))
    logits = tf.squeeze(self.end_logits_output_dense(hidden), -1)
    return tf.squeeze(logits, 2) if gold_start else logits


class AlbertSquadV2Labeler(tf_keras.Model):
  """Encoder + the original SQuAD 2.0 head (see the module docstring).

  Inputs: the encoder's dict (int `[batch, length]`, `[CLS] q [SEP] p
  [SEP]` packing); in training also int `start_positions` `[batch]`.

  Output: a dict of float32 `start_logits`, `end_logits` `[batch, length]`
  (masked; in training the end logits given the gold start), `class_logits`
  `[batch]`; at inference also `start_top_predictions`, int32
  `start_top_index` `[batch, start_n_top]` (start log-probabilities and
  positions) and `end_top_predictions`, `end_top_index`
  `[batch, start_n_top * end_n_top]`.

  Args:
    encoder: an `AlbertEncoder`.
    start_n_top, end_n_top: beam sizes (5 and 5 in the original).
    dropout_rate: dropout in the answer classifier (0.1 in the original).
    initializer_range: stddev of the truncated-normal kernel initializer;
      defaults to the encoder's (an `AlbertEncoder`'s config).
    hidden_size: H, the width of the encoder's `sequence_output`; defaults to
      the encoder's config. Give both for an encoder without one (a TF-Hub
      module).
  """

  def __init__(self, encoder, start_n_top: int = 5, end_n_top: int = 5,
               dropout_rate: float = 0.1,
               initializer_range: Optional[float] = None,
               hidden_size: Optional[int] = None, **kwargs):
    super().__init__(**kwargs)
    self.encoder = encoder
    if initializer_range is None or hidden_size is None:
      config = encoder.get_config()
      initializer_range = initializer_range or config["initializer_range"]
      hidden_size = hidden_size or config["hidden_size"]
    self.squad_v2 = _SpanLabeling(
        input_width=hidden_size, start_n_top=start_n_top,
        end_n_top=end_n_top, activation="tanh", dropout_rate=dropout_rate,
        initializer=tf_keras.initializers.TruncatedNormal(
            stddev=initializer_range))

  @property
  def checkpoint_items(self) -> Dict[str, tf.Module]:
    """Sub-objects a checkpoint can be restored into by name."""
    return dict(encoder=self.encoder)

  def call(self, inputs: Dict[str, tf.Tensor],
           training=None) -> Dict[str, tf.Tensor]:
    sequence = self.encoder(inputs, training=training)["sequence_output"]
    return self.squad_v2(
        sequence, class_index=tf.zeros(tf.shape(sequence)[:1], tf.int32),
        paragraph_mask=paragraph_mask(inputs["input_mask"],
                                      inputs["input_type_ids"]),
        start_positions=inputs.get("start_positions") if training else None,
        training=bool(training))
