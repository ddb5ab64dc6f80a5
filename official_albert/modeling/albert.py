"""ALBERT encoder and pretraining model, readable top to bottom.

Implements "ALBERT: A Lite BERT for Self-supervised Learning of Language
Representations" (Lan et al., 2019, arXiv:1909.11942), section 3:

* factorized embedding parameterization: token ids -> `embedding_size`-wide
  embeddings -> dense projection to `hidden_size` (section 3.1);
* cross-layer parameter sharing: `num_hidden_groups` groups of
  `inner_group_num` post-LayerNorm transformer blocks; layer `i` of
  `num_hidden_layers` runs group `int(i / num_hidden_layers * num_hidden_groups)`
  (original `modeling.py`, `transformer_model`);
* the masked-LM head tied to the word-embedding table and the sentence-order
  prediction (SOP) head on the pooled output (section 4.1).

The transformer block is Model Garden's `TransformerEncoderBlock` (post-norm)
with the original's dropout semantics (`encoder_block.AlbertEncoderBlock`:
`hidden_dropout_prob` on the attention output, not the attention rate),
the MLM head is Model Garden's `MaskedLM`; what is ALBERT-specific (embedding
factorization, group sharing, the pooler and the SOP head) lives here.

Unlike the original release, the E->H projection is always applied, even when
`embedding_size == hidden_size` (HuggingFace does the same; every released
checkpoint has E=128 != H, so nothing is lost).
"""

from typing import Dict, Optional

import tensorflow as tf
import tf_keras
from official.modeling import activations as mg_activations
from official.nlp.modeling import layers as mg_layers

from official_albert.modeling import encoder_block
from official_albert.modeling import nystrom

# The original ALBERT configs say "gelu" and mean the tanh approximation
# (HuggingFace calls that "gelu_new"); "gelu_exact" is the erf form.
_ACTIVATIONS = {
    "gelu": mg_activations.gelu,
    "gelu_new": mg_activations.gelu,
    "gelu_exact": lambda x: tf.nn.gelu(x, approximate=False),
    "relu": tf.nn.relu,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
    "tanh": tf.math.tanh,
}


def get_activation(name: str):
  """Returns the activation function for an ALBERT `hidden_act` name.

  Args:
    name: one of "gelu" (tanh approximation, as in the original release),
      "gelu_new" (same), "gelu_exact", "relu", "silu"/"swish", "tanh".

  Returns:
    A callable mapping a float tensor to a tensor of the same shape and dtype.

  Raises:
    ValueError: if `name` is not a known activation.
  """
  if name not in _ACTIVATIONS:
    raise ValueError(f"unknown hidden_act {name!r}; use one of "
                     f"{sorted(_ACTIVATIONS)}")
  return _ACTIVATIONS[name]


def _initializer(stddev: float):
  return tf_keras.initializers.TruncatedNormal(stddev=stddev)


class AlbertEncoder(tf_keras.Model):
  """ALBERT encoder: factorized embeddings + grouped, shared transformer blocks.

  Inputs (a dict, all int32 or int64, `[batch, seq_length]`):
    `input_word_ids` (token ids in `[0, vocab_size)`), `input_mask` (1 for real
    tokens, 0 for padding), `input_type_ids` (segment ids, 0 or 1).

  Outputs (a dict):
    `sequence_output`: float `[batch, seq_length, hidden_size]`, last layer.
    `pooled_output`: float `[batch, hidden_size]`, tanh(dense(first token)).
    `encoder_outputs`: list of `num_hidden_layers` tensors
      `[batch, seq_length, hidden_size]`, the output of each layer (each layer
      is one pass through its group's `inner_group_num` blocks).
    `embedding_output`: float `[batch, seq_length, hidden_size]`, the projected
      embeddings fed to the first layer.

  Args:
    vocab_size: number of word pieces (30000 in the release).
    embedding_size: E, the width of the embedding tables.
    hidden_size: H, the transformer width.
    num_hidden_layers: L, how many layers are applied.
    num_hidden_groups: how many distinct parameter groups the L layers share.
    inner_group_num: transformer blocks per group.
    num_attention_heads: heads per block; must divide `hidden_size`.
    intermediate_size: feed-forward width.
    hidden_act: activation name, see `get_activation`.
    hidden_dropout_prob: dropout on embeddings, attention outputs and block
      outputs.
    attention_probs_dropout_prob: dropout on attention probabilities.
    max_position_embeddings: the longest sequence the model accepts.
    type_vocab_size: number of segment ids.
    initializer_range: stddev of the truncated-normal initializer.
    layer_norm_eps: LayerNorm epsilon (1e-12 in the original).
    attention_type: "exact" softmax attention, or "nystrom" for the
      Nyströmformer approximation (`official_albert.modeling.nystrom`), whose
      cost grows as O(seq_length * num_landmarks); both have the same weights
      plus, for "nystrom", a depthwise-convolution skip.
    num_landmarks: Nyström landmarks per head (ignored for "exact").

  Raises:
    ValueError: on inconsistent sizes (heads not dividing H, groups more than
      layers), an unknown activation or an unknown attention_type.
  """

  def __init__(self,
               vocab_size: int = 30000,
               embedding_size: int = 128,
               hidden_size: int = 768,
               num_hidden_layers: int = 12,
               num_hidden_groups: int = 1,
               inner_group_num: int = 1,
               num_attention_heads: int = 12,
               intermediate_size: int = 3072,
               hidden_act: str = "gelu",
               hidden_dropout_prob: float = 0.0,
               attention_probs_dropout_prob: float = 0.0,
               max_position_embeddings: int = 512,
               type_vocab_size: int = 2,
               initializer_range: float = 0.02,
               layer_norm_eps: float = 1e-12,
               attention_type: str = "exact",
               num_landmarks: int = 64,
               **kwargs):
    super().__init__(**kwargs)
    if hidden_size % num_attention_heads:
      raise ValueError(f"hidden_size {hidden_size} is not a multiple of "
                       f"num_attention_heads {num_attention_heads}")
    if not 1 <= num_hidden_groups <= num_hidden_layers:
      raise ValueError(f"num_hidden_groups must be in [1, num_hidden_layers="
                       f"{num_hidden_layers}], got {num_hidden_groups}")
    self._config = dict(
        vocab_size=vocab_size, embedding_size=embedding_size,
        hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
        num_hidden_groups=num_hidden_groups, inner_group_num=inner_group_num,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size, hidden_act=hidden_act,
        hidden_dropout_prob=hidden_dropout_prob,
        attention_probs_dropout_prob=attention_probs_dropout_prob,
        max_position_embeddings=max_position_embeddings,
        type_vocab_size=type_vocab_size, initializer_range=initializer_range,
        layer_norm_eps=layer_norm_eps, attention_type=attention_type,
        num_landmarks=num_landmarks)
    if attention_type == "exact":
      block_cls, block_extra = encoder_block.AlbertEncoderBlock, {}
    elif attention_type == "nystrom":
      block_cls = nystrom.NystromEncoderBlock
      block_extra = dict(num_landmarks=num_landmarks)
    else:
      raise ValueError(f"attention_type must be 'exact' or 'nystrom', got "
                       f"{attention_type!r}")
    activation = get_activation(hidden_act)

    # Embeddings (E wide), summed, normalised, then projected to H.
    self.word_embeddings = mg_layers.OnDeviceEmbedding(
        vocab_size, embedding_size, initializer=_initializer(initializer_range),
        name="word_embeddings")
    # Built now so that heads can tie to the table before the first call.
    self.word_embeddings.build(None)
    self.position_embeddings = mg_layers.PositionEmbedding(
        max_position_embeddings, initializer=_initializer(initializer_range),
        name="position_embeddings")
    self.token_type_embeddings = mg_layers.OnDeviceEmbedding(
        type_vocab_size, embedding_size, use_one_hot=True,
        initializer=_initializer(initializer_range),
        name="token_type_embeddings")
    self.embedding_layer_norm = tf_keras.layers.LayerNormalization(
        epsilon=layer_norm_eps, dtype=tf.float32, name="embeddings/LayerNorm")
    self.embedding_dropout = tf_keras.layers.Dropout(hidden_dropout_prob)
    self.embedding_hidden_mapping_in = tf_keras.layers.Dense(
        hidden_size, kernel_initializer=_initializer(initializer_range),
        name="embedding_hidden_mapping_in")
    self.attention_mask = mg_layers.SelfAttentionMask()

    # groups[g][i] is inner block i of group g; layers share them.
    self.groups = [[
        block_cls(
            num_attention_heads=num_attention_heads,
            inner_dim=intermediate_size,
            inner_activation=activation,
            kernel_initializer=_initializer(initializer_range),
            norm_first=False,
            norm_epsilon=layer_norm_eps,
            output_dropout=hidden_dropout_prob,
            attention_dropout=attention_probs_dropout_prob,
            name=f"group_{g}/inner_group_{i}", **block_extra)
        for i in range(inner_group_num)] for g in range(num_hidden_groups)]
    self.layer_to_group = [
        int(i / num_hidden_layers * num_hidden_groups)
        for i in range(num_hidden_layers)]

    self.pooler = tf_keras.layers.Dense(
        hidden_size, activation="tanh",
        kernel_initializer=_initializer(initializer_range), name="pooler/dense")

  def get_embedding_table(self) -> tf.Variable:
    """Returns the word-embedding table, float32 `[vocab_size, embedding_size]`."""
    return self.word_embeddings.embeddings

  def call(self, inputs: Dict[str, tf.Tensor], training=None):
    word_ids = inputs["input_word_ids"]
    mask = inputs["input_mask"]
    type_ids = inputs["input_type_ids"]

    words = self.word_embeddings(word_ids)
    embeddings = (words + self.position_embeddings(words) +
                  self.token_type_embeddings(type_ids))
    embeddings = self.embedding_layer_norm(embeddings)
    embeddings = self.embedding_dropout(embeddings, training=training)
    x = self.embedding_hidden_mapping_in(embeddings)
    embedding_output = x

    attention_mask = self.attention_mask(x, mask)
    encoder_outputs = []
    for group in self.layer_to_group:
      for block in self.groups[group]:
        x = block([x, attention_mask], training=training)
      encoder_outputs.append(x)

    pooled = self.pooler(x[:, 0, :])
    return dict(sequence_output=x, pooled_output=pooled,
                encoder_outputs=encoder_outputs,
                embedding_output=embedding_output)

  def get_config(self):
    return dict(self._config, name=self.name)

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls(**config)


class AlbertPretrainer(tf_keras.Model):
  """ALBERT with its pretraining heads: masked LM and sentence order.

  Inputs: the encoder's inputs plus `masked_lm_positions`, int `[batch,
  max_predictions_per_seq]` (indices into the sequence; padded slots may point
  anywhere, their weight is zero in the loss).

  Outputs (a dict):
    `mlm_logits`: float `[batch, max_predictions_per_seq, vocab_size]`,
      computed only at `masked_lm_positions` (dense H->E, activation,
      LayerNorm, then logits against the tied word-embedding table plus a bias).
    `sop_logits`: float `[batch, 2]`, class 1 = segments swapped.
    `sequence_output`, `pooled_output`: as the encoder's.

  Args:
    encoder: an `AlbertEncoder`.
    initializer_range: stddev for the heads' truncated-normal initializer.
  """

  def __init__(self, encoder: AlbertEncoder,
               initializer_range: Optional[float] = None, **kwargs):
    super().__init__(**kwargs)
    self.encoder = encoder
    config = encoder.get_config()
    stddev = initializer_range or config["initializer_range"]
    self.masked_lm = mg_layers.MaskedLM(
        embedding_table=encoder.get_embedding_table(),
        activation=get_activation(config["hidden_act"]),
        initializer=_initializer(stddev), name="cls/predictions")
    self.sop_classifier = tf_keras.layers.Dense(
        2, kernel_initializer=_initializer(stddev), name="cls/seq_relationship")

  @property
  def checkpoint_items(self):
    """Sub-objects a pretrained checkpoint can be restored into by name."""
    return dict(encoder=self.encoder, masked_lm=self.masked_lm,
                sop_classifier=self.sop_classifier)

  def call(self, inputs: Dict[str, tf.Tensor], training=None):
    outputs = self.encoder(inputs, training=training)
    positions = tf.cast(inputs["masked_lm_positions"], tf.int32)
    mlm_logits = self.masked_lm(outputs["sequence_output"], positions)
    sop_logits = self.sop_classifier(outputs["pooled_output"])
    return dict(mlm_logits=mlm_logits, sop_logits=sop_logits,
                sequence_output=outputs["sequence_output"],
                pooled_output=outputs["pooled_output"])


def dummy_inputs(batch_size: int = 1, seq_length: int = 8,
                 max_predictions_per_seq: int = 0) -> Dict[str, tf.Tensor]:
  """Zero int32 inputs of the given shapes, for building a model's variables."""
  ids = tf.zeros([batch_size, seq_length], tf.int32)
  inputs = dict(input_word_ids=ids, input_mask=tf.ones_like(ids),
                input_type_ids=ids)
  if max_predictions_per_seq:
    inputs["masked_lm_positions"] = tf.zeros(
        [batch_size, max_predictions_per_seq], tf.int32)
  return inputs

