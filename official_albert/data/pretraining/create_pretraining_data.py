r"""Writes ALBERT pretraining TFRecords: SOP pairs with n-gram word masks.

Usage:

  python -m official_albert.data.pretraining.create_pretraining_data \
      --input_file assets/corpus/train.txt --output_dir /tmp/records \
      --sp_model_file assets/vocab/albert_demo_8k.model --do_lower_case \
      --max_seq_length 128 --dupe_factor 5 --num_shards 4 --num_workers 2

Input is the seed format (one sentence per line, a blank line between
documents; see `prepare_corpus`). The algorithm is the original ALBERT
`create_pretraining_data.py` (target length `max_seq_length - 3`, shortened to
`randint(2, max)` with probability `short_seq_prob`; sentences accumulate into
chunks split at a random sentence into A and B; truncation from the longer
side; n-gram whole-word masking with p(n) ~ 1/n, budget
`min(max_pred, max(1, round(len * masked_lm_prob)))`, 80/10/10 replacement)
with the differences listed in `sop_instances` (SOP only, no random-document
B: a one-sentence chunk is cut at a random word boundary), and these:

* Deterministic and parallel. Document d (counted over all input files in
  order) in dupe round r draws every random choice from
  `random.Random(f"{random_seed}:{d}:{r}")` (the original draws n-gram sizes
  from numpy's unseeded global RNG). Documents are streamed in batches to
  `--num_workers` processes and results are consumed in document order, so
  the output is byte-identical for any number of workers.
* Instances go to shards round-robin in (document, round) order; each shard
  is then shuffled with `random.Random(f"{random_seed}:shard:{k}")`, holding
  one shard in memory at a time (the original holds and shuffles all
  instances at once).

Output, written atomically as a whole directory: DIR/part-0000k-of-0000N.
tfrecord with the original's tf.train.Example features (int64 input_ids,
input_mask, segment_ids, token_boundary [max_seq_length]; int64
masked_lm_positions, masked_lm_ids and float masked_lm_weights [max_pred];
int64 next_sentence_labels [1] holding the SOP label, 1 = swapped), and
DIR/metadata.json (instance and non-pad token counts, sizes, vocabulary and
its sha256, files and all settings).

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.data.pretraining.create_pretraining_data \
      --input_file /tmp/albert_example/seed.txt \
      --output_dir /tmp/albert_example/records \
      --sp_model_file assets/vocab/albert_demo_8k.model --do_lower_case \
      --max_seq_length 64 --max_predictions_per_seq 10 --dupe_factor 1
"""

import argparse
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from typing import (Callable, Dict, Iterable, Iterator, List, NamedTuple,
                    Optional, Sequence, Tuple)

import tqdm

import official_albert
from official_albert import errors, io_utils
from official_albert.data import tokenization
from official_albert.data.pretraining import (seed_reader, sop_instances,
                                              tfrecord_io)

# Documents handed to the worker pool at a time, per worker: enough to keep
# workers busy, few enough that the corpus is never all in memory.
_DOCS_PER_WORKER_BATCH = 64
# Set by `_init_worker` in the main process; forked workers inherit them.
_builder = None  # InstanceBuilder
_args = None  # the parsed flags


def input_files(patterns: Sequence[str],
                match: Callable[[str], List[str]] = io_utils.glob_files
                ) -> List[str]:
  """Expands globs in order, each sorted.

  Args:
    patterns: paths or globs.
    match: the files one pattern matches (the Beam pipeline passes one for
      its filesystems, e.g. gs://).

  Raises:
    errors.UserError: a pattern matches no file.
  """
  files = []
  for pattern in patterns:
    matches = sorted(match(pattern))
    if not matches:
      errors.fail(f"--input_file {pattern!r} matches no file; pass a path or "
                  "glob of seed-format text files")
    files.extend(matches)
  return files


def read_documents(paths: Sequence[str], max_seq_length: int,
                   stats: Optional[List[seed_reader.FileStats]] = None
                   ) -> Iterator[List[str]]:
  """Streams documents from seed-format files (local or URLs), in order.

  Args:
    paths: the input files.
    max_seq_length: --max_seq_length, for the long-line warning.
    stats: if given, one `seed_reader.FileStats` per file is appended to it
      as the file is opened (complete once its documents are consumed).

  Raises:
    errors.UserError: a file is not UTF-8 text (after gunzip for `*.gz`).
  """
  for path in paths:
    file_stats = seed_reader.FileStats(
        path, seed_reader.LONG_LINE_FACTOR * max_seq_length)
    if stats is not None:
      stats.append(file_stats)
    with seed_reader.open_seed_file(path) as f:
      yield from seed_reader.file_documents(f, file_stats)


def load_tokenizer(sp_model_file: str, do_lower_case: bool
                   ) -> tokenization.AlbertTokenizer:
  """Loads the SentencePiece model, turning its failures into UserError."""
  try:
    return tokenization.AlbertTokenizer(sp_model_file, do_lower_case)
  except (OSError, RuntimeError, ValueError) as e:
    errors.fail(f"cannot use --sp_model_file {sp_model_file!r}: "
                f"{str(e).splitlines()[0]}; pass a .model file written by "
                "official_albert.data.pretraining.train_vocab")


def make_builder(args: argparse.Namespace) -> sop_instances.InstanceBuilder:
  """The InstanceBuilder (and its tokenizer) for parsed flags `args`.

  Raises:
    errors.UserError: the SentencePiece model cannot be loaded.
  """
  tokenizer = load_tokenizer(args.sp_model_file, args.do_lower_case)
  return sop_instances.InstanceBuilder(
      tokenizer, args.max_seq_length, args.max_predictions_per_seq,
      args.masked_lm_prob, args.short_seq_prob, args.ngram)


def _init_worker(args: argparse.Namespace) -> None:
  """Builds the tokenizer and InstanceBuilder that workers will inherit."""
  global _builder, _args
  _builder = make_builder(args)
  _args = args


class DocumentRecords(NamedTuple):
  """One document's output.

  Attributes:
    records: (serialized tf.train.Example, number of non-pad tokens) per
      instance, dupe rounds in order.
    lines_without_pieces: sentence lines that tokenized to nothing (skipped).
  """
  records: List[Tuple[bytes, int]]
  lines_without_pieces: int


def document_records(builder: sop_instances.InstanceBuilder,
                     args: argparse.Namespace, index: int,
                     sentences: Sequence[str]) -> DocumentRecords:
  """Tokenizes document number `index` and builds its instances of all rounds.

  Round r draws from `random.Random(f"{random_seed}:{index}:{r}")`, so the
  result depends only on the flags, `index` and `sentences`.
  """
  encoded = [builder.tokenizer.encode(s) for s in sentences]
  document = [ids for ids in encoded if ids]
  records = []
  for r in range(args.dupe_factor):
    rng = random.Random(f"{args.random_seed}:{index}:{r}")
    for inst in builder.document_instances(document, rng):
      records.append((encode_instance(inst, args.max_seq_length,
                                      args.max_predictions_per_seq),
                      len(inst.input_ids)))
  return DocumentRecords(records, len(encoded) - len(document))


def _document_records(task: Tuple[int, List[str]]) -> DocumentRecords:
  """`document_records` for (index, sentences) with the inherited builder."""
  return document_records(_builder, _args, *task)


def _ordered_results(documents: Iterator[List[str]], num_workers: int
                     ) -> Iterator[DocumentRecords]:
  """Yields each document's records, in document order."""
  tasks = enumerate(documents)
  if num_workers == 1:
    yield from map(_document_records, tasks)
    return
  # Fork: workers inherit the builder and need no fresh TensorFlow import;
  # they build protos only and never run TensorFlow ops.
  with multiprocessing.get_context("fork").Pool(num_workers) as pool:
    while batch := list(itertools.islice(
        tasks, _DOCS_PER_WORKER_BATCH * num_workers)):
      yield from pool.imap(_document_records, batch, chunksize=8)


# Varints of all ids of vocabularies up to 64k pieces are precomputed.
_ENCODER = tfrecord_io.ExampleEncoder(max_int=65535)


def encode_instance(inst: sop_instances.Instance, max_seq_length: int,
                    max_predictions_per_seq: int) -> bytes:
  """Pads an instance into the original's tf.train.Example features and
  serializes it (as `SerializeToString(deterministic=True)`)."""
  def pad(values, size):
    return values + [0] * (size - len(values))

  num_masked = len(inst.masked_lm_positions)
  return _ENCODER.encode({
      "input_ids": pad(inst.input_ids, max_seq_length),
      "input_mask": pad([1] * len(inst.input_ids), max_seq_length),
      "segment_ids": pad(inst.segment_ids, max_seq_length),
      "token_boundary": pad(inst.token_boundary, max_seq_length),
      "masked_lm_positions": pad(inst.masked_lm_positions,
                                 max_predictions_per_seq),
      "masked_lm_ids": pad(inst.masked_lm_ids, max_predictions_per_seq),
      "masked_lm_weights": pad([1.0] * num_masked, max_predictions_per_seq),
      "next_sentence_labels": [inst.sop_label],
  }, floats=("masked_lm_weights",))


def check_args(args: argparse.Namespace) -> None:
  """Raises errors.UserError for settings the algorithm cannot use."""
  checks = [
      (args.max_seq_length >= 5, "--max_seq_length must be >= 5 ([CLS] A "
       "[SEP] B [SEP] with one token each)"),
      (1 <= args.max_predictions_per_seq <= args.max_seq_length,
       "--max_predictions_per_seq must be between 1 and --max_seq_length"),
      (0 < args.masked_lm_prob <= 1, "--masked_lm_prob must be in (0, 1]"),
      (0 <= args.short_seq_prob <= 1, "--short_seq_prob must be in [0, 1]"),
      (args.dupe_factor >= 1, "--dupe_factor must be >= 1"),
      (args.ngram >= 1, "--ngram must be >= 1"),
      (args.num_shards >= 1, "--num_shards must be >= 1"),
  ]
  for ok, message in checks:
    if not ok:
      errors.fail(message + "; fix the flag")
  out = args.output_dir
  if io_utils.exists(out) and not (
      io_utils.isdir(out) and not io_utils.listdir(out)):
    errors.fail(f"--output_dir {args.output_dir!r} exists and is not an empty "
                "directory; pass a new directory or remove it")


def shard_names(num_shards: int) -> List[str]:
  """The output file names, shard k at index k."""
  return [f"part-{k:05d}-of-{num_shards:05d}.tfrecord"
          for k in range(num_shards)]


# A shard with more record bytes than this is shuffled in buckets of about
# this size, so that memory holds one bucket, whatever the corpus size.
SHUFFLE_BUCKET_BYTES = 64 * 2**20


def write_shuffled_shard(path: str, records: Iterable[bytes], shard_bytes: int,
                         random_seed: int, shard: int,
                         spill_dir: Optional[str] = None) -> None:
  """Writes shard `shard`'s records to `path` in a seeded random order.

  A shard of at most SHUFFLE_BUCKET_BYTES is shuffled whole. A larger one
  gets the two-pass shuffle (Rao 1961; also a uniform permutation): each
  record goes to one of `ceil(shard_bytes / SHUFFLE_BUCKET_BYTES)` buckets
  drawn uniformly, then each bucket in turn is shuffled and appended. The
  order depends only on the records, `random_seed` and `shard`, so the Beam
  pipeline (buckets in memory) writes the same bytes as the local tool
  (buckets spilled to files).

  Args:
    path: a local path or any URL tf.io supports (gs://...).
    records: the shard's serialized examples in (document, round) order.
    shard_bytes: the sum of their lengths.
    random_seed: --random_seed; every draw comes from
      `random.Random(f"{random_seed}:shard:{shard}")`.
    shard: the shard number k.
    spill_dir: a local directory for bucket files; None keeps buckets in
      memory.
  """
  rng = random.Random(f"{random_seed}:shard:{shard}")
  num_buckets = max(1, -(-shard_bytes // SHUFFLE_BUCKET_BYTES))
  with io_utils.open_file(path, "wb") as out:
    if num_buckets == 1:
      records = list(records)
      rng.shuffle(records)
      for record in records:
        tfrecord_io.write_record(out, record)
      return
    if spill_dir is None:
      buckets = [[] for _ in range(num_buckets)]
      for record in records:
        buckets[rng.randrange(num_buckets)].append(record)
      parts = iter(buckets)
    else:
      names = [os.path.join(spill_dir, f".bucket-{shard}-{b}")
               for b in range(num_buckets)]
      files = [open(n, "wb") for n in names]
      for record in records:
        tfrecord_io.write_record(files[rng.randrange(num_buckets)], record)
      for f in files:
        f.close()
      parts = _spilled(names)
    for bucket in parts:
      rng.shuffle(bucket)
      for record in bucket:
        tfrecord_io.write_record(out, record)


def _spilled(names: Sequence[str]) -> Iterator[List[bytes]]:
  """The records of each bucket file, one file in memory at a time; each
  file is removed once read."""
  for name in names:
    with open(name, "rb") as f:
      bucket = list(tfrecord_io.read_records(f))
    os.remove(name)
    yield bucket


def count_metadata(num_instances: int, num_tokens: int,
                   inputs: Sequence[seed_reader.FileStats],
                   lines_without_pieces: int,
                   documents_without_instances: int) -> Dict:
  """The metadata.json entries known only once all documents are read.

  Every input file's size, sha256 and repairs (`seed_reader.FileStats`), the
  skipped lines by reason, the documents that gave no instance (a single
  word or token), and the instance and non-pad token counts.
  """
  return {
      "inputs": [s.to_json() for s in inputs],
      "skipped_lines": {
          "nul_bytes_only": sum(s.nul_only_lines for s in inputs),
          "no_pieces": lines_without_pieces},
      "documents_without_instances": documents_without_instances,
      "num_instances": num_instances, "num_tokens": num_tokens}


def metadata(args: argparse.Namespace, vocab_size: int, counts: Dict) -> Dict:
  """The metadata.json contents: the tool and its version, `counts` (from
  `count_metadata`), sizes, the vocabulary and its sha256, all flags."""
  with io_utils.open_file(args.sp_model_file, "rb") as f:
    sha256 = hashlib.sha256(f.read()).hexdigest()
  return {
      "format": "albert_pretraining",
      # The name records have carried since 0.1 (the command's old path).
      "tool": {"name": "official_albert.data.create_pretraining_data",
               "version": official_albert.__version__},
      **counts, "max_seq_length": args.max_seq_length,
      "max_predictions_per_seq": args.max_predictions_per_seq,
      "vocab_size": vocab_size,
      "sp_model_file": (args.sp_model_file if io_utils.is_url(
          args.sp_model_file) else os.path.abspath(args.sp_model_file)),
      "sp_model_sha256": sha256, "do_lower_case": args.do_lower_case,
      "files": shard_names(args.num_shards), "settings": vars(args)}


def create_pretraining_data(args: argparse.Namespace) -> Dict:
  """Writes the records and metadata.json for parsed flags `args`.

  Returns:
    The metadata dictionary.

  Raises:
    errors.UserError: bad flags, inputs or SentencePiece model.
  """
  check_args(args)
  if args.num_workers < 1:
    errors.fail("--num_workers must be >= 1; fix the flag")
  files = input_files(args.input_file)
  _init_worker(args)
  names = shard_names(args.num_shards)
  num_docs = num_instances = num_tokens = 0
  no_pieces = no_instances = 0
  stats = []
  start = time.time()
  with io_utils.atomic_path(args.output_dir) as tmp_dir, \
      tempfile.TemporaryDirectory() as local_tmp:
    io_utils.makedirs(tmp_dir)
    # Shuffle buckets spill beside the output, or locally for a URL output.
    spill_dir = local_tmp if io_utils.is_url(tmp_dir) else tmp_dir
    results = _ordered_results(
        read_documents(files, args.max_seq_length, stats), args.num_workers)
    unshuffled = [io_utils.join(tmp_dir, "." + n) for n in names]
    writers = [io_utils.open_file(p, "wb") for p in unshuffled]
    shard_bytes = [0] * args.num_shards
    for records, skipped in tqdm.tqdm(results, unit="doc", file=sys.stderr,
                                      mininterval=1.0, desc="documents"):
      num_docs += 1
      no_pieces += skipped
      no_instances += not records
      for record, length in records:
        k = num_instances % args.num_shards
        tfrecord_io.write_record(writers[k], record)
        shard_bytes[k] += len(record)
        num_instances += 1
        num_tokens += length
    for writer in writers:
      writer.close()
    if not num_instances:
      errors.fail(f"no instances from {files} ({num_docs} documents); pass "
                  "seed-format text with sentences of at least two words")
    for k, name in enumerate(names):
      # At most one shuffle bucket in memory at a time.
      with io_utils.open_file(unshuffled[k], "rb") as f:
        write_shuffled_shard(io_utils.join(tmp_dir, name),
                             tfrecord_io.read_records(f), shard_bytes[k],
                             args.random_seed, k, spill_dir=spill_dir)
      io_utils.remove(unshuffled[k])
    meta = metadata(args, _builder.tokenizer.vocab_size, count_metadata(
        num_instances, num_tokens, stats, no_pieces, no_instances))
    with io_utils.open_file(io_utils.join(tmp_dir, "metadata.json"), "w") as f:
      json.dump(meta, f, indent=2)
  seconds = time.time() - start
  print(f"wrote {num_instances} instances from {num_docs} documents to "
        f"{args.output_dir} in {seconds:.1f} s "
        f"({num_docs / seconds:.1f} documents/s)")
  return meta


def flag_parser(description: str) -> argparse.ArgumentParser:
  """The flags shared with the Beam pipeline (as the original script's)."""
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--input_file", nargs="+", required=True,
                      help="seed-format files or globs; *.gz is read compressed")
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--sp_model_file", required=True)
  parser.add_argument("--do_lower_case", action="store_true")
  parser.add_argument("--max_seq_length", type=int, default=512)
  parser.add_argument("--max_predictions_per_seq", type=int, default=20)
  parser.add_argument("--masked_lm_prob", type=float, default=0.15)
  parser.add_argument("--short_seq_prob", type=float, default=0.1)
  parser.add_argument("--dupe_factor", type=int, default=40)
  parser.add_argument("--ngram", type=int, default=3)
  parser.add_argument("--random_seed", type=int, default=12345)
  parser.add_argument("--num_shards", type=int, default=1)
  return parser


def parse_args(argv=None) -> argparse.Namespace:
  """Parses the command line: the shared flags and --num_workers."""
  parser = flag_parser(__doc__.split("\n")[0])
  parser.add_argument("--num_workers", type=int, default=1)
  return parser.parse_args(argv)


def main(argv=None) -> None:
  """Command-line entry point (see the module doc)."""
  create_pretraining_data(parse_args(argv))


if __name__ == "__main__":
  errors.run_cli(main)
