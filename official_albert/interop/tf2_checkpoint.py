"""Strict restore of TF2 object-based checkpoints (tf.train.Checkpoint).

`tf.train.Checkpoint.read` restores whatever matches and reports the rest in
messages that dump whole arrays. Here the file's variables are compared with
those the objects would write, by checkpoint key and shape, before anything
is restored, so a mismatch is one readable error and never a partial load.
"""

import os
import tempfile
from typing import Dict, Mapping

import tensorflow as tf

from official_albert.interop import layout

CHECKPOINT_NAME = "ckpt"
_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_SLOT_MARK = "/.OPTIMIZER_SLOT/"


def _stored(prefix: str, items: Mapping[str, tf.Module]) -> Dict[str, tuple]:
  """Checkpoint key (without the suffix) -> shape, for variables of `items`.

  Optimizer slots, which training checkpoints store under each variable's
  key, are not the model's variables and are skipped.
  """
  shapes = layout.checkpoint_reader(prefix).get_variable_to_shape_map()
  return {key[:-len(_VALUE_SUFFIX)]: tuple(shape)
          for key, shape in sorted(shapes.items())
          if key.split("/")[0] in items and key.endswith(_VALUE_SUFFIX)
          and _SLOT_MARK not in key}


def restore(prefix: str, items: Mapping[str, tf.Module], source: str) -> None:
  """Restores `tf.train.Checkpoint(**items)` from `prefix`, all or nothing.

  Args:
    prefix: a checkpoint prefix (see `layout.checkpoint_prefix`).
    items: the checkpoint's root items, built (their variables exist).
    source: what is read, for messages.

  Raises:
    errors.UserError: naming (by checkpoint key) the variables that are
      missing from the file, unexpected in it or shaped differently; other
      root items of the file (an optimizer, say) are ignored.
  """
  with tempfile.TemporaryDirectory() as tmp:
    reference = tf.train.Checkpoint(**items).write(os.path.join(tmp, "ref"))
    expected = _stored(reference, items)
  found = _stored(prefix, items)
  layout.report_mismatch(
      source, [k for k in expected if k not in found],
      [k for k in found if k not in expected],
      [(k, found[k], s) for k, s in expected.items()
       if k in found and found[k] != s],
      "Check that the config beside it (or --config) describes this "
      "checkpoint")
  tf.train.Checkpoint(**items).read(prefix).assert_existing_objects_matched()


def write(directory: str, items: Mapping[str, tf.Module]) -> str:
  """Writes `tf.train.Checkpoint(**items)` as `<directory>/ckpt-1`.

  `directory` may be local or a URL (TensorFlow writes either).

  A `checkpoint` state file with a relative path goes with it, so that
  `tf.train.latest_checkpoint(directory)` finds it after the directory is
  moved (as `layout.output_directory` does).

  Returns:
    The checkpoint prefix.
  """
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(**items), directory, max_to_keep=1,
      checkpoint_name=CHECKPOINT_NAME)
  return manager.save()
