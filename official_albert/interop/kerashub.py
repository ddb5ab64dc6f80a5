"""keras-hub's `AlbertBackbone` (Keras 3) as a weight format.

A keras-hub preset directory (`save_to_preset`: `config.json`,
`model.weights.h5`, and with a tokenizer `tokenizer.json` and
`assets/tokenizer/vocabulary.spm`) or a live `AlbertBackbone` moves to and
from the interchange layout through HuggingFace's names, the mapping
keras-hub itself uses to import HuggingFace checkpoints
(`keras_hub/src/utils/transformers/convert_albert.py`): dense kernels
transposed, attention kernels reshaped to keras-hub's
`[H, heads, head_size]` / `[heads, head_size, H]`. Only the encoder moves: a
backbone has no MLM or SOP head (exporting drops them, importing leaves
them out).

Sizes: keras-hub's `num_layers`, `num_groups`, `num_inner_repetitions` are
our `num_hidden_layers`, `num_hidden_groups`, `inner_group_num`, with the
same layer-to-group assignment; its activation is the tanh GELU (ours
"gelu"); one `dropout` stands for both of our dropout rates.

Casing: keras-hub's `AlbertTokenizer` runs the SentencePiece model on the
text as given, without the original `preprocess_text` (lower-casing, NFKD,
accent stripping) that ours and HuggingFace's apply, so a capital that the
vocabulary lacks becomes `<unk>`. The conversion copies the vocabulary
file unchanged in both directions (`vocabulary.spm` <-> `spiece.model`);
it does not change how keras-hub tokenizes. Lower-case text before
keras-hub's tokenizer to get our ids.

Keras 3 and `tf_keras` live in one process without interfering (checked
in tests/test_interop_keras_hub.py), so no subprocess is needed.
"""

import json
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from official_albert import errors
from official_albert import io_utils
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.interop import hf
from official_albert.interop import layout

PRESET_CONFIG = "config.json"
PRESET_VOCAB = "assets/tokenizer/vocabulary.spm"

# keras variable getter, HuggingFace name, HF array -> keras array (shape).
_Pair = Tuple[Callable[[Any], Any], str, Callable[[np.ndarray, Tuple], Any]]


def _keep(value, shape):
  return np.reshape(value, shape)


def _transpose(value, shape):
  return np.reshape(np.transpose(value), shape)


def _pairs(backbone) -> List[_Pair]:
  """Every backbone variable with its HuggingFace name and mapping."""
  pairs = [
      (lambda b: b.token_embedding.embeddings,
       "albert.embeddings.word_embeddings.weight", _keep),
      (lambda b: b.position_embedding.position_embeddings,
       "albert.embeddings.position_embeddings.weight", _keep),
      (lambda b: b.segment_embedding.embeddings,
       "albert.embeddings.token_type_embeddings.weight", _keep),
      (lambda b: b.embeddings_layer_norm.gamma,
       "albert.embeddings.LayerNorm.weight", _keep),
      (lambda b: b.embeddings_layer_norm.beta,
       "albert.embeddings.LayerNorm.bias", _keep),
      (lambda b: b.embeddings_projection.kernel,
       "albert.encoder.embedding_hidden_mapping_in.weight", _transpose),
      (lambda b: b.embeddings_projection.bias,
       "albert.encoder.embedding_hidden_mapping_in.bias", _keep),
      (lambda b: b.pooled_dense.kernel, "albert.pooler.weight", _transpose),
      (lambda b: b.pooled_dense.bias, "albert.pooler.bias", _keep),
  ]
  for g in range(backbone.num_groups):
    for i in range(backbone.num_inner_repetitions):
      name = f"group_{g}_inner_layer_{i}"
      prefix = f"albert.encoder.albert_layer_groups.{g}.albert_layers.{i}."

      def layer(b, name=name):
        return b.get_layer(name)

      for hf_name, attr in (("query", "query_dense"), ("key", "key_dense"),
                            ("value", "value_dense"),
                            ("dense", "output_dense")):
        pairs += [
            (lambda b, a=attr, l=layer: getattr(
                l(b)._self_attention_layer, a).kernel,  # pylint: disable=protected-access
             f"{prefix}attention.{hf_name}.weight", _transpose),
            (lambda b, a=attr, l=layer: getattr(
                l(b)._self_attention_layer, a).bias,  # pylint: disable=protected-access
             f"{prefix}attention.{hf_name}.bias", _keep)]
      for hf_name, attr, kind in (
          ("attention.LayerNorm", "_self_attention_layer_norm", "norm"),
          ("ffn", "_feedforward_intermediate_dense", "dense"),
          ("ffn_output", "_feedforward_output_dense", "dense"),
          ("full_layer_layer_norm", "_feedforward_layer_norm", "norm")):
        first, second = (("gamma", "beta") if kind == "norm"
                         else ("kernel", "bias"))
        pairs += [
            (lambda b, a=attr, w=first, l=layer: getattr(getattr(l(b), a), w),
             f"{prefix}{hf_name}.weight",
             _keep if kind == "norm" else _transpose),
            (lambda b, a=attr, w=second, l=layer: getattr(getattr(l(b), a), w),
             f"{prefix}{hf_name}.bias", _keep)]
  return pairs


def _to_hf(value: np.ndarray, name: str, hook) -> np.ndarray:
  """A keras-hub array in HuggingFace's shape (the inverse of `hook`)."""
  if hook is _keep:  # Tables stay [rows, E]; the rest is 1-D in HF.
    return value if name.endswith("_embeddings.weight") else value.reshape(-1)
  if name.endswith("attention.dense.weight"):  # [heads, head_size, H]
    return value.reshape(-1, value.shape[-1]).T
  return value.reshape(value.shape[0], -1).T  # [in, out] or [H, heads, size]


def config_of(backbone) -> AlbertEncoderConfig:
  """Our config for a keras-hub `AlbertBackbone`."""
  return AlbertEncoderConfig(
      vocab_size=backbone.vocabulary_size,
      embedding_size=backbone.embedding_dim, hidden_size=backbone.hidden_dim,
      num_hidden_layers=backbone.num_layers,
      num_hidden_groups=backbone.num_groups,
      inner_group_num=backbone.num_inner_repetitions,
      num_attention_heads=backbone.num_heads,
      intermediate_size=backbone.intermediate_dim, hidden_act="gelu",
      hidden_dropout_prob=backbone.dropout,
      attention_probs_dropout_prob=backbone.dropout,
      max_position_embeddings=backbone.max_sequence_length,
      type_vocab_size=backbone.num_segments)


def from_backbone(backbone, source: str = "the keras-hub backbone"
                  ) -> Tuple[AlbertEncoderConfig, layout.Weights]:
  """A live `AlbertBackbone` -> (config, interchange weights, encoder only).

  Raises:
    UserError: if its variables do not match its config (named).
  """
  config = config_of(backbone)
  state = {name: _to_hf(np.asarray(get(backbone).numpy(), np.float32), name,
                        hook)
           for get, name, hook in _pairs(backbone)}
  return config, hf.from_state_dict(state, config, source)


def to_backbone(config: AlbertEncoderConfig, weights: layout.Weights):
  """Interchange weights -> a new keras-hub `AlbertBackbone`.

  Raises:
    UserError: if `weights` do not match `config`, or the config has
      something keras-hub's backbone cannot express (an activation other
      than the tanh GELU, two different dropout rates).
  """
  import keras_hub  # pylint: disable=g-import-not-at-top  # Keras 3: optional.
  if config.hidden_act != "gelu":
    errors.fail(f"hidden_act {config.hidden_act!r}: keras-hub's AlbertBackbone"
                " has the tanh GELU only ('gelu')")
  if config.hidden_dropout_prob != config.attention_probs_dropout_prob:
    errors.fail("keras-hub's AlbertBackbone has one dropout rate; "
                f"hidden_dropout_prob={config.hidden_dropout_prob} and "
                f"attention_probs_dropout_prob="
                f"{config.attention_probs_dropout_prob} differ")
  backbone = keras_hub.models.AlbertBackbone(
      vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
      num_heads=config.num_attention_heads,
      embedding_dim=config.embedding_size, hidden_dim=config.hidden_size,
      intermediate_dim=config.intermediate_size,
      num_groups=config.num_hidden_groups,
      num_inner_repetitions=config.inner_group_num,
      dropout=config.hidden_dropout_prob,
      max_sequence_length=config.max_position_embeddings,
      num_segments=config.type_vocab_size)
  state = hf.to_state_dict(weights, config)
  for get, hf_name, hook in _pairs(backbone):
    variable = get(backbone)
    variable.assign(hook(state[hf_name], tuple(variable.shape)))
  return backbone


def load(path: str) -> Tuple[AlbertEncoderConfig, layout.Weights,
                             Optional[str]]:
  """Reads a keras-hub preset directory (`save_to_preset`).

  Returns:
    (config, encoder weights, the preset's `vocabulary.spm` or None).

  Raises:
    UserError: if it is not an `AlbertBackbone` preset.
  """
  config_path = io_utils.join(path, PRESET_CONFIG)
  if not io_utils.isfile(config_path):
    errors.fail(f"{config_path} not found; pass a keras-hub preset directory "
                "(AlbertBackbone.save_to_preset)")
  with io_utils.open_file(config_path) as f:
    class_name = json.load(f).get("class_name")
  if class_name != "AlbertBackbone":
    errors.fail(f"{config_path} is a {class_name!r} preset, not "
                "AlbertBackbone")
  import keras_hub  # pylint: disable=g-import-not-at-top
  # keras-hub reads presets with Python's `open` (a URL it copies into a
  # cache under ~/.keras that it never refreshes), so a URL is copied here.
  with io_utils.local_directory(path, read=True) as local:
    backbone = keras_hub.models.AlbertBackbone.from_preset(local)
  config, weights = from_backbone(backbone, path)
  vocab = io_utils.join(path, PRESET_VOCAB)
  return config, weights, vocab if io_utils.isfile(vocab) else None


def save(path: str, config: AlbertEncoderConfig, weights: layout.Weights,
         vocab: Optional[str] = None) -> None:
  """Writes a keras-hub preset directory, atomically: the backbone, and with
  `vocab` an `AlbertTokenizer` on that SentencePiece file (its proto copied
  byte for byte). Heads in `weights` are not written (a backbone has none).

  Raises:
    UserError: see `to_backbone`.
  """
  import keras_hub  # pylint: disable=g-import-not-at-top
  encoder = {n: v for n, v in weights.items() if layout.head_of(n) is None}
  backbone = to_backbone(config, encoder)
  with layout.output_directory(path, None) as tmp:
    # keras-hub writes presets with Python's `open`: a URL gets a local copy.
    with io_utils.local_directory(tmp, read=False) as local:
      backbone.save_to_preset(local)
      if vocab:
        # Given bytes, keras-hub writes them unchanged as PRESET_VOCAB.
        with io_utils.open_file(vocab, "rb") as f:
          keras_hub.models.AlbertTokenizer(proto=f.read()).save_to_preset(
              local)
