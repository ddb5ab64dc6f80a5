"""The ALBERT multiple-choice task (`albert/race`): RACE or a user's questions.

Model Garden's `SentencePredictionTask` (through ours) supplies the loss,
cross-entropy over the options' scores, which is the softmax over options of
the original `race_utils.create_model`, and the streaming accuracy. This
subclass builds `AlbertMultipleChoice`, reads `[num_options, length]`
batches, and scores the whole evaluation set at once: accuracy on all
questions and on each RACE level (`metrics.multiple_choice`). It writes
`predictions.jsonl` to the model directory, one line per question in record
order: `id` (from the `*.questions.jsonl` beside the records), `level`,
`prediction` and `answer` (option letters) and the options' `probabilities`.
"""

import json
import os
import string

import numpy as np
import tensorflow as tf
from official.core import task_factory

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import multiple_choice as mc_config
from official_albert.data.finetuning import finetune_dataloader
from official_albert.data.finetuning import multiple_choice_data
from official_albert.data.finetuning import multiple_choice_dataloader
from official_albert.metrics import multiple_choice as mc_metrics
from official_albert.modeling import multiple_choice
from official_albert.tasks import hub_encoder
from official_albert.tasks import sentence_prediction

PREDICTIONS_FILE = "predictions.jsonl"


def _question_ids(input_path: str):
  """The questions' ids from `NAME.questions.jsonl` beside one records file,
  or None (several files, or none written)."""
  sidecar = input_path.replace(".tfrecord", ".questions.jsonl")
  if sidecar == input_path or not tf.io.gfile.exists(sidecar):
    return None
  with tf.io.gfile.GFile(sidecar) as f:
    return [json.loads(line)["id"] for line in f if line.strip()]


@task_factory.register_task_cls(mc_config.MultipleChoiceConfig)
class MultipleChoiceTask(sentence_prediction.SentencePredictionTask):
  """Fine-tunes an `AlbertMultipleChoice` on multiple-choice records."""

  def build_model(self) -> multiple_choice.AlbertMultipleChoice:
    model = self.task_config.model
    return multiple_choice.AlbertMultipleChoice(
        hub_encoder.build_encoder(self.task_config),
        dropout_rate=model.dropout_rate)

  def check_inputs(self, mode: str) -> None:
    """Fails fast when records are missing or have another option count;
    takes `max_qa_length` from the training records.

    Raises:
      UserError: if no records match, or their `metadata.json` gives a
        `num_options` other than `model.num_classes`.
    """
    num_classes = self.task_config.model.num_classes
    for needed, data, meta in sentence_prediction.records_needed(
        self.task_config, mode, "race"):
      meta = meta or {}
      if needed == "train" and "max_qa_length" in meta:
        # Serving raw text (params.yaml) must cut questions as the records.
        self.task_config.max_qa_length = meta["max_qa_length"]
      if meta.get("num_options", num_classes) != num_classes:
        errors.fail(f"records {data.input_path!r} have "
                    f"{meta['num_options']} options per question but "
                    f"task.model.num_classes={num_classes}; set "
                    f"task.model.num_classes={meta['num_options']}")

  def build_inputs(self, params: finetune_dataloader.FinetuneDataConfig,
                   input_context=None) -> tf.data.Dataset:
    return multiple_choice_dataloader.MultipleChoiceDataLoader(
        params, self.task_config.model.num_classes).load(input_context)

  def validation_step(self, inputs, model, metrics=None):
    logs = super().validation_step(inputs, model, metrics)
    logs["level"] = inputs["level"]
    return logs

  def aggregate_logs(self, state=None, step_outputs=None):
    return super().aggregate_logs(
        state or {"sentence_prediction": [], "labels": [], "example_id": [],
                  "level": []}, step_outputs)

  def reduce_aggregated_logs(self, aggregated_logs, global_step=None):
    """Accuracy (all, middle, high) and `predictions.jsonl`."""
    logs = {k: np.concatenate([np.asarray(v).reshape(len(v), -1)
                               for v in values])
            for k, values in aggregated_logs.items()}
    order = np.argsort(logs["example_id"][:, 0], kind="stable")
    logits = logs["sentence_prediction"][order]
    labels, levels, ids = (logs[k][order, 0] for k in
                           ("labels", "level", "example_id"))
    predictions = logits.argmax(-1)
    if self.logging_dir:
      names = _question_ids(self.task_config.validation_data.input_path)
      probabilities = tf.nn.softmax(logits).numpy()
      letters = string.ascii_uppercase
      with io_utils.atomic_path(os.path.join(self.logging_dir,
                                             PREDICTIONS_FILE)) as tmp:
        with io_utils.open_file(tmp, "w") as f:
          for i, example_id in enumerate(ids):
            f.write(json.dumps(dict(
                id=names[example_id] if names else int(example_id),
                level=(multiple_choice_data.LEVELS[levels[i]]
                       if levels[i] >= 0 else ""),
                prediction=letters[predictions[i]],
                answer=letters[labels[i]],
                probabilities=[float(p) for p in probabilities[i]]))
                    + "\n")
    return mc_metrics.accuracy_by_level(labels, predictions, levels)
