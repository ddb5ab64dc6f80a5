"""Original TF1 ALBERT checkpoints (google-research/albert, TF-Hub exports).

A release directory holds `model.ckpt*` (name-based TF1 checkpoint),
`albert_config.json` and a SentencePiece `*.model`. Variable names are the
interchange names of `layout` as they are; on reading, optimizer slots
(`*/adam_m`, `*/adam_v`) and `global_step` are dropped and a TF-Hub `module/`
prefix is removed.
"""

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from official_albert import io_utils
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.interop import layout

CHECKPOINT = "model.ckpt"
_IGNORED_SUFFIXES = ("/adam_m", "/adam_v")
_IGNORED_NAMES = ("global_step",)
_HUB_PREFIX = "module/"


def read_weights(path: str, config: AlbertEncoderConfig,
                 exclude: Sequence[str] = ()) -> layout.Weights:
  """Reads TF1 variables into the interchange layout and checks them.

  When E == H the original release has no E->H projection; an identity
  stands in for it (`layout.add_identity_projection`).

  Args:
    path: a checkpoint prefix, or a directory with one checkpoint.
    config: the model's sizes.
    exclude: name prefixes to leave out (a fine-tuning head's, read
      elsewhere).

  Returns:
    TF1 name -> float32 array.

  Raises:
    errors.UserError: if the checkpoint is missing or its variables do not
      match `config` (missing, unexpected and mis-shaped names listed).
  """
  prefix = layout.checkpoint_prefix(path)
  reader = layout.checkpoint_reader(prefix)
  weights = {}
  for name in reader.get_variable_to_shape_map():
    if (name.endswith(_IGNORED_SUFFIXES) or name in _IGNORED_NAMES
        or name.startswith(tuple(exclude))):
      continue
    key = name[len(_HUB_PREFIX):] if name.startswith(_HUB_PREFIX) else name
    weights[key] = np.asarray(reader.get_tensor(name), np.float32)
  weights = layout.add_identity_projection(weights, config)
  layout.check(weights, config, prefix)
  return weights


def load(path: str, config_path: Optional[str] = None
         ) -> Tuple[AlbertEncoderConfig, layout.Weights, Optional[str]]:
  """Reads an original ALBERT release (checkpoint, config, vocabulary).

  Args:
    path: a checkpoint prefix or its directory.
    config_path: the `albert_config.json`; defaults to the one beside the
      checkpoint.

  Returns:
    (config, weights in the interchange layout, path of the SentencePiece
    model beside the checkpoint if there is exactly one, else None).

  Raises:
    errors.UserError: if the checkpoint or config is missing or they do not
      match.
  """
  folder = layout.checkpoint_folder(path)
  config = layout.load_config(
      config_path or io_utils.join(folder, layout.CONFIG_FILE))
  weights = read_weights(path, config)
  vocabs = io_utils.glob_files(io_utils.join(folder, "*.model"))
  return config, weights, vocabs[0] if len(vocabs) == 1 else None


def save(path: str, config: AlbertEncoderConfig, weights: layout.Weights,
         vocab: Optional[str] = None,
         head: Optional[Dict[str, np.ndarray]] = None) -> None:
  """Writes a release-style directory, atomically.

  `<path>/model.ckpt*` (the exact TF1 names, readable by the original code,
  Model Garden's tf2_albert_encoder_checkpoint_converter and
  `tf.train.load_checkpoint`), `<path>/albert_config.json` and
  `<path>/spiece.model`.

  Args:
    path: the directory to create.
    config: the model's sizes.
    weights: the encoder (and pretraining heads) in the interchange layout.
    vocab: the SentencePiece model to copy in.
    head: a fine-tuning head's variables under their original names, written
      beside the encoder's (`interop.squad_v2_head`).

  Raises:
    errors.UserError: if `weights` does not match `config`.
  """
  layout.check(weights, config, "the weights to export")
  variables = {name: tf.Variable(value, name=name.replace("/", "_"))
               for name, value in {**weights, **(head or {})}.items()}
  with layout.output_directory(path, vocab) as tmp:
    tf.compat.v1.train.Saver(var_list=variables, save_relative_paths=True).save(
        None, io_utils.join(tmp, CHECKPOINT), write_meta_graph=False)
    layout.save_config(config, io_utils.join(tmp, layout.CONFIG_FILE))
