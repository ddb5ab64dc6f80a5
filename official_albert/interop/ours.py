"""Our models and checkpoints in the interchange layout (see `layout`).

Maps `AlbertEncoder` / `AlbertPretrainer` variables to the original TF1 names,
and reads and writes this project's checkpoint directory:

* `ckpt-1.index`, `ckpt-1.data-*` and a `checkpoint` state file: a
  tf.train.Checkpoint of `AlbertPretrainer.checkpoint_items` (`encoder`, plus
  `masked_lm` and `sop_classifier` where the source had those heads), so
  `init_checkpoint` (tasks.checkpoints.restore_items) may name the
  directory;
* `albert_config.json`: the `AlbertEncoderConfig`;
* `spiece.model`: the vocabulary, when known.

`load` also reads a Model Garden trainer's `model_dir` (e.g. from
`train.py --experiment albert/pretraining`): a checkpoint whose root holds
`model` (the whole `AlbertPretrainer`) and `optimizer`, with the encoder
config in `params.yaml` at `task.model.encoder`.
"""

from typing import Dict, Optional, Tuple, Union

import tensorflow as tf
import tf_keras

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import overrides
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.configs.encoders import build_encoder
from official_albert.interop import layout
from official_albert.interop import tf2_checkpoint
from official_albert.modeling import albert


# TF1 module -> Model Garden `TransformerEncoderBlock` sub-layer (our blocks
# and Model Garden's AlbertEncoder both use that block); the leaf names
# (kernel, bias, gamma, beta) are the same on both sides.
BLOCK_MODULES = {
    "attention_1/self/query": "self_attention/query",
    "attention_1/self/key": "self_attention/key",
    "attention_1/self/value": "self_attention/value",
    "attention_1/output/dense": "self_attention/attention_output",
    "LayerNorm": "self_attention_layer_norm",
    "ffn_1/intermediate/dense": "intermediate",
    "ffn_1/intermediate/output/dense": "output",
    "LayerNorm_1": "output_layer_norm",
}

# Model Garden's trainer writes the experiment config here, and the model
# under this checkpoint root item.
TRAINER_PARAMS = "params.yaml"
TRAINER_ITEM = "model"

# Checkpoint item of `AlbertPretrainer.checkpoint_items` -> its TF1 prefix.
HEAD_ITEMS = {"masked_lm": layout.MLM_PREFIX,
              "sop_classifier": layout.SOP_PREFIX}

Model = Union[albert.AlbertEncoder, albert.AlbertPretrainer]
# TF1 name -> (variable, whether the TF1 array is its transpose).
VariableMap = Dict[str, Tuple[tf.Variable, bool]]


def block_name_map(tf1_prefix: str, mg_prefix: str) -> Dict[str, str]:
  """TF1 name -> Model Garden `TransformerEncoderBlock` variable name.

  Args:
    tf1_prefix: the block's TF1 prefix, e.g. `layout.block_prefix(0, 0)`.
    mg_prefix: the prefix of the block's variable names on the other side
      ("" for names relative to the block).
  """
  return {tf1_prefix + f"{tf1}/{leaf}": mg_prefix + f"{mg}/{leaf}"
          for tf1, mg in BLOCK_MODULES.items()
          for leaf in (("gamma", "beta") if "LayerNorm" in tf1
                       else ("kernel", "bias"))}


def block_variables(block: tf_keras.layers.Layer,
                    prefix: str) -> VariableMap:
  """Maps a built `TransformerEncoderBlock`'s variables to TF1 names.

  Args:
    block: a Model Garden `TransformerEncoderBlock` that has been called.
    prefix: the TF1 prefix of the block, e.g. `layout.block_prefix(0, 0)`.

  Returns:
    TF1 name -> (variable, False): attention kernels differ from TF1 by a
    reshape only (`[H, heads, head_dim]` vs `[H, H]`).
  """
  # Variable names carry the enclosing model's scope; the block's own name
  # starts the part that is the same in every model.
  by_name = {v.name.split(block.name + "/")[-1].split(":")[0]: v
             for v in block.weights}
  return {tf1: (by_name[mg], False)
          for tf1, mg in block_name_map(prefix, "").items()}


def variables(model: Model) -> VariableMap:
  """Maps a built model's variables to TF1 names.

  Args:
    model: an `AlbertEncoder`, or an `AlbertPretrainer` (adds both heads),
      called once (e.g. on `albert.dummy_inputs`) so its variables exist.

  Returns:
    TF1 name -> (variable, transpose); only the SOP weights are transposed
    (TF1 `output_weights` is `[2, H]`, our Dense kernel `[H, 2]`).
  """
  encoder = model.encoder if isinstance(model, albert.AlbertPretrainer) else model
  mapping = {
      "bert/embeddings/word_embeddings": encoder.word_embeddings.embeddings,
      "bert/embeddings/position_embeddings":
          encoder.position_embeddings.weights[0],
      "bert/embeddings/token_type_embeddings":
          encoder.token_type_embeddings.embeddings,
      "bert/embeddings/LayerNorm/gamma": encoder.embedding_layer_norm.gamma,
      "bert/embeddings/LayerNorm/beta": encoder.embedding_layer_norm.beta,
      "bert/encoder/embedding_hidden_mapping_in/kernel":
          encoder.embedding_hidden_mapping_in.kernel,
      "bert/encoder/embedding_hidden_mapping_in/bias":
          encoder.embedding_hidden_mapping_in.bias,
      "bert/pooler/dense/kernel": encoder.pooler.kernel,
      "bert/pooler/dense/bias": encoder.pooler.bias,
  }
  mapping = {name: (var, False) for name, var in mapping.items()}
  for g, group in enumerate(encoder.groups):
    for i, block in enumerate(group):
      mapping.update(block_variables(block, layout.block_prefix(g, i)))
  if isinstance(model, albert.AlbertPretrainer):
    mlm, sop = model.masked_lm, model.sop_classifier
    mapping.update({
        layout.MLM_PREFIX + "transform/dense/kernel": (mlm.dense.kernel, False),
        layout.MLM_PREFIX + "transform/dense/bias": (mlm.dense.bias, False),
        layout.MLM_PREFIX + "transform/LayerNorm/gamma":
            (mlm.layer_norm.gamma, False),
        layout.MLM_PREFIX + "transform/LayerNorm/beta":
            (mlm.layer_norm.beta, False),
        layout.MLM_PREFIX + "output_bias": (mlm.bias, False),
        layout.SOP_PREFIX + "output_weights": (sop.kernel, True),
        layout.SOP_PREFIX + "output_bias": (sop.bias, False),
    })
  return mapping


def config_of(model: Model) -> AlbertEncoderConfig:
  """The `AlbertEncoderConfig` a model was built from."""
  encoder = model.encoder if isinstance(model, albert.AlbertPretrainer) else model
  values = dict(encoder.get_config())
  values.pop("name")
  return AlbertEncoderConfig(**values)


def build_pretrainer(config: AlbertEncoderConfig) -> albert.AlbertPretrainer:
  """An `AlbertPretrainer` for `config`, called once so its variables exist."""
  model = albert.AlbertPretrainer(build_encoder(config))
  model(albert.dummy_inputs(max_predictions_per_seq=1))
  return model


def assign(model: Model, weights: layout.Weights,
           source: str) -> Dict[str, tf.Module]:
  """Loads interchange-layout weights into a built model.

  Args:
    model: a built `AlbertEncoder` or `AlbertPretrainer`.
    weights: TF1 name -> array, e.g. from `hf.load` or `tf1.load`.
    source: where the weights came from, for error messages.

  Returns:
    The model's checkpoint items that received weights: `encoder`, plus
    `masked_lm` / `sop_classifier` for a pretrainer when `weights` has that
    head (a head that is absent keeps its initial values).

  Raises:
    errors.UserError: if `weights` does not match the model's config
      (missing, unexpected or mis-shaped variables, named); nothing is
      assigned then.
  """
  layout.check(weights, config_of(model), source)
  for name, (var, transpose) in variables(model).items():
    if name in weights:
      var.assign(layout.to_layout(weights[name], var.shape, transpose))
  if not isinstance(model, albert.AlbertPretrainer):
    return dict(encoder=model)
  present = {layout.head_of(n) for n in weights}
  return {item: obj for item, obj in model.checkpoint_items.items()
          if item == "encoder" or HEAD_ITEMS[item] in present}


def read(model: Model) -> layout.Weights:
  """A model's weights in the interchange layout (TF1 names and shapes)."""
  shapes = layout.expected_shapes(config_of(model))
  return {name: layout.to_layout(var.numpy(), shapes[name], transpose)
          for name, (var, transpose) in variables(model).items()}


def save(path: str, config: AlbertEncoderConfig, weights: layout.Weights,
         vocab: Optional[str] = None) -> None:
  """Writes our checkpoint directory (see the module docstring), atomically.

  Raises:
    errors.UserError: if `weights` does not match `config`.
  """
  model = build_pretrainer(config)
  items = assign(model, weights, path)
  with layout.output_directory(path, vocab) as tmp:
    tf2_checkpoint.write(tmp, items)
    layout.save_config(config, io_utils.join(tmp, layout.CONFIG_FILE))


def _load_config(path: str) -> AlbertEncoderConfig:
  """`albert_config.json` in `path`, else a trainer's `params.yaml`."""
  params = io_utils.join(path, TRAINER_PARAMS)
  if io_utils.isfile(params) and not io_utils.isfile(
      io_utils.join(path, layout.CONFIG_FILE)):
    with io_utils.open_file(params) as f:
      values = overrides.safe_load(f)
    try:
      encoder = values["task"]["model"]["encoder"]
    except (KeyError, TypeError):
      errors.fail(f"{params} has no task.model.encoder; it is not an ALBERT "
                  "experiment's config")
    return layout.config_from_dict(encoder, params)
  return layout.load_config(io_utils.join(path, layout.CONFIG_FILE))


def load(path: str) -> Tuple[AlbertEncoderConfig, layout.Weights,
                             Optional[str]]:
  """Reads our checkpoint directory, or a trainer's model_dir.

  Args:
    path: a directory written by `save`, or a Model Garden `model_dir`
      (latest checkpoint, `params.yaml`); see the module docstring.

  Returns:
    (config, weights in the interchange layout, path of spiece.model or None).

  Raises:
    errors.UserError: if the directory, its config or its checkpoint is
      missing, or the checkpoint does not fit the config (variables named).
  """
  if not io_utils.isdir(path):
    errors.fail(f"checkpoint directory {path} not found; pass the directory "
                "written by `convert --to ours` or a training model_dir")
  config = _load_config(path)
  prefix = layout.checkpoint_prefix(path)
  stored = {key.split("/")[0] for key in
            layout.checkpoint_reader(prefix).get_variable_to_shape_map()}
  model = build_pretrainer(config)
  if TRAINER_ITEM in stored:
    items = dict(model.checkpoint_items)
    tf2_checkpoint.restore(prefix, {TRAINER_ITEM: model}, prefix)
  else:
    items = {k: v for k, v in model.checkpoint_items.items() if k in stored}
    if "encoder" not in items:
      errors.fail(f"checkpoint {prefix} has neither `encoder` nor `model`; "
                  "it is not an ALBERT checkpoint of this project")
    tf2_checkpoint.restore(prefix, items, prefix)
  restored = {None} | {HEAD_ITEMS[item] for item in items if item in HEAD_ITEMS}
  weights = {n: w for n, w in read(model).items()
             if layout.head_of(n) in restored}
  vocab = io_utils.join(path, layout.VOCAB_FILE)
  return config, weights, vocab if io_utils.isfile(vocab) else None
