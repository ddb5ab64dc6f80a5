"""Benchmark: exact vs Nyström attention in one ALBERT encoder block.

Usage (from the repository root):

  python -m benchmarks.nystrom_attention \
      [--seq_lengths 512 1024 2048 4096] [--batch_size 1] [--num_landmarks 64]

For each sequence length and attention kind, a fresh subprocess builds one
ALBERT-base block (H=768, 12 heads, FFN 3072, post-LayerNorm; Model Garden's
`TransformerEncoderBlock` or `NystromEncoderBlock`), feeds it random inputs of
`[batch, seq, 768]` with the `[batch, seq, seq]` mask `AlbertEncoder` builds,
and times forward+backward (gradients of all weights, one `tf.function`)
over `--repeats` runs after `--warmup` runs; the median is reported.
Peak memory: on GPU, `tf.config.experimental.get_memory_info` peak bytes; on
CPU, the growth of the subprocess's max resident set size
(`resource.getrusage`, `ru_maxrss`) from after the block's weights are built
to after the timed runs, i.e. activations, gradients and workspace of the
step, plus whatever tf.function tracing and the allocator's caching add.

Approximation error: real WikiText-2 text (`--corpus`) goes through an
encoder, and every block is compared with its Nyström twin (same config,
weights restored from the block's checkpoint) on the same hidden states:
reported is the relative Frobenius error ||Y_nys - Y_exact|| / ||Y_exact|| of
the attention output (after the output projection) and of the block output,
pooled over layers. The encoder is a randomly initialised one-layer
ALBERT-base with a SentencePiece model (8k pieces) trained on the corpus, or,
with `--trained_model_dir`, a model trained by `train.py` (its params.yaml,
latest checkpoint and SentencePiece model), at the lengths its position
table covers.

Configurations start only while `--max_seconds` has not run out (Nyström
before exact at each length); later ones are reported as skipped, so
`--max_seconds 0` measures only the errors. This is a benchmark, not a test.
"""

import argparse
import json
import os
import pathlib
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
import tf_keras
from official.nlp.modeling import layers as mg_layers

from official_albert import errors, io_utils
from official_albert.configs import encoders, overrides
from official_albert.data import tokenization
from official_albert.data.pretraining import train_vocab
from official_albert.modeling import albert, nystrom
from official_albert.tasks import checkpoints

REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "corpus" / "wiki.test.raw"
HIDDEN, HEADS, FFN = 768, 12, 3072
KINDS = ("exact", "nystrom")


def build_block(kind: str, num_landmarks: int) -> tf_keras.layers.Layer:
  """An ALBERT-base block with AlbertEncoder's arguments, exact or Nyström."""
  kwargs = dict(num_attention_heads=HEADS, inner_dim=FFN,
                inner_activation=albert.get_activation("gelu"),
                kernel_initializer=tf_keras.initializers.TruncatedNormal(
                    stddev=0.02),
                norm_first=False, norm_epsilon=1e-12, name="block")
  if kind == "nystrom":
    return nystrom.NystromEncoderBlock(num_landmarks=num_landmarks, **kwargs)
  return mg_layers.TransformerEncoderBlock(**kwargs)


def key_padding_mask(mask: tf.Tensor) -> tf.Tensor:
  """Model Garden's [batch, seq, seq] mask from an int [batch, seq] mask."""
  return mg_layers.SelfAttentionMask()(tf.cast(mask, tf.float32), mask)


def measure(kind: str, seq_length: int, batch_size: int, num_landmarks: int,
            warmup: int, repeats: int) -> dict:
  """Times forward+backward of one block; run in a fresh process.

  Returns:
    dict with `times_s` (list of seconds), `median_s`, `peak_mib` (MiB) and
    `memory_source` (how the peak was measured).
  """
  tf_keras.utils.set_random_seed(0)
  block = build_block(kind, num_landmarks)
  ones = tf.ones([batch_size, 8], tf.int32)
  block([tf.zeros([batch_size, 8, HIDDEN]), key_padding_mask(ones)])
  x = tf.random.normal([batch_size, seq_length, HIDDEN])
  mask = key_padding_mask(tf.ones([batch_size, seq_length], tf.int32))

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      y = block([x, mask], training=True)
      loss = tf.reduce_mean(tf.square(y))
    # Returned, so that the graph cannot prune the backward pass.
    return loss, tape.gradient(loss, block.trainable_variables)

  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    tf.config.experimental.reset_memory_stats("GPU:0")
  rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  times = []
  for i in range(warmup + repeats):
    start = time.perf_counter()
    step()[0].numpy()
    if i >= warmup:
      times.append(time.perf_counter() - start)
  if gpus:
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    source = "GPU peak bytes (tf.config.experimental.get_memory_info)"
  else:
    rss_after_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = (rss_after_kib - rss_before_kib) / 1024
    source = "CPU max-RSS growth of a fresh process (resource.getrusage)"
  return dict(times_s=times, median_s=statistics.median(times),
              peak_mib=peak, memory_source=source)


def run_worker(kind: str, seq_length: int, args, timeout_s: float) -> dict:
  """Runs `measure` in a fresh subprocess; returns its dict or a `skipped`."""
  command = [sys.executable, "-m", "benchmarks.nystrom_attention",
             "--worker", kind, "--seq_lengths", str(seq_length),
             "--batch_size", str(args.batch_size),
             "--num_landmarks", str(args.num_landmarks),
             "--warmup", str(args.warmup), "--repeats", str(args.repeats)]
  try:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout_s, check=False)
  except subprocess.TimeoutExpired:
    return dict(skipped=f"timed out after {timeout_s:.0f} s")
  if done.returncode:
    tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
    return dict(skipped=f"failed (exit {done.returncode}: {tail[0]})")
  return json.loads(done.stdout.strip().splitlines()[-1])


def corpus_ids(corpus: str, tokenizer: tokenization.AlbertTokenizer,
               needed: int) -> list:
  """The first `needed` piece ids of the corpus's paragraphs (no headings).

  Raises:
    errors.UserError: fewer than `needed` tokens in the corpus.
  """
  lines = pathlib.Path(corpus).read_text(encoding="utf-8").splitlines()
  ids = []
  for line in lines:
    if line.strip() and not line.strip().startswith("="):
      ids.extend(tokenizer.encode(line))
      if len(ids) >= needed:
        return ids[:needed]
  errors.fail(f"--corpus {corpus!r} has {len(ids)} tokens, fewer than the "
              f"{needed} needed; pass a longer corpus or shorter "
              "--seq_lengths")


def nystrom_twin(block: tf_keras.layers.Layer, x: tf.Tensor, mask: tf.Tensor,
                 num_landmarks: int) -> nystrom.NystromEncoderBlock:
  """A `NystromEncoderBlock` with `block`'s config, restored from its weights.

  The weights travel through an object-based checkpoint, the way a trained
  exact model is loaded into a Nyström one.
  """
  twin = nystrom.NystromEncoderBlock.from_config(
      dict(block.get_config(), num_landmarks=num_landmarks))
  twin([x, mask])
  with tempfile.TemporaryDirectory() as tmp:
    path = tf.train.Checkpoint(block=block).write(os.path.join(tmp, "ckpt"))
    tf.train.Checkpoint(block=twin).read(path).expect_partial()
  return twin


def encoder_errors(encoder: albert.AlbertEncoder, ids: list, seq_length: int,
                   batch_size: int, num_landmarks: int) -> tuple:
  """Nyström vs exact on every layer of `encoder`, fed the same hidden states.

  Each block sees the exact model's hidden states; its attention output and
  block output are computed by the block and by its Nyström twin.

  Returns:
    (attention error, block-output error): relative Frobenius errors pooled
    over all layers.
  """
  rows = np.reshape(ids[:batch_size * seq_length], [batch_size, seq_length])
  inputs = dict(input_word_ids=rows, input_mask=np.ones_like(rows),
                input_type_ids=np.zeros_like(rows))
  mask = key_padding_mask(inputs["input_mask"])
  x = encoder(inputs)["embedding_output"]
  twins = {}
  sums = np.zeros([2, 2])  # [attention, block] x [squared error, squared norm]
  for group in encoder.layer_to_group:
    for block in encoder.groups[group]:
      if id(block) not in twins:
        twins[id(block)] = nystrom_twin(block, x, mask, num_landmarks)
      twin = twins[id(block)]
      exact_y = block([x, mask])
      pairs = [(block._attention_layer(x, x, attention_mask=mask),
                twin._attention_layer(x, x, attention_mask=mask)),
               (exact_y, twin([x, mask]))]
      for row, (a, b) in enumerate(pairs):
        sums[row] += [float(tf.reduce_sum(tf.square(b - a))),
                      float(tf.reduce_sum(tf.square(a)))]
      x = exact_y
  return tuple(np.sqrt(sums[:, 0] / sums[:, 1]))


def approximation_errors(args) -> dict:
  """Relative errors of Nyström vs exact on real text, per sequence length.

  With `--trained_model_dir`, the trained encoder (its params.yaml, latest
  checkpoint and SentencePiece model) at the lengths its positions cover;
  otherwise a randomly initialised one-layer ALBERT-base encoder with a
  SentencePiece model trained on the corpus (8k pieces).

  Returns:
    {seq_length: (attention error, block-output error)}.

  Raises:
    errors.UserError: unreadable model dir or too short a corpus.
  """
  tf_keras.utils.set_random_seed(0)
  with tempfile.TemporaryDirectory() as tmp:
    if args.trained_model_dir:
      params_path = os.path.join(args.trained_model_dir, "params.yaml")
      if not os.path.isfile(params_path):
        errors.fail(f"--trained_model_dir {args.trained_model_dir!r} has no "
                    "params.yaml; pass a model_dir written by train.py")
      with open(params_path, encoding="utf-8") as f:
        task = overrides.safe_load(f)["task"]
      tokenizer = tokenization.AlbertTokenizer(
          str(REPO / task["sp_model_file"]))
      encoder = encoders.build_encoder(
          encoders.AlbertEncoderConfig(**task["model"]["encoder"]))
      encoder(albert.dummy_inputs())
      checkpoints.restore_items(args.trained_model_dir, encoder=encoder)
      limit = encoder.get_config()["max_position_embeddings"]
      lengths = [n for n in args.seq_lengths if n <= limit]
    else:
      prefix = os.path.join(tmp, "sp")
      try:
        train_vocab.train_vocab([args.corpus], prefix, vocab_size=8000)
      except errors.UserError as e:
        errors.fail(f"cannot train an 8k SentencePiece model on --corpus "
                    f"{args.corpus!r} ({e}); pass a longer corpus")
      tokenizer = tokenization.AlbertTokenizer(prefix + ".model")
      lengths = args.seq_lengths
      encoder = albert.AlbertEncoder(
          vocab_size=tokenizer.vocab_size, num_hidden_layers=1,
          max_position_embeddings=max(lengths))
  if not lengths:
    errors.fail("no --seq_lengths fit the trained model's "
                "max_position_embeddings; pass shorter ones")
  ids = corpus_ids(args.corpus, tokenizer, args.batch_size * max(lengths))
  return {n: encoder_errors(encoder, ids, n, args.batch_size,
                            args.num_landmarks) for n in lengths}


def format_table(rows: dict, errors_by_length: dict) -> str:
  """Markdown table of the measurements, with Nyström/exact ratios."""
  lines = ["| seq | exact s | Nyström s | time ratio | exact MiB | "
           "Nyström MiB | memory ratio | rel. err. attention | "
           "rel. err. block |", "|" + "---|" * 9]
  for n in sorted({n for n, _ in rows}):
    exact, approx = rows[(n, "exact")], rows[(n, "nystrom")]
    cells = [str(n)]
    for key, fmt in (("median_s", "{:.3f}"), ("peak_mib", "{:.0f}")):
      values = [m.get(key) for m in (exact, approx)]
      cells += [fmt.format(v) if v is not None else
                m.get("skipped", "-") for v, m in zip(values, (exact, approx))]
      cells.append(f"{values[1] / values[0]:.2f}" if None not in values
                   and values[0] > 0 else "-")
    errs = errors_by_length.get(n)
    cells += [f"{e:.2e}" for e in errs] if errs else ["-", "-"]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def main(argv=None) -> None:
  """Command-line entry point (see the module doc)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--seq_lengths", type=int, nargs="+",
                      default=[512, 1024, 2048, 4096])
  parser.add_argument("--batch_size", type=int, default=1)
  parser.add_argument("--num_landmarks", type=int, default=64)
  parser.add_argument("--warmup", type=int, default=1)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--max_seconds", type=float, default=300,
                      help="start no configuration after this many seconds")
  parser.add_argument("--corpus", default=str(DEFAULT_CORPUS),
                      help="real text for the approximation error")
  parser.add_argument("--trained_model_dir", default="",
                      help="measure the error with this trained model "
                      "(a train.py model_dir) instead of random weights")
  parser.add_argument("--output", default="",
                      help="also write the table (markdown) here")
  parser.add_argument("--worker", choices=KINDS, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if min(args.seq_lengths) < 1 or args.batch_size < 1 or args.repeats < 1:
    errors.fail("--seq_lengths, --batch_size and --repeats must be positive")
  if args.worker:
    print(json.dumps(measure(args.worker, args.seq_lengths[0],
                             args.batch_size, args.num_landmarks,
                             args.warmup, args.repeats)))
    return
  if not os.path.isfile(args.corpus):
    errors.fail(f"--corpus {args.corpus!r} not found; pass the WikiText-2 "
                "file shared/data/corpus/wiki.test.raw or another text file")

  command = shlex.join(["python", "-m", "benchmarks.nystrom_attention"] + (
      argv if argv is not None else sys.argv[1:]))
  print(f"command: {command}")
  print(f"device: {'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}"
        f", {os.cpu_count()} cores; batch {args.batch_size}, "
        f"m={args.num_landmarks}, median of {args.repeats} after "
        f"{args.warmup} warm-up")
  start = time.monotonic()
  rows = {}
  for n in sorted(args.seq_lengths):
    # Nyström first: when time runs out, the expensive exact runs are skipped.
    for kind in reversed(KINDS):
      left = args.max_seconds - (time.monotonic() - start)
      rows[(n, kind)] = (run_worker(kind, n, args, left) if left > 0 else
                         dict(skipped="skipped (time budget)"))
      print(f"  seq {n} {kind}: {json.dumps(rows[(n, kind)])}", flush=True)
  memory = next((m["memory_source"] for m in rows.values()
                 if "memory_source" in m), "not measured")
  table = format_table(rows, approximation_errors(args))
  weights = (f"the trained model in {args.trained_model_dir}"
             if args.trained_model_dir else "random ALBERT-base weights")
  report = (f"{table}\n\nTime: median seconds of one forward+backward. "
            f"Memory: {memory}, MiB. Errors: relative Frobenius norm vs "
            f"exact on real text ({args.corpus}), {weights}.")
  print(report)
  if args.output:
    with io_utils.atomic_path(args.output) as tmp:
      pathlib.Path(tmp).write_text(f"`{command}`\n\n{report}\n",
                                   encoding="utf-8")


if __name__ == "__main__":
  errors.run_cli(main)
