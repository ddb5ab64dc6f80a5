"""HuggingFace ALBERT checkpoints (transformers' PyTorch `Albert*` models).

A HuggingFace model directory holds `config.json`, the weights as
`model.safetensors` (or shards listed in `model.safetensors.index.json`, or a
legacy `pytorch_model.bin`) and the SentencePiece vocabulary `spiece.model`.
State-dict names (transformers `modeling_albert.py`) map one to one onto the
original TF1 names of `layout`; torch `Linear` weights are the transpose of
TF kernels, while the SOP classifier's `[2, H]` weight already has TF1's layout.
The MLM decoder is tied to the word embeddings and `predictions.bias`, so it
is checked for being tied and not stored separately.

torch and transformers are not needed, except torch to read a
`pytorch_model.bin`.
"""

import io
import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
from safetensors import numpy as safetensors_numpy

from official_albert import errors
from official_albert import io_utils
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.interop import layout

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_FILE = "pytorch_model.bin"

# HuggingFace "gelu" is the exact erf form; the original's "gelu" (our "gelu")
# is the tanh approximation, which HuggingFace calls "gelu_new".
_ACT_FROM_HF = {"gelu": "gelu_exact", "gelu_new": "gelu",
                "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu",
                "relu": "relu", "silu": "silu", "swish": "silu", "tanh": "tanh"}
_ACT_TO_HF = {"gelu": "gelu_new", "gelu_new": "gelu_new", "gelu_exact": "gelu",
              "relu": "relu", "silu": "silu", "swish": "silu", "tanh": "tanh"}
# AlbertConfig fields with the same name and meaning as ours.
_SHARED_FIELDS = ("vocab_size", "embedding_size", "hidden_size",
                  "num_hidden_layers", "num_hidden_groups", "inner_group_num",
                  "num_attention_heads", "intermediate_size",
                  "hidden_dropout_prob", "attention_probs_dropout_prob",
                  "max_position_embeddings", "type_vocab_size",
                  "initializer_range", "layer_norm_eps")
# The MLM decoder (weight tied to the word embeddings, bias to
# predictions.bias) and the position-id buffer some old files carry.
_TIED = {"predictions.decoder.weight": "albert.embeddings.word_embeddings.weight",
         "predictions.decoder.bias": "predictions.bias"}
_BUFFERS = ("albert.embeddings.position_ids", "albert.embeddings.token_type_ids")


def config_from_hf(values: Mapping[str, Any],
                   source: str) -> AlbertEncoderConfig:
  """Maps a HuggingFace `AlbertConfig` dict (config.json) to ours.

  Raises:
    errors.UserError: on a model type other than albert, relative position
      embeddings, or an activation we do not implement.
  """
  if values.get("model_type", "albert") != "albert":
    errors.fail(f"{source} is a {values['model_type']!r} config, not albert")
  if values.get("position_embedding_type", "absolute") != "absolute":
    errors.fail(f"{source}: position_embedding_type "
                f"{values['position_embedding_type']!r} is not supported; "
                "only absolute position embeddings are")
  act = values.get("hidden_act", "gelu_new")
  if act not in _ACT_FROM_HF:
    errors.fail(f"{source}: hidden_act {act!r} is not supported; use one of "
                f"{sorted(_ACT_FROM_HF)}")
  shared = {k: values[k] for k in _SHARED_FIELDS if k in values}
  return AlbertEncoderConfig(hidden_act=_ACT_FROM_HF[act], **shared)


def config_to_hf(config: AlbertEncoderConfig,
                 architecture: str = "AlbertForPreTraining") -> Dict[str, Any]:
  """A HuggingFace config.json dict for `config`.

  Token ids are those of the released vocabularies (`<pad>`=0, `[CLS]`=2,
  `[SEP]`=3); they do not affect the model's outputs.
  """
  values = {k: getattr(config, k) for k in _SHARED_FIELDS}
  values.update(architectures=[architecture], model_type="albert",
                hidden_act=_ACT_TO_HF[config.hidden_act],
                position_embedding_type="absolute",
                classifier_dropout_prob=0.1,
                pad_token_id=0, bos_token_id=2, eos_token_id=3)
  return values


def _name_pairs(config: AlbertEncoderConfig) -> List[Tuple[str, str, bool]]:
  """(HuggingFace name, TF1 name, transpose) for every variable."""
  def dense(hf, tf1):
    return [(hf + ".weight", tf1 + "/kernel", True),
            (hf + ".bias", tf1 + "/bias", False)]

  def norm(hf, tf1):
    return [(hf + ".weight", tf1 + "/gamma", False),
            (hf + ".bias", tf1 + "/beta", False)]

  pairs = [
      (f"albert.embeddings.{table}.weight", f"bert/embeddings/{table}", False)
      for table in ("word_embeddings", "position_embeddings",
                    "token_type_embeddings")]
  pairs += norm("albert.embeddings.LayerNorm", "bert/embeddings/LayerNorm")
  pairs += dense("albert.encoder.embedding_hidden_mapping_in",
                 "bert/encoder/embedding_hidden_mapping_in")
  for g in range(config.num_hidden_groups):
    for i in range(config.inner_group_num):
      hf = f"albert.encoder.albert_layer_groups.{g}.albert_layers.{i}."
      tf1 = layout.block_prefix(g, i)
      for proj in ("query", "key", "value"):
        pairs += dense(hf + "attention." + proj, tf1 + "attention_1/self/" + proj)
      pairs += dense(hf + "attention.dense", tf1 + "attention_1/output/dense")
      pairs += norm(hf + "attention.LayerNorm", tf1 + "LayerNorm")
      pairs += dense(hf + "ffn", tf1 + "ffn_1/intermediate/dense")
      pairs += dense(hf + "ffn_output", tf1 + "ffn_1/intermediate/output/dense")
      pairs += norm(hf + "full_layer_layer_norm", tf1 + "LayerNorm_1")
  pairs += dense("albert.pooler", "bert/pooler/dense")
  pairs += dense("predictions.dense", layout.MLM_PREFIX + "transform/dense")
  pairs += norm("predictions.LayerNorm", layout.MLM_PREFIX + "transform/LayerNorm")
  pairs.append(("predictions.bias", layout.MLM_PREFIX + "output_bias", False))
  pairs += [("sop_classifier.classifier.weight",
             layout.SOP_PREFIX + "output_weights", False),
            ("sop_classifier.classifier.bias",
             layout.SOP_PREFIX + "output_bias", False)]
  return pairs


def _to_numpy(value, transpose: bool = False) -> np.ndarray:
  """A torch tensor (any float dtype) or array as contiguous float32."""
  if hasattr(value, "detach"):
    value = value.detach().float().cpu().numpy()
  value = np.asarray(value, np.float32)
  return np.ascontiguousarray(value.T if transpose else value)


def from_state_dict(state_dict: Mapping[str, Any], config: AlbertEncoderConfig,
                    source: str) -> layout.Weights:
  """Maps a HuggingFace ALBERT state dict to the interchange layout.

  Args:
    state_dict: name -> torch tensor or numpy array, from `AlbertForPreTraining`,
      `AlbertForMaskedLM` or `AlbertModel` (whose names lack `albert.`).
    config: the model's sizes (see `config_from_hf`).
    source: where it was read, for messages.

  Returns:
    TF1 name -> float32 array (dense kernels transposed to `[in, out]`).

  Raises:
    errors.UserError: naming unexpected, missing or mis-shaped variables, or
      an MLM decoder that is not tied to the embeddings.
  """
  if not any(k.startswith("albert.") for k in state_dict):
    state_dict = {"albert." + k: v for k, v in state_dict.items()}
  pairs = _name_pairs(config)
  known = {hf for hf, _, _ in pairs}
  unexpected = sorted(k for k in state_dict
                      if k not in known and k not in _TIED and k not in _BUFFERS)
  if unexpected:
    errors.fail(f"{source} has variables that are not part of an ALBERT "
                f"pretraining model: {unexpected[:6]}; convert the base or "
                "pretraining model, not a fine-tuned task head")
  for decoder, tied_to in _TIED.items():
    if decoder in state_dict and tied_to in state_dict and not np.array_equal(
        _to_numpy(state_dict[decoder]), _to_numpy(state_dict[tied_to])):
      errors.fail(f"{source}: {decoder} differs from {tied_to}; ALBERT ties "
                  "them, untied decoders are not supported")
  # Shapes in messages are TF1's (a torch weight's shape transposed).
  weights = {tf1: _to_numpy(state_dict[hf], t)
             for hf, tf1, t in pairs if hf in state_dict}
  layout.check(weights, config, source,
               display={tf1: hf for hf, tf1, _ in pairs})
  return weights


def to_state_dict(weights: layout.Weights,
                  config: AlbertEncoderConfig) -> Dict[str, np.ndarray]:
  """Maps interchange-layout weights to a HuggingFace state dict.

  Returns:
    HuggingFace name -> contiguous float32 array; the tied MLM decoder is left
    out (transformers re-ties it on load).

  Raises:
    errors.UserError: if `weights` does not match `config`.
  """
  layout.check(weights, config, "the weights to export")
  return {hf: np.ascontiguousarray(weights[tf1].T if t else weights[tf1])
          for hf, tf1, t in _name_pairs(config) if tf1 in weights}


def _read_safetensors(path: str) -> Dict[str, np.ndarray]:
  with io_utils.open_file(path, "rb") as f:
    return safetensors_numpy.load(f.read())


def _read_state_dict(path: str) -> Dict[str, Any]:
  index = io_utils.join(path, SAFETENSORS_INDEX)
  single = io_utils.join(path, SAFETENSORS_FILE)
  torch_file = io_utils.join(path, TORCH_FILE)
  if io_utils.isfile(single):
    return _read_safetensors(single)
  if io_utils.isfile(index):
    with io_utils.open_file(index) as f:
      shards = sorted(set(json.load(f)["weight_map"].values()))
    state = {}
    for shard in shards:
      state.update(_read_safetensors(io_utils.join(path, shard)))
    return state
  if io_utils.isfile(torch_file):
    import torch  # Only legacy .bin files need torch.
    with io_utils.open_file(torch_file, "rb") as f:
      return torch.load(io.BytesIO(f.read()), map_location="cpu",
                        weights_only=True)
  errors.fail(f"{path} has no {SAFETENSORS_FILE}, {SAFETENSORS_INDEX} or "
              f"{TORCH_FILE}; pass a HuggingFace model directory")


def load(path: str) -> Tuple[AlbertEncoderConfig, layout.Weights,
                             Optional[str]]:
  """Reads a HuggingFace ALBERT model directory.

  Returns:
    (config, weights in the interchange layout, path of spiece.model or None).

  Raises:
    errors.UserError: if the directory, config.json or the weights file is
      missing, or the weights do not match the config (variables named).
  """
  config_path = io_utils.join(path, CONFIG_FILE)
  if not io_utils.isfile(config_path):
    errors.fail(f"{config_path} not found; pass a HuggingFace model directory "
                "(config.json and model.safetensors)")
  with io_utils.open_file(config_path) as f:
    config = config_from_hf(json.load(f), config_path)
  weights = from_state_dict(_read_state_dict(path), config, path)
  vocab = io_utils.join(path, layout.VOCAB_FILE)
  return config, weights, vocab if io_utils.isfile(vocab) else None


def save(path: str, config: AlbertEncoderConfig, weights: layout.Weights,
         vocab: Optional[str] = None) -> None:
  """Writes a HuggingFace model directory, atomically.

  `config.json` names `AlbertForPreTraining` when both heads are present,
  `AlbertForMaskedLM` for the MLM head alone, else `AlbertModel`; any of
  transformers' Albert classes loads it.

  Raises:
    errors.UserError: if `weights` does not match `config`.
  """
  state = to_state_dict(weights, config)
  heads = {layout.head_of(n) for n in weights}
  architecture = ("AlbertForPreTraining" if set(layout.HEAD_PREFIXES) <= heads
                  else "AlbertForMaskedLM" if layout.MLM_PREFIX in heads
                  else "AlbertModel")
  with layout.output_directory(path, vocab) as tmp:
    with io_utils.open_file(io_utils.join(tmp, CONFIG_FILE), "w") as f:
      json.dump(config_to_hf(config, architecture), f, indent=2, sort_keys=True)
      f.write("\n")
    with io_utils.open_file(io_utils.join(tmp, SAFETENSORS_FILE), "wb") as f:
      f.write(safetensors_numpy.save(state, metadata={"format": "pt"}))
