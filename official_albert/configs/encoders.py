"""Typed configuration of the ALBERT encoder, and the builder that reads it.

Field names are those of the original release's `albert_config.json` (and of
HuggingFace's `AlbertConfig`), so that a released config maps one to one.
"""

import dataclasses

from official.modeling import hyperparams

from official_albert.modeling import albert


@dataclasses.dataclass
class AlbertEncoderConfig(hyperparams.Config):
  """ALBERT encoder hyperparameters; defaults are ALBERT-base v2.

  See `official_albert.modeling.albert.AlbertEncoder` for what each field
  means. `attention_type` and `num_landmarks` choose the attention kernel.
  """
  vocab_size: int = 30000
  embedding_size: int = 128
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_hidden_groups: int = 1
  inner_group_num: int = 1
  num_attention_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu"
  hidden_dropout_prob: float = 0.0
  attention_probs_dropout_prob: float = 0.0
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  initializer_range: float = 0.02
  layer_norm_eps: float = 1e-12
  attention_type: str = "exact"
  num_landmarks: int = 64


def build_encoder(config: AlbertEncoderConfig) -> albert.AlbertEncoder:
  """Builds an `AlbertEncoder` from its config.

  Raises:
    ValueError: on inconsistent sizes or an unknown activation.
  """
  return albert.AlbertEncoder(**config.as_dict())
