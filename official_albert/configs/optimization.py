"""ALBERT's optimizer recipes as Model Garden optimization configs.

Both recipes of the original release share one schedule: linear warm-up to
the peak learning rate, then linear (power 1) decay to 0 over all steps; and
one exclusion list: LayerNorm and bias variables get no weight decay (and,
for LAMB, no layer adaptation). Gradients are clipped to global norm 1.0.
"""

from official.modeling import optimization

NO_DECAY = ["LayerNorm", "layer_norm", "bias"]


def _optimization(optimizer: str, params: dict, learning_rate: float,
                  train_steps: int, warmup_steps: int
                  ) -> optimization.OptimizationConfig:
  return optimization.OptimizationConfig({
      "optimizer": {
          "type": optimizer,
          optimizer: dict(weight_decay_rate=0.01,
                          exclude_from_weight_decay=NO_DECAY,
                          beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                          global_clipnorm=1.0, **params),
      },
      "learning_rate": {
          "type": "polynomial",
          "polynomial": {"initial_learning_rate": learning_rate,
                         "decay_steps": train_steps,
                         "end_learning_rate": 0.0, "power": 1.0},
      },
      "warmup": {"type": "linear", "linear": {"warmup_steps": warmup_steps}},
  })


def lamb(learning_rate: float, train_steps: int,
         warmup_steps: int) -> optimization.OptimizationConfig:
  """LAMB, the pretraining optimizer (paper section 4.1, `run_pretraining.py`)."""
  return _optimization("lamb", dict(exclude_from_layer_adaptation=NO_DECAY),
                       learning_rate, train_steps, warmup_steps)


def adamw(learning_rate: float, train_steps: int,
          warmup_steps: int) -> optimization.OptimizationConfig:
  """AdamW, the fine-tuning optimizer (`run_classifier.py`, `run_squad_sp.py`)."""
  return _optimization("adamw", {}, learning_rate, train_steps, warmup_steps)
