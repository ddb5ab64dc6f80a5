r"""create_pretraining_data as a Beam pipeline, for corpora beyond one machine.

Usage (DirectRunner on this machine; see docs/data_at_scale.md for Dataflow,
Flink and Spark):

  python -m official_albert.data.pretraining.beam_pipeline \
      --input_file 'corpus/*.txt' --output_dir /tmp/records \
      --sp_model_file assets/vocab/albert_demo_8k.model --do_lower_case \
      --max_seq_length 128 --dupe_factor 5 --num_shards 64 \
      --runner DirectRunner --direct_num_workers 2 \
      --direct_running_mode multi_processing

Takes the flags of `create_pretraining_data` except --num_workers (the
runner's options set the parallelism; Dataflow's own --num_workers passes
through), and any Beam pipeline options. The output directory is
byte-identical to `create_pretraining_data`'s for the same flags (shards and
metadata.json, whose `settings` lack num_workers), because the pipeline runs
the same code on the same keys:

1. Each input file is read whole by one worker (`seed_reader`), once to
   count its documents (and its repairs, for metadata.json) and once to emit
   them numbered globally (document d
   counted over all files in order), then the documents are redistributed.
2. `document_records(d)` builds document d's instances of all dupe rounds
   from its own seeded RNG, wherever it runs.
3. Instance i of document d gets the global number `offset[d] + i`, where
   `offset` are the prefix sums of the per-document counts (a side input of
   one integer per document), and goes to shard `number % num_shards`, as
   the sequential writer's round-robin does.
4. Each shard is grouped on one worker, put in global order and written by
   `write_shuffled_shard` with the same seeded shuffle.

Memory: one worker holds one shard (use --num_shards to keep shards small)
and every worker the offsets (a Python dict, about 100 bytes per document).
--sp_model_file is read by the launcher and its bytes travel with the
pipeline, so workers need no copy. Bad input found by a worker (a file that
is not UTF-8) comes back as errors.UserError, and Beam options that Beam
does not know (a misspelt flag of ours) are refused, not ignored.

Output: a local --output_dir is written atomically as a whole directory
(io_utils.atomic_path; workers must see the launcher's filesystem, as with
the DirectRunner or a shared mount). A URL (gs://, hdfs://; any filesystem
Beam and tf.io both support) is written in place; metadata.json is renamed
into place last, so its presence marks a complete directory.

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.data.pretraining.beam_pipeline \
      --input_file /tmp/albert_example/seed.txt \
      --output_dir /tmp/albert_example/beam_records \
      --sp_model_file assets/vocab/albert_demo_8k.model --do_lower_case \
      --max_seq_length 64 --max_predictions_per_seq 10 --dupe_factor 1 \
      --runner DirectRunner
"""

import argparse
import contextlib
import json
import re
import sys
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions
import tensorflow as tf

from official_albert import errors, io_utils
from official_albert.data.pretraining import create_pretraining_data as cpd
from official_albert.data.pretraining import seed_reader

_PENDING_METADATA = ".metadata.json.pending"


def _matches(pattern: str) -> List[str]:
  """The files a glob matches on any Beam filesystem (local, gs://, ...)."""
  try:
    result = FileSystems.match([pattern])[0]
  except beam.io.filesystem.BeamIOError:  # e.g. a missing bucket or folder
    return []
  return [m.path for m in result.metadata_list]


def _file_documents(path: str, stats: seed_reader.FileStats
                    ) -> Iterator[List[str]]:
  """The documents of one seed-format file on any Beam filesystem.

  Raises:
    errors.UserError: the file is not UTF-8 text (after gunzip for `*.gz`).
  """
  raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
  with seed_reader.open_seed_file(path, raw) as f:
    yield from seed_reader.file_documents(f, stats)


def _read_file_stats(file: Tuple[int, str], max_seq_length: int
                     ) -> Tuple[int, seed_reader.FileStats]:
  """(file number, what reading the whole file found: documents, repairs)."""
  index, path = file
  stats = seed_reader.FileStats(
      path, seed_reader.LONG_LINE_FACTOR * max_seq_length)
  for _ in _file_documents(path, stats):
    pass
  return index, stats


def _numbered_documents(file: Tuple[int, str],
                        stats: Dict[int, seed_reader.FileStats]
                        ) -> Iterator[Tuple[int, List[str]]]:
  """(global document number, sentences) for each document of one file."""
  index, path = file
  first = sum(stats[i].documents for i in range(index))
  # A second reading of the file: no second long-line warning.
  quiet = seed_reader.FileStats(path, long_line_words=sys.maxsize)
  yield from enumerate(_file_documents(path, quiet), start=first)


class _DocumentRecords(beam.DoFn):
  """(d, sentences) -> (d, `cpd.document_records` of document d).

  Carries the SentencePiece model's bytes, so that remote workers need no
  copy of the launcher's --sp_model_file.
  """

  def __init__(self, args: argparse.Namespace, model: bytes):
    self._args = args
    self._model = model
    self._builder = None

  def setup(self):
    # Once per worker: loading the SentencePiece model is not free.
    with tempfile.NamedTemporaryFile(suffix=".model") as f:
      f.write(self._model)
      f.flush()
      self._builder = cpd.make_builder(
          argparse.Namespace(**dict(vars(self._args), sp_model_file=f.name)))

  def process(self, document: Tuple[int, List[str]]
              ) -> Iterator[Tuple[int, cpd.DocumentRecords]]:
    index, sentences = document
    yield index, cpd.document_records(self._builder, self._args, index,
                                      sentences)


def _offsets(counts: Sequence[Tuple[int, int]]) -> Dict[int, int]:
  """Global number of each document's first instance, from (d, count)."""
  offsets, total = {}, 0
  for index, count in sorted(counts):
    offsets[index] = total
    total += count
  return offsets


def _to_shards(document: Tuple[int, cpd.DocumentRecords],
               offsets: Dict[int, int], num_shards: int
               ) -> Iterator[Tuple[int, Tuple[int, bytes]]]:
  """(shard, (global instance number, record)) for one document's records."""
  index, result = document
  for i, (record, _) in enumerate(result.records):
    number = offsets[index] + i
    yield number % num_shards, (number, record)


def _write_shard(shard: Tuple[int, Sequence[Tuple[int, bytes]]],
                 directory: str, args: argparse.Namespace) -> None:
  """Writes one shard as `create_pretraining_data` does."""
  k, numbered = shard
  records = [record for _, record in sorted(numbered)]
  path = FileSystems.join(directory, cpd.shard_names(args.num_shards)[k])
  cpd.write_shuffled_shard(path, records, sum(map(len, records)),
                           args.random_seed, k)


def _totals(document: Tuple[int, cpd.DocumentRecords]
            ) -> Tuple[int, int, int, int]:
  """(instances, non-pad tokens, lines without pieces, 1 if no instance)."""
  records, no_pieces = document[1]
  return (len(records), sum(n for _, n in records), no_pieces,
          int(not records))


def _write_metadata(totals: Tuple[int, int, int, int], directory: str,
                    meta: Dict,
                    stats: Sequence[Tuple[int, seed_reader.FileStats]]
                    ) -> None:
  """Writes `meta` with the counts under its pending name (see `run`)."""
  meta = dict(meta, **cpd.count_metadata(
      totals[0], totals[1], [s for _, s in sorted(stats)], totals[2],
      totals[3]))
  with tf.io.gfile.GFile(FileSystems.join(directory, _PENDING_METADATA),
                         "w") as f:
    json.dump(meta, f, indent=2)


def build_pipeline(pipeline: beam.Pipeline, args: argparse.Namespace,
                   files: Sequence[str], directory: str, meta: Dict) -> None:
  """Adds the stages (see the module doc) writing into `directory`.

  Args:
    pipeline: the pipeline to add to.
    args: the parsed flags.
    files: the input files, in order.
    directory: where shards and the pending metadata go.
    meta: `cpd.metadata` for the flags; the pipeline fills in the counts.
  """
  with open(args.sp_model_file, "rb") as f:
    model = f.read()
  numbered_files = pipeline | "Files" >> beam.Create(list(enumerate(files)))
  stats = numbered_files | "CountDocuments" >> beam.Map(
      _read_file_stats, args.max_seq_length)
  records = (
      numbered_files
      | "ReadDocuments" >> beam.FlatMap(_numbered_documents,
                                        beam.pvalue.AsDict(stats))
      # Spreads one file's documents over all workers.
      | "Redistribute" >> beam.Reshuffle()
      | "BuildInstances" >> beam.ParDo(_DocumentRecords(args, model)))
  offsets = (
      records
      | "InstanceCounts" >> beam.Map(lambda r: (r[0], len(r[1].records)))
      | "AllCounts" >> beam.combiners.ToList()
      | "Offsets" >> beam.Map(_offsets))
  # Every shard key, so that a shard without instances is still written.
  empty = pipeline | "ShardKeys" >> beam.Create(
      [(k, None) for k in range(args.num_shards)])
  _ = (
      (records | "AssignShards" >> beam.FlatMap(
          _to_shards, beam.pvalue.AsSingleton(offsets), args.num_shards),
       empty)
      | "WithEmpty" >> beam.Flatten()
      | "GroupShards" >> beam.GroupByKey()
      | "DropKeys" >> beam.MapTuple(
          lambda k, values: (k, [v for v in values if v is not None]))
      | "WriteShards" >> beam.Map(_write_shard, directory, args))
  _ = (
      records
      | "Totals" >> beam.Map(_totals)
      | "Sum" >> beam.CombineGlobally(
          beam.combiners.TupleCombineFn(sum, sum, sum, sum))
      | "WriteMetadata" >> beam.Map(_write_metadata, directory, meta,
                                    beam.pvalue.AsList(stats)))


def _staging(output_dir: str):
  """Where the pipeline writes: a temporary local directory or the URL."""
  if "://" in output_dir:
    return contextlib.nullcontext(output_dir)
  return io_utils.atomic_path(output_dir)


def run(args: argparse.Namespace, pipeline_argv: Sequence[str]) -> Dict:
  """Runs the pipeline for parsed flags `args` and Beam options.

  Returns:
    The metadata dictionary.

  Raises:
    errors.UserError: bad flags (ours or unknown to Beam), inputs or
      SentencePiece model, or no instances.
  """
  cpd.check_args(args)
  options = PipelineOptions(pipeline_argv)
  # Beam only warns about flags it does not know; a misspelt flag of ours
  # would silently leave its default.
  unknown = set(options.get_all_options(retain_unknown_options=True)) - set(
      options.get_all_options())
  if unknown:
    errors.fail(f"unknown flags {sorted(unknown)}; see --help of this tool "
                "and of Beam's pipeline options")
  if "://" in args.output_dir and tf.io.gfile.exists(args.output_dir) and (
      tf.io.gfile.listdir(args.output_dir)):
    errors.fail(f"--output_dir {args.output_dir!r} exists and is not empty; "
                "pass a new directory or remove it")
  files = cpd.input_files(args.input_file, match=_matches)
  # Fails here, before any worker starts, on a bad model.
  meta = cpd.metadata(args, cpd.make_builder(args).tokenizer.vocab_size, {})
  with _staging(args.output_dir) as directory:
    tf.io.gfile.makedirs(directory)
    try:
      with beam.Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, args, files, directory, meta)
    except Exception as e:  # pylint: disable=broad-except
      # Runners re-raise a worker's exception with the step's name appended,
      # or report it as the text of its traceback; a UserError (e.g. a file
      # that is not UTF-8) stays the user's to fix.
      found = re.findall(r"UserError: (.*?)(?: \[while running .*\])?$",
                         f"{type(e).__name__}: {e}", re.MULTILINE)
      if found:
        errors.fail(found[-1])
      raise
    pending = FileSystems.join(directory, _PENDING_METADATA)
    with tf.io.gfile.GFile(pending) as f:
      meta = json.load(f)
    if not meta["num_instances"]:
      tf.io.gfile.remove(pending)
      errors.fail(f"no instances from {files}; pass seed-format text with "
                  "sentences of at least two words")
    tf.io.gfile.rename(pending, FileSystems.join(directory, "metadata.json"))
  print(f"wrote {meta['num_instances']} instances to {args.output_dir}")
  return meta


def main(argv: Optional[List[str]] = None) -> None:
  """Command-line entry point: our flags, then Beam's (see the module doc)."""
  parser = cpd.flag_parser(__doc__.split("\n")[0])
  args, pipeline_argv = parser.parse_known_args(
      sys.argv[1:] if argv is None else argv)
  run(args, pipeline_argv)


if __name__ == "__main__":
  errors.run_cli(main)
