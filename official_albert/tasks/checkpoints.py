"""Restoring parts of a model from a pretraining or converted checkpoint.

Checkpoints that hold ALBERT weights have `encoder` and, where the source
had them, `masked_lm` and `sop_classifier` at their root: Model Garden's
trainer writes the model's `checkpoint_items` there (beside `model`,
`optimizer` and `global_step`), and so do the converters
(`official_albert.interop`). A checkpoint of `tf.train.Checkpoint(model=...)`
(items under `model`) is read too.

`restore_items` is strict: before anything is loaded, the checkpoint's
object graph under each restored item is compared with the model's, node by
node, so a missing or extra variable (a group too few, another hidden size)
is one `UserError` naming the variables, never a partial or lazy restore.
The models must be built (`build`) first, since an unbuilt Keras model has
no variables to compare.
"""

import os
import tempfile
from typing import Dict, List, Optional, Tuple

import tensorflow as tf
from absl import logging
from tensorflow.core.protobuf import trackable_object_graph_pb2

from official_albert import errors
from official_albert.interop import layout
from official_albert.modeling import albert

_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
# An exact-attention checkpoint lacks the Nyström convolution kernels; a
# Nyström model restored from it keeps them at their zero initialisation,
# which makes the block start as the plain Nyström approximation of the same
# weights (docs/nystrom.md). Object path of `NystromAttention._conv`.
_MAY_BE_MISSING = "/_attention_layer/_conv/"


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


class _Graph:
  """A checkpoint's object graph with its variables' shapes."""

  def __init__(self, prefix: str):
    reader = tf.train.load_checkpoint(prefix)
    self.graph = trackable_object_graph_pb2.TrackableObjectGraph()
    self.graph.ParseFromString(reader.get_tensor(_GRAPH_KEY))
    self.shapes = reader.get_variable_to_shape_map()

  def children(self, node: int) -> Dict[str, int]:
    return {c.local_name: c.node_id for c in self.graph.nodes[node].children}

  def variables(self, node: int) -> Dict[str, Tuple[int, ...]]:
    """Attribute name -> shape of the values stored on `node`."""
    return {a.name: tuple(self.shapes[a.checkpoint_key])
            for a in self.graph.nodes[node].attributes}

  def paths(self, node: int, path: str) -> List[str]:
    """The paths of every variable at or under `node`."""
    out, stack, seen = [], [(node, path)], set()
    while stack:
      node, path = stack.pop()
      if node in seen:
        continue
      seen.add(node)
      out += [path] * bool(self.variables(node))
      stack += [(n, f"{path}/{name}") for name, n in
                self.children(node).items()]
    return sorted(out)


def _compare(model: _Graph, ckpt: _Graph, roots: Dict[str, Tuple[int, int]]):
  """Walks both graphs from each item's root, pairing children by name.

  Returns:
    (missing, unexpected, mismatched): variable paths the model has and the
    checkpoint lacks; paths the checkpoint has and the model lacks; (path,
    checkpoint shape, model shape) for variables shaped differently.
  """
  missing, unexpected, mismatched = [], [], []
  stack, seen = list((n, m, c) for n, (m, c) in roots.items()), set()
  while stack:
    path, m, c = stack.pop()
    if (m, c) in seen:
      continue
    seen.add((m, c))
    mine, theirs = model.variables(m), ckpt.variables(c)
    if mine and not theirs:
      missing.append(path)
    elif theirs and not mine:
      unexpected.append(path)
    elif mine != theirs:
      mismatched.append((path, next(iter(theirs.values())),
                         next(iter(mine.values()))))
    m_children, c_children = model.children(m), ckpt.children(c)
    for name in sorted(set(m_children) | set(c_children)):
      child = f"{path}/{name}"
      if name not in c_children:
        missing += model.paths(m_children[name], child)
      elif name not in m_children:
        unexpected += ckpt.paths(c_children[name], child)
      else:
        stack.append((child, m_children[name], c_children[name]))
  return ([p for p in missing if _MAY_BE_MISSING not in p + "/"],
          unexpected, mismatched)


def build(model: tf.Module, seq_length: int,
          max_predictions_per_seq: int = 0) -> None:
  """Creates `model`'s variables with one dummy batch of the given shapes.

  Args:
    model: a pretrainer, classifier or span labeler.
    seq_length: the configured sequence length.
    max_predictions_per_seq: the pretrainer's masked positions (0 for
      fine-tuning models).
  """
  model(albert.dummy_inputs(1, seq_length, max_predictions_per_seq),
        training=False)


def restore_items(path: str, **items: tf.Module) -> List[str]:
  """Restores the named items (e.g. `encoder=model.encoder`) from `path`.

  Args:
    path: a checkpoint prefix, or a directory whose latest checkpoint is used.
    **items: built trackable objects keyed by their name in the checkpoint
      (`encoder`, `masked_lm`, `sop_classifier`).

  Returns:
    The names of the items that were restored; items the checkpoint lacks are
    left as initialised and logged.

  Raises:
    UserError: if the checkpoint is missing or holds none of the items, or if
      a restored item's variables differ from the checkpoint's (one line
      naming the missing, unexpected and mis-shaped variables; only the
      Nyström convolution kernels may be missing).
  """
  path = _resolve(path)
  ckpt = _Graph(path)
  root = 0
  if not set(items) & set(ckpt.children(0)) and "model" in ckpt.children(0):
    root = ckpt.children(0)["model"]  # tf.train.Checkpoint(model=...).
  present = sorted(set(items) & set(ckpt.children(root)))
  if not present:
    errors.fail(f"checkpoint {path!r} holds none of {sorted(items)}; is it an "
                "ALBERT checkpoint? Convert foreign weights with "
                "`python -m official_albert.interop.convert`")
  restored = {n: items[n] for n in present}
  with tempfile.TemporaryDirectory() as tmp:
    reference = _Graph(tf.train.Checkpoint(**restored).write(
        os.path.join(tmp, "model")))
  missing, unexpected, mismatched = _compare(reference, ckpt, {
      n: (reference.children(0)[n], ckpt.children(root)[n]) for n in present})
  layout.report_mismatch(
      f"checkpoint {path!r}", missing, unexpected, mismatched,
      "Check that the model config (hidden_size, num_hidden_layers, "
      "num_hidden_groups, inner_group_num, ...) is the checkpoint's")
  wrapped = tf.train.Checkpoint(**restored)
  if root:
    wrapped = tf.train.Checkpoint(model=wrapped)
  wrapped.read(path).expect_partial()  # The optimizer is not ours to restore.
  for name in sorted(set(items) - set(present)):
    logging.info("Checkpoint %s has no %s: it starts freshly initialised.",
                 path, name)
  return present


def restore_encoder(init_checkpoint: str, model: tf.Module,
                    seq_length: Optional[int] = None) -> None:
  """A fine-tuning task's `initialize`: restores `model.encoder`, if asked.

  Args:
    init_checkpoint: the task's `init_checkpoint` ("" restores nothing).
    model: a model with an `encoder` attribute (classifier, span labeler).
    seq_length: if given, `model.encoder` is first built with inputs of this
      length (the encoder alone: a multiple-choice model's inputs have an
      options axis).

  Raises:
    UserError: as `restore_items`.
  """
  if init_checkpoint:
    if seq_length:
      build(model.encoder, seq_length)
    restore_items(init_checkpoint, encoder=model.encoder)
