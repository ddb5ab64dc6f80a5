"""The beam SQuAD 2.0 head under the original release's variable names.

The original `run_squad_v2.py` (`squad_utils.create_v2_model`) names the
head's variables `start_logits/dense/{kernel,bias}`,
`end_logits/dense_0/{kernel,bias}`, `end_logits/LayerNorm/{gamma,beta}`,
`end_logits/dense_1/{kernel,bias}`, `answer_class/dense_0/{kernel,bias}` and
`answer_class/dense_1/kernel` (no bias), beside the encoder's `bert/...`
variables. These functions move the head between those names and an
`AlbertSquadV2Labeler` (whose head is Model Garden's `XLNetSpanLabeling`
layout: the same kernels, `[in, out]`); the encoder goes through
`interop.tf1` as for every other model. A fine-tuned original checkpoint is
split with `split_tf1`.
"""

from typing import Dict, Tuple

import numpy as np
import tensorflow as tf

from official_albert import errors
from official_albert.interop import layout
from official_albert.modeling import squad_v2

# Original name -> (layer attribute of the head, weight attribute).
_NAMES = {
    "start_logits/dense/kernel": ("start_logits_dense", "kernel"),
    "start_logits/dense/bias": ("start_logits_dense", "bias"),
    "end_logits/dense_0/kernel": ("end_logits_inner_dense", "kernel"),
    "end_logits/dense_0/bias": ("end_logits_inner_dense", "bias"),
    "end_logits/LayerNorm/gamma": ("end_logits_layer_norm", "gamma"),
    "end_logits/LayerNorm/beta": ("end_logits_layer_norm", "beta"),
    "end_logits/dense_1/kernel": ("end_logits_output_dense", "kernel"),
    "end_logits/dense_1/bias": ("end_logits_output_dense", "bias"),
    "answer_class/dense_0/kernel": ("answer_logits_inner", "kernel"),
    "answer_class/dense_0/bias": ("answer_logits_inner", "bias"),
    "answer_class/dense_1/kernel": ("answer_logits_output", "kernel"),
}
NAMES = tuple(_NAMES)
PREFIXES = ("start_logits/", "end_logits/", "answer_class/")


def _variables(model: squad_v2.AlbertSquadV2Labeler
               ) -> Dict[str, tf.Variable]:
  """Original name -> the built model's variable."""
  head = model.squad_v2
  if not head.built:
    raise ValueError("build the model (call it once) before converting")
  return {name: getattr(getattr(head, layer), weight)
          for name, (layer, weight) in _NAMES.items()}


def to_original(model: squad_v2.AlbertSquadV2Labeler
                ) -> Dict[str, np.ndarray]:
  """The head's weights under the original names (float32 arrays:
  `dense_0` kernels `[2H, H]`, `dense_1` and start kernels `[H, 1]`)."""
  return {name: v.numpy() for name, v in _variables(model).items()}


def from_original(model: squad_v2.AlbertSquadV2Labeler,
                  weights: Dict[str, np.ndarray], source: str) -> None:
  """Assigns the head from original-named weights (others are ignored).

  Raises:
    UserError: naming `source`, if a head variable is missing or has
      another shape; nothing is assigned then.
  """
  variables = _variables(model)
  missing = [n for n in NAMES if n not in weights]
  if missing:
    errors.fail(f"{source} lacks the SQuAD 2.0 head variables {missing}; "
                "it is not a run_squad_v2.py checkpoint")
  for name, variable in variables.items():
    if tuple(np.shape(weights[name])) != tuple(variable.shape):
      errors.fail(f"{source}: {name} has shape {np.shape(weights[name])}, "
                  f"the model's is {tuple(variable.shape)}; check the sizes")
  for name, variable in variables.items():
    variable.assign(weights[name])


def split_tf1(path: str) -> Tuple[Dict[str, np.ndarray],
                                  Dict[str, np.ndarray]]:
  """Reads a fine-tuned original checkpoint into (encoder, head) weights.

  Args:
    path: a checkpoint prefix or its directory.

  Returns:
    `({bert/... name: array}, {head name: array})`; optimizer slots and
    `global_step` are dropped. The encoder part is what
    `interop.tf1`/`layout.check` read.
  """
  reader = layout.checkpoint_reader(layout.checkpoint_prefix(path))
  encoder, head = {}, {}
  for name in reader.get_variable_to_shape_map():
    if name.endswith(("/adam_m", "/adam_v")) or name == "global_step":
      continue
    part = head if name.startswith(PREFIXES) else encoder
    part[name] = np.asarray(reader.get_tensor(name), np.float32)
  return encoder, head
