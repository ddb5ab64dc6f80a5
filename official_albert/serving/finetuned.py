"""Fine-tuned models for serving: a model_dir or its exported SavedModel.

A fine-tuned model directory is what `train.py` leaves for the
`albert/sentence_prediction`, `albert/squad`, `albert/race` or
`albert/tagging` experiment: `params.yaml` and trainer checkpoints
(`ckpt-N`, root object `model`). Its kind is told by the config
(`task.n_best_size` for SQuAD, `task.class_names` for a tagger,
`task.max_qa_length` for multiple choice, `task.model.num_classes` for a
classifier). What serving needs besides the weights comes from the config
and from the `metadata.json` that `create_finetuning_data` wrote beside the
training records: the SentencePiece model, lower-casing, the label names
and the sequence length. A SavedModel from `serving.export` carries the same
`params.yaml` and vocabulary as assets and the label names as a variable, so
`load` returns the same `Served` for either.
"""

import atexit
import dataclasses
import functools
import os
import shutil
import tempfile
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm
# Registers the SentencePiece op of the text signatures, which loading a
# SavedModel needs.
import tensorflow_text  # pylint: disable=unused-import
import tf_keras
from official.core import config_definitions as cfg

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import overrides
from official_albert.data import tokenization
from official_albert.interop import layout
from official_albert.modeling import albert
from official_albert.serving import litert
from official_albert.tasks import multiple_choice
from official_albert.tasks import sentence_prediction
from official_albert.tasks import squad
from official_albert.tasks import tagging

CLASSIFIER = "classifier"
SQUAD = "squad"
MULTIPLE_CHOICE = "multiple_choice"
TAGGER = "tagger"
EXPERIMENTS = {CLASSIFIER: "albert/sentence_prediction",
               SQUAD: "albert/squad", MULTIPLE_CHOICE: "albert/race",
               TAGGER: "albert/tagging"}
_TASKS = {CLASSIFIER: sentence_prediction.SentencePredictionTask,
          SQUAD: squad.SquadTask,
          MULTIPLE_CHOICE: multiple_choice.MultipleChoiceTask,
          TAGGER: tagging.TaggingTask}
# The ids signature of each kind in an exported SavedModel.
SIGNATURES = {CLASSIFIER: "classify", SQUAD: "squad",
              MULTIPLE_CHOICE: "multiple_choice", TAGGER: "tag"}
PARAMS_FILE = "params.yaml"
# What the beam SQuAD 2.0 head serves (Model Garden's XLNet outputs).
BEAM_OUTPUTS = ("start_top_predictions", "start_top_index",
                "end_top_predictions", "end_top_index", "class_logits")

# int32 `input_word_ids`, `input_mask`, `input_type_ids` [batch, length] ->
# numpy outputs by name (see `head_outputs`).
PredictFn = Callable[[Dict[str, np.ndarray]], Dict[str, np.ndarray]]


@dataclasses.dataclass
class Served:
  """A fine-tuned model ready to predict.

  Attributes:
    kind: `CLASSIFIER`, `SQUAD`, `MULTIPLE_CHOICE` or `TAGGER`.
    params: the experiment config the model was trained with.
    params_path: its `params.yaml`.
    vocab: the SentencePiece model path.
    lower_case: whether texts are lower-cased (uncased models).
    labels: class (tagger: tag) names in class-id order; [] for
      regression, SQuAD and multiple choice.
    seq_length: the sequence length the model was fine-tuned at.
    predict: see `PredictFn`.
    model: the live Keras model (None when loaded from a SavedModel).
  """
  kind: str
  params: cfg.ExperimentConfig
  params_path: str
  vocab: str
  lower_case: bool
  labels: List[str]
  seq_length: int
  predict: PredictFn
  model: Optional[tf_keras.Model] = None

  @functools.cached_property
  def tokenizer(self) -> tokenization.AlbertTokenizer:
    """The model's tokenizer, loaded once: loading the SentencePiece model
    costs more than a tiny model's forward pass at batch 1 (7 ms against 3
    ms on the 2-core AMD EPYC), so `predict` must not pay it per call."""
    return tokenization.AlbertTokenizer(self.vocab, self.lower_case)


def classifier_outputs(logits: tf.Tensor, labels: Sequence[str]
                       ) -> Dict[str, tf.Tensor]:
  """What a classifier serves, from its float32 logits `[batch, classes]`.

  Returns:
    `logits`; for classification `probabilities` (softmax, `[batch,
    classes]`), int32 `label_id` `[batch]` (argmax) and string `label`
    `[batch]` (its name); for regression (1 class) float32 `score` `[batch]`.
  """
  if not labels:
    return dict(logits=logits, score=logits[:, 0])
  label_id = tf.argmax(logits, -1, output_type=tf.int32)
  return dict(logits=logits, probabilities=tf.nn.softmax(logits),
              label_id=label_id, label=tf.gather(tf.constant(labels),
                                                 label_id))


def head_outputs(kind: str, model: tf_keras.Model,
                 inputs: Dict[str, tf.Tensor], labels: Sequence[str]
                 ) -> Dict[str, tf.Tensor]:
  """What a fine-tuned model serves, for int32 ids `[batch, length]`.

  Returns:
    SQuAD: float32 `start_logits`, `end_logits` `[batch, length]`; with
    the beam head (`task.model.head=beam`) `BEAM_OUTPUTS` instead: float32
    `start_top_predictions` and int32 `start_top_index` `[batch, k]` (start
    log-probabilities and positions), float32 `end_top_predictions` and
    int32 `end_top_index` `[batch, k * k]`, float32 `class_logits` `[batch]`;
    multiple choice (ids `[batch, options, length]`): `logits` and
    `probabilities` `[batch, options]`, int32 `prediction` `[batch]`;
    tagger: `logits` `[batch, length, tags]`, int32 `tag_id`
    `[batch, length]`; classifier: `classifier_outputs`.
  """
  outputs = model(inputs, training=False)
  if kind == SQUAD and isinstance(outputs, dict):  # The beam head.
    return {k: outputs[k] for k in BEAM_OUTPUTS}
  if kind == SQUAD:
    return dict(start_logits=outputs[0], end_logits=outputs[1])
  if kind == MULTIPLE_CHOICE:
    return dict(logits=outputs, probabilities=tf.nn.softmax(outputs),
                prediction=tf.argmax(outputs, -1, output_type=tf.int32))
  if kind == TAGGER:
    logits = outputs["logits"]
    return dict(logits=logits,
                tag_id=tf.argmax(logits, -1, output_type=tf.int32))
  return classifier_outputs(outputs, labels)


def pad_batch(features: Sequence[Dict[str, Sequence[int]]], pad_id: int,
              length: Optional[int] = None) -> Dict[str, np.ndarray]:
  """Pads unpadded `input_ids` / `segment_ids` lists to one length.

  Args:
    features: dicts with `input_ids` and `segment_ids` lists.
    pad_id: the vocabulary's padding id.
    length: the length to pad to (None: the longest of `features`), e.g.
      a fixed-length model's.

  Returns:
    int32 `input_word_ids` (padded with `pad_id`), `input_mask` (1 on real
    tokens) and `input_type_ids` (padded with 0), each `[batch, length]`.

  Raises:
    ValueError: if a feature is longer than `length`.
  """
  longest = max(len(f["input_ids"]) for f in features)
  if length is not None and longest > length:
    raise ValueError(f"a feature of {longest} ids does not fit length "
                     f"{length}")
  length = length or longest
  out = dict(input_word_ids=np.full((len(features), length), pad_id),
             input_mask=np.zeros((len(features), length)),
             input_type_ids=np.zeros((len(features), length)))
  for row, feature in enumerate(features):
    n = len(feature["input_ids"])
    out["input_word_ids"][row, :n] = feature["input_ids"]
    out["input_mask"][row, :n] = 1
    out["input_type_ids"][row, :n] = feature["segment_ids"]
  return {k: v.astype(np.int32) for k, v in out.items()}


def batch_starts(count: int, batch_size: int, desc: str) -> Sequence[int]:
  """The first row of each batch of `count` rows, with a progress bar when
  there is more than one batch (a bar costs about 0.6 ms, a fifth of a
  one-sentence call on a 2-core CPU, and says nothing for one batch).

  Args:
    count: rows to predict.
    batch_size: rows per model call.
    desc: the bar's label (the `predict` mode).
  """
  starts = range(0, count, batch_size)
  return starts if len(starts) <= 1 else tqdm(starts, unit="batch",
                                               desc=desc)


def read_config(params_path: str):
  """Reads a fine-tuned `params.yaml`.

  Returns:
    `(kind, locked ExperimentConfig)`.

  Raises:
    UserError: if the file is missing or is not a classifier or SQuAD config.
  """
  task = overrides.load_yaml_file(params_path).get("task") or {}
  if "n_best_size" in task:
    kind = SQUAD
  elif "class_names" in task:
    kind = TAGGER
  elif "max_qa_length" in task:
    kind = MULTIPLE_CHOICE
  elif "num_classes" in (task.get("model") or {}):
    kind = CLASSIFIER
  else:
    errors.fail(f"{params_path} is not an albert/sentence_prediction, "
                "albert/squad, albert/race or albert/tagging config; pass a "
                "fine-tuned model directory")
  return kind, overrides.parse_configuration(EXPERIMENTS[kind],
                                             [params_path], "")


def _data_facts(kind: str, params, vocab: Optional[str]):
  """(vocab, lower_case, labels, seq_length) from the config and metadata."""
  task = params.task
  meta = (sentence_prediction.read_metadata(task.train_data.input_path or "")
          or sentence_prediction.read_metadata(
              task.validation_data.input_path or "") or {})
  if kind == SQUAD:
    vocab = vocab or task.validation_data.vocab_file or meta.get(
        "sp_model_file")
    return (vocab, task.validation_data.do_lower_case, [],
            task.validation_data.seq_length)
  if kind in (TAGGER, MULTIPLE_CHOICE):
    return (vocab or meta.get("sp_model_file"), meta.get("lower_case", True),
            list(task.class_names or []) if kind == TAGGER else [],
            meta.get("max_seq_length", task.train_data.seq_length))
  labels = meta.get("label_list")
  num_classes = task.model.num_classes
  if labels is None or (len(labels) or 1) != num_classes:
    # No metadata (or not of these records): class ids stand for the names.
    labels = [] if num_classes == 1 else [str(i) for i in range(num_classes)]
  return (vocab or meta.get("sp_model_file"), meta.get("lower_case", True),
          labels, meta.get("max_seq_length", task.train_data.seq_length))


def build_task(kind: str, params):
  """The fine-tuning task of `kind` for `params`, without evaluation data
  (the SQuAD task would tokenize it when built)."""
  return _TASKS[kind](params.task.replace(validation_data=dict(
      input_path="")))


def build_model(kind: str, params, model_dir: str) -> tf_keras.Model:
  """The task's model with the latest checkpoint of `model_dir` restored.

  Raises:
    UserError: if there is no checkpoint, or it does not fit the model.
  """
  path = tf.train.latest_checkpoint(model_dir)
  if not path:
    errors.fail(f"no checkpoint in {model_dir}; train the model first or "
                "pass the model directory train.py wrote")
  model = build_task(kind, params).build_model()
  dummy = albert.dummy_inputs()
  if kind == MULTIPLE_CHOICE:  # One option.
    dummy = {k: v[:, None] for k, v in dummy.items()}
  model(dummy)
  layout.restore_model(model, path, PARAMS_FILE)
  return model


def _from_model_dir(model_dir: str, vocab: Optional[str]) -> Served:
  params_path = io_utils.join(model_dir, PARAMS_FILE)
  if not io_utils.isfile(params_path):
    errors.fail(f"{model_dir} has no {PARAMS_FILE}; pass a model directory "
                "written by train.py or a SavedModel from serving.export")
  kind, params = read_config(params_path)
  vocab, lower_case, labels, seq_length = _data_facts(kind, params, vocab)
  model = build_model(kind, params, model_dir)

  run = tf.function(lambda inputs: head_outputs(kind, model, inputs, labels),
                    autograph=False, reduce_retracing=True)
  predict = lambda inputs: {k: v.numpy() for k, v in run(inputs).items()}
  return Served(kind, params, params_path, vocab, lower_case, labels,
                seq_length, predict, model)


def _from_saved_model(path: str, vocab: Optional[str]) -> Served:
  params_path = io_utils.join(path, "assets", PARAMS_FILE)
  if not io_utils.isfile(params_path):
    errors.fail(f"SavedModel {path} has no assets/{PARAMS_FILE}: it is not a "
                "fine-tuned export; export a classifier or SQuAD model_dir "
                "with serving.export")
  kind, params = read_config(params_path)
  saved = tf.saved_model.load(path)
  signature = saved.signatures[SIGNATURES[kind]]
  vocabs = io_utils.glob_files(io_utils.join(path, "assets", "*.model"))
  predict = lambda inputs: {k: v.numpy() for k, v in signature(**{
      k: tf.constant(v) for k, v in inputs.items()}).items()}
  labels = [l.decode() for l in saved.label_list.numpy()]
  return Served(kind, params, params_path,
                vocab or (vocabs[0] if len(vocabs) == 1 else None),
                bool(saved.do_lower_case.numpy()), labels,
                int(saved.sequence_length.numpy()), predict)


def _from_litert(path: str, vocab: Optional[str],
                 num_threads: Optional[int]) -> Served:
  model = litert.LiteRTModel(path, num_threads)
  if litert.PARAMS_METADATA not in model.metadata:
    errors.fail(f"{path} carries no experiment config: it is not a "
                "fine-tuned export; export a fine-tuned model directory "
                "with serving.export --litert")
  # The config and vocabulary travel inside the model; the readers need
  # files, so they get local copies for the life of the process.
  local = tempfile.mkdtemp(prefix="albert_litert_")
  atexit.register(shutil.rmtree, local, True)
  params_path = os.path.join(local, PARAMS_FILE)
  with open(params_path, "wb") as f:
    f.write(model.metadata[litert.PARAMS_METADATA])
  if not vocab and litert.VOCAB_METADATA in model.metadata:
    vocab = os.path.join(local, "spiece.model")
    with open(vocab, "wb") as f:
      f.write(model.metadata[litert.VOCAB_METADATA])
  kind, params = read_config(params_path)
  if model.signature != SIGNATURES[kind]:
    errors.fail(f"{path} has the signature {model.signature!r}, but its "
                f"config is a {kind} model's ({SIGNATURES[kind]!r}); export "
                "it again with serving.export --litert")
  info = model.info
  return Served(kind, params, params_path, vocab, info["lower_case"],
                info["labels"], info["seq_length"], model)


def load(path: str, vocab: Optional[str] = None,
         num_threads: Optional[int] = None) -> Served:
  """Loads a fine-tuned model directory, its SavedModel or a LiteRT model.

  Args:
    path: a `train.py` model directory, a `serving.export` SavedModel, or a
      `.tflite` file from `serving.export --litert`.
    vocab: SentencePiece model to use instead of the recorded one.
    num_threads: LiteRT interpreter threads (None: LiteRT's default).

  Raises:
    UserError: if `path` is missing, is not a fine-tuned model, has no
      checkpoint, or no vocabulary is known.
  """
  if path.endswith(litert.SUFFIX):
    served = _from_litert(path, vocab, num_threads)
  elif not io_utils.isdir(path):
    errors.fail(f"--model {path} not found; pass a fine-tuned model "
                "directory, SavedModel or .tflite file")
  elif io_utils.isfile(io_utils.join(path, "saved_model.pb")):
    served = _from_saved_model(path, vocab)
  else:
    served = _from_model_dir(path, vocab)
  if not served.vocab or not io_utils.isfile(served.vocab):
    errors.fail(f"the vocabulary of {path} ({served.vocab or 'not recorded'})"
                " is not found; pass --vocab spiece.model")
  return served
