r"""Fine-tuning oracle: our `albert/sentence_prediction` against HuggingFace.

  python -m benchmarks.finetune_oracle --checkpoint runs/demo/model \
      [--data_dir ../shared/data] [--tasks rte,sts-b] [--seeds 1,2,3] \
      [--steps_scale 1.0] [--pooling cls] [--run_dir runs/finetune_oracle]

Tells "the budget is the limit" from "our fine-tuning path is wrong". The
pretrained checkpoint (a `train.py --experiment=albert/pretraining`
model_dir) is converted with our own `interop.convert --from ours --to hf`,
and each GLUE task is fine-tuned four ways, every one in the regime of the
small study (`scripts/reproduce_small.sh`, `experiments/glue/small.yaml`):

* ours, pretrained / scratch: `train.py --experiment=albert/sentence_prediction`
  in a subprocess, with the study's config files and overrides (the same
  records, steps, warm-up, seed); the score is its `metrics.json`.
* HF, pretrained / scratch: transformers' `AlbertForSequenceClassification`
  (from the converted directory, or randomly initialised with its config)
  in the plain PyTorch loop below. Its hyperparameters are read from the
  experiment config that train.py gets for the same run: batch, steps,
  AdamW's peak rate, betas, epsilon, weight decay and its exclusion list,
  the global-norm clip, the warm-up and linear decay (Model Garden's
  schedule, `learning_rate`), encoder and classifier dropout. It reads the
  same TFRecords itself (`read_records`, not our input pipeline), shuffles
  them each epoch with the seed, and pads each batch to its longest row.

Both score the whole dev set with the official metric (`metrics.glue`; the
table shows STS-B Pearson, accuracy otherwise) and the table gives the
median [min-max] over seeds per cell. For regression each run also records
the standard deviation of its dev predictions, which shows a model that
predicts the mean for every pair (the small study's STS-B finding).
`--pooling mean` runs `task.model.pooling=mean` on our side and the same
head (masked mean of the last hidden states, dropout, classifier) on HF's.

Outputs under `--run_dir`: the HF conversion (`hf_pretrained/`), one
directory per run with its `metrics.json`, `results.json` with every run,
and the table (also printed). Finished runs are reused, so an interrupted
benchmark resumes; records come from `create_finetuning_data` into
`--records_dir` when missing (the study's `runs/small/glue` by default).
"""

import argparse
import csv
import json
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import torch
import transformers

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import overrides
from official_albert.interop import hf
from official_albert.metrics import glue

# task: (GLUE directory, metric_type, metric key reported, num_classes,
# label_type, steps at batch 32), as scripts/reproduce_small.sh runs them.
TASKS = {
    "sst-2": ("SST-2", "accuracy", "accuracy", 2, "int", 800),
    "mrpc": ("MRPC", "f1", "f1", 2, "int", 345),
    "cola": ("CoLA", "matthews_corrcoef", "matthews_corrcoef", 2, "int", 800),
    "sts-b": ("STS-B", "pearson_spearman_corr", "pearson", 1, "float", 540),
    "rte": ("RTE", "accuracy", "accuracy", 2, "int", 240),
}
EXPERIMENT = "albert/sentence_prediction"
MODEL_CONFIG = "configs/models/albert_tiny.yaml"
CONFIG_FILES = ("configs/runtime/cpu.yaml", "experiments/glue/small.yaml")
VOCAB = "assets/vocab/albert_demo_8k.model"
SIDES = ("ours", "hf")
INITS = ("pretrained", "scratch")


def study_override(task: str, steps: int, seed: int, records: str,
                   init_checkpoint: str = "", pooling: str = "cls",
                   train_file: str = "train.tfrecord") -> str:
  """The `--params_override` of one small-study fine-tuning run.

  Args:
    task: a key of `TASKS`.
    steps: training steps (the warm-up is a tenth of them).
    seed: `task.seed`.
    records: directory with the task's `train.tfrecord` and `dev.tfrecord`.
    init_checkpoint: a pretraining model_dir, or "" for scratch.
    pooling: `task.model.pooling`, "cls" or "mean".
    train_file: the training records' file name in `records` (a subset's,
      for `benchmarks.learning_curves`).

  Returns:
    The override string, as `scripts/reproduce_small.sh` builds it.
  """
  _, metric, _, classes, label, _ = TASKS[task]
  parts = [f"task.init_checkpoint={init_checkpoint}"] if init_checkpoint else []
  parts += [
      f"task.seed={seed}", f"trainer.train_steps={steps}",
      f"trainer.optimizer_config.learning_rate.polynomial.decay_steps={steps}",
      f"trainer.optimizer_config.warmup.linear.warmup_steps={steps // 10}",
      f"task.metric_type={metric}", f"task.model.num_classes={classes}",
      f"task.train_data.label_type={label}",
      f"task.validation_data.label_type={label}",
      f"task.train_data.input_path={records}/{train_file}",
      f"task.validation_data.input_path={records}/dev.tfrecord",
      f"task.model.pooling={pooling}"]
  return ",".join(parts)


def learning_rate(step: int, peak: float, decay_steps: int, warmup_steps: int,
                  end: float = 0.0, power: float = 1.0) -> float:
  """Model Garden's schedule: `PolynomialDecay` wrapped in `LinearWarmup`.

  The decay runs over the global step from 0 (not from the end of the
  warm-up), and the warm-up ramps linearly from 0 to the rate the decay
  has reached at `warmup_steps`, `peak * (1 - warmup_steps / decay_steps)`
  for power 1 (HuggingFace's `get_linear_schedule_with_warmup` ramps to
  `peak` itself).

  Args:
    step: 0-based optimizer step (the first update uses step 0, rate 0).
    peak: `initial_learning_rate`.
    decay_steps, end, power: the polynomial decay's.
    warmup_steps: the linear warm-up's length (0: none).

  Returns:
    The learning rate of that step.
  """
  def decayed(s):
    return (peak - end) * (1 - min(s, decay_steps) / decay_steps) ** power + end
  if step < warmup_steps:
    return step / warmup_steps * decayed(warmup_steps)
  return decayed(step)


def regime(params) -> Dict[str, Any]:
  """The fine-tuning hyperparameters of an experiment config, for HF's loop.

  Args:
    params: an `albert/sentence_prediction` `ExperimentConfig` (AdamW with
      polynomial decay and linear warm-up, as `configs.optimization.adamw`).

  Returns:
    A dict: batch, steps, peak, decay_steps, end, power, warmup, beta_1,
    beta_2, epsilon, weight_decay, no_decay (name substrings), clipnorm,
    hidden_dropout, attention_dropout, classifier_dropout, num_classes,
    pooling, seed.

  Raises:
    UserError: if the optimizer, decay or warm-up is of another type.
  """
  opt = params.trainer.optimizer_config
  if (opt.optimizer.type != "adamw" or opt.learning_rate.type != "polynomial"
      or opt.warmup.type not in ("linear", None)):
    errors.fail("the oracle's loop implements AdamW with polynomial decay and "
                f"linear warm-up, not {opt.optimizer.type}/"
                f"{opt.learning_rate.type}/{opt.warmup.type}")
  adamw, poly = opt.optimizer.adamw, opt.learning_rate.polynomial
  model = params.task.model
  return dict(
      batch=params.task.train_data.global_batch_size,
      steps=params.trainer.train_steps, peak=poly.initial_learning_rate,
      decay_steps=poly.decay_steps, end=poly.end_learning_rate,
      power=poly.power,
      warmup=opt.warmup.linear.warmup_steps if opt.warmup.type else 0,
      beta_1=adamw.beta_1, beta_2=adamw.beta_2, epsilon=adamw.epsilon,
      weight_decay=adamw.weight_decay_rate,
      no_decay=tuple(adamw.exclude_from_weight_decay or ()),
      clipnorm=adamw.global_clipnorm,
      hidden_dropout=model.encoder.hidden_dropout_prob,
      attention_dropout=model.encoder.attention_probs_dropout_prob,
      classifier_dropout=model.dropout_rate, num_classes=model.num_classes,
      pooling=model.pooling, seed=params.task.seed)


def hf_optimizer(model: torch.nn.Module, reg: Dict[str, Any]
                 ) -> torch.optim.AdamW:
  """torch AdamW with the regime's betas, epsilon and decoupled weight decay.

  Parameters whose name contains one of `reg["no_decay"]` ("LayerNorm",
  "layer_norm", "bias": HF's names spell LayerNorm as ours do) get no
  weight decay. The rate is set per step by `hf_train_step`.
  """
  named = list(model.named_parameters())
  def excluded(name):
    return any(k in name for k in reg["no_decay"])
  groups = [
      dict(params=[p for n, p in named if not excluded(n)],
           weight_decay=reg["weight_decay"]),
      dict(params=[p for n, p in named if excluded(n)], weight_decay=0.0)]
  return torch.optim.AdamW(groups, lr=reg["peak"],
                           betas=(reg["beta_1"], reg["beta_2"]),
                           eps=reg["epsilon"])


def hf_logits(model: transformers.AlbertForSequenceClassification,
              batch: Dict[str, np.ndarray], pooling: str = "cls"
              ) -> torch.Tensor:
  """Logits `[batch, num_classes]` of HF's classifier on a numpy batch.

  Args:
    model: the HF model (train or eval mode decides dropout).
    batch: int `input_word_ids`, `input_mask`, `input_type_ids`
      `[batch, length]`.
    pooling: "cls" (HF's own head: tanh pooler on [CLS], dropout,
      classifier) or "mean" (the masked mean of the last hidden states,
      dropout, classifier; HF has no such head).
  """
  inputs = dict(input_ids=torch.as_tensor(batch["input_word_ids"],
                                          dtype=torch.long),
                attention_mask=torch.as_tensor(batch["input_mask"],
                                               dtype=torch.long),
                token_type_ids=torch.as_tensor(batch["input_type_ids"],
                                               dtype=torch.long))
  if pooling == "cls":
    return model(**inputs).logits
  hidden = model.albert(**inputs).last_hidden_state
  mask = inputs["attention_mask"].to(hidden.dtype)[:, :, None]
  pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
  return model.classifier(model.dropout(pooled))


def hf_loss(logits: torch.Tensor, labels: np.ndarray,
            num_classes: int) -> torch.Tensor:
  """Mean cross-entropy, or mean squared error for `num_classes` 1."""
  if num_classes == 1:
    return torch.nn.functional.mse_loss(
        logits.reshape(-1), torch.as_tensor(labels, dtype=torch.float32))
  return torch.nn.functional.cross_entropy(
      logits, torch.as_tensor(labels, dtype=torch.long))


def hf_train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  batch: Dict[str, np.ndarray], step: int,
                  reg: Dict[str, Any]) -> float:
  """One fine-tuning step: loss, gradients, global-norm clip, AdamW update.

  Args:
    model: `AlbertForSequenceClassification`, in train mode.
    optimizer: from `hf_optimizer`.
    batch: as `hf_logits`, plus `label_ids` `[batch]`.
    step: 0-based step, for `learning_rate`.
    reg: from `regime`; with `keras_epsilon` true, epsilon is added as
      Model Garden's `AdamWeightDecay` (Keras' legacy Adam) adds it, to
      sqrt(v) rather than to the bias-corrected sqrt(v / (1 - beta_2^t)) of
      torch's AdamW: a larger epsilon in the first steps (x31.6 at step 1,
      x1.5 at step 540). The benchmark keeps torch's; the test sets it.

  Returns:
    The step's loss (before the update).
  """
  rate = learning_rate(step, reg["peak"], reg["decay_steps"], reg["warmup"],
                       reg["end"], reg["power"])
  for group in optimizer.param_groups:
    group["lr"] = rate
    if reg.get("keras_epsilon"):
      # Keras' Adam adds epsilon to sqrt(v), torch to sqrt(v / (1 - b2^t)).
      group["eps"] = reg["epsilon"] / (1 - reg["beta_2"] ** (step + 1)) ** 0.5
  optimizer.zero_grad()
  loss = hf_loss(hf_logits(model, batch, reg["pooling"]), batch["label_ids"],
                 reg["num_classes"])
  loss.backward()
  if reg["clipnorm"]:
    torch.nn.utils.clip_grad_norm_(model.parameters(), reg["clipnorm"])
  optimizer.step()
  return float(loss.detach())


def read_records(path: str, label_type: str) -> List[Dict[str, np.ndarray]]:
  """Every example of a `create_finetuning_data` record file, unpadded.

  Returns:
    Dicts of int64 `input_word_ids`, `input_mask`, `input_type_ids`
    `[length]`, `label_ids` (int or float scalar) and `example_id`.

  Raises:
    UserError: if `path` does not exist.
  """
  if not io_utils.isfile(path):
    errors.fail(f"records {path} not found")
  spec = {k: tf.io.VarLenFeature(tf.int64)
          for k in ("input_ids", "input_mask", "segment_ids")}
  spec["label_ids"] = tf.io.FixedLenFeature(
      [], tf.float32 if label_type == "float" else tf.int64)
  spec["example_id"] = tf.io.FixedLenFeature([], tf.int64)
  examples = []
  for record in tf.data.TFRecordDataset(path):
    x = tf.io.parse_single_example(record, spec)
    examples.append(dict(
        input_word_ids=tf.sparse.to_dense(x["input_ids"]).numpy(),
        input_mask=tf.sparse.to_dense(x["input_mask"]).numpy(),
        input_type_ids=tf.sparse.to_dense(x["segment_ids"]).numpy(),
        label_ids=x["label_ids"].numpy(), example_id=int(x["example_id"])))
  return examples


def collate(examples: Sequence[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
  """Stacks examples, zero-padding the sequences to the longest row."""
  length = max(len(e["input_word_ids"]) for e in examples)
  batch = {}
  for key in ("input_word_ids", "input_mask", "input_type_ids"):
    batch[key] = np.zeros([len(examples), length], np.int64)
    for row, e in enumerate(examples):
      batch[key][row, :len(e[key])] = e[key]
  batch["label_ids"] = np.array([e["label_ids"] for e in examples])
  return batch


def training_batches(examples: Sequence[Dict[str, np.ndarray]], batch: int,
                     seed: int) -> Iterator[Dict[str, np.ndarray]]:
  """Endless full batches, the examples reshuffled each epoch (seeded)."""
  rng = np.random.default_rng(seed)
  while True:
    order = rng.permutation(len(examples))
    for start in range(0, len(order) - batch + 1, batch):
      yield collate([examples[i] for i in order[start:start + batch]])


def hf_model(reg: Dict[str, Any], hf_dir: Optional[str],
             encoder_config) -> transformers.AlbertForSequenceClassification:
  """HF's classifier with the regime's dropout: from `hf_dir` (encoder
  weights converted from ours; a fresh classifier), or random with the
  encoder's config when `hf_dir` is None."""
  extra = dict(num_labels=reg["num_classes"],
               hidden_dropout_prob=reg["hidden_dropout"],
               attention_probs_dropout_prob=reg["attention_dropout"],
               classifier_dropout_prob=reg["classifier_dropout"],
               attn_implementation="eager")
  if hf_dir:
    return transformers.AlbertForSequenceClassification.from_pretrained(
        hf_dir, **extra)
  values = hf.config_to_hf(encoder_config, "AlbertForSequenceClassification")
  values.update(extra)
  return transformers.AlbertForSequenceClassification(
      transformers.AlbertConfig(**values))


def hf_run(params, hf_dir: Optional[str], out_dir: str) -> Dict[str, Any]:
  """Fine-tunes and evaluates HF's model in the regime of `params`.

  Args:
    params: the locked experiment config train.py would run.
    hf_dir: the converted pretrained model, or None for scratch.
    out_dir: where `metrics.json` is written.

  Returns:
    The dev metrics (`metrics.glue`), `prediction_std`, `final_loss` (mean
    of the last 50 steps' losses) and `seconds`.
  """
  start = time.time()
  reg = regime(params)
  task = params.task
  torch.manual_seed(reg["seed"])
  model = hf_model(reg, hf_dir, task.model.encoder).train()
  optimizer = hf_optimizer(model, reg)
  label_type = task.train_data.label_type
  train = read_records(task.train_data.input_path, label_type)
  losses = []
  for step, batch in zip(range(reg["steps"]),
                         training_batches(train, reg["batch"], reg["seed"])):
    losses.append(hf_train_step(model, optimizer, batch, step, reg))
  model.eval()
  dev = read_records(task.validation_data.input_path, label_type)
  outputs = []
  with torch.no_grad():
    for i in range(0, len(dev), task.validation_data.global_batch_size):
      chunk = collate(dev[i:i + task.validation_data.global_batch_size])
      outputs.append(hf_logits(model, chunk, reg["pooling"]).numpy())
  outputs = np.concatenate(outputs)
  preds = outputs[:, 0] if reg["num_classes"] == 1 else outputs.argmax(-1)
  labels = np.array([e["label_ids"] for e in dev])
  result = glue.glue_metrics(task.metric_type, labels, preds)
  result.update(prediction_std=float(np.std(preds)),
                final_loss=float(np.mean(losses[-50:])),
                seconds=time.time() - start)
  write_json(io_utils.join(out_dir, "metrics.json"), result)
  return result


def ours_run(config_files: List[str], override: str, out_dir: str,
             num_classes: int) -> Dict[str, Any]:
  """Runs train.py for one fine-tuning run and reads its `metrics.json`.

  Returns:
    Its metrics, plus `prediction_std` (regression: of
    `dev_predictions.tsv`) and `seconds`.

  Raises:
    UserError: if train.py fails (the log's path and last line named).
  """
  start = time.time()
  log = out_dir + ".log"
  command = [sys.executable, "train.py", f"--experiment={EXPERIMENT}",
             "--mode=train_and_eval", f"--model_dir={out_dir}"]
  command += [f"--config_file={f}" for f in config_files]
  command.append(f"--params_override={override}")
  done = subprocess.run(command, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True, check=False)
  with io_utils.atomic_path(log) as tmp:
    with io_utils.open_file(tmp, "w") as f:
      f.write(done.stdout)
  if done.returncode:
    last = (done.stdout.strip().splitlines() or [""])[-1]
    errors.fail(f"train.py failed (exit {done.returncode}), see {log}: {last}")
  with io_utils.open_file(io_utils.join(out_dir, "metrics.json")) as f:
    result = json.load(f)
  if num_classes == 1:
    with io_utils.open_file(io_utils.join(out_dir, "dev_predictions.tsv")) as f:
      rows = list(csv.reader(f, delimiter="\t"))[1:]
    result["prediction_std"] = float(np.std([float(r[1]) for r in rows]))
  result["seconds"] = time.time() - start
  write_json(io_utils.join(out_dir, "oracle.json"), result)
  return result


def write_json(path: str, value: Any) -> None:
  """Writes `value` as JSON through `io_utils` (atomically)."""
  with io_utils.atomic_path(path) as tmp:
    with io_utils.open_file(tmp, "w") as f:
      json.dump(value, f, indent=2, sort_keys=True, default=float)


def read_json(path: str) -> Optional[Any]:
  """The JSON at `path`, or None if there is none."""
  if not io_utils.isfile(path):
    return None
  with io_utils.open_file(path) as f:
    return json.load(f)


def make_records(task: str, data_dir: str, records: str) -> None:
  """`create_finetuning_data` at sequence 128 with the demo vocabulary, as
  the study makes them, unless `records/metadata.json` exists.

  Raises:
    UserError: if the GLUE directory is missing or the tool fails.
  """
  if io_utils.isfile(io_utils.join(records, "metadata.json")):
    return
  source = io_utils.join(data_dir, "glue", TASKS[task][0])
  if not io_utils.isdir(source):
    errors.fail(f"{source} not found; pass --data_dir with glue/{TASKS[task][0]}")
  code = subprocess.run(
      [sys.executable, "-m", "official_albert.data.finetuning.create_finetuning_data",
       "--task", task, "--input_dir", source, "--sp_model_file", VOCAB,
       "--max_seq_length", "128", "--output_dir", records],
      check=False).returncode
  if code:
    errors.fail(f"create_finetuning_data --task {task} failed (exit {code})")


def convert(checkpoint: str, hf_dir: str) -> None:
  """Our `interop.convert --from ours --to hf`, unless `hf_dir` exists.

  Raises:
    UserError: if the converter fails.
  """
  if io_utils.exists(hf_dir):
    return
  code = subprocess.run(
      [sys.executable, "-m", "official_albert.interop.convert", "--from",
       "ours", "--to", "hf", "--input", checkpoint, "--output", hf_dir],
      check=False).returncode
  if code:
    errors.fail(f"converting {checkpoint} to HuggingFace failed (exit {code})")


def summary(values: Sequence[float]) -> str:
  """`median [min-max] (n)`, or "-" for no values."""
  if not values:
    return "-"
  return (f"{statistics.median(values):.3f} [{min(values):.3f}-"
          f"{max(values):.3f}] ({len(values)})")


def table(runs: Sequence[Dict[str, Any]]) -> str:
  """The Markdown table: a row per task and pooling, a column per side and
  initialisation; for regression a second row with the prediction std."""
  cols = [(side, init) for side in SIDES for init in INITS]
  lines = ["| task (metric), pooling | " + " | ".join(
      f"{side} {init}" for side, init in cols) + " |",
           "|---|" + "---|" * len(cols)]
  keys = sorted({(r["task"], r["pooling"]) for r in runs})
  for task, pooling in keys:
    metric = TASKS[task][2]
    def cell(side, init, key):
      return summary([r["result"][key] for r in runs
                      if (r["task"], r["pooling"], r["side"], r["init"]) ==
                      (task, pooling, side, init) and key in r["result"]])
    lines.append(f"| {task} ({metric}), {pooling} | " + " | ".join(
        cell(s, i, metric) for s, i in cols) + " |")
    if TASKS[task][3] == 1:
      lines.append(f"| {task} dev prediction std, {pooling} | " + " | ".join(
          cell(s, i, "prediction_std") for s, i in cols) + " |")
  return "\n".join(lines)


def _csv(text: str, allowed: Optional[Sequence[str]], flag: str) -> List[str]:
  items = [t.strip() for t in text.split(",") if t.strip()]
  bad = [t for t in items if allowed is not None and t not in allowed]
  if not items or bad:
    errors.fail(f"{flag}={text!r}; use a comma-separated list of "
                f"{', '.join(allowed) if allowed else 'values'}")
  return items


def main(argv=None) -> None:
  """Runs the oracle (see the module docstring) and prints the table.

  Raises:
    UserError: on a bad flag, a missing checkpoint, data directory or
      records, or a failed run.
  """
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--checkpoint", default="runs/demo/model",
                      help="our pretraining model_dir")
  parser.add_argument("--data_dir", default="../shared/data")
  parser.add_argument("--records_dir", default="runs/small/glue",
                      help="records per task (made here when missing)")
  parser.add_argument("--run_dir", default="runs/finetune_oracle")
  parser.add_argument("--model_config", default=MODEL_CONFIG)
  parser.add_argument("--tasks", default="rte,sts-b")
  parser.add_argument("--seeds", default="1,2,3")
  parser.add_argument("--sides", default=",".join(SIDES))
  parser.add_argument("--inits", default=",".join(INITS))
  parser.add_argument("--pooling", default="cls",
                      help="comma-separated: cls, mean")
  parser.add_argument("--steps_scale", type=float, default=1.0,
                      help="multiplies each task's study step count")
  args = parser.parse_args(argv)
  tasks = _csv(args.tasks, list(TASKS), "--tasks")
  seeds = [int(s) for s in _csv(args.seeds, None, "--seeds")
           if s.isdigit() or errors.fail(f"--seeds={args.seeds!r}: integers")]
  sides = _csv(args.sides, SIDES, "--sides")
  inits = _csv(args.inits, INITS, "--inits")
  poolings = _csv(args.pooling, ("cls", "mean"), "--pooling")
  if args.steps_scale <= 0:
    errors.fail(f"--steps_scale={args.steps_scale}; use a positive number")
  if "pretrained" in inits and not io_utils.isdir(args.checkpoint):
    errors.fail(f"checkpoint {args.checkpoint} not found; run "
                "`bash scripts/demo.sh` or pass --checkpoint")
  config_files = [args.model_config, *CONFIG_FILES]
  hf_dir = io_utils.join(args.run_dir, "hf_pretrained")
  if "pretrained" in inits and "hf" in sides:
    convert(args.checkpoint, hf_dir)
  start = time.time()
  runs = []
  for seed in seeds:  # Seed 1 of everything first, as the study does.
    for task in tasks:
      records = io_utils.join(args.records_dir, task)
      make_records(task, args.data_dir, records)
      steps = max(10, round(TASKS[task][5] * args.steps_scale))
      for pooling in poolings:
        for side in sides:
          for init in inits:
            out = io_utils.join(args.run_dir, task, f"{pooling}_steps{steps}",
                                side, init, f"seed{seed}")
            override = study_override(
                task, steps, seed, records,
                args.checkpoint if init == "pretrained" else "", pooling)
            result = read_json(io_utils.join(
                out, "oracle.json" if side == "ours" else "metrics.json"))
            if result is None:
              print(f"== {task} {pooling} {side} {init} seed {seed} "
                    f"({steps} steps)", flush=True)
              if side == "ours":
                io_utils.remove(out)  # A leftover would end the run at once.
                result = ours_run(config_files, override, out,
                                  TASKS[task][3])
              else:
                params = overrides.parse_configuration(
                    EXPERIMENT, config_files, override)
                result = hf_run(params, hf_dir if init == "pretrained"
                                else None, out)
              print(f"   {TASKS[task][2]} {result[TASKS[task][2]]:.4f} "
                    f"({result['seconds']:.0f} s)", flush=True)
            runs.append(dict(task=task, pooling=pooling, side=side, init=init,
                             seed=seed, steps=steps, result=result))
  text = table(runs)
  print(text)
  print(f"wall time of this invocation: {time.time() - start:.0f} s; "
        f"run seconds summed: {sum(r['result']['seconds'] for r in runs):.0f}")
  write_json(io_utils.join(args.run_dir, "results.json"), runs)
  with io_utils.atomic_path(io_utils.join(args.run_dir, "table.md")) as tmp:
    with io_utils.open_file(tmp, "w") as f:
      f.write(text + "\n")


if __name__ == "__main__":
  errors.run_cli(main)
