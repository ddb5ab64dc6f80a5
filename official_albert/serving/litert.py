"""LiteRT (TFLite) models from our SavedModels, and serving from them.

`serving.export --litert float32,dynamic_int8,int8` converts the ids
signature of the SavedModel it has just written (`encoder`, `classify`,
`squad`, `multiple_choice` or `tag`) with TensorFlow's own converter
(`tf.lite.TFLiteConverter`), for any batch size. Three forms:

  float32: the SavedModel's float graph, for any length up to
    `--seq_length` (`form_shape`; the SQuAD 2.0 beam head: fixed length).
  dynamic_int8: int8 weights, float activations (`Optimize.DEFAULT`, no
    data; "dynamic-range quantization"); lengths as float32.
  int8: at the fixed length `--seq_length` (`LiteRTModel` pads shorter
    inputs); int8 weights and activations (full integer quantization,
    `TFLITE_BUILTINS_INT8` only), calibrated on a representative dataset
    drawn from the task's own training records (`representative_inputs`).
    Ids stay int32 at the inputs and outputs stay float32.

Every form uses TFLite builtin ops only: the graph takes ids. The text
signatures are not converted: in-graph SentencePiece needs `SELECT_TF_OPS`
and tensorflow_text's custom ops, which the LiteRT interpreter does not
have; `serving.predict` tokenizes in Python instead (as for a model
directory).

A `.tflite` file is self-contained: besides the graph it carries, in the
model's metadata table (TFLite schema `Model.metadata`), an entry
`official_albert` (JSON: label names, lower-casing, sequence length,
quantization), `official_albert/spiece.model` (the vocabulary's bytes) and,
for a fine-tuned model, `official_albert/params.yaml` (the experiment
config). The interpreter ignores them; `finetuned.load` reads them, so that
`serving.predict` serves a `.tflite` like a SavedModel.
"""

import json
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
# Registers the SentencePiece ops of the text signatures, which loading the
# SavedModel needs (they are not converted).
import tensorflow_text  # pylint: disable=unused-import
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from official_albert import errors
from official_albert import io_utils

FLOAT32 = "float32"
DYNAMIC_INT8 = "dynamic_int8"
INT8 = "int8"
QUANTIZATIONS = (FLOAT32, DYNAMIC_INT8, INT8)
SUFFIX = ".tflite"
INFO_METADATA = "official_albert"
VOCAB_METADATA = "official_albert/spiece.model"
PARAMS_METADATA = "official_albert/params.yaml"
ENCODER = "encoder"
_INPUTS = ("input_word_ids", "input_mask", "input_type_ids")

# One batch of int32 model inputs by name.
Inputs = Dict[str, np.ndarray]


def parse_quantizations(value: str) -> List[str]:
  """`--litert` as a list: "float32,int8" -> ["float32", "int8"]; "all".

  Raises:
    UserError: on an unknown form.
  """
  names = list(QUANTIZATIONS) if value == "all" else [
      v.strip() for v in value.split(",") if v.strip()]
  unknown = sorted(set(names) - set(QUANTIZATIONS))
  if unknown or not names:
    errors.fail(f"--litert {value!r}: unknown form {', '.join(unknown)}; "
                f"use a comma-separated list of {', '.join(QUANTIZATIONS)} "
                "or 'all'")
  return names


def output_path(saved_model: str, quantization: str) -> str:
  """Where `export` writes a form: beside the SavedModel, `NAME.FORM.tflite`."""
  return saved_model.rstrip("/") + f".{quantization}{SUFFIX}"


def convert(served, trackable, input_shape: Sequence, quantization: str,
            representative: Optional[Sequence[Inputs]] = None
            ) -> bytes:
  """Converts one ids signature to a LiteRT flatbuffer.

  Args:
    served: the ids signature (a concrete function of `input_word_ids`,
      `input_mask`, `input_type_ids`), e.g. a loaded `serving.export`
      SavedModel's `encoder`, `classify`, `squad`, ... signature.
    trackable: the object holding its variables (the loaded SavedModel).
    input_shape: the int32 inputs' shape, e.g. `[None, seq_length]`
      (`[None, options, seq_length]` for multiple choice); None = any size.
    quantization: one of `QUANTIZATIONS`.
    representative: for `int8`, batches of inputs (int32 arrays of
      `input_shape`, checked by `representative_inputs` /
      `record_inputs`) to calibrate activations on.

  Returns:
    The `.tflite` bytes: one signature, whose outputs are the signature's
    numeric outputs (string outputs such as `label` are left out: label
    names travel as metadata); `export_forms` names it.
  """
  numeric = [k for k, spec in served.structured_outputs.items()
             if spec.dtype != tf.string]

  # Named arguments: TFLite names the inputs after them.
  def ids(input_word_ids, input_mask, input_type_ids):
    outputs = served(input_word_ids=input_word_ids, input_mask=input_mask,
                     input_type_ids=input_type_ids)
    return {k: outputs[k] for k in numeric}

  function = tf.function(ids, input_signature=[
      tf.TensorSpec(input_shape, tf.int32, name=n) for n in _INPUTS],
                         autograph=False).get_concrete_function()
  converter = tf.lite.TFLiteConverter.from_concrete_functions([function],
                                                              trackable)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  if quantization != FLOAT32:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantization == INT8:
    converter.representative_dataset = lambda: iter(representative)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  return converter.convert()


def _check_fits(batch: Inputs, input_shape: Sequence) -> None:
  for name in _INPUTS:
    shape = np.shape(batch.get(name))
    if len(shape) != len(input_shape) or any(
        want is not None and want != got
        for want, got in zip(input_shape, shape)):
      errors.fail(f"a representative {name} has shape {list(shape)} but the "
                  f"model takes {list(input_shape)} (None: any); make the "
                  "records with the model's --max_seq_length")


def _rename_signature(flatbuffer: bytes, name: str) -> bytes:
  model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
  model.signatureDefs[0].signatureKey = name
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def add_metadata(flatbuffer: bytes, entries: Dict[str, bytes]) -> bytes:
  """The flatbuffer with metadata entries added (name -> bytes).

  Args:
    flatbuffer: a `.tflite` model.
    entries: e.g. `INFO_METADATA` (JSON), `VOCAB_METADATA`,
      `PARAMS_METADATA` (see the module docstring).
  """
  model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
  model.metadata = model.metadata or []
  for name, data in entries.items():
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(data, np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_metadata(flatbuffer: bytes) -> Dict[str, bytes]:
  """A `.tflite` model's metadata entries, name -> bytes.

  Raises:
    UserError: if the bytes are not a TFLite model.
  """
  if len(flatbuffer) < 8 or flatbuffer[4:8] != b"TFL3":
    errors.fail("the file is not a LiteRT (.tflite) model; pass one written "
                "by serving.export --litert")
  model = schema.Model.GetRootAsModel(flatbuffer, 0)
  entries = {}
  for i in range(model.MetadataLength()):
    entry = model.Metadata(i)
    entries[entry.Name().decode()] = model.Buffers(
        entry.Buffer()).DataAsNumpy().tobytes()
  return entries


def write(path: str, flatbuffer: bytes) -> None:
  """Writes `.tflite` bytes to `path` (local or a URL), atomically."""
  with io_utils.atomic_path(path) as tmp:
    with io_utils.open_file(tmp, "wb") as f:
      f.write(flatbuffer)


def representative_inputs(task, data_config, count: int,
                          input_shape: Sequence) -> List[Inputs]:
  """`count` single-example batches of the task's own training records.

  Read by the task's own input pipeline (`task.build_inputs`), padded to
  the export's sequence length (`dynamic_padding: false`).

  Args:
    task: the fine-tuning task (its `build_inputs`).
    data_config: its `train_data` config (`input_path` may be replaced).
    count: how many examples.
    input_shape: the shape to pad to (last axis: the sequence length).

  Returns:
    Dicts of int32 `input_word_ids`, `input_mask`, `input_type_ids` of
    shape `[1] + input_shape[1:]`.

  Raises:
    UserError: if no records match, or they do not fit the model (longer
      than its sequence length, or records of another task).
  """
  if not io_utils.glob_files(data_config.input_path or "-"):
    errors.fail(f"no representative records match "
                f"{data_config.input_path!r}; pass --representative_data "
                "with the task's training records")
  config = data_config.replace(dynamic_padding=False, is_training=True,
                               global_batch_size=1, drop_remainder=False,
                               seq_length=input_shape[-1])
  batches = []
  try:
    for inputs in task.build_inputs(config).take(count):
      features = inputs[0] if isinstance(inputs, tuple) else inputs
      batches.append({k: features[k].numpy().astype(np.int32)
                      for k in _INPUTS})
  except (tf.errors.InvalidArgumentError, KeyError) as e:
    errors.fail(f"the representative records {data_config.input_path!r} do "
                f"not fit the model ({str(e).splitlines()[0][:160]}); pass "
                "this task's records made with --max_seq_length "
                f"<= {input_shape[-1]}")
  for batch in batches:
    _check_fits(batch, input_shape)
  return batches


class LiteRTModel:
  """A `.tflite` model and its signature, callable like a SavedModel's.

  Args:
    path: the `.tflite` file (local or a URL).
    num_threads: interpreter threads (None: LiteRT's default).

  Attributes:
    metadata: the model's metadata entries, name -> bytes.
    info: the `INFO_METADATA` facts (empty for a foreign model).
    signature: the signature's name.
    input_shape: the model's input shape, -1 where any size goes.

  Raises:
    UserError: if the file is missing or not a LiteRT model, or has no
      single signature taking our three ids.
  """

  def __init__(self, path: str, num_threads: Optional[int] = None):
    # Imported here: the interpreter is only needed to serve, not to export.
    from ai_edge_litert import interpreter  # pylint: disable=g-import-not-at-top
    if not io_utils.isfile(path):
      errors.fail(f"--model {path} not found; pass a .tflite file")
    with io_utils.open_file(path, "rb") as f:
      flatbuffer = f.read()
    self.metadata = read_metadata(flatbuffer)
    self.info = json.loads(self.metadata.get(INFO_METADATA, b"{}"))
    self._interpreter = interpreter.Interpreter(
        model_content=flatbuffer, num_threads=num_threads)
    signatures = self._interpreter.get_signature_list()
    if len(signatures) != 1 or sorted(
        next(iter(signatures.values()))["inputs"]) != sorted(_INPUTS):
      errors.fail(f"{path} has signatures {signatures}, not one taking "
                  f"{', '.join(_INPUTS)}; export it with serving.export "
                  "--litert")
    self.signature = next(iter(signatures))
    self._runner = self._interpreter.get_signature_runner(self.signature)
    detail = self._runner.get_input_details()["input_word_ids"]
    self.input_shape = [int(d) for d in detail["shape_signature"]]

  def __call__(self, inputs: Inputs) -> Dict[str, np.ndarray]:
    """Outputs by name for int32 ids.

    Args:
      inputs: int32 `input_word_ids`, `input_mask`, `input_type_ids`
        `[batch, (options,) length]`, length at most the exported
        `seq_length` (a model of fixed length gets them padded to it).

    Returns:
      The signature's numeric outputs (numpy).

    Raises:
      UserError: if the inputs are longer than the model takes.
    """
    length = inputs["input_word_ids"].shape[-1]
    longest = self.input_shape[-1] if self.input_shape[-1] > 0 else (
        self.info.get("seq_length", length))
    if length > longest:
      errors.fail(f"an input of {length} pieces is longer than the LiteRT "
                  f"model's {longest}; pass --seq_length {longest} or export "
                  "with a longer --seq_length")
    ids = {name: np.asarray(inputs[name], np.int32) for name in _INPUTS}
    if 0 < length < self.input_shape[-1]:  # A fixed-length model.
      pad = [(0, 0)] * (ids["input_word_ids"].ndim - 1)
      pad.append((0, self.input_shape[-1] - length))
      ids = {name: np.pad(value, pad) for name, value in ids.items()}
    return self._runner(**ids)


def record_inputs(pattern: str, count: int, seq_length: int) -> List[Inputs]:
  """`count` single-example batches of pretraining (or any unpadded) records.

  For the encoder, whose export has no task: the records' `input_ids`,
  `input_mask` and `segment_ids` (as `create_pretraining_data` writes
  them), padded to `seq_length`.

  Raises:
    UserError: if no records match, or they lack those features or are
      longer than `seq_length`.
  """
  files = io_utils.glob_files(pattern or "-")
  if not files:
    errors.fail(f"no representative records match {pattern!r}; pass "
                "--representative_data with TFRecords of the model's input")
  names = ("input_ids", "input_mask", "segment_ids")
  spec = {k: tf.io.VarLenFeature(tf.int64) for k in names}
  batches = []
  try:
    for record in tf.data.TFRecordDataset(files).take(count):
      example = tf.io.parse_single_example(record, spec)
      values = [tf.sparse.to_dense(example[k]).numpy() for k in names]
      if len(values[0]) > seq_length:
        raise ValueError(f"a record of {len(values[0])} pieces")
      batches.append({k: np.pad(v, (0, seq_length - len(v))).astype(
          np.int32)[None] for k, v in zip(_INPUTS, values)})
  except (tf.errors.InvalidArgumentError, ValueError) as e:
    errors.fail(f"the representative records {pattern!r} do not fit the "
                f"model ({str(e).splitlines()[0][:160]}); pass records with "
                f"input_ids, input_mask, segment_ids of at most {seq_length} "
                "pieces")
  return batches


def form_shape(input_shape: Sequence, quantization: str,
               free_length: bool = True) -> List:
  """The input shape a form is converted at.

  The float forms take any length (the last axis is left free, so a
  sentence of 15 pieces costs 15 positions, not `seq_length`; `LiteRTModel`
  still refuses inputs longer than the recorded `seq_length`). `int8` keeps
  the fixed length: int8-only accelerators (Edge TPU, NPUs) compile static
  shapes, and it is calibrated at that length.

  Args:
    input_shape: the fixed-length shape, e.g. `[None, seq_length]`.
    quantization: one of `QUANTIZATIONS`.
    free_length: False for a graph that needs a static length to stay in
      TFLite's builtins (the SQuAD 2.0 beam head: at a free length Model
      Garden's span labeling converts to `Einsum` and a new-axis
      `StridedSlice`, which are not builtins).
  """
  if quantization == INT8 or not free_length:
    return list(input_shape)
  return [*input_shape[:-1], None]


def export_forms(saved_model: str, output: str, forms: Sequence[str],
                 signature: str, input_shape: Sequence,
                 entries: Dict[str, bytes],
                 representative: Optional[List[Inputs]],
                 free_length: bool = True,
                 int8_signature=None, int8_trackable=None) -> List[str]:
  """Converts each LiteRT form of a SavedModel signature, then writes them.

  Args:
    saved_model: the SavedModel to read (`export`'s temporary directory).
    output: the SavedModel's final path; the forms go beside it
      (`output_path`).
    forms: from `QUANTIZATIONS`.
    signature: the ids signature to convert.
    input_shape: see `convert`.
    entries: metadata entries; `INFO_METADATA` (a JSON dict) gains each
      form's `quantization`.
    representative: calibration batches, needed for `int8` (see `convert`;
      read before anything is written, so that bad records fail first).
    free_length: see `form_shape`.
    int8_signature: for `int8`, the ids signature traced with finite
      attention masks (`modeling.encoder_block.finite_mask`), which full
      integer quantization needs; its variables' holder `int8_trackable`.

  Returns:
    The paths written, in `forms` order.

  Raises:
    ValueError: if `int8` is asked for without `int8_signature`.
  """
  if INT8 in forms and int8_signature is None:
    raise ValueError("the int8 form needs int8_signature (finite_mask)")
  info = json.loads(entries.get(INFO_METADATA, b"{}"))
  loaded = tf.saved_model.load(saved_model)
  sources = {form: (loaded.signatures[signature], loaded) for form in forms}
  if INT8 in forms:
    sources[INT8] = (int8_signature, int8_trackable)
  flatbuffers = [add_metadata(_rename_signature(
      convert(*sources[form], form_shape(input_shape, form, free_length),
              form, representative), signature),
      dict(entries, **{INFO_METADATA: json.dumps(
          dict(info, quantization=form)).encode()})) for form in forms]
  paths = [output_path(output, form) for form in forms]
  for path, flatbuffer in zip(paths, flatbuffers):
    write(path, flatbuffer)
  return paths
