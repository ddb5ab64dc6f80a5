"""Token classification: per-token logits on the sequence output.

As HuggingFace's `AlbertForTokenClassification` and Model Garden's
`BertTokenClassifier`: dropout on the encoder's sequence output, then one
dense layer giving a logit per class for every token.
"""

from typing import Dict

import tensorflow as tf

from official_albert.modeling import heads


class AlbertTokenClassifier(heads.AlbertClassifier):
  """Encoder + dropout + dense over every token.

  Inputs: the encoder's dict (`input_word_ids`, `input_mask`,
  `input_type_ids`, int `[batch, length]`); other keys are ignored.

  Output: `{"logits": float [batch, length, num_classes]}` (the dict Model
  Garden's tagging task reads).

  Args: as `AlbertClassifier` (`num_classes`: number of tags;
    `dropout_rate`: on the sequence output, 0.1 as HuggingFace's
    `classifier_dropout_prob`).
  """

  def call(self, inputs: Dict[str, tf.Tensor],
           training=None) -> Dict[str, tf.Tensor]:
    sequence = self.encoder(inputs, training=training)["sequence_output"]
    return dict(logits=self.classifier(self.dropout(sequence,
                                                    training=training)))
