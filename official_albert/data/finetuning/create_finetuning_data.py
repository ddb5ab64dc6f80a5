r"""Makes fine-tuning TFRecords: GLUE, a user's table, RACE, CoNLL or SQuAD.

  # A GLUE task in its standard layout (train.tsv, dev.tsv, the unlabelled
  # test.tsv; MNLI's dev_matched.tsv, dev_mismatched.tsv, test_matched.tsv,
  # test_mismatched.tsv):
  python -m official_albert.data.finetuning.create_finetuning_data --task mnli \
      --input_dir glue/MNLI --sp_model_file vocab.model --output_dir out/mnli

  # A user's table: named columns, labels inferred (sorted) or given:
  python -m official_albert.data.finetuning.create_finetuning_data --task custom \
      --input_files train.csv dev.csv --text_a_column review \
      --label_column stars --labels 1,2,3,4,5 --sp_model_file vocab.model \
      --output_dir out/reviews

  # RACE as unpacked (RACE/{train,dev,test}/{middle,high}/*.txt), or a
  # user's multiple-choice JSONL/CSV with --input_files:
  python -m official_albert.data.finetuning.create_finetuning_data --task race \
      --input_dir RACE --sp_model_file vocab.model --output_dir out/race

  # CoNLL token classification (train.txt, valid.txt, test.txt; IOB1 or
  # IOB2 tags in the last column):
  python -m official_albert.data.finetuning.create_finetuning_data --task conll \
      --input_dir conll2003 --sp_model_file vocab.model --output_dir out/ner

  # SQuAD training records (evaluation reads the JSON itself):
  python -m official_albert.data.finetuning.create_finetuning_data --task squad \
      --input_files train-v2.0.json --version_2_with_negative \
      --sp_model_file vocab.model --output_dir out/squad2

Each input file `NAME.ext` becomes `OUTPUT_DIR/NAME.tfrecord` (unpadded
`input_ids`, `input_mask`, `segment_ids`, plus `label_ids` and `example_id`,
or for SQuAD `start_positions`, `end_positions`, `is_impossible`,
`unique_ids`), and `OUTPUT_DIR/metadata.json` records the counts, the label
list and the settings; two inputs with the same NAME are refused. The outputs
are one unit: all are written to a staging directory first, so a failure on
any input leaves OUTPUT_DIR as it was; then the old metadata.json is removed,
the records moved in and the new metadata.json moved in last, so that a
metadata.json never describes records of another run.
Bad input ends with one line `error: ...` naming the file and line (or
question id) and exit status 2; nothing is skipped silently.

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.data.finetuning.create_finetuning_data \
      --task sst-2 --input_dir tests/data/glue/SST-2 \
      --sp_model_file assets/vocab/albert_demo_8k.model \
      --output_dir /tmp/albert_example/sst2 --max_seq_length 64
"""

import argparse
import contextlib
import json
import os
from typing import Dict, Iterator, List, Optional

import tensorflow as tf
from official.nlp.data import squad_lib_sp

from official_albert import errors
from official_albert import io_utils
from official_albert.data.finetuning import classification_data
from official_albert.data.finetuning import glue_submission
from official_albert.data.finetuning import multiple_choice_data
from official_albert.data.finetuning import tagging_data
from official_albert.data.finetuning import squad_data
from official_albert.data import tokenization

# Standard GLUE file names; those present in --input_dir are converted. The
# test files are unlabelled (see `glue_submission`).
_GLUE_FILES = ("train.tsv", "dev.tsv", "dev_matched.tsv", "dev_mismatched.tsv",
               "test.tsv", "test_matched.tsv", "test_mismatched.tsv")
_METADATA = "metadata.json"


def _input_files(args) -> List[str]:
  if bool(args.input_dir) == bool(args.input_files):
    errors.fail("pass exactly one of --input_dir (a GLUE task directory) and "
                "--input_files")
  if args.input_files:
    _check_output_names(args.input_files)
    return args.input_files
  files = [io_utils.join(args.input_dir, n) for n in _GLUE_FILES
           if io_utils.exists(io_utils.join(args.input_dir, n))]
  if not files:
    errors.fail(f"--input_dir {args.input_dir!r} has none of {_GLUE_FILES}; "
                "point it at a GLUE task directory")
  return files


def _table_spec(args) -> classification_data.TableSpec:
  if args.task in classification_data.GLUE_TASKS:
    return classification_data.GLUE_TASKS[args.task]
  if not args.text_a_column or not args.label_column:
    errors.fail("--task custom needs --text_a_column and --label_column")
  column = int if args.no_header else str
  try:
    columns = [column(c) if c else None for c in (
        args.text_a_column, args.text_b_column, args.label_column)]
  except ValueError:
    errors.fail("with --no_header, columns are 0-based indices; pass numbers")
  labels = args.labels.split(",") if args.labels else None
  return classification_data.TableSpec(
      *columns, labels=labels, is_regression=args.regression,
      header=not args.no_header)


def _output_path(output_dir: str, source: str) -> str:
  stem = os.path.splitext(os.path.basename(source))[0]
  return os.path.join(output_dir, stem + ".tfrecord")


def _check_output_names(sources: List[str]) -> None:
  """Raises errors.UserError if two inputs would write the same file."""
  seen = {}
  for source in sources:
    name = os.path.basename(_output_path("", source))
    if name in seen:
      errors.fail(f"--input_files {seen[name]!r} and {source!r} would both "
                  f"write {name}; rename one of them")
    seen[name] = source


@contextlib.contextmanager
def _staged_output(output_dir: str) -> Iterator[str]:
  """Yields a staging directory; on success publishes it into `output_dir`.

  Publishing removes the old metadata.json first and moves it in last, so an
  interrupted publish leaves no metadata.json rather than an old one beside
  new records. On an exception nothing in `output_dir` changes.
  """
  staging = io_utils.temp_beside(output_dir, ".staging")
  io_utils.makedirs(staging)
  try:
    yield staging
    io_utils.makedirs(output_dir)
    io_utils.remove(io_utils.join(output_dir, _METADATA))
    names = sorted(io_utils.listdir(staging), key=lambda n: n == _METADATA)
    for name in names:  # metadata.json last
      io_utils.replace(io_utils.join(staging, name),
                       io_utils.join(output_dir, name))
  finally:
    io_utils.remove(staging)


def make_classification(args, tokenizer, output_dir: str) -> Dict:
  """Converts GLUE or user tables into `output_dir`; returns the metadata."""
  spec = _table_spec(args)
  paths = _input_files(args)
  tests = {p for p in paths if glue_submission.is_test_file(args.task, p)}
  tables = {path: classification_data.read_examples(
      path, glue_submission.test_spec(args.task) if path in tests else spec)
            for path in paths}
  labels = classification_data.label_list(
      [e for path, examples in tables.items() if path not in tests
       for e in examples], spec)
  files = {}
  for path, examples in tables.items():
    out = _output_path(output_dir, path)
    with io_utils.atomic_path(out) as tmp:
      counts = classification_data.write_records(
          tmp, tokenizer, examples, labels, spec, args.max_seq_length, path,
          unlabelled=path in tests)
    files[os.path.basename(out)] = dict(source=path, labelled=path not in tests,
                                        **counts)
  return dict(label_list=labels, is_regression=spec.is_regression,
              num_classes=len(labels) or 1, files=files)


def make_squad(args, tokenizer, output_dir: str) -> Dict:
  """Converts SQuAD JSON into training records in `output_dir`; returns the
  metadata."""
  files = {}
  for path in _input_files(args):
    examples = squad_data.read_examples(path, True,
                                        args.version_2_with_negative)
    out = _output_path(output_dir, path)
    with io_utils.atomic_path(out) as tmp:
      writer = squad_lib_sp.FeatureWriter(tmp, is_training=True)
      counts = squad_data.convert_examples(
          examples, tokenizer, args.max_seq_length, args.doc_stride,
          args.max_query_length, True, writer.process_feature)
      writer.close()
    files[os.path.basename(out)] = dict(source=path, **counts)
  return dict(version_2_with_negative=args.version_2_with_negative,
              doc_stride=args.doc_stride,
              max_query_length=args.max_query_length, files=files)


def make_multiple_choice(args, tokenizer, output_dir: str) -> Dict:
  """Converts RACE (`--input_dir`) or JSONL/CSV questions (`--input_files`);
  returns the metadata. Beside each `NAME.tfrecord`, `NAME.questions.jsonl`
  lists the questions' ids, levels and answers in record order."""
  if bool(args.input_dir) == bool(args.input_files):
    errors.fail("pass exactly one of --input_dir (the RACE folder or one of "
                "its splits) and --input_files (JSONL/CSV)")
  if args.input_dir:
    sets = {os.path.join(args.input_dir, name): questions for name, questions
            in multiple_choice_data.race_splits(args.input_dir).items()}
  else:
    sets = {path: multiple_choice_data.read_table(path)
            for path in args.input_files}
  num_options = None
  files = {}
  for source, questions in sets.items():
    num_options = multiple_choice_data.check_option_counts(
        source, questions, num_options)
    out = _output_path(output_dir, source)
    with io_utils.atomic_path(out) as tmp:
      counts = multiple_choice_data.write_records(
          tmp, tokenizer, questions, args.max_seq_length, args.max_qa_length)
    with io_utils.atomic_path(out.replace(".tfrecord", ".questions.jsonl")
                              ) as tmp:
      multiple_choice_data.write_questions(tmp, questions, num_options)
    files[os.path.basename(out)] = dict(source=source, **counts)
  return dict(num_options=num_options, max_qa_length=args.max_qa_length,
              files=files)


_CONLL_FILES = ("train.txt", "valid.txt", "dev.txt", "test.txt")


def make_tagging(args, tokenizer, output_dir: str) -> Dict:
  """Converts CoNLL files (`--input_files`, or those of `_CONLL_FILES` in
  `--input_dir`); returns the metadata. Beside each `NAME.tfrecord`,
  `NAME.sentences.jsonl` holds the words and IOB2 tags in record order."""
  paths = args.input_files or [
      os.path.join(args.input_dir or "", n) for n in _CONLL_FILES
      if tf.io.gfile.exists(os.path.join(args.input_dir or "", n))]
  if bool(args.input_dir) == bool(args.input_files) or not paths:
    errors.fail("pass --input_files (CoNLL files) or an --input_dir holding "
                f"some of {_CONLL_FILES}")
  sets = {path: tagging_data.read_conll(path) for path in paths}
  labels = (args.labels.split(",") if args.labels else tagging_data.label_list(
      [s for sentences in sets.values() for s in sentences]))
  files = {}
  for path, sentences in sets.items():
    out = _output_path(output_dir, path)
    with io_utils.atomic_path(out) as tmp:
      counts = tagging_data.write_records(tmp, tokenizer, sentences, labels,
                                          args.max_seq_length, path)
    with io_utils.atomic_path(out.replace(".tfrecord", ".sentences.jsonl")
                              ) as tmp:
      tagging_data.write_sentences(tmp, sentences)
    files[os.path.basename(out)] = dict(source=path, **counts)
  return dict(label_list=labels, num_classes=len(labels), files=files)


def main(argv: Optional[List[str]] = None) -> None:
  """Command-line entry point (see the module doc)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument(
      "--task", required=True,
      choices=sorted(classification_data.GLUE_TASKS) + ["conll", "custom",
                                                         "race", "squad"])
  parser.add_argument("--input_dir", help="a GLUE task directory")
  parser.add_argument("--input_files", nargs="+",
                      help="TSV/CSV tables or SQuAD JSON files")
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--sp_model_file", required=True,
                      help="the SentencePiece model of the encoder")
  parser.add_argument("--lower_case", action=argparse.BooleanOptionalAction,
                      default=True, help="lower-case text (uncased models)")
  parser.add_argument("--max_seq_length", type=int,
                      help="default 512 for tables, 384 for SQuAD")
  parser.add_argument("--text_a_column", help="custom: first text column")
  parser.add_argument("--text_b_column", help="custom: second text column")
  parser.add_argument("--label_column", help="custom: label column")
  parser.add_argument("--labels", help="custom, conll: comma-separated label "
                      "list in class-id order (default: the labels seen, "
                      "sorted; for conll O first)")
  parser.add_argument("--regression", action="store_true",
                      help="custom: the label is a number")
  parser.add_argument("--no_header", action="store_true",
                      help="custom: no header row; columns are indices")
  parser.add_argument("--version_2_with_negative", action="store_true",
                      help="squad: SQuAD v2.0 (unanswerable questions)")
  parser.add_argument("--max_qa_length", type=int, default=128,
                      help="race: question+option pieces kept (the last)")
  parser.add_argument("--doc_stride", type=int, default=128)
  parser.add_argument("--max_query_length", type=int, default=64)
  args = parser.parse_args(argv)
  is_squad = args.task == "squad"
  args.max_seq_length = args.max_seq_length or (384 if is_squad else 512)
  if args.max_seq_length < 8:
    errors.fail(f"--max_seq_length {args.max_seq_length} is too short; use "
                "at least 8")
  try:
    tokenizer = tokenization.AlbertTokenizer(args.sp_model_file,
                                             args.lower_case)
  except (FileNotFoundError, ValueError) as e:
    errors.fail(str(e))
  if is_squad and args.max_seq_length - args.max_query_length - 3 < 1:
    errors.fail(f"--max_seq_length {args.max_seq_length} leaves no room for "
                f"the paragraph after a {args.max_query_length}-piece "
                "question; raise it or lower --max_query_length")
  if is_squad and args.doc_stride < 1:
    errors.fail(f"--doc_stride must be positive, got {args.doc_stride}")
  if args.task == "race" and not 0 < args.max_qa_length <= (
      args.max_seq_length - 3):
    errors.fail(f"--max_qa_length {args.max_qa_length} must be in 1.."
                f"{args.max_seq_length - 3} (--max_seq_length minus 3)")
  with _staged_output(args.output_dir) as staging:
    make = {"race": make_multiple_choice, "conll": make_tagging}.get(
        args.task, make_squad if is_squad else make_classification)
    metadata = make(args, tokenizer, staging)
    metadata.update(task=args.task, max_seq_length=args.max_seq_length,
                    sp_model_file=args.sp_model_file,
                    vocab_size=tokenizer.vocab_size,
                    lower_case=args.lower_case)
    with io_utils.open_file(io_utils.join(staging, _METADATA), "w") as f:
      json.dump(metadata, f, indent=2)
  for name, counts in metadata["files"].items():
    print(f"wrote {os.path.join(args.output_dir, name)}: {counts}")


if __name__ == "__main__":
  errors.run_cli(main)
