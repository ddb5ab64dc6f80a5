"""The `albert/tagging` experiment: token classification (NER on CoNLL).

The original ALBERT release has no tagging recipe; the defaults are those
of HuggingFace's token-classification example (`run_ner.py`: AdamW at
learning rate 5e-5, 3 epochs, linear decay) with batch 32 and 10% warm-up,
at sequence length 128 (a CoNLL-2003 sentence is at most 124 words; longer
ones are split into several records). `experiments/tagging/conll2003.yaml`
spells them out: 3 epochs of the 14,041 training sentences at batch 32 is
1317 steps.
"""

import dataclasses
from typing import List, Optional

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams
from official.nlp.tasks import tagging

from official_albert.configs import encoders
from official_albert.configs import finetuning
from official_albert.data.finetuning import finetune_dataloader


@dataclasses.dataclass
class TaggingModelConfig(hyperparams.Config):
  """Per-token classifier on the sequence output.

  Attributes:
    encoder: the ALBERT encoder.
    head_dropout: dropout on the sequence output.
  """
  encoder: encoders.AlbertEncoderConfig = dataclasses.field(
      default_factory=encoders.AlbertEncoderConfig)
  head_dropout: float = 0.1


@dataclasses.dataclass
class TaggingConfig(tagging.TaggingConfig):
  """Task config of `albert/tagging`.

  Attributes (Model Garden's, with ALBERT's model and data):
    init_checkpoint: a pretraining or converted checkpoint; only the encoder
      is restored.
    class_names: the tags in class-id order; empty to take the
      `label_list` of the records' `metadata.json`.
    train_data, validation_data: records from `create_finetuning_data --task
      conll`.
  """
  model: TaggingModelConfig = dataclasses.field(
      default_factory=TaggingModelConfig)
  class_names: Optional[List[str]] = None
  train_data: finetune_dataloader.FinetuneDataConfig = dataclasses.field(
      default_factory=lambda: finetune_dataloader.FinetuneDataConfig(
          is_training=True, seq_length=128))
  validation_data: finetune_dataloader.FinetuneDataConfig = dataclasses.field(
      default_factory=lambda: finetune_dataloader.FinetuneDataConfig(
          is_training=False, drop_remainder=False, seq_length=128))


@exp_factory.register_config_factory("albert/tagging")
def albert_tagging() -> cfg.ExperimentConfig:
  """CoNLL-2003 NER: lr 5e-5, batch 32, 3 epochs (1317 steps), 10% warm-up."""
  return finetuning._experiment(  # pylint: disable=protected-access
      TaggingConfig(), 5e-5, 1317, 132)
