"""The `albert/race` experiment: multiple choice (RACE or a user's questions).

Defaults are the original release's RACE recipe (README, `run_race.py`):
sequence length 512 with question+option cut to its last 128 pieces
(`create_finetuning_data --max_qa_length`), batch 32, AdamW at learning
rate 1e-5, 12000 steps with 1000 warm-up steps, dropout 0.1 on the pooled
output; `experiments/race/race.yaml` spells them out. Model Garden's
sentence-prediction config carries it: `model.num_classes` is the number of
options per question.
"""

import dataclasses

from official.core import config_definitions as cfg
from official.core import exp_factory

from official_albert.configs import finetuning


@dataclasses.dataclass
class MultipleChoiceModelConfig(finetuning.ClassifierModelConfig):
  """One score per option on the pooled output.

  Attributes:
    num_classes: options per question (4 for RACE).
    dropout_rate: dropout before the scoring layer (0.1 in the original).
    encoder: the ALBERT encoder.
  """
  num_classes: int = 4


@dataclasses.dataclass
class MultipleChoiceConfig(finetuning.SentencePredictionConfig):
  """Task config of `albert/race`.

  Attributes (as `SentencePredictionConfig`):
    init_checkpoint: a pretraining or converted checkpoint; only the encoder
      is restored.
    train_data, validation_data: records from `create_finetuning_data --task
      race`; `seq_length` is their `--max_seq_length`.
    max_qa_length: question+option pieces kept when serving raw text
      (`serving.predict multiple-choice`); records carry their own.
  """
  model: MultipleChoiceModelConfig = dataclasses.field(
      default_factory=MultipleChoiceModelConfig)
  max_qa_length: int = 128


@exp_factory.register_config_factory("albert/race")
def albert_race() -> cfg.ExperimentConfig:
  """RACE fine-tuning: lr 1e-5, batch 32, 12000 steps, 1000 warm-up."""
  config = finetuning._experiment(  # pylint: disable=protected-access
      MultipleChoiceConfig(), 1e-5, 12000, 1000)
  config.task.train_data.global_batch_size = 32
  config.task.validation_data.global_batch_size = 32
  return config
