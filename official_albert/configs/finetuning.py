"""The `albert/sentence_prediction` and `albert/squad` experiments.

Defaults follow the original release's fine-tuning scripts (`run_glue.sh`,
`run_squad_sp.py`): AdamW (weight decay 0.01 except LayerNorm and biases,
epsilon 1e-6), linear warm-up then linear decay to 0; GLUE at sequence
length 512, SQuAD at 384 with doc stride 128 and questions cut to 64 pieces,
batch 48, learning rate 5e-5. Per-task recipes (learning rate, steps,
warm-up, batch) are the YAML files under `experiments/glue` and
`experiments/squad`; the encoder is at `task.model.encoder`, set by
`configs/models/*.yaml`.
"""

import dataclasses
from typing import Optional

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams
from official.nlp.tasks import question_answering
from official.nlp.tasks import sentence_prediction

from official_albert.configs import encoders
from official_albert.configs import optimization
from official_albert.data.finetuning import finetune_dataloader

@dataclasses.dataclass
class ClassifierModelConfig(hyperparams.Config):
  """Classifier on the pooled output.

  Attributes:
    num_classes: number of labels; 1 for regression (STS-B).
    dropout_rate: dropout before the classifier (0.1 in the original).
    encoder: the ALBERT encoder.
  """
  num_classes: int = 2
  dropout_rate: float = 0.1
  encoder: encoders.AlbertEncoderConfig = dataclasses.field(
      default_factory=encoders.AlbertEncoderConfig)


@dataclasses.dataclass
class SentencePredictionModelConfig(ClassifierModelConfig):
  """Classifier of `albert/sentence_prediction`: `ClassifierModelConfig` plus
  the choice of sentence vector.

  Attributes:
    pooling: "cls" (default; the original `run_classifier.py`): dropout and
      the classifier on the encoder's `pooled_output`, tanh(dense([CLS])).
      "mean": dropout and the classifier on the mean of `sequence_output`
      over the real tokens (`input_mask` = 1, [CLS] and [SEP] included),
      with no dense+tanh in between; the encoder's pooler is then unused.
      The mean is what the frozen-feature probes of `docs/results.md` fit
      linearly; HuggingFace has no such head (`tests/test_pooling.py`
      checks it against numpy).
  """
  pooling: str = "cls"


@dataclasses.dataclass
class SentencePredictionConfig(sentence_prediction.SentencePredictionConfig):
  """Task config of `albert/sentence_prediction`.

  Attributes (Model Garden's, with ALBERT's model and data):
    model: the classifier; `model.pooling` picks its sentence vector
      ("cls" or "mean", see `SentencePredictionModelConfig`).
    init_checkpoint: a pretraining model_dir / checkpoint, or a converted
      checkpoint; only the encoder is restored.
    metric_type: "accuracy", "f1" (accuracy and F1: MRPC, QQP),
      "matthews_corrcoef" (CoLA) or "pearson_spearman_corr" (STS-B).
    train_data, validation_data: records from `create_finetuning_data`;
      `label_type` "float" for regression.
    seed: one seed for initialisation, dropout and the input shuffle
      (`official_albert.training.seeding`); None leaves them unseeded.
  """
  model: SentencePredictionModelConfig = dataclasses.field(
      default_factory=SentencePredictionModelConfig)
  train_data: finetune_dataloader.FinetuneDataConfig = dataclasses.field(
      default_factory=lambda: finetune_dataloader.FinetuneDataConfig(
          is_training=True))
  validation_data: finetune_dataloader.FinetuneDataConfig = dataclasses.field(
      default_factory=lambda: finetune_dataloader.FinetuneDataConfig(
          is_training=False, drop_remainder=False))
  seed: Optional[int] = None


@dataclasses.dataclass
class SpanModelConfig(hyperparams.Config):
  """Span labeler over the sequence output.

  Attributes:
    encoder: the ALBERT encoder.
    head: "cls": one dense layer gives start and end logits per token, and
      v2.0 "no answer" is the [CLS] span (BERT's head; the original
      `run_squad_v1.py`). "beam": the original `run_squad_v2.py` head, end
      logits conditioned on the start (a beam of `start_n_top` starts x
      `end_n_top` ends at inference) and an answerability classifier
      `cls_logits` (see `modeling.squad_v2`); SQuAD 2.0 only.
    start_n_top, end_n_top: the beam head's beam sizes (5 and 5); equal.
    dropout_rate: dropout in the beam head's answer classifier.
  """
  encoder: encoders.AlbertEncoderConfig = dataclasses.field(
      default_factory=encoders.AlbertEncoderConfig)
  head: str = "cls"
  start_n_top: int = 5
  end_n_top: int = 5
  dropout_rate: float = 0.1


# The data config lives beside its loader; this name is kept for old imports.
SquadDataConfig = finetune_dataloader.SquadDataConfig


@dataclasses.dataclass
class SquadConfig(question_answering.QuestionAnsweringConfig):
  """Task config of `albert/squad`.

  Attributes (Model Garden's, with ALBERT's model and data):
    init_checkpoint: as for sentence prediction; only the encoder is restored.
    n_best_size: span candidates kept per question (20).
    max_answer_length: longest answer, in pieces (30).
    null_score_diff_threshold: v2.0 predicts no answer when the [CLS] span's
      score minus the best span's score (beam head: `cls_logits`) is above
      this (0.0; the evaluation also reports the best threshold on the dev
      set).
    seed: as for sentence prediction.
  """
  model: SpanModelConfig = dataclasses.field(default_factory=SpanModelConfig)
  train_data: SquadDataConfig = dataclasses.field(
      default_factory=lambda: SquadDataConfig(is_training=True))
  validation_data: SquadDataConfig = dataclasses.field(
      default_factory=lambda: SquadDataConfig(
          is_training=False, drop_remainder=False))
  seed: Optional[int] = None


def _experiment(task: cfg.TaskConfig, learning_rate: float, train_steps: int,
                warmup_steps: int) -> cfg.ExperimentConfig:
  return cfg.ExperimentConfig(
      task=task,
      trainer=cfg.TrainerConfig(
          train_steps=train_steps,
          validation_steps=-1,  # The whole dev set.
          validation_interval=1000,
          steps_per_loop=100,
          summary_interval=100,
          checkpoint_interval=1000,
          best_checkpoint_export_subdir="",
          optimizer_config=optimization.adamw(learning_rate, train_steps,
                                              warmup_steps)))


@exp_factory.register_config_factory("albert/sentence_prediction")
def albert_sentence_prediction() -> cfg.ExperimentConfig:
  """GLUE-style fine-tuning; defaults are the MRPC recipe."""
  return _experiment(SentencePredictionConfig(), 2e-5, 800, 200)


@exp_factory.register_config_factory("albert/squad")
def albert_squad() -> cfg.ExperimentConfig:
  """SQuAD v1.1 fine-tuning: lr 5e-5, batch 48, 2 epochs, 10% warm-up.

  Steps: 87,599 training questions x 2 epochs / 48 = 3650 (the original
  counts windows, a few percent more); experiments/squad/v2.0.yaml sets v2.0.
  """
  return _experiment(SquadConfig(), 5e-5, 3650, 365)
