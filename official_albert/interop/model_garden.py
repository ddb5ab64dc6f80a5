"""Model Garden `official.nlp.modeling.networks.AlbertEncoder` checkpoints.

The layout is the one Model Garden's `tf2_albert_encoder_checkpoint_converter`
writes: `tf.train.Checkpoint(encoder=AlbertEncoder)`. That encoder has a single
shared block (1 group, 1 inner layer), a fixed LayerNorm epsilon of 1e-12, no
pretraining heads, and an E->H `embedding_projection` only when E != H (as
the original release); a directory here holds the checkpoint (`ckpt-1*`,
`checkpoint`) and `albert_config.json`.
"""

from typing import Dict, Optional, Tuple

import tensorflow as tf
import tf_keras
from official.nlp.modeling import networks

from official_albert import errors
from official_albert import io_utils
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.interop import layout
from official_albert.interop import ours
from official_albert.interop import tf2_checkpoint
from official_albert.modeling import albert

ITEM = "encoder"

# TF1 name -> Model Garden AlbertEncoder variable name, outside the block.
_OUTER_NAMES = {
    "bert/embeddings/word_embeddings": "word_embeddings/embeddings",
    "bert/embeddings/position_embeddings": "position_embedding/embeddings",
    "bert/embeddings/token_type_embeddings": "type_embeddings/embeddings",
    "bert/embeddings/LayerNorm/gamma": "embeddings/layer_norm/gamma",
    "bert/embeddings/LayerNorm/beta": "embeddings/layer_norm/beta",
    "bert/encoder/embedding_hidden_mapping_in/kernel":
        "embedding_projection/kernel",
    "bert/encoder/embedding_hidden_mapping_in/bias":
        "embedding_projection/bias",
    "bert/pooler/dense/kernel": "pooler_transform/kernel",
    "bert/pooler/dense/bias": "pooler_transform/bias",
}


def build_encoder(config: AlbertEncoderConfig) -> networks.AlbertEncoder:
  """A Model Garden `AlbertEncoder` with `config`'s sizes.

  Raises:
    errors.UserError: if `config` uses what that encoder cannot express
      (several groups or inner layers, a LayerNorm epsilon other than 1e-12).
  """
  if config.num_hidden_groups != 1 or config.inner_group_num != 1:
    errors.fail("Model Garden's AlbertEncoder shares one block across all "
                f"layers; this model has num_hidden_groups="
                f"{config.num_hidden_groups}, inner_group_num="
                f"{config.inner_group_num}. Convert to ours, hf or tf1 instead")
  if config.layer_norm_eps != 1e-12:
    errors.fail(f"Model Garden's AlbertEncoder fixes LayerNorm epsilon at "
                f"1e-12; this model has {config.layer_norm_eps}")
  return networks.AlbertEncoder(
      vocab_size=config.vocab_size, embedding_width=config.embedding_size,
      hidden_size=config.hidden_size, num_layers=config.num_hidden_layers,
      num_attention_heads=config.num_attention_heads,
      max_sequence_length=config.max_position_embeddings,
      type_vocab_size=config.type_vocab_size,
      intermediate_size=config.intermediate_size,
      activation=albert.get_activation(config.hidden_act),
      dropout_rate=config.hidden_dropout_prob,
      attention_dropout_rate=config.attention_probs_dropout_prob,
      initializer=tf_keras.initializers.TruncatedNormal(
          stddev=config.initializer_range))


def variables(encoder: networks.AlbertEncoder) -> Dict[str, tf.Variable]:
  """TF1 name -> variable of a Model Garden `AlbertEncoder`.

  Without `embedding_projection/*` when the encoder has none (E == H).
  """
  by_name = {v.name.split(":")[0]: v for v in encoder.weights}
  names = dict(_OUTER_NAMES,
               **ours.block_name_map(layout.block_prefix(0, 0), "transformer/"))
  return {tf1: by_name[mg] for tf1, mg in names.items()
          if mg in by_name or not mg.startswith("embedding_projection/")}


def assign(encoder: networks.AlbertEncoder, weights: layout.Weights,
           config: AlbertEncoderConfig, source: str) -> None:
  """Loads interchange-layout weights (heads ignored) into `encoder`.

  Raises:
    errors.UserError: if `weights` does not match `config`, or E == H and
      its E->H projection is not the identity (see
      `layout.drop_identity_projection`).
  """
  layout.check(weights, config, source)
  weights = layout.drop_identity_projection(weights, config,
                                            "Model Garden's AlbertEncoder")
  for name, var in variables(encoder).items():
    var.assign(layout.to_layout(weights[name], var.shape, transpose=False))


def read(encoder: networks.AlbertEncoder,
         config: AlbertEncoderConfig) -> layout.Weights:
  """A Model Garden encoder's weights in the interchange layout.

  An identity E->H projection stands in for the one it lacks when E == H.
  """
  shapes = layout.expected_shapes(config)
  return layout.add_identity_projection(
      {name: layout.to_layout(var.numpy(), shapes[name], transpose=False)
       for name, var in variables(encoder).items()}, config)


def load(path: str, config_path: Optional[str] = None
         ) -> Tuple[AlbertEncoderConfig, layout.Weights, Optional[str]]:
  """Reads a Model Garden AlbertEncoder checkpoint.

  Args:
    path: a checkpoint prefix, or its directory.
    config_path: the `albert_config.json`; defaults to the one beside it.

  Returns:
    (config, encoder weights in the interchange layout, path of spiece.model
    beside it or None).

  Raises:
    errors.UserError: if the checkpoint or config is missing, or the
      checkpoint's variables do not match the config (named).
  """
  folder = layout.checkpoint_folder(path)
  config = layout.load_config(
      config_path or io_utils.join(folder, layout.CONFIG_FILE))
  prefix = layout.checkpoint_prefix(path)
  encoder = build_encoder(config)
  tf2_checkpoint.restore(prefix, {ITEM: encoder}, prefix)
  vocab = io_utils.join(folder, layout.VOCAB_FILE)
  return (config, read(encoder, config),
          vocab if io_utils.isfile(vocab) else None)


def save(path: str, config: AlbertEncoderConfig, weights: layout.Weights,
         vocab: Optional[str] = None) -> None:
  """Writes `tf.train.Checkpoint(encoder=AlbertEncoder)` and the config.

  The pretraining heads, which Model Garden's encoder does not have, are
  left out.

  Raises:
    errors.UserError: if `weights` does not match `config`, or `config`
      cannot be expressed by Model Garden's encoder.
  """
  encoder = build_encoder(config)
  assign(encoder, weights, config, path)
  with layout.output_directory(path, vocab) as tmp:
    tf2_checkpoint.write(tmp, {ITEM: encoder})
    layout.save_config(config, io_utils.join(tmp, layout.CONFIG_FILE))
