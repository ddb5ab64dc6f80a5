"""The ALBERT SQuAD task: span prediction for v1.1, plus no-answer for v2.0.

Model Garden's `QuestionAnsweringTask` supplies the loss (mean of the start
and end cross-entropies), the training metrics, the validation step and the
collection of per-window logits. This subclass builds ALBERT's span labeler,
tokenizes the evaluation JSON with `official_albert.data.finetuning.squad_data`
(exact character offsets), reads unpadded records with per-batch padding, and
scores with the official scripts (`official_albert.metrics.squad`).

Two heads (`task.model.head`). "cls", BERT's: no-answer (v2.0) is the
[CLS] span; training windows without the answer point there. At evaluation, each question's
no-answer score is the smallest [CLS] start+end logit over its windows, the
span score the best valid span's; the question gets "" when the difference
exceeds `null_score_diff_threshold` (Devlin et al., 2019, section 4.3).
"beam", the original `run_squad_v2.py` head (`modeling.squad_v2`; the
v2.0 recipe's default; task `SquadBeamTask`): a start/end beam, and no-answer
when the smallest `cls_logits` over the question's windows exceeds the
threshold; loss, metrics and logs are Model Garden's XLNet SQuAD task's (the
class inherits them), the decoding its XLNet-mode post-processing. The evaluation also reports the threshold that maximises
dev F1 (`best_f1_thresh`), to be set as `null_score_diff_threshold` for test
data.

Written to the model directory at each evaluation: `predictions.json` (id ->
answer text), `nbest_predictions.json`, and for v2.0 `null_odds.json`
(id -> score difference).
"""

import copy
import dataclasses
import json
import math
import os
from typing import Dict, Sequence

import tensorflow as tf
from official.core import task_factory
from official.nlp.data import squad_lib_sp
from official.nlp.tasks import question_answering

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import finetuning
from official_albert.data.finetuning import finetune_dataloader
from official_albert.data.finetuning import squad_data
from official_albert.data import tokenization
from official_albert.metrics import squad as squad_metrics
from official_albert.modeling import heads
from official_albert.modeling import squad_v2
from official_albert.tasks import checkpoints
from official_albert.tasks import hub_encoder

CLS = "cls"
BEAM = "beam"
# Model Garden's n-best for a question without a valid span (its nonce):
# such a question is answered "".
NO_SPAN_NBEST = {"text": "empty", "probability": 1.0, "start_logit": 0.0,
                 "end_logit": 0.0}


def _write_json(path: str, value) -> None:
  with io_utils.atomic_path(path) as tmp:
    with tf.io.gfile.GFile(tmp, "w") as f:
      # Logits arrive as numpy float32, which json cannot write itself.
      json.dump(value, f, indent=1, ensure_ascii=False, default=float)


def decode_answers(config: finetuning.SquadConfig,
                   examples: Sequence[squad_lib_sp.SquadExample],
                   features: Sequence[squad_lib_sp.InputFeatures],
                   results: Sequence[question_answering.RawAggregatedResult]):
  """Answers from per-window logits, as the evaluation makes them.

  Model Garden's `squad_lib_sp.postprocess_output` with the task's settings
  (`n_best_size`, `max_answer_length`, v2.0 and its no-answer threshold);
  `serving.predict qa` calls it too, so served answers are the evaluation's.
  Spans start only on pieces with text. In v2.0 a question with no valid
  span among its n-best starts x ends gets "", the n-best `NO_SPAN_NBEST`
  and, for its score difference, its no-answer score (the original
  `run_squad.py` scores its nonce span 0).

  Args:
    config: the task config.
    examples: the questions (`squad_data.read_examples`).
    features: their windows (`squad_data.convert_examples`).
    results: one per window: `unique_id`, float `start_logits` and
      `end_logits` `[window_length]`.

  Returns:
    `(predictions, nbest, null_diffs)`: question id -> answer text (""
    for no answer in v2.0); question id -> list of n-best dicts (`text`,
    `probability`, `start_logit`, `end_logit`); for v2.0 question id ->
    no-answer score minus best span score (else empty).
  """
  if config.model.head == BEAM:
    return _decode_beam(config, examples, features, results)
  # Logits of a batch's padding positions are cut off, so that they cannot
  # take n-best slots from real tokens: a window's answer does not depend on
  # the other windows it was batched with.
  lengths = {f.unique_id: len(f.input_ids) for f in features}
  results = [dataclasses.replace(
      r, start_logits=r.start_logits[:lengths[r.unique_id]],
      end_logits=r.end_logits[:lengths[r.unique_id]]) for r in results]
  features = [_starts_with_text(f, examples, f.tokens.index("[SEP]") + 1)
              for f in features]
  decode = lambda examples, features, v2: squad_lib_sp.postprocess_output(
      examples, features, results, config.n_best_size,
      config.max_answer_length, config.validation_data.do_lower_case,
      version_2_with_negative=v2,
      null_score_diff_threshold=config.null_score_diff_threshold)
  if not config.validation_data.version_2_with_negative:
    return decode(examples, features, False)
  # Model Garden's v2.0 decoding asserts when a question has no valid span
  # among its n-best starts x ends (a freshly trained model in CI hit it);
  # its v1.1 decoding gives such a question the nonce n-best instead. The
  # v1.1 pass finds them; they get "" and the v2.0 pass decodes the rest.
  _, spans, _ = decode(examples, features, False)
  kept = [i for i, e in enumerate(examples)
          if spans[e.qas_id] != [NO_SPAN_NBEST]]
  index = {old: new for new, old in enumerate(kept)}
  renumbered = []
  for feature in features:
    if feature.example_index in index:
      feature = copy.copy(feature)
      feature.example_index = index[feature.example_index]
      renumbered.append(feature)
  predictions, nbest, null_diffs = decode(
      [examples[i] for i in kept], renumbered, True)
  ids = {f.unique_id: examples[f.example_index].qas_id for f in features}
  null_scores = {}
  for r in results:
    qid = ids[r.unique_id]
    null_scores[qid] = min(null_scores.get(qid, math.inf),
                           r.start_logits[0] + r.end_logits[0])
  for e in examples:
    if e.qas_id not in predictions:
      # As the original run_squad.py, which scores its nonce span 0.
      predictions[e.qas_id], nbest[e.qas_id] = "", [NO_SPAN_NBEST]
      null_diffs[e.qas_id] = null_scores[e.qas_id]
  return predictions, nbest, null_diffs


def _starts_with_text(feature, examples, offset):
  """`feature` whose spans may start only on pieces with text of their own.

  A span starting on a bare "▁" (SentencePiece splits " (" into "▁" and
  "(") may have empty text: Model Garden's decoding then takes "" for an
  answer, and asserts when every candidate of a question is one. Positions
  of `token_is_max_context` are sequence positions; the piece maps are
  indexed from `offset`.
  """
  paragraph = examples[feature.example_index].paragraph_text
  feature = copy.copy(feature)
  feature.token_is_max_context = {
      position: is_max for position, is_max in
      feature.token_is_max_context.items()
      if position >= offset and paragraph[
          feature.tok_start_to_orig_index[position - offset]:
          feature.tok_end_to_orig_index[position - offset] + 1].strip()}
  return feature


def _decode_beam(config, examples, features, results):
  """`decode_answers` for the beam head (original `run_squad_v2.py`).

  Model Garden's post-processing in its XLNet mode: the n-best are the
  `start_n_top` x `end_n_top` beam pairs by start + end log-probability, the
  answer the best valid one, and a question's no-answer score its smallest
  `cls_logits` over windows. That mode indexes the features' piece maps by
  sequence position, so each feature's maps get the `[CLS] q [SEP]` prefix
  as empty entries: beam positions there are not in `token_is_max_context`
  and are dropped, as the original's `token_to_orig_map` check drops them.
  Spans may not start on a piece with no text of its own (a bare "▁"). A
  question left with no valid span gets "" (Model Garden's nonce answer
  "empty" is not text of the paragraph). The question also gets "" when its
  `cls_logits` exceeds `null_score_diff_threshold`.
  """
  shifted = []
  for feature in features:
    offset = feature.tokens.index("[SEP]") + 1
    feature = copy.copy(feature)
    feature.tok_start_to_orig_index = ([-1] * offset +
                                       list(feature.tok_start_to_orig_index))
    feature.tok_end_to_orig_index = ([-1] * offset +
                                     list(feature.tok_end_to_orig_index))
    shifted.append(_starts_with_text(feature, examples, 0))
  answers, nbest, null_odds = squad_lib_sp.postprocess_output(
      examples, shifted, results, config.model.start_n_top,
      config.max_answer_length, config.validation_data.do_lower_case,
      version_2_with_negative=True, xlnet_format=True)
  null_odds = {k: float(v) for k, v in null_odds.items()}
  predictions = {
      qid: "" if (null_odds[qid] > config.null_score_diff_threshold
                  or nbest[qid] == [NO_SPAN_NBEST]) else text
      for qid, text in answers.items()}
  return predictions, nbest, null_odds


@task_factory.register_task_cls(finetuning.SquadConfig)
class SquadTask(question_answering.QuestionAnsweringTask):
  """Fine-tunes an `AlbertSpanLabeler` (or, with `model.head: beam`, an
  `AlbertSquadV2Labeler`) on SQuAD v1.1 or v2.0.

  `albert/squad` stays one registered experiment: built with
  `task.model.head: beam`, `SquadTask(params)` (and so
  `task_factory.get_task`) returns a `SquadBeamTask`.

  Example:

  ```python
  params = exp_factory.get_exp_config("albert/squad")
  task = SquadTask(params.task, logging_dir="runs/squad")
  model = task.build_model()
  ```
  """

  def __new__(cls, params=None, *args, **kwargs):
    del args, kwargs  # For __init__.
    if (cls is SquadTask and params is not None
        and params.model.head == BEAM):
      cls = SquadBeamTask
    return super().__new__(cls)

  def build_model(self):
    """The span labeler of `model.head`.

    Raises:
      UserError: on an unknown head, the beam head on v1.1 data, or unequal
        beam sizes.
    """
    model = self.task_config.model
    if model.head not in (CLS, BEAM):
      errors.fail(f"task.model.head={model.head!r}; use {CLS!r} or {BEAM!r}")
    encoder = hub_encoder.build_encoder(self.task_config)
    if model.head == CLS:
      return heads.AlbertSpanLabeler(
          encoder, initializer_range=model.encoder.initializer_range,
          hidden_size=hub_encoder.hidden_size(self.task_config, encoder))
    if not self.task_config.validation_data.version_2_with_negative:
      errors.fail("task.model.head=beam is the SQuAD 2.0 head; set "
                  "task.validation_data.version_2_with_negative=true or use "
                  "task.model.head=cls")
    if model.start_n_top != model.end_n_top or model.start_n_top < 2:
      errors.fail(f"task.model.start_n_top={model.start_n_top} and "
                  f"end_n_top={model.end_n_top} must be equal and >= 2")
    return squad_v2.AlbertSquadV2Labeler(
        encoder, model.start_n_top, model.end_n_top, model.dropout_rate,
        initializer_range=model.encoder.initializer_range,
        hidden_size=hub_encoder.hidden_size(self.task_config, encoder))

  def initialize(self, model: heads.AlbertSpanLabeler) -> None:
    """Restores the encoder from `init_checkpoint`, if set (strictly)."""
    checkpoints.restore_encoder(self.task_config.init_checkpoint, model,
                                self.task_config.train_data.seq_length)

  def check_inputs(self, mode: str) -> None:
    """Fails fast on missing training records (the evaluation JSON is
    checked when the task is built).

    Raises:
      UserError: if no training records match.
    """
    train = self.task_config.train_data
    if "train" in mode and not tf.io.gfile.glob(train.input_path or "-"):
      errors.fail(f"no records match task.train_data.input_path="
                  f"{train.input_path!r}; create them with `python -m "
                  "official_albert.data.finetuning.create_finetuning_data "
                  "--task squad`")

  def _preprocess_eval_data(self, params: finetuning.SquadDataConfig):
    """Tokenizes the evaluation JSON and writes its records.

    Returns:
      `(records path, examples, features)`; features keep the piece-to-
      character maps for post-processing. The records are padded with
      copies of the last window to a multiple of `global_batch_size`.

    Raises:
      UserError: on a bad JSON file, a missing `vocab_file`, or no directory
        to write the records to.
    """
    if not params.vocab_file:
      errors.fail("task.validation_data.vocab_file is not set; pass the "
                  "SentencePiece model the records were made with")
    out_dir = params.input_preprocessed_data_path or self.logging_dir
    if not out_dir:
      errors.fail("set task.validation_data.input_preprocessed_data_path or "
                  "--model_dir: the evaluation records are written there")
    tokenizer = tokenization.AlbertTokenizer(params.vocab_file,
                                             params.do_lower_case)
    examples = squad_data.read_examples(params.input_path, False,
                                        params.version_2_with_negative)
    path = os.path.join(out_dir, "eval.tf_record")
    features = []
    with io_utils.atomic_path(path) as tmp:
      writer = squad_lib_sp.FeatureWriter(tmp, is_training=False)
      squad_data.convert_examples(
          examples, tokenizer, params.seq_length, params.doc_stride,
          params.query_length, False,
          lambda f: (features.append(f), writer.process_feature(f)))
      # Model Garden's padding features: copies of the last window, so that
      # every evaluation batch is full (static shapes for TPUs); their
      # results repeat that window's and are merged by unique_id.
      for _ in range(-len(features) % params.global_batch_size):
        writer.process_feature(features[-1])
      writer.close()
    return path, examples, features

  def build_inputs(self, params: finetuning.SquadDataConfig,
                   input_context=None) -> tf.data.Dataset:
    if not params.is_training:
      params = params.replace(input_path=self._tf_record_input_path)
    return finetune_dataloader.SquadDataLoader(params).load(input_context)

  def reduce_aggregated_logs(self, aggregated_logs, global_step=None
                             ) -> Dict[str, float]:
    """Post-processes the logits into answers, scores them, writes files."""
    config = self.task_config
    version_2 = config.validation_data.version_2_with_negative
    predictions, nbest, null_diffs = decode_answers(
        config, self._eval_examples, self._eval_features, aggregated_logs)
    dataset = squad_metrics.load_dataset(config.validation_data.input_path)
    if version_2:
      non_null = {qid: next((e["text"] for e in entries if e["text"]), "")
                  for qid, entries in nbest.items()}
      metrics = squad_metrics.squad_v2_metrics(dataset, predictions,
                                               null_diffs, non_null)
    else:
      metrics = squad_metrics.squad_v1_metrics(dataset, predictions)
    if self.logging_dir:
      _write_json(os.path.join(self.logging_dir, "predictions.json"),
                  predictions)
      _write_json(os.path.join(self.logging_dir, "nbest_predictions.json"),
                  nbest)
      if version_2:
        _write_json(os.path.join(self.logging_dir, "null_odds.json"),
                    null_diffs)
    return metrics


class SquadBeamTask(SquadTask, question_answering.XLNetQuestionAnsweringTask):
  """`SquadTask` with the beam head (`task.model.head: beam`, SQuAD 2.0).

  ALBERT's model, data, evaluation JSON and decoding are `SquadTask`'s; the
  loss (start/end plus `cls_logits` cross-entropy), metrics, validation step
  and log aggregation are Model Garden's XLNet SQuAD task's, by inheritance.
  `SquadTask(params)` returns this class when `params.model.head` is "beam".

  Example:

  ```python
  params = exp_factory.get_exp_config("albert/squad")
  params.override({"task": {"model": {"head": "beam"},
                            "validation_data": {
                                "version_2_with_negative": True}}})
  task = SquadTask(params.task)  # a SquadBeamTask
  ```
  """

  def train_step(self, inputs, model, optimizer, metrics=None):
    """Model Garden's step, the gold start added to the features: the end
    logits are conditioned on it."""
    features, labels = inputs
    inputs = (dict(features, start_positions=labels["start_positions"]),
              labels)
    return super().train_step(inputs, model, optimizer, metrics)
