"""The ALBERT sentence-prediction task: GLUE and user classification/regression.

Model Garden's `SentencePredictionTask` supplies the losses (cross-entropy,
or mean squared error when `num_classes` is 1), the streaming training
metrics and the validation step. This subclass builds ALBERT's classifier,
reads unpadded records with per-batch padding, restores the encoder from a
pretraining checkpoint, and scores the whole dev set at once
(`official_albert.metrics.glue`), writing the predictions as a GLUE-style
TSV (`index<TAB>prediction`) in the model directory.

Evaluating on an unlabelled GLUE test set (records of `test.tsv`, marked
`"labelled": false` in `metadata.json`) scores nothing: it writes the
leaderboard file, `MODEL_DIR/glue_submission/SST-2.tsv` (`CoLA.tsv`,
`MNLI-m.tsv`, ...; `test_predictions.tsv` for other tables), with the
task's label strings, and reports only `test_examples`.
"""

import functools
import json
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from official.core import task_factory
from official.nlp.tasks import sentence_prediction as mg_sentence_prediction

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import finetuning
from official_albert.data.finetuning import finetune_dataloader
from official_albert.data.finetuning import glue_submission
from official_albert.metrics import glue
from official_albert.modeling import heads
from official_albert.tasks import checkpoints
from official_albert.tasks import hub_encoder

PREDICTIONS_FILE = "dev_predictions.tsv"
SUBMISSION_DIR = "glue_submission"


def read_metadata(input_path: str) -> Optional[dict]:
  """Returns the `metadata.json` written beside records, or None.

  Args:
    input_path: a record file pattern (comma-separated patterns allowed).
  """
  files = [f for p in input_path.split(",") if p.strip()
           for f in tf.io.gfile.glob(p.strip())]
  if not files:
    return None
  path = os.path.join(os.path.dirname(files[0]), "metadata.json")
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)


def is_unlabelled(input_path: str) -> bool:
  """Whether `metadata.json` marks every file of `input_path` unlabelled
  (a GLUE test set); records without metadata count as labelled."""
  meta = read_metadata(input_path) if input_path else None
  if meta is None:
    return False
  files = [os.path.basename(f) for p in input_path.split(",") if p.strip()
           for f in tf.io.gfile.glob(p.strip())]
  entries = [meta.get("files", {}).get(name, {}) for name in files]
  return bool(entries) and all(e.get("labelled") is False for e in entries)


def records_needed(task_config, mode: str, task_flag: str
                   ) -> Iterator[Tuple[str, Any, Optional[dict]]]:
  """The record sets `mode` reads, with their `metadata.json`.

  Args:
    task_config: a fine-tuning task config (`train_data`, `validation_data`).
    mode: a `train.py` mode; "train" and "eval" in it select the sets.
    task_flag: the `create_finetuning_data --task` value, for the message.

  Yields:
    `("train" or "eval", data config, metadata dict or None)`.

  Raises:
    UserError: if no file matches a needed set's `input_path`.
  """
  for needed, data in (("train", task_config.train_data),
                       ("eval", task_config.validation_data)):
    if needed not in mode:
      continue
    if not data.input_path or not tf.io.gfile.glob(data.input_path):
      errors.fail(f"no records match {data.input_path!r}; create them with "
                  "`python -m official_albert.data.finetuning.create_finetuning_data"
                  f"{' --task ' + task_flag if task_flag else ''}`")
    yield needed, data, read_metadata(data.input_path)


@task_factory.register_task_cls(finetuning.SentencePredictionConfig)
class SentencePredictionTask(mg_sentence_prediction.SentencePredictionTask):
  """Fine-tunes an `AlbertClassifier` on sentence(-pair) records."""

  def build_model(self) -> heads.AlbertClassifier:
    """The classifier of `task.model` (`pooling` "cls" or "mean").

    Raises:
      UserError: on an unknown `task.model.pooling`, or (from
        `hub_encoder.build_encoder`) a bad encoder source.
    """
    model = self.task_config.model
    if model.pooling not in heads.POOLINGS:
      errors.fail(f"task.model.pooling={model.pooling!r}; use "
                  + " or ".join(repr(p) for p in heads.POOLINGS))
    return heads.AlbertClassifier(
        hub_encoder.build_encoder(self.task_config),
        num_classes=model.num_classes, dropout_rate=model.dropout_rate,
        initializer_range=model.encoder.initializer_range,
        pooling=model.pooling)

  def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
    """Model Garden's losses, with the regression loss per example.

    Model Garden's `mean_squared_error(label_ids, model_outputs)` compares
    labels `[batch]` with scores `[batch, 1]`, which broadcasts to
    `[batch, batch]`: every score against every label, whose minimum is
    the batch's mean label for every example (why STS-B predicted the mean
    in the small study; found by `benchmarks/finetune_oracle.py`). Here the
    regression loss is the mean over the batch of (score - label)^2;
    classification is Model Garden's cross-entropy.

    Args:
      labels: a dict with `label_ids` `[batch]` (int, or float for
        regression).
      model_outputs: logits `[batch, num_classes]`.
      aux_losses: extra losses to add (the model's regularisers).

    Returns:
      The scalar float32 loss.
    """
    if self.task_config.model.num_classes != 1:
      return super().build_losses(labels, model_outputs, aux_losses)
    scores = tf.reshape(tf.cast(model_outputs, tf.float32), [-1])
    gold = tf.reshape(tf.cast(labels[self.label_field], tf.float32), [-1])
    loss = tf.reduce_mean(tf.square(scores - gold))
    if aux_losses:
      loss += tf.add_n(aux_losses)
    return loss

  def check_inputs(self, mode: str) -> None:
    """Fails fast when the records disagree with the config.

    Raises:
      UserError: if a record set's `metadata.json` has a label list whose
        size is not `model.num_classes` (1 for regression), or records are
        missing.
    """
    num_classes = self.task_config.model.num_classes
    for _, data, meta in records_needed(self.task_config, mode, ""):
      if meta is None:
        continue
      labels = meta.get("label_list") or []
      want = len(labels) or 1
      if want != num_classes:
        errors.fail(f"records {data.input_path!r} have {want} classes "
                    f"({labels or 'regression'}) but "
                    f"task.model.num_classes={num_classes}; set "
                    f"task.model.num_classes={want}")
      if (want == 1) != (data.label_type == "float"):
        errors.fail(f"records {data.input_path!r} are "
                    f"{'regression' if want == 1 else 'classification'} "
                    f"records but label_type={data.label_type!r}; set "
                    f"label_type to {'float' if want == 1 else 'int'!r}")

  def build_inputs(self, params: finetune_dataloader.FinetuneDataConfig,
                   input_context=None) -> tf.data.Dataset:
    return finetune_dataloader.FinetuneDataLoader(params).load(input_context)

  def initialize(self, model: heads.AlbertClassifier) -> None:
    """Restores the encoder from `init_checkpoint`, if set (strictly)."""
    checkpoints.restore_encoder(self.task_config.init_checkpoint, model,
                                self.task_config.train_data.seq_length)

  @functools.cached_property
  def _unlabelled_eval(self) -> bool:
    return is_unlabelled(self.task_config.validation_data.input_path)

  def build_metrics(self, training=None):
    """Model Garden's metrics; none for an unlabelled evaluation set (its
    labels are placeholders)."""
    if not training and self._unlabelled_eval:
      return []
    return super().build_metrics(training)

  def process_metrics(self, metrics, labels, model_outputs):
    """Model Garden's updates, plus the regression metric it never updates.

    Model Garden builds `mean_squared_error` for `num_classes: 1` but its
    `process_metrics` only feeds accuracy and AUC, so STS-B reported an MSE
    of 0.0. Labels `[batch]` float and scores `[batch, 1]` are compared per
    example, so a short last batch weighs by its size.
    """
    super().process_metrics(metrics, labels, model_outputs)
    for metric in metrics:
      if metric.name == "mean_squared_error":
        metric.update_state(
            tf.reshape(tf.cast(labels[self.label_field], tf.float32), [-1, 1]),
            tf.reshape(tf.cast(model_outputs, tf.float32), [-1, 1]))

  def validation_step(self, inputs, model, metrics=None):
    logs = super().validation_step(inputs, model, metrics)
    logs["example_id"] = inputs["example_id"]
    if self._unlabelled_eval:
      del logs[self.loss]  # A loss against placeholder labels means nothing.
    return logs

  def aggregate_logs(self, state=None, step_outputs=None):
    """Collects every prediction, label and example id of the dev set."""
    state = state or {"sentence_prediction": [], "labels": [],
                      "example_id": []}
    for key in state:
      state[key].extend(np.asarray(v) for v in step_outputs[key])
    return state

  def predictions(self, aggregated_logs) -> Dict[str, np.ndarray]:
    """Class ids (or scores for regression), labels and example ids.

    Returns:
      A dict of `[num_examples]` arrays "predictions", "labels",
      "example_id", sorted by example id.
    """
    outputs = np.concatenate(aggregated_logs["sentence_prediction"])
    if self.task_config.model.num_classes == 1:
      preds = outputs.reshape(-1)
    elif self.metric_type == "matthews_corrcoef":
      preds = outputs.reshape(-1)  # Model Garden's step already took argmax.
    else:
      preds = outputs.argmax(-1)
    ids = np.concatenate(aggregated_logs["example_id"]).reshape(-1)
    labels = np.concatenate(aggregated_logs["labels"]).reshape(-1)
    order = np.argsort(ids, kind="stable")
    return dict(predictions=preds[order], labels=labels[order],
                example_id=ids[order])

  def reduce_aggregated_logs(self, aggregated_logs, global_step=None):
    """Scores the whole dev set and writes the prediction TSV; for a test
    set, writes the leaderboard file instead of scoring."""
    result = self.predictions(aggregated_logs)
    input_path = self.task_config.validation_data.input_path
    meta = read_metadata(input_path) or {}
    if self._unlabelled_eval:
      name = glue_submission.submission_name(meta.get("task", ""), input_path)
      if self.logging_dir:
        self.write_predictions(
            os.path.join(self.logging_dir, SUBMISSION_DIR,
                         name or "test_predictions.tsv"),
            result, meta.get("label_list") or [])
      return dict(test_examples=len(result["example_id"]))
    if self.logging_dir:
      self.write_predictions(os.path.join(self.logging_dir, PREDICTIONS_FILE),
                             result, meta.get("label_list") or [])
    return glue.glue_metrics(self.metric_type, result["labels"],
                             result["predictions"])

  @staticmethod
  def write_predictions(path: str, result: Dict[str, np.ndarray],
                        label_list: List[str]) -> None:
    """Writes `index<TAB>prediction` rows (label strings when known; scores
    with 9 significant digits, which restore a float32 exactly)."""
    with io_utils.atomic_path(path) as tmp:
      with tf.io.gfile.GFile(tmp, "w") as f:
        f.write("index\tprediction\n")
        for i, p in zip(result["example_id"], result["predictions"]):
          value = label_list[int(p)] if label_list else (
              f"{p:.9g}" if isinstance(p, np.floating) else int(p))
          f.write(f"{i}\t{value}\n")
