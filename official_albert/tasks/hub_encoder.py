"""Encoders from TF-Hub modules (`task.hub_module_url`), the Model Garden way.

A fine-tuning task starts either from `init_checkpoint` (our encoder, its
weights restored) or from `hub_module_url`: a TF2 SavedModel in TF-Hub's
encoder layout (https://www.tensorflow.org/hub/common_saved_model_apis/text:
`__call__` on a dict of int32 `input_word_ids`, `input_mask`,
`input_type_ids` `[batch, seq_length]` returning `sequence_output`
`[batch, seq_length, H]` and `pooled_output` `[batch, H]`, with `variables`
and `trainable_variables` for fine-tuning), local, on `gs://`, or a tfhub.dev
/ Kaggle URL (downloaded to `TFHUB_CACHE_DIR`, `train.py --tfhub_cache_dir`).
Model Garden's `export_tfhub` writes such modules, and so does
`official_albert.serving.export`. The module is wrapped by Model Garden's
`get_encoder_from_hub`, trainable, so the classifier or span labeler sees
the same `pooled_output` / `sequence_output` dict as from our encoder.
"""

import tensorflow as tf
import tf_keras
from official.nlp.tasks import utils as mg_task_utils

from official_albert import errors
from official_albert.configs import encoders


def hidden_size(task_config, encoder: tf_keras.Model) -> int:
  """H of `build_encoder(task_config)`: the module's output width, or ours."""
  if task_config.hub_module_url:
    return int(encoder.output["sequence_output"].shape[-1])
  return task_config.model.encoder.hidden_size


def build_encoder(task_config) -> tf_keras.Model:
  """The encoder of a fine-tuning task: from `hub_module_url`, or ours.

  Args:
    task_config: a fine-tuning task config (`hub_module_url`,
      `init_checkpoint`, `model.encoder`).

  Returns:
    A Keras model from the dict of int32 encoder inputs `[batch, seq_length]`
    to a dict with `sequence_output` and `pooled_output`.

  Raises:
    UserError: if both `hub_module_url` and `init_checkpoint` are set, or
      the module cannot be loaded.
  """
  url = task_config.hub_module_url
  if not url:
    return encoders.build_encoder(task_config.model.encoder)
  if task_config.init_checkpoint:
    errors.fail(f"task.hub_module_url={url!r} and task.init_checkpoint="
                f"{task_config.init_checkpoint!r} are both set; the encoder "
                "comes from one of them, so unset the other")
  if "://" not in url or url.startswith("gs://"):
    if not tf.io.gfile.exists(url + "/saved_model.pb"):
      errors.fail(f"task.hub_module_url={url!r} is not a SavedModel "
                  "directory (no saved_model.pb); export one with "
                  "`python -m official_albert.serving.export` or Model "
                  "Garden's export_tfhub")
  try:
    return mg_task_utils.get_encoder_from_hub(url)
  except (ValueError, TypeError, OSError, tf.errors.OpError) as e:
    errors.fail(f"cannot use task.hub_module_url={url!r} as an encoder "
                f"({str(e).splitlines()[0][:200]}); it must be a TF2 "
                "SavedModel in TF-Hub's encoder layout")
