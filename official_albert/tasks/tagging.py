"""The ALBERT token-classification task (`albert/tagging`): NER on CoNLL.

Model Garden's `TaggingTask` supplies the loss: cross-entropy on the pieces
whose label is not negative (each word's first piece). This subclass builds
`AlbertTokenClassifier`, takes the tag names from the records'
`metadata.json`, reads per-batch padded records, and scores whole sentences
(Model Garden's version scores each batch's pieces as one sequence, so an
entity could run from one sentence into the next): the windows of a sentence
are put back together, and entity-level precision, recall and F1 are
computed over all sentences (`metrics.tagging`). It writes
`predictions.conll` to the model directory: `word gold predicted` per line,
a blank line after each sentence (the input of `conlleval`).
"""

import collections
import os
from typing import Dict, List

import numpy as np
import tensorflow as tf
import tf_keras
from official.core import task_factory
from official.nlp.tasks import tagging as mg_tagging

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import tagging as tagging_config
from official_albert.data.finetuning import finetune_dataloader
from official_albert.data.finetuning import tagging_data
from official_albert.data.finetuning import tagging_dataloader
from official_albert.metrics import tagging as tagging_metrics
from official_albert.modeling import token_classification
from official_albert.tasks import checkpoints
from official_albert.tasks import hub_encoder
from official_albert.tasks import sentence_prediction

PREDICTIONS_FILE = "predictions.conll"


@task_factory.register_task_cls(tagging_config.TaggingConfig)
class TaggingTask(mg_tagging.TaggingTask):
  """Fine-tunes an `AlbertTokenClassifier` on CoNLL records."""

  def build_model(self) -> token_classification.AlbertTokenClassifier:
    config = self.task_config
    if not config.class_names:
      errors.fail("task.class_names is empty and no records' metadata.json "
                  "gave the tags; set task.class_names or point "
                  "task.train_data.input_path at records of "
                  "create_finetuning_data --task conll")
    return token_classification.AlbertTokenClassifier(
        hub_encoder.build_encoder(config),
        num_classes=len(config.class_names),
        dropout_rate=config.model.head_dropout)

  def check_inputs(self, mode: str) -> None:
    """Fails fast on missing records; takes `class_names` from metadata.

    Raises:
      UserError: if no records match, or `task.class_names` differs from
        the records' label list.
    """
    config = self.task_config
    for _, data, meta in sentence_prediction.records_needed(config, mode,
                                                            "conll"):
      labels = (meta or {}).get("label_list")
      if labels and not config.class_names:
        config.class_names = labels
      elif labels and list(config.class_names) != labels:
        errors.fail(f"records {data.input_path!r} have the tags {labels} but "
                    f"task.class_names is {list(config.class_names)}; drop "
                    "task.class_names or make the records with --labels")

  def build_inputs(self, params: finetune_dataloader.FinetuneDataConfig,
                   input_context=None) -> tf.data.Dataset:
    return tagging_dataloader.TaggingDataLoader(params).load(input_context)

  def initialize(self, model: tf_keras.Model) -> None:
    """Restores the encoder from `init_checkpoint`, if set (strictly)."""
    checkpoints.restore_encoder(self.task_config.init_checkpoint, model,
                                self.task_config.train_data.seq_length)

  def validation_step(self, inputs, model, metrics=None):
    features, labels = inputs
    outputs = self.inference_step(features, model)
    return {self.loss: self.build_losses(labels, outputs),
            "predict_ids": outputs["predict_ids"], "label_ids": labels,
            "sentence_id": features["sentence_id"],
            "example_id": features["example_id"]}

  def aggregate_logs(self, state=None, step_outputs=None):
    """Keeps, per window, the predicted and gold ids of its words."""
    state = state if state is not None else []
    for batch in zip(*(step_outputs[k] for k in (
        "predict_ids", "label_ids", "sentence_id", "example_id"))):
      predicted, gold, sentence, example = (np.asarray(t) for t in batch)
      for row in range(len(sentence)):
        words = gold[row] >= 0
        state.append((int(sentence[row]), int(example[row]),
                      predicted[row][words], gold[row][words]))
    return state

  def sentences(self, aggregated_logs) -> Dict[str, List[List[str]]]:
    """The windows put back into sentences, in order.

    Returns:
      "gold" and "predicted": one list of tags per sentence.
    """
    names = np.asarray(self.task_config.class_names)
    by_sentence = collections.defaultdict(list)
    for sentence, example, predicted, gold in sorted(
        aggregated_logs, key=lambda x: x[:2]):
      by_sentence[sentence].append((predicted, gold))
    out = dict(gold=[], predicted=[])
    for _, windows in sorted(by_sentence.items()):
      out["predicted"].append(list(names[np.concatenate([w[0] for w in
                                                         windows])]))
      out["gold"].append(list(names[np.concatenate([w[1] for w in
                                                    windows])]))
    return out

  def reduce_aggregated_logs(self, aggregated_logs, global_step=None):
    """Entity precision, recall and F1; writes `predictions.conll`."""
    tags = self.sentences(aggregated_logs)
    if self.logging_dir:
      path = self.task_config.validation_data.input_path
      source = tagging_data.read_sentences(
          path.replace(".tfrecord", ".sentences.jsonl"))
      with io_utils.atomic_path(os.path.join(self.logging_dir,
                                             PREDICTIONS_FILE)) as tmp:
        with io_utils.open_file(tmp, "w") as f:
          for i, (gold, predicted) in enumerate(zip(tags["gold"],
                                                    tags["predicted"])):
            words = source[i]["words"] if source else ["_"] * len(gold)
            for word, g, p in zip(words, gold, predicted):
              f.write(f"{word} {g} {p}\n")
            f.write("\n")
    return tagging_metrics.entity_metrics(tags["gold"], tags["predicted"])
