"""The ALBERT pretraining task: masked LM plus sentence-order prediction.

Loss = weighted mean MLM cross-entropy over `masked_lm_positions` + mean SOP
cross-entropy (paper section 4.1; original `run_pretraining.py`). Training,
mixed precision and distribution are Model Garden's `base_task.Task`.
"""

from typing import Dict, Optional, Tuple

import tensorflow as tf
import tf_keras
from official.core import base_task
from official.core import task_factory
from official.nlp.data import data_loader_factory

from official_albert import errors
from official_albert.configs import encoders
from official_albert.configs import pretraining
from official_albert.data import pretrain_dataloader
from official_albert.data import tokenization
from official_albert.modeling import albert
from official_albert.modeling import checkpoints


def pretraining_losses(labels: Dict[str, tf.Tensor],
                       outputs: Dict[str, tf.Tensor]
                       ) -> Tuple[tf.Tensor, tf.Tensor]:
  """Returns (MLM loss, SOP loss), float32 scalars, in nats per prediction.

  Args:
    labels: `masked_lm_ids` int `[batch, max_pred]`, `masked_lm_weights` float
      `[batch, max_pred]` (0 for padded slots), `sentence_order_label` int
      `[batch, 1]`.
    outputs: `mlm_logits` `[batch, max_pred, vocab_size]`, `sop_logits`
      `[batch, 2]`, any float dtype (computed in float32).
  """
  mlm = tf_keras.losses.sparse_categorical_crossentropy(
      labels["masked_lm_ids"], tf.cast(outputs["mlm_logits"], tf.float32),
      from_logits=True)
  weights = tf.cast(labels["masked_lm_weights"], tf.float32)
  mlm_loss = tf.math.divide_no_nan(tf.reduce_sum(mlm * weights),
                                   tf.reduce_sum(weights))
  sop_loss = tf.reduce_mean(tf_keras.losses.sparse_categorical_crossentropy(
      labels["sentence_order_label"],
      tf.cast(outputs["sop_logits"], tf.float32), from_logits=True))
  return mlm_loss, sop_loss


@task_factory.register_task_cls(pretraining.AlbertPretrainingConfig)
class AlbertPretrainingTask(base_task.Task):
  """Pretrains an `AlbertPretrainer` on MLM + SOP records."""

  def build_model(self) -> albert.AlbertPretrainer:
    encoder = encoders.build_encoder(self.task_config.model.encoder)
    return albert.AlbertPretrainer(encoder)

  def check_inputs(self, mode: str) -> None:
    """Fails fast, before any work, on inputs that cannot work.

    Args:
      mode: the train.py mode; "train" checks the training records, "eval"
        the validation records, "train_and_eval" both.

    Raises:
      UserError: on a missing or empty input, records that do not fit the
        config, or a SentencePiece model whose size is not `vocab_size`.
    """
    vocab_size = self.task_config.model.encoder.vocab_size
    sp_model_file = self.task_config.sp_model_file
    if sp_model_file:
      size = tokenization.AlbertTokenizer(sp_model_file).vocab_size
      if size != vocab_size:
        errors.fail(f"SentencePiece model {sp_model_file!r} has {size} pieces "
                    f"but task.model.encoder.vocab_size={vocab_size}; make "
                    "them equal")
    if "train" in mode:
      pretrain_dataloader.check_records(self.task_config.train_data,
                                        vocab_size, "task.train_data")
    if "eval" in mode:
      pretrain_dataloader.check_records(self.task_config.validation_data,
                                        vocab_size, "task.validation_data")

  def initialize(self, model: albert.AlbertPretrainer) -> None:
    """Restores `init_checkpoint`: the encoder and whichever heads it holds."""
    if self.task_config.init_checkpoint:
      checkpoints.restore_items(self.task_config.init_checkpoint,
                                **model.checkpoint_items)

  def build_inputs(self, params: pretraining.AlbertPretrainDataConfig,
                   input_context: Optional[tf.distribute.InputContext] = None
                   ) -> tf.data.Dataset:
    return data_loader_factory.get_data_loader(params).load(input_context)

  def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
    mlm_loss, sop_loss = pretraining_losses(labels, model_outputs)
    total = mlm_loss + sop_loss
    if aux_losses:
      total += tf.add_n(aux_losses)
    return total

  def build_metrics(self, training=None):
    del training
    return [
        tf_keras.metrics.SparseCategoricalAccuracy(name="masked_lm_accuracy"),
        tf_keras.metrics.Mean(name="masked_lm_loss"),
        tf_keras.metrics.SparseCategoricalAccuracy(
            name="sentence_order_accuracy"),
        tf_keras.metrics.Mean(name="sentence_order_loss"),
    ]

  def process_metrics(self, metrics, labels, model_outputs) -> None:
    metrics = {m.name: m for m in metrics}
    mlm_loss, sop_loss = pretraining_losses(labels, model_outputs)
    metrics["masked_lm_accuracy"].update_state(
        labels["masked_lm_ids"], model_outputs["mlm_logits"],
        labels["masked_lm_weights"])
    metrics["masked_lm_loss"].update_state(mlm_loss)
    metrics["sentence_order_accuracy"].update_state(
        labels["sentence_order_label"], model_outputs["sop_logits"])
    metrics["sentence_order_loss"].update_state(sop_loss)
