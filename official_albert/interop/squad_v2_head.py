"""The beam SQuAD 2.0 head under the original release's variable names.

The original `run_squad_v2.py` (`squad_utils.create_v2_model`) names the
head's variables `start_logits/dense/{kernel,bias}`,
`end_logits/dense_0/{kernel,bias}`, `end_logits/LayerNorm/{gamma,beta}`,
`end_logits/dense_1/{kernel,bias}`, `answer_class/dense_0/{kernel,bias}` and
`answer_class/dense_1/kernel` (no bias), beside the encoder's `bert/...`
variables. These functions move the head between those names and an
`AlbertSquadV2Labeler` (whose head is Model Garden's `XLNetSpanLabeling`
layout: the same kernels, `[in, out]`); the encoder goes through
`interop.tf1` as for every other model. A fine-tuned original checkpoint is
split with `split_tf1`.

`interop.convert` uses them in both directions:

  --from tf1 --to ours, on a `run_squad_v2.py` checkpoint (one with the
      head's variables): `tf1_to_finetuned` writes a fine-tuned model
      directory, as `train.py --experiment=albert/squad` with
      `task.model.head=beam` leaves one (`params.yaml`, `ckpt-0`,
      `spiece.model`), which `serving.predict qa`, `serving.export` and
      `train.py --mode=eval` read.
  --from ours --to tf1, on such a model directory: `finetuned_to_tf1`
      writes the original layout, encoder and head under the original names.
"""

from typing import Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from official.core import exp_factory
from official.core import train_utils

from official_albert import configs  # pylint: disable=unused-import
from official_albert import errors
from official_albert import io_utils
from official_albert.configs import overrides
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.configs.encoders import build_encoder
from official_albert.interop import layout
from official_albert.interop import ours
from official_albert.interop import tf1
from official_albert.modeling import albert
from official_albert.modeling import squad_v2

PARAMS_FILE = "params.yaml"
# The `train.py` experiment whose model directories hold the beam head.
EXPERIMENT = "albert/squad"

# Original name -> (layer attribute of the head, weight attribute).
_NAMES = {
    "start_logits/dense/kernel": ("start_logits_dense", "kernel"),
    "start_logits/dense/bias": ("start_logits_dense", "bias"),
    "end_logits/dense_0/kernel": ("end_logits_inner_dense", "kernel"),
    "end_logits/dense_0/bias": ("end_logits_inner_dense", "bias"),
    "end_logits/LayerNorm/gamma": ("end_logits_layer_norm", "gamma"),
    "end_logits/LayerNorm/beta": ("end_logits_layer_norm", "beta"),
    "end_logits/dense_1/kernel": ("end_logits_output_dense", "kernel"),
    "end_logits/dense_1/bias": ("end_logits_output_dense", "bias"),
    "answer_class/dense_0/kernel": ("answer_logits_inner", "kernel"),
    "answer_class/dense_0/bias": ("answer_logits_inner", "bias"),
    "answer_class/dense_1/kernel": ("answer_logits_output", "kernel"),
}
NAMES = tuple(_NAMES)
PREFIXES = ("start_logits/", "end_logits/", "answer_class/")


def _variables(model: squad_v2.AlbertSquadV2Labeler
               ) -> Dict[str, tf.Variable]:
  """Original name -> the built model's variable."""
  head = model.squad_v2
  if not head.built:
    raise ValueError("build the model (call it once) before converting")
  return {name: getattr(getattr(head, layer), weight)
          for name, (layer, weight) in _NAMES.items()}


def to_original(model: squad_v2.AlbertSquadV2Labeler
                ) -> Dict[str, np.ndarray]:
  """The head's weights under the original names (float32 arrays:
  `dense_0` kernels `[2H, H]`, `dense_1` and start kernels `[H, 1]`)."""
  return {name: v.numpy() for name, v in _variables(model).items()}


def from_original(model: squad_v2.AlbertSquadV2Labeler,
                  weights: Dict[str, np.ndarray], source: str) -> None:
  """Assigns the head from original-named weights (others are ignored).

  Raises:
    UserError: naming `source`, if a head variable is missing or has
      another shape; nothing is assigned then.
  """
  variables = _variables(model)
  missing = [n for n in NAMES if n not in weights]
  if missing:
    errors.fail(f"{source} lacks the SQuAD 2.0 head variables {missing}; "
                "it is not a run_squad_v2.py checkpoint")
  for name, variable in variables.items():
    if tuple(np.shape(weights[name])) != tuple(variable.shape):
      errors.fail(f"{source}: {name} has shape {np.shape(weights[name])}, "
                  f"the model's is {tuple(variable.shape)}; check the sizes")
  for name, variable in variables.items():
    variable.assign(weights[name])


def split_tf1(path: str) -> Tuple[Dict[str, np.ndarray],
                                  Dict[str, np.ndarray]]:
  """Reads a fine-tuned original checkpoint into (encoder, head) weights.

  Args:
    path: a checkpoint prefix or its directory.

  Returns:
    `({bert/... name: array}, {head name: array})`; optimizer slots and
    `global_step` are dropped. The encoder part is what
    `interop.tf1`/`layout.check` read.
  """
  reader = layout.checkpoint_reader(layout.checkpoint_prefix(path))
  encoder, head = {}, {}
  for name in reader.get_variable_to_shape_map():
    if name.endswith(("/adam_m", "/adam_v")) or name == "global_step":
      continue
    part = head if name.startswith(PREFIXES) else encoder
    part[name] = np.asarray(reader.get_tensor(name), np.float32)
  return encoder, head


def has_head(path: str) -> bool:
  """Whether the TF1 checkpoint at `path` (prefix or directory) holds the
  head's variables (a `run_squad_v2.py` checkpoint)."""
  reader = layout.checkpoint_reader(layout.checkpoint_prefix(path))
  return any(n.startswith(PREFIXES) for n in reader.get_variable_to_shape_map())


def is_squad_model_dir(path: str) -> bool:
  """Whether `path` is a `train.py` model directory of `albert/squad` (its
  `params.yaml` has `task.n_best_size`; a pretraining directory's has not)."""
  params_path = io_utils.join(path, PARAMS_FILE)
  return io_utils.isfile(params_path) and "n_best_size" in (
      overrides.load_yaml_file(params_path).get("task") or {})


def _labeler(config: AlbertEncoderConfig) -> squad_v2.AlbertSquadV2Labeler:
  """A built beam-head model of `config`'s sizes (what `SquadTask` builds
  for `task.model.head=beam`; beam sizes and dropout make no variables)."""
  model = squad_v2.AlbertSquadV2Labeler(build_encoder(config),
                                        hidden_size=config.hidden_size)
  model(albert.dummy_inputs())
  return model


def read_finetuned(model_dir: str) -> Tuple[AlbertEncoderConfig,
                                            layout.Weights,
                                            Dict[str, np.ndarray],
                                            Optional[str]]:
  """Reads a fine-tuned `albert/squad` beam model directory.

  Args:
    model_dir: an `albert/squad` model directory (`is_squad_model_dir`)
      with `task.model.head=beam`.

  Returns:
    `(config, encoder weights in the interchange layout, head weights under
    the original names, the recorded vocabulary or None)`.

  Raises:
    UserError: if it is not a beam SQuAD model, has no checkpoint, or the
      checkpoint does not fit its config.
  """
  params_path = io_utils.join(model_dir, PARAMS_FILE)
  task = overrides.load_yaml_file(params_path).get("task") or {}
  model_config = task.get("model") or {}
  if model_config.get("head") != "beam":
    errors.fail(f"{params_path} is not an albert/squad model with "
                "task.model.head=beam; only the SQuAD 2.0 beam head has "
                "original names (convert a pretraining directory for the "
                "encoder alone)")
  config = layout.config_from_dict(model_config.get("encoder") or {},
                                   params_path)
  path = tf.train.latest_checkpoint(model_dir)
  if not path:
    errors.fail(f"no checkpoint in {model_dir}; train the model first")
  model = _labeler(config)
  layout.restore_model(model, path, params_path)
  vocab = (task.get("validation_data") or {}).get("vocab_file") or None
  return config, ours.read(model.encoder), to_original(model), vocab


def finetuned_to_tf1(model_dir: str, output: str,
                     vocab: Optional[str] = None) -> None:
  """Writes a fine-tuned beam model in the original `run_squad_v2.py`
  layout (`tf1.save`: `model.ckpt*` with `bert/...` and the head's names,
  `albert_config.json`, `spiece.model`).

  Raises:
    UserError: as `read_finetuned`.
  """
  config, weights, head, recorded = read_finetuned(model_dir)
  vocab = vocab or (recorded if recorded and io_utils.isfile(recorded)
                    else None)
  tf1.save(output, config, weights, vocab, head=head)


def tf1_to_finetuned(path: str, output: str,
                     config_path: Optional[str] = None,
                     vocab: Optional[str] = None) -> None:
  """Writes a `run_squad_v2.py` checkpoint as a fine-tuned model directory.

  Args:
    path: the original checkpoint (prefix or directory), encoder and head.
    output: the model directory to create: `params.yaml` (`albert/squad`
      defaults with `task.model.head=beam`, the checkpoint's encoder config,
      SQuAD 2.0 evaluation and `vocab_file` pointing at the copy in
      `output`), `ckpt-0` (root object `model`, as `train.py` writes it) and
      `spiece.model`.
    config_path: its `albert_config.json` (default: the one beside it).
    vocab: the SentencePiece model (default: the one beside it).

  Raises:
    UserError: if the checkpoint, config or vocabulary is missing, or the
      encoder or head does not fit the config.
  """
  folder = layout.checkpoint_folder(path)
  config = layout.load_config(
      config_path or io_utils.join(folder, layout.CONFIG_FILE))
  vocabs = io_utils.glob_files(io_utils.join(folder, "*.model"))
  vocab = vocab or (vocabs[0] if len(vocabs) == 1 else None)
  if not vocab:
    errors.fail(f"no single SentencePiece .model beside {path}; pass --vocab")
  model = _labeler(config)
  ours.assign(model.encoder, tf1.read_weights(path, config, PREFIXES), path)
  from_original(model, split_tf1(path)[1], path)
  params = exp_factory.get_exp_config(EXPERIMENT)
  params.override({"task": {
      "model": {"head": "beam", "encoder": config.as_dict()},
      "validation_data": {"version_2_with_negative": True,
                          "vocab_file": io_utils.join(output,
                                                      layout.VOCAB_FILE)}}})
  with layout.output_directory(output, vocab) as tmp:
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), tmp,
                               max_to_keep=1).save(checkpoint_number=0)
    train_utils.serialize_config(params, tmp)
