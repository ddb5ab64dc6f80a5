"""Training-step oracle: our pretraining step against HuggingFace + PyTorch.

The same random weights go into our `AlbertPretrainer` and into
transformers' `AlbertForPreTraining`. Ten steps run on the same real batches
(records made from WikiText-2 test text by our CLI): ours through
`AlbertPretrainingTask.train_step` with the optimizer the pretraining
recipe configures (`configs.optimization.lamb`, built by Model Garden);
HuggingFace's with the LAMB below, written from You et al. 2019 (arXiv
1904.00962, algorithm 2) and ALBERT's recipe: beta1 0.9, beta2 0.999,
epsilon 1e-6, weight decay 0.01, LayerNorm and bias variables excluded from
weight decay and layer adaptation, gradients clipped to global norm 1.0,
linear warm-up then linear decay to 0. After every step, the losses and
every weight agree within 1e-5.

The schedule in the oracle is Model Garden's: the warm-up ramps to the rate
the decay has reached at its end, peak * (1 - warmup / steps), where the
original ramps to the peak itself (docs/pretraining.md); a test below pins
that difference.

Tests: `official_albert.tasks.pretraining`,
`official_albert.configs.optimization`.
"""

import numpy as np
import pytest
import tensorflow as tf
import torch

import conftest
from test_parity_hf import tiny_hf_model
from official.core import config_definitions as cfg
from official_albert.configs import optimization
from official_albert.configs import pretraining
from official_albert.data.pretraining import pretrain_dataloader
from official_albert.interop import hf
from official_albert.interop import ours
from official_albert.tasks import pretraining as pretraining_task

STEPS, BATCH, SEQ, PRED = 10, 4, 32, 5
PEAK_LR, WARMUP, DECAY_STEPS = 0.002, 3, 12
TOLERANCE = 1e-5
NO_DECAY = ("LayerNorm", "layer_norm", "bias")


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
  """STEPS real batches of BATCH, as numpy dicts (deterministic order)."""
  out = conftest.make_pretraining_records(tmp_path_factory.mktemp("oracle"),
                                          4, SEQ, PRED)
  config = pretrain_dataloader.AlbertPretrainDataConfig(
      input_path=str(out / "*.tfrecord"), global_batch_size=BATCH,
      seq_length=SEQ, max_predictions_per_seq=PRED, is_training=False)
  dataset = pretrain_dataloader.AlbertPretrainDataLoader(config).load()
  result = [{k: v.numpy() for k, v in b.items()}
            for b in dataset.take(STEPS)]
  assert len(result) == STEPS
  return result


def hf_model(groups, inner):
  """The parity test's random HF model (every parameter randomised), with the
  bundled vocabulary's 8000 pieces; float32, no dropout."""
  return tiny_hf_model(groups, inner, vocab_size=8000).train()


def hf_loss(model, batch):
  """Weighted-mean MLM cross-entropy + mean SOP cross-entropy (torch)."""
  out = model(input_ids=torch.tensor(batch["input_word_ids"]),
              attention_mask=torch.tensor(batch["input_mask"]),
              token_type_ids=torch.tensor(batch["input_type_ids"]))
  positions = torch.tensor(batch["masked_lm_positions"], dtype=torch.long)
  logits = torch.gather(out.prediction_logits, 1, positions[..., None].expand(
      -1, -1, out.prediction_logits.shape[-1]))
  nll = torch.nn.functional.cross_entropy(
      logits.transpose(1, 2), torch.tensor(batch["masked_lm_ids"],
                                           dtype=torch.long),
      reduction="none")
  weights = torch.tensor(batch["masked_lm_weights"])
  mlm = (nll * weights).sum() / weights.sum()
  sop = torch.nn.functional.cross_entropy(
      out.sop_logits, torch.tensor(batch["sentence_order_label"][:, 0],
                                   dtype=torch.long))
  return mlm + sop


def learning_rate(step):
  """Linear warm-up to the decayed rate, then linear decay (0-based step)."""
  decayed = PEAK_LR * (1 - min(step, DECAY_STEPS) / DECAY_STEPS)
  if step < WARMUP:
    return step / WARMUP * PEAK_LR * (1 - WARMUP / DECAY_STEPS)
  return decayed


class Lamb:
  """LAMB (You et al. 2019, algorithm 2) with ALBERT's exclusions and a
  global-norm clip of the gradients first."""

  def __init__(self, named_params, beta1=0.9, beta2=0.999, eps=1e-6,
               weight_decay=0.01, clip_norm=1.0):
    self.params = list(named_params)
    self.beta1, self.beta2, self.eps = beta1, beta2, eps
    self.weight_decay, self.clip_norm = weight_decay, clip_norm
    self.m = {n: torch.zeros_like(p) for n, p in self.params}
    self.v = {n: torch.zeros_like(p) for n, p in self.params}
    self.t = 0

  @torch.no_grad()
  def step(self, lr):
    self.t += 1
    grads = {n: p.grad for n, p in self.params}
    norm = torch.sqrt(sum((g * g).sum() for g in grads.values()))
    scale = self.clip_norm / max(float(norm), self.clip_norm)
    for name, p in self.params:
      g = grads[name] * scale
      self.m[name] = self.beta1 * self.m[name] + (1 - self.beta1) * g
      self.v[name] = self.beta2 * self.v[name] + (1 - self.beta2) * g * g
      m_hat = self.m[name] / (1 - self.beta1 ** self.t)
      v_hat = self.v[name] / (1 - self.beta2 ** self.t)
      r = m_hat / (v_hat.sqrt() + self.eps)
      excluded = any(k in name for k in NO_DECAY)
      if not excluded:
        r = r + self.weight_decay * p
      ratio = 1.0
      if not excluded:
        w_norm, r_norm = p.norm(), r.norm()
        if w_norm > 0 and r_norm > 0:
          ratio = float(w_norm / r_norm)
      p -= lr * ratio * r


@pytest.mark.parametrize("groups,inner", [(1, 1), (2, 2)])
def test_ten_lamb_steps_match_huggingface(batches, groups, inner):
  torch_model = hf_model(groups, inner)
  config = hf.config_from_hf(torch_model.config.to_dict(), "oracle")
  task = pretraining_task.AlbertPretrainingTask(
      pretraining.AlbertPretrainingConfig(
          model=pretraining.AlbertPretrainerConfig(encoder=config)))
  model = ours.build_pretrainer(config)
  ours.assign(model, hf.from_state_dict(torch_model.state_dict(), config,
                                        "oracle"), "oracle")
  optimizer = task.create_optimizer(
      optimization.lamb(PEAK_LR, DECAY_STEPS, WARMUP), cfg.RuntimeConfig())
  train_step = tf.function(lambda b: task.train_step(b, model, optimizer))
  lamb = Lamb(torch_model.named_parameters())
  worst = {"loss": 0.0, "weights": 0.0}
  for step, batch in enumerate(batches):
    ours_loss = float(train_step(batch)["loss"])
    torch_model.zero_grad()
    loss = hf_loss(torch_model, batch)
    loss.backward()
    lamb.step(learning_rate(step))
    loss = loss.item()
    worst["loss"] = max(worst["loss"], abs(ours_loss - loss))
    assert abs(ours_loss - loss) <= TOLERANCE, (step, ours_loss, loss)
    theirs = hf.from_state_dict(torch_model.state_dict(), config, "oracle")
    mine = ours.read(model)
    assert set(mine) == set(theirs)
    diff = max(float(np.abs(mine[k] - theirs[k]).max()) for k in mine)
    worst["weights"] = max(worst["weights"], diff)
    assert diff <= TOLERANCE, (step, diff)
  print(f"groups={groups} inner={inner} max abs diff over {STEPS} steps: "
        f"{worst}")
  # The steps moved the weights well beyond the tolerance.
  start = hf.from_state_dict(hf_model(groups, inner).state_dict(), config,
                             "oracle")
  moved = max(float(np.abs(mine[k] - start[k]).max()) for k in mine)
  assert moved > 100 * TOLERANCE


def test_warmup_ends_at_the_decayed_rate_not_the_peak():
  """Model Garden's LinearWarmup (the recipe's schedule) at the paper's
  settings: the original reaches 0.00176 at step 3125, this 2.5% less."""
  optimizer_config = optimization.lamb(0.00176, 125000, 3125)
  optimizer = pretraining_task.AlbertPretrainingTask.create_optimizer(
      optimizer_config, cfg.RuntimeConfig())
  schedule = optimizer.learning_rate
  np.testing.assert_allclose(float(schedule(3125)),
                             0.00176 * (1 - 3125 / 125000), rtol=1e-6)
  np.testing.assert_allclose(float(schedule(3124)),
                             3124 / 3125 * 0.00176 * (1 - 3125 / 125000),
                             rtol=1e-6)
  np.testing.assert_allclose(float(schedule(62500)), 0.00176 / 2, rtol=1e-6)
  for step in range(STEPS + 2):  # The oracle's schedule is the same one.
    np.testing.assert_allclose(
        float(pretraining_task.AlbertPretrainingTask.create_optimizer(
            optimization.lamb(PEAK_LR, DECAY_STEPS, WARMUP),
            cfg.RuntimeConfig()).learning_rate(step)),
        learning_rate(step), rtol=1e-6, atol=1e-12)
