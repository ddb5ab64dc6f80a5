"""The `albert/pretraining` experiment: ALBERT's pretraining recipe.

Defaults are the paper's (section 4.1) and the original `run_pretraining.py`:
LAMB, learning rate 0.00176, batch 4096, sequence length 512, 20 predictions
per sequence, 125k steps with 3125 linear warm-up steps then linear decay to 0,
weight decay 0.01 (LayerNorm and biases excluded from weight decay and layer
adaptation), global-norm clipping at 1.0.
"""

import dataclasses
from typing import Optional

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams

from official_albert.configs import encoders
from official_albert.configs import optimization
from official_albert.data.pretraining import pretrain_dataloader

# The data config lives beside its loader; this name is kept for old imports.
AlbertPretrainDataConfig = pretrain_dataloader.AlbertPretrainDataConfig


@dataclasses.dataclass
class AlbertPretrainerConfig(hyperparams.Config):
  """The pretraining model: the encoder plus MLM and SOP heads."""
  encoder: encoders.AlbertEncoderConfig = dataclasses.field(
      default_factory=encoders.AlbertEncoderConfig)


@dataclasses.dataclass
class AlbertPretrainingConfig(cfg.TaskConfig):
  """Task config of `albert/pretraining`.

  Attributes:
    model: the pretrainer.
    train_data, validation_data: pretraining records.
    init_checkpoint: continue from this checkpoint (a prefix or a model_dir);
      the encoder and whichever heads it holds are restored, the others start
      fresh.
    sp_model_file: the SentencePiece model the records were made with; when
      set, its size must equal `model.encoder.vocab_size`.
    gradient_accumulation_steps: split each replica's batch into this many
      micro-batches, run them one after another and apply their summed
      gradients once: the same update as the whole batch, with the memory of
      one micro-batch (so a global batch of 4096 fits on few devices).
      `train_data.global_batch_size` stays the batch per update and must be
      a multiple of this times the number of replicas.
    seed: one seed for initialisation, dropout and the input shuffle
      (`official_albert.training.seeding`); None leaves them unseeded.
  """
  model: AlbertPretrainerConfig = dataclasses.field(
      default_factory=AlbertPretrainerConfig)
  train_data: AlbertPretrainDataConfig = dataclasses.field(
      default_factory=lambda: AlbertPretrainDataConfig(is_training=True))
  validation_data: AlbertPretrainDataConfig = dataclasses.field(
      default_factory=lambda: AlbertPretrainDataConfig(
          is_training=False, drop_remainder=False))
  sp_model_file: str = ""
  gradient_accumulation_steps: int = 1
  seed: Optional[int] = None


@exp_factory.register_config_factory("albert/pretraining")
def albert_pretraining() -> cfg.ExperimentConfig:
  """ALBERT pretraining with the paper's recipe (ALBERT-base v2 encoder)."""
  return cfg.ExperimentConfig(
      task=AlbertPretrainingConfig(),
      trainer=cfg.TrainerConfig(
          train_steps=125000,
          validation_steps=100,
          validation_interval=5000,
          steps_per_loop=1000,
          summary_interval=1000,
          checkpoint_interval=5000,
          optimizer_config=optimization.lamb(0.00176, 125000, 3125)))
