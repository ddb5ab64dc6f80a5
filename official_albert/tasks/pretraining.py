"""The ALBERT pretraining task: masked LM plus sentence-order prediction.

Loss = weighted mean MLM cross-entropy over `masked_lm_positions` + mean SOP
cross-entropy (paper section 4.1; original `run_pretraining.py`), taken over
the global batch (every replica) in training. Mixed precision and
distribution are Model Garden's `base_task.Task`; the train step adds
gradient accumulation (`task.gradient_accumulation_steps`).
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
from official_albert.data.pretraining import pretrain_dataloader
from official_albert.data import tokenization
from official_albert.modeling import albert
from official_albert.tasks import checkpoints


def _example_losses(labels: Dict[str, tf.Tensor],
                    outputs: Dict[str, tf.Tensor]
                    ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Returns float32 per-prediction MLM losses `[batch, max_pred]`, their
  weights `[batch, max_pred]` and per-example SOP losses `[batch]`, in nats."""
  mlm = tf_keras.losses.sparse_categorical_crossentropy(
      labels["masked_lm_ids"], tf.cast(outputs["mlm_logits"], tf.float32),
      from_logits=True)
  weights = tf.cast(labels["masked_lm_weights"], tf.float32)
  sop = tf_keras.losses.sparse_categorical_crossentropy(
      labels["sentence_order_label"],
      tf.cast(outputs["sop_logits"], tf.float32), from_logits=True)
  return mlm, weights, tf.reshape(sop, [-1])


def _loss_sums(labels: Dict[str, tf.Tensor], outputs: Dict[str, tf.Tensor]
               ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Returns float32 (weighted MLM loss sum, MLM weight sum, SOP loss sum)."""
  mlm, weights, sop = _example_losses(labels, outputs)
  return tf.reduce_sum(mlm * weights), tf.reduce_sum(weights), tf.reduce_sum(
      sop)


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
  mlm_sum, weight_sum, sop_sum = _loss_sums(labels, outputs)
  batch = tf.cast(tf.shape(outputs["sop_logits"])[0], tf.float32)
  return tf.math.divide_no_nan(mlm_sum, weight_sum), sop_sum / batch


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
        config, a SentencePiece model whose size is not `vocab_size`, or
        `gradient_accumulation_steps` not dividing the training batch.
    """
    vocab_size = self.task_config.model.encoder.vocab_size
    sp_model_file = self.task_config.sp_model_file
    if sp_model_file:
      size = tokenization.AlbertTokenizer(sp_model_file).vocab_size
      if size != vocab_size:
        errors.fail(f"SentencePiece model {sp_model_file!r} has {size} pieces "
                    f"but task.model.encoder.vocab_size={vocab_size}; make "
                    "them equal")
    steps = self.task_config.gradient_accumulation_steps
    batch = self.task_config.train_data.global_batch_size
    if steps < 1 or batch % steps:
      errors.fail(f"task.gradient_accumulation_steps={steps} must be >= 1 "
                  f"and divide task.train_data.global_batch_size={batch}; "
                  "choose a divisor of the batch")
    if "train" in mode:
      pretrain_dataloader.check_records(self.task_config.train_data,
                                        vocab_size, "task.train_data")
    if "eval" in mode:
      pretrain_dataloader.check_records(self.task_config.validation_data,
                                        vocab_size, "task.validation_data")

  def initialize(self, model: albert.AlbertPretrainer) -> None:
    """Restores `init_checkpoint`: the encoder and whichever heads it holds.

    The model is built first with a batch of the configured shapes, so that
    the restore is checked variable by variable (`checkpoints.restore_items`).
    """
    if self.task_config.init_checkpoint:
      data = self.task_config.train_data
      checkpoints.build(model, data.seq_length, data.max_predictions_per_seq)
      checkpoints.restore_items(self.task_config.init_checkpoint,
                                **model.checkpoint_items)

  def build_inputs(self, params: pretrain_dataloader.AlbertPretrainDataConfig,
                   input_context: Optional[tf.distribute.InputContext] = None
                   ) -> tf.data.Dataset:
    return data_loader_factory.get_data_loader(params).load(input_context)

  def build_losses(self, labels, model_outputs, aux_losses=None) -> tf.Tensor:
    mlm_loss, sop_loss = pretraining_losses(labels, model_outputs)
    total = mlm_loss + sop_loss
    if aux_losses:
      total += tf.add_n(aux_losses)
    return total

  def train_step(self, inputs: Dict[str, tf.Tensor], model: tf_keras.Model,
                 optimizer: tf_keras.optimizers.Optimizer, metrics=None):
    """One optimizer update on the global batch, in micro-batches if asked.

    The loss is the global batch's: the MLM cross-entropy summed over every
    replica's masked slots divided by the global MLM weight sum (an
    all-reduce of one scalar), plus the SOP cross-entropy summed over
    replicas divided by the global batch size. Model Garden's base step
    instead averages per-replica means, which differs from one device with
    the whole batch whenever replicas hold different numbers of masked
    tokens.

    With `gradient_accumulation_steps` n > 1, the replica's batch is split
    into n micro-batches of `batch / n` that run one after another in a
    `tf.while_loop`; their gradients are summed and applied once, so the
    optimizer (LAMB's trust ratio, clipping, weight decay) sees the same
    gradient as with the whole batch. Train metrics are updated per
    micro-batch and weighted like evaluation's (see `process_metrics`).

    Args:
      inputs: a batch from `build_inputs` (`[batch, ...]` per replica); its
        batch size must be static (`drop_remainder`, the default).
      model, optimizer, metrics: as `base_task.Task.train_step`; a
        `LossScaleOptimizer` (float16) scales the loss.

    Returns:
      `{"loss": float32 scalar}`, the global batch's loss.

    Raises:
      ValueError: if the replica's batch is not a multiple of n.
    """
    steps = self.task_config.gradient_accumulation_steps
    batch = inputs["input_word_ids"].shape[0]
    if batch is None or batch % steps:
      raise ValueError(f"the per-replica batch {batch} is not a multiple of "
                       f"gradient_accumulation_steps={steps}")
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync
    weight_sum = context.all_reduce("sum", tf.reduce_sum(
        tf.cast(inputs["masked_lm_weights"], tf.float32)))
    scaled = isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer)

    def gradients(x):
      """This slice's share of the global loss, and its gradients."""
      with tf.GradientTape() as tape:
        outputs = model(x, training=True)
        mlm_sum, _, sop_sum = _loss_sums(x, outputs)
        # This replica's share; apply_gradients sums the replicas' gradients.
        loss = (tf.math.divide_no_nan(mlm_sum, weight_sum) +
                sop_sum / (batch * replicas))
        if model.losses:  # Regularisers count once per update in total.
          loss += tf.add_n(model.losses) / (steps * replicas)
        tape_loss = optimizer.get_scaled_loss(loss) if scaled else loss
      # Read after the forward pass: a model may build on its first call.
      grads = tape.gradient(tape_loss, model.trainable_variables,
                            unconnected_gradients=tf.UnconnectedGradients.ZERO)
      if scaled:
        grads = optimizer.get_unscaled_gradients(grads)
      if metrics:
        self.process_metrics(metrics, x, outputs)
      return loss, grads

    if steps == 1:
      total, grads = gradients(inputs)
    else:
      micro_batches = {k: tf.reshape(v, [steps, batch // steps] + v.shape[1:])
                       for k, v in inputs.items()}
      # The first micro-batch outside the loop: it builds the model and its
      # gradients give the accumulators' structure.
      total, grads = gradients({k: v[0] for k, v in micro_batches.items()})
      # Embedding gradients are IndexedSlices; the accumulators are dense.
      grads = [tf.convert_to_tensor(g) for g in grads]

      def body(i, total, grads):
        loss, step_grads = gradients(
            {k: v[i] for k, v in micro_batches.items()})
        return i + 1, total + loss, [
            g + tf.convert_to_tensor(s) for g, s in zip(grads, step_grads)]

      _, total, grads = tf.while_loop(lambda i, *_: i < steps, body,
                                      (tf.constant(1), total, grads))
    optimizer.apply_gradients(list(zip(grads, model.trainable_variables)))
    return {self.loss: context.all_reduce("sum", total)}

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
    """Accumulates the batch into the metrics.

    Every metric is pooled over all predictions (MLM, weighted by
    `masked_lm_weights`) or all examples (SOP) seen since the last reset, as
    the original `run_pretraining.py` `metric_fn` does: a short last
    validation batch weighs by its size, not as much as a full batch.
    """
    metrics = {m.name: m for m in metrics}
    mlm, weights, sop = _example_losses(labels, model_outputs)
    metrics["masked_lm_accuracy"].update_state(
        labels["masked_lm_ids"], model_outputs["mlm_logits"],
        labels["masked_lm_weights"])
    metrics["masked_lm_loss"].update_state(mlm, sample_weight=weights)
    metrics["sentence_order_accuracy"].update_state(
        labels["sentence_order_label"], model_outputs["sop_logits"])
    metrics["sentence_order_loss"].update_state(sop)
