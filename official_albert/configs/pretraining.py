"""The `albert/pretraining` experiment: ALBERT's pretraining recipe.

Defaults are the paper's (section 4.1) and the original `run_pretraining.py`:
LAMB, learning rate 0.00176, batch 4096, sequence length 512, 20 predictions
per sequence, 125k steps with 3125 linear warm-up steps then linear decay to 0,
weight decay 0.01 (LayerNorm and biases excluded from weight decay and layer
adaptation), global-norm clipping at 1.0.
"""

import dataclasses

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams
from official.modeling import optimization
from official.nlp.data import pretrain_dataloader

from official_albert.configs import encoders

# LayerNorm and bias variables: no weight decay, no LAMB layer adaptation.
_NO_DECAY = ["LayerNorm", "layer_norm", "bias"]


@dataclasses.dataclass
class AlbertPretrainDataConfig(pretrain_dataloader.BertPretrainDataConfig):
  """Pretraining records: the original ALBERT TFRecord layout.

  `input_path` is a file pattern (or comma-separated patterns) of TFRecords
  written by `official_albert.data.create_pretraining_data` or by the original
  ALBERT script; `seq_length` and `max_predictions_per_seq` must match them.
  """
  global_batch_size: int = 4096
  seq_length: int = 512
  max_predictions_per_seq: int = 20


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
  """
  model: AlbertPretrainerConfig = dataclasses.field(
      default_factory=AlbertPretrainerConfig)
  train_data: AlbertPretrainDataConfig = dataclasses.field(
      default_factory=lambda: AlbertPretrainDataConfig(is_training=True))
  validation_data: AlbertPretrainDataConfig = dataclasses.field(
      default_factory=lambda: AlbertPretrainDataConfig(
          is_training=False, drop_remainder=False))
  sp_model_file: str = ""


def lamb_optimization(learning_rate: float, train_steps: int,
                      warmup_steps: int) -> optimization.OptimizationConfig:
  """LAMB with linear warm-up then linear decay to 0, as in ALBERT."""
  return optimization.OptimizationConfig({
      "optimizer": {
          "type": "lamb",
          "lamb": {
              "weight_decay_rate": 0.01,
              "exclude_from_weight_decay": _NO_DECAY,
              "exclude_from_layer_adaptation": _NO_DECAY,
              "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-6,
              "global_clipnorm": 1.0,
          },
      },
      "learning_rate": {
          "type": "polynomial",
          "polynomial": {
              "initial_learning_rate": learning_rate,
              "decay_steps": train_steps,
              "end_learning_rate": 0.0,
              "power": 1.0,
          },
      },
      "warmup": {"type": "linear",
                 "linear": {"warmup_steps": warmup_steps}},
  })


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
          optimizer_config=lamb_optimization(0.00176, 125000, 3125)))
