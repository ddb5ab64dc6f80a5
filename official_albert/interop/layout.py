"""The interchange layout every converter goes through: the original TF1 names.

A checkpoint in any format is read into "weights": a dict from the original
release's variable name (google-research/albert `modeling.py`, listed in
ALBERT_FACTS.md) to a float32 numpy array in that release's layout (dense
kernels `[in, out]`, attention kernels `[H, H]`, the SOP head's
`output_weights` `[2, H]`). Each format (ours, HuggingFace, TF1, Model Garden)
then only maps names and layouts to and from this one, so N formats need N
mappings rather than N^2.

The encoder's variables are always required. The two pretraining heads
(`cls/predictions/*`, `cls/seq_relationship/*`) are optional, but each head is
all or nothing: a partial head is an error, never a silent partial load.
"""

import contextlib
import json
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from official_albert import errors
from official_albert import io_utils
from official_albert.configs.encoders import AlbertEncoderConfig

Weights = Dict[str, np.ndarray]

PROJECTION_PREFIX = "bert/encoder/embedding_hidden_mapping_in/"
MLM_PREFIX = "cls/predictions/"
SOP_PREFIX = "cls/seq_relationship/"
HEAD_PREFIXES = (MLM_PREFIX, SOP_PREFIX)

CONFIG_FILE = "albert_config.json"
# Every output directory names its SentencePiece model as HuggingFace does.
VOCAB_FILE = "spiece.model"
# Keys of the original release's albert_config.json that describe options it
# never used in a released model (all zero or empty there).
_ORIGINAL_UNUSED_KEYS = ("net_structure_type", "layers_to_keep", "gap_size",
                         "num_memory_blocks", "down_scale_factor")

# Shown at most this many names per problem, so the error stays one line.
_MAX_NAMES = 6


def block_prefix(group: int, inner: int) -> str:
  """TF1 name prefix of inner block `inner` of group `group`."""
  return f"bert/encoder/transformer/group_{group}/inner_group_{inner}/"


def _block_shapes(config: AlbertEncoderConfig) -> Dict[str, Tuple[int, ...]]:
  """Shapes of one transformer block's variables, keyed by TF1 name suffix.

  `LayerNorm` follows attention and `LayerNorm_1` follows the feed-forward
  network (post-LayerNorm, paper section 3 / original `modeling.py`).
  """
  h, i = config.hidden_size, config.intermediate_size
  shapes = {}
  for dense, (n_in, n_out) in (("attention_1/self/query", (h, h)),
                               ("attention_1/self/key", (h, h)),
                               ("attention_1/self/value", (h, h)),
                               ("attention_1/output/dense", (h, h)),
                               ("ffn_1/intermediate/dense", (h, i)),
                               ("ffn_1/intermediate/output/dense", (i, h))):
    shapes[dense + "/kernel"] = (n_in, n_out)
    shapes[dense + "/bias"] = (n_out,)
  for norm in ("LayerNorm", "LayerNorm_1"):
    shapes[norm + "/gamma"] = shapes[norm + "/beta"] = (h,)
  return shapes


def expected_shapes(config: AlbertEncoderConfig) -> Dict[str, Tuple[int, ...]]:
  """Every variable of an ALBERT pretraining checkpoint and its shape.

  Args:
    config: the encoder's sizes (V, E, H, I, groups, inner layers, positions).

  Returns:
    An ordered dict from TF1 name to shape: embeddings, the
    `num_hidden_groups * inner_group_num` blocks, the pooler, then the MLM
    head (`output_bias` `[V]`) and the SOP head (`output_weights` `[2, H]`).
  """
  v, e, h = config.vocab_size, config.embedding_size, config.hidden_size
  shapes = {
      "bert/embeddings/word_embeddings": (v, e),
      "bert/embeddings/position_embeddings": (config.max_position_embeddings,
                                              e),
      "bert/embeddings/token_type_embeddings": (config.type_vocab_size, e),
      "bert/embeddings/LayerNorm/gamma": (e,),
      "bert/embeddings/LayerNorm/beta": (e,),
      PROJECTION_PREFIX + "kernel": (e, h),
      PROJECTION_PREFIX + "bias": (h,),
  }
  for g in range(config.num_hidden_groups):
    for i in range(config.inner_group_num):
      for suffix, shape in _block_shapes(config).items():
        shapes[block_prefix(g, i) + suffix] = shape
  shapes.update({
      "bert/pooler/dense/kernel": (h, h),
      "bert/pooler/dense/bias": (h,),
      MLM_PREFIX + "transform/dense/kernel": (h, e),
      MLM_PREFIX + "transform/dense/bias": (e,),
      MLM_PREFIX + "transform/LayerNorm/gamma": (e,),
      MLM_PREFIX + "transform/LayerNorm/beta": (e,),
      MLM_PREFIX + "output_bias": (v,),
      SOP_PREFIX + "output_weights": (2, h),
      SOP_PREFIX + "output_bias": (2,),
  })
  return shapes


def add_identity_projection(weights: Weights,
                            config: AlbertEncoderConfig) -> Weights:
  """Adds an identity E->H projection where a source has none (E == H).

  The original release and Model Garden's `AlbertEncoder` apply the
  projection only when E != H; ours always applies it (as HuggingFace does),
  so an identity kernel and zero bias stand in for it, exactly equivalent.

  Args:
    weights: TF1 name -> array; returned unchanged if it has a projection
      or E != H (then `check` reports the missing projection).
    config: the model's sizes.

  Returns:
    `weights`, with `PROJECTION_PREFIX` kernel `[E, H]` and bias `[H]` added
    if needed.
  """
  if (any(n.startswith(PROJECTION_PREFIX) for n in weights) or
      config.embedding_size != config.hidden_size):
    return weights
  h = config.hidden_size
  return dict(weights, **{
      PROJECTION_PREFIX + "kernel": np.eye(h, dtype=np.float32),
      PROJECTION_PREFIX + "bias": np.zeros(h, np.float32)})


def drop_identity_projection(weights: Weights, config: AlbertEncoderConfig,
                             target: str) -> Weights:
  """Removes the E->H projection for a target that has none when E == H.

  Args:
    weights: TF1 name -> array, with the projection (checked by `check`).
    config: the model's sizes.
    target: the target format, for the error message.

  Returns:
    `weights` without `PROJECTION_PREFIX` variables if E == H, else
    `weights` unchanged.

  Raises:
    errors.UserError: if E == H and the projection is not the identity with
      a zero bias (tolerance 1e-6): the target could not express it.
  """
  if config.embedding_size != config.hidden_size:
    return weights
  kernel = weights[PROJECTION_PREFIX + "kernel"]
  bias = weights[PROJECTION_PREFIX + "bias"]
  if not (np.allclose(kernel, np.eye(config.hidden_size), rtol=0, atol=1e-6)
          and np.allclose(bias, 0.0, rtol=0, atol=1e-6)):
    errors.fail(f"{target} has no E->H projection when embedding_size == "
                f"hidden_size ({config.hidden_size}), and this model's "
                f"{PROJECTION_PREFIX}kernel is not the identity (it was "
                "trained); convert to ours, hf or tf1 instead, which keep it")
  return {n: v for n, v in weights.items()
          if not n.startswith(PROJECTION_PREFIX)}


def head_of(name: str) -> Optional[str]:
  """The head prefix (`MLM_PREFIX` or `SOP_PREFIX`) of `name`, or None."""
  return next((p for p in HEAD_PREFIXES if name.startswith(p)), None)


def _listing(names) -> str:
  names = sorted(names)
  more = f" and {len(names) - _MAX_NAMES} more" if len(names) > _MAX_NAMES else ""
  return ", ".join(names[:_MAX_NAMES]) + more


def check(weights: Mapping[str, np.ndarray], config: AlbertEncoderConfig,
          source: str, display: Optional[Mapping[str, str]] = None) -> None:
  """Checks that `weights` is a complete, correctly shaped ALBERT checkpoint.

  Args:
    weights: TF1 name -> array, as read from `source`.
    config: the sizes the weights must have.
    source: what was read (a path), for the message.
    display: optional TF1 name -> the name in the source's own format, so the
      message names variables the way the user's file does.

  Raises:
    errors.UserError: naming every missing variable (encoder, or part of a
      head that is otherwise present), every unexpected variable and every
      shape mismatch, and suggesting to check the config.
  """
  shapes = expected_shapes(config)
  present_heads = {head_of(n) for n in weights} - {None}
  missing = [n for n in shapes
             if n not in weights and head_of(n) in present_heads | {None}]
  unexpected = [n for n in weights if n not in shapes]
  mismatched = [(n, tuple(weights[n].shape), shapes[n]) for n in weights
                if n in shapes and tuple(weights[n].shape) != shapes[n]]
  show = (lambda n: display.get(n, n)) if display else (lambda n: n)
  report_mismatch(
      source, [show(n) for n in missing], [show(n) for n in unexpected],
      [(show(n), got, want) for n, got, want in mismatched],
      "Check that the config (sizes, num_hidden_groups, inner_group_num) "
      "describes this checkpoint")


def report_mismatch(source: str, missing: Sequence[str],
                    unexpected: Sequence[str],
                    mismatched: Sequence[Tuple[str, Tuple[int, ...],
                                               Tuple[int, ...]]],
                    fix: str) -> None:
  """Raises one UserError listing every naming problem, if there is any.

  Args:
    source: what was read, for the message.
    missing: names the model needs and the source lacks.
    unexpected: names the source has and the model does not.
    mismatched: (name, shape in the source, shape the model needs).
    fix: the sentence that tells the user what to do.

  Raises:
    errors.UserError: unless all three lists are empty.
  """
  problems = []
  if missing:
    problems.append("missing " + _listing(missing))
  if unexpected:
    problems.append("unexpected " + _listing(unexpected))
  if mismatched:
    problems.append("shape mismatch " + _listing(
        f"{name} {got} (config: {want})" for name, got, want in mismatched))
  if problems:
    errors.fail(f"{source} does not match the ALBERT config: "
                + "; ".join(problems) + ". " + fix)


def to_layout(value: np.ndarray, shape: Tuple[int, ...],
              transpose: bool) -> np.ndarray:
  """Converts an array between two layouts of the same variable.

  Args:
    value: the array in one layout.
    shape: the shape it must have in the other.
    transpose: True for a 2-D transpose (torch Linear weights vs Keras kernels,
      the SOP `[2, H]` weights); False for a row-major reshape (a TF1 `[H, H]`
      attention kernel vs Model Garden's `[H, heads, head_dim]`).

  Returns:
    A contiguous float32 array of shape `shape`.
  """
  value = np.asarray(value, np.float32)
  value = value.T if transpose else value.reshape(shape)
  return np.ascontiguousarray(value)


def config_from_dict(values: Mapping[str, Any],
                     source: str) -> AlbertEncoderConfig:
  """Builds an `AlbertEncoderConfig` from original `albert_config.json` keys.

  Args:
    values: the parsed JSON; keys are `AlbertEncoderConfig` field names, plus
      the original release's unused options, which are ignored.
    source: where it came from, for the message.

  Raises:
    errors.UserError: on a key that is neither.
  """
  fields = AlbertEncoderConfig().as_dict()
  unknown = sorted(set(values) - set(fields) - set(_ORIGINAL_UNUSED_KEYS))
  if unknown:
    errors.fail(f"{source} has unknown ALBERT config keys {unknown}; use the "
                f"field names of AlbertEncoderConfig ({sorted(fields)})")
  return AlbertEncoderConfig(**{k: v for k, v in values.items() if k in fields})


def load_config(path: str) -> AlbertEncoderConfig:
  """Reads an `albert_config.json` (original release format).

  Raises:
    errors.UserError: if the file is missing, not JSON, or has unknown keys.
  """
  if not io_utils.isfile(path):
    errors.fail(f"ALBERT config {path} not found; pass --config "
                "albert_config.json")
  try:
    with io_utils.open_file(path) as f:
      values = json.load(f)
  except json.JSONDecodeError as e:
    errors.fail(f"ALBERT config {path} is not valid JSON ({e}); fix the file")
  return config_from_dict(values, path)


def save_config(config: AlbertEncoderConfig, path: str) -> None:
  """Writes `config` as an `albert_config.json` (original field names)."""
  with io_utils.open_file(path, "w") as f:
    json.dump(config.as_dict(), f, indent=2, sort_keys=True)
    f.write("\n")


def checkpoint_prefix(path: str) -> str:
  """The TF checkpoint prefix for a prefix path or a directory.

  A directory resolves through its `checkpoint` state file, else to its only
  `*.index` file. A path with a `.index` file beside it is a prefix, whatever
  `isdir` says (TensorFlow's `ram://` calls every prefix of a file name a
  directory).

  Raises:
    errors.UserError: if there is no checkpoint, or several and no state file.
  """
  if io_utils.exists(path + ".index"):
    return path
  if not io_utils.isdir(path):
    errors.fail(f"checkpoint {path} not found (no {path}.index); pass a "
                "checkpoint prefix or its directory")
  prefix = tf.train.latest_checkpoint(path)
  if prefix:
    return prefix
  indexes = io_utils.glob_files(io_utils.join(path, "*.index"))
  if len(indexes) != 1:
    errors.fail(f"{path} holds {len(indexes)} checkpoints (*.index files) "
                "and no `checkpoint` state file; pass the prefix of one, "
                f"e.g. {io_utils.join(path, 'model.ckpt')}")
  return indexes[0][:-len(".index")]


def checkpoint_folder(path: str) -> str:
  """The directory of a checkpoint prefix or directory `path`.

  Where the config and vocabulary that go with the checkpoint lie.
  """
  if io_utils.exists(path + ".index") or not io_utils.isdir(path):
    return io_utils.dirname(path)
  return path


def checkpoint_reader(prefix: str):
  """A `CheckpointReader` for checkpoint `prefix` (local or a URL).

  `tf.train.load_checkpoint` without its directory test, which TensorFlow's
  `ram://` filesystem answers yes for a prefix of file names.
  """
  return tf.compat.v1.train.NewCheckpointReader(prefix)


@contextlib.contextmanager
def output_directory(path: str, vocab: Optional[str]) -> Iterator[str]:
  """Yields a new temporary directory that becomes `path` on success.

  `path` may be local or a URL; so may `vocab`, which, when given, is
  copied in as `spiece.model`. On an error nothing is left at `path`. A
  local directory appears at once (one rename); on a URL filesystem each
  file appears whole, the directory file by file (see
  `io_utils.atomic_path`).
  """
  with io_utils.atomic_path(path) as tmp:
    io_utils.makedirs(tmp)
    if vocab:
      io_utils.copy(vocab, io_utils.join(tmp, VOCAB_FILE))
    yield tmp


def restore_model(model: tf.Module, path: str, what: str) -> None:
  """Restores a built `model` from the object checkpoint `path` (root object
  `model`, as `train.py` writes it), every model variable matched.

  Args:
    model: the built model.
    path: a checkpoint prefix.
    what: what the model was built from, for the message (e.g. its
      `params.yaml`).

  Raises:
    errors.UserError: if a model variable is not in the checkpoint.
  """
  status = tf.train.Checkpoint(model=model).read(path)
  try:
    status.expect_partial().assert_existing_objects_matched()
  except AssertionError as e:
    errors.fail(f"checkpoint {path} does not fit the model of {what}: "
                f"{str(e).splitlines()[0][:200]}")
