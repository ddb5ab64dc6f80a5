"""Restoring parts of a model from a pretraining or converted checkpoint.

Two checkpoint layouts hold ALBERT weights:
* a training checkpoint written by Model Garden's trainer, whose root holds
  `model` (an `AlbertPretrainer`, with `encoder`, `masked_lm`,
  `sop_classifier`) and `optimizer`;
* a converted checkpoint (`official_albert.interop`), whose root holds
  `encoder` and, where the source had them, `masked_lm` and `sop_classifier`.

`restore_items` reads either, restoring the items asked for that the
checkpoint has, so that continuing from a released checkpoint without an SOP
head leaves the SOP head freshly initialised.
"""

import re
from typing import List

import tensorflow as tf
from absl import logging

from official_albert import errors


def _resolve(path: str) -> str:
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if not latest:
      errors.fail(f"no checkpoint found in directory {path!r}; point "
                  "init_checkpoint at a checkpoint prefix or a model_dir")
    return latest
  if not tf.io.gfile.exists(path + ".index"):
    errors.fail(f"checkpoint {path!r} not found (no {path}.index); point "
                "init_checkpoint at a checkpoint prefix or a model_dir")
  return path


def _only_new_nystrom_variables(message: str) -> bool:
  """Whether every unmatched variable is a Nyström convolution kernel.

  An exact-attention checkpoint has no `nystrom_conv` kernels; a Nyström
  model restored from it keeps them at their zero initialisation, which makes
  the block start as the plain Nyström approximation of the same weights.
  """
  shown = re.search(r"Showing (\d+) of (\d+) unmatched", message)
  names = re.findall(r"<tf\.Variable '([^']+)'", message)
  return bool(shown and shown.group(1) == shown.group(2) and names and
              all("/nystrom_conv/" in n for n in names))


def restore_items(path: str, **items: tf.Module) -> List[str]:
  """Restores the named items (e.g. `encoder=model.encoder`) from `path`.

  Args:
    path: a checkpoint prefix, or a directory whose latest checkpoint is used.
    **items: trackable objects keyed by their name in the checkpoint
      (`encoder`, `masked_lm`, `sop_classifier`).

  Returns:
    The names of the items that were restored; items the checkpoint lacks are
    left as initialised and logged.

  Raises:
    UserError: if the checkpoint is missing or holds none of the items, or if
      a restored item's variables do not match (shape or missing variable;
      only the Nyström convolution kernels may be missing, see
      `_only_new_nystrom_variables`).
  """
  path = _resolve(path)
  names = {name.split("/")[0] for name, _ in tf.train.list_variables(path)}
  if "model" in names:  # A trainer checkpoint: items sit under `model`.
    reader = tf.train.load_checkpoint(path)
    present = {n for n in items
               if any(k.startswith(f"model/{n}/")
                      for k in reader.get_variable_to_shape_map())}
    wrap = lambda objs: tf.train.Checkpoint(model=tf.train.Checkpoint(**objs))
  else:
    present = set(items) & names
    wrap = lambda objs: tf.train.Checkpoint(**objs)
  if not present:
    errors.fail(f"checkpoint {path!r} holds none of {sorted(items)}; is it an "
                "ALBERT checkpoint? Convert foreign weights with "
                "`python -m official_albert.interop.convert`")
  restored = {n: items[n] for n in sorted(present)}
  try:
    status = wrap(restored).read(path)
    status.expect_partial()  # Optimizer slots etc. are not ours to restore.
    status.assert_existing_objects_matched()
  except AssertionError as e:
    if not _only_new_nystrom_variables(str(e)):
      errors.fail(f"checkpoint {path!r} does not match the model: "
                  f"{str(e).splitlines()[0][:300]}; check the model config")
  except ValueError as e:
    errors.fail(f"checkpoint {path!r} does not match the model: "
                f"{str(e).splitlines()[0][:300]}; check the model config")
  for name in sorted(set(items) - present):
    logging.info("Checkpoint %s has no %s: it starts freshly initialised.",
                 path, name)
  return sorted(present)


def restore_encoder(init_checkpoint: str, model: tf.Module) -> None:
  """A fine-tuning task's `initialize`: restores `model.encoder`, if asked.

  Args:
    init_checkpoint: the task's `init_checkpoint` ("" restores nothing).
    model: a model with an `encoder` attribute (classifier, span labeler).

  Raises:
    UserError: as `restore_items`.
  """
  if init_checkpoint:
    restore_items(init_checkpoint, encoder=model.encoder)
