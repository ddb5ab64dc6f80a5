"""Sentence(-pair) classification and regression data: GLUE and user tables.

A table (TSV, or CSV with standard quoting) is read by a `TableSpec` naming
the column of the first text, optionally of the second text, and of the
label. The nine GLUE tasks are presets (`GLUE_TASKS`) over their standard file
layout, the one the GLUE download script writes (CoLA without a header, MRPC
with a UTF-8 byte-order mark, MNLI dev as `dev_matched.tsv` and
`dev_mismatched.tsv`); a user's table uses the same reader with its own
column names. GLUE TSVs are read without quote handling, as the original
BERT/ALBERT processors do, because their texts contain unbalanced quotes.

Examples become ALBERT inputs `[CLS] a [SEP] (b [SEP])`, segment 0 for the
first part and 1 for the second, truncated one token at a time from the
longer text (original `run_classifier.py`), and are stored unpadded so that
the input pipeline can pad each batch only to its own length.

Bad input is the user's to fix and raises `UserError` naming the file and
line: an empty file, a missing column, a row with too few fields, an unknown
label, a regression target that is not a number. Nothing is skipped silently.
"""

import csv
import dataclasses
from typing import Dict, Iterator, List, Optional, Sequence, Union

import tensorflow as tf
from official.nlp.data import classifier_data_lib

from official_albert import errors
from official_albert.data import tokenization

Column = Union[str, int]


@dataclasses.dataclass(frozen=True)
class TableSpec:
  """How to read one kind of table.

  Attributes:
    text_a: column of the first text: a header name, or a 0-based index when
      `header` is False.
    text_b: column of the second text, or None for single sentences.
    label: column of the label.
    labels: the label strings in class-id order; None to infer them from the
      training file (sorted), or for regression.
    is_regression: the label is a float target (STS-B).
    header: the first row names the columns.
  """
  text_a: Column
  text_b: Optional[Column]
  label: Column
  labels: Optional[Sequence[str]] = None
  is_regression: bool = False
  header: bool = True


# Columns and label lists of the original ALBERT/BERT GLUE processors.
GLUE_TASKS: Dict[str, TableSpec] = {
    "cola": TableSpec(text_a=3, text_b=None, label=1, labels=("0", "1"),
                      header=False),
    "sst-2": TableSpec("sentence", None, "label", ("0", "1")),
    "mrpc": TableSpec("#1 String", "#2 String", "Quality", ("0", "1")),
    "qqp": TableSpec("question1", "question2", "is_duplicate", ("0", "1")),
    "sts-b": TableSpec("sentence1", "sentence2", "score", is_regression=True),
    "mnli": TableSpec("sentence1", "sentence2", "gold_label",
                      ("contradiction", "entailment", "neutral")),
    "qnli": TableSpec("question", "sentence", "label",
                      ("entailment", "not_entailment")),
    "rte": TableSpec("sentence1", "sentence2", "label",
                     ("entailment", "not_entailment")),
    "wnli": TableSpec("sentence1", "sentence2", "label", ("0", "1")),
}


@dataclasses.dataclass
class Example:
  """One row: its 1-based line in the file, texts and raw label string."""
  line: int
  text_a: str
  text_b: Optional[str]
  label: str


def _rows(path: str) -> Iterator[List[str]]:
  """Yields the rows of a TSV or CSV file; `reader.line_num` is kept exact."""
  if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
    errors.fail(f"input file {path!r} not found; check the path")
  if tf.io.gfile.stat(path).length == 0:
    errors.fail(f"input file {path!r} is empty; pass a file with a header "
                "and at least one row")
  is_csv = path.lower().endswith(".csv")
  with tf.io.gfile.GFile(path, "rb") as f:
    # Decoded line by line, keeping "\r\n" for csv (the newline="" of open);
    # utf-8-sig drops the byte-order mark that starts MRPC's header.
    lines = (line.decode("utf-8-sig" if i == 0 else "utf-8")
             for i, line in enumerate(f))
    if is_csv:
      reader = csv.reader(lines)
    else:
      reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
      yield reader.line_num, row


def _column_index(path: str, header: Optional[List[str]],
                  column: Column) -> int:
  if isinstance(column, int):
    return column
  if header is None:
    errors.fail(f"{path}: column {column!r} is a name but the table has no "
                "header; give the column as a 0-based index")
  if column not in header:
    errors.fail(f"{path}: no column named {column!r} in the header "
                f"{header}; pass the right column name")
  return header.index(column)


def read_examples(path: str, spec: TableSpec) -> List[Example]:
  """Reads every row of a table.

  Args:
    path: a `.tsv` (tab-separated, no quoting) or `.csv` (comma-separated,
      standard quoting) file, UTF-8 with or without a byte-order mark.
    spec: which columns hold the texts and the label.

  Returns:
    The examples in file order (blank lines skipped).

  Raises:
    UserError: if the file is missing or empty, a named column is not in the
      header, or a row has too few fields (message gives file and line).
  """
  rows = _rows(path)
  header = None
  if spec.header:
    _, header = next(rows, (0, None))
  columns = [_column_index(path, header, c)
             for c in (spec.text_a, spec.text_b, spec.label) if c is not None]
  examples = []
  for line, row in rows:
    if not row:
      continue
    if len(row) <= max(columns):
      errors.fail(f"{path}:{line}: row has {len(row)} fields but column "
                  f"{max(columns)} is needed; fix the row or the column "
                  "choice")
    fields = [row[i] for i in columns]
    text_b = fields[1] if spec.text_b is not None else None
    examples.append(Example(line, fields[0], text_b, fields[-1]))
  if not examples:
    errors.fail(f"input file {path!r} has no data rows; pass a non-empty "
                "table")
  return examples


def label_list(examples: Sequence[Example], spec: TableSpec) -> List[str]:
  """The class labels in id order: `spec.labels`, else those seen, sorted.

  Returns [] for regression.
  """
  if spec.is_regression:
    return []
  if spec.labels is not None:
    return list(spec.labels)
  return sorted({e.label for e in examples})


def label_value(path: str, example: Example, labels: Sequence[str],
                is_regression: bool) -> Union[int, float]:
  """The label of `example` as a class id or, for regression, a float.

  Raises:
    UserError: on a label not in `labels` or a non-numeric regression target
      (message gives file and line).
  """
  if is_regression:
    try:
      return float(example.label)
    except ValueError:
      errors.fail(f"{path}:{example.line}: regression target "
                  f"{example.label!r} is not a number; fix the row")
  if example.label not in labels:
    errors.fail(f"{path}:{example.line}: unknown label {example.label!r}; "
                f"the label list is {list(labels)} (pass --labels to set it)")
  return labels.index(example.label)


def encode_example(tokenizer: tokenization.AlbertTokenizer,
                   example: Example, max_seq_length: int) -> Dict[str, list]:
  """Token ids of `[CLS] a [SEP] (b [SEP])`, unpadded.

  Returns:
    `input_ids`, `input_mask` (all ones) and `segment_ids`, int lists of the
    same length, at most `max_seq_length`.
  """
  ids_a = tokenizer.encode(example.text_a)
  ids_b = tokenizer.encode(example.text_b) if example.text_b is not None else []
  specials = 3 if example.text_b is not None else 2
  classifier_data_lib._truncate_seq_pair(  # pylint: disable=protected-access
      ids_a, ids_b, max_seq_length - specials)
  input_ids = [tokenizer.cls_id] + ids_a + [tokenizer.sep_id]
  segment_ids = [0] * len(input_ids)
  if example.text_b is not None:
    input_ids += ids_b + [tokenizer.sep_id]
    segment_ids += [1] * (len(ids_b) + 1)
  return dict(input_ids=input_ids, input_mask=[1] * len(input_ids),
              segment_ids=segment_ids)


def int_feature(values: Sequence[int]) -> tf.train.Feature:
  """A `tf.train.Feature` holding int64 values."""
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def _row_index(source: str, example: Example, seen: set) -> int:
  """The GLUE index of an unlabelled row (held in `example.label`).

  Raises:
    UserError: if it is not a non-negative integer or repeats.
  """
  if not example.label.isdigit() or example.label in seen:
    errors.fail(f"{source}:{example.line}: index {example.label!r} is not a "
                "new non-negative integer; GLUE test rows are numbered 0, "
                "1, ... in their first column")
  seen.add(example.label)
  return int(example.label)


def write_records(path: str, tokenizer: tokenization.AlbertTokenizer,
                  examples: Sequence[Example], labels: Sequence[str],
                  spec: TableSpec, max_seq_length: int,
                  source: str, unlabelled: bool = False) -> Dict[str, int]:
  """Writes one TFRecord per example to `path` (not atomically: see callers).

  Features: `input_ids`, `input_mask`, `segment_ids` (int64, unpadded,
  at most `max_seq_length`), `label_ids` (int64 class id, or float for
  regression), `example_id` (int64 row order, for prediction files).

  Args:
    source: the input file name, for error messages.
    unlabelled: the rows are a GLUE test set read with
      `glue_submission.test_spec`: `example.label` holds the row's index, which
      becomes `example_id`; `label_ids` is a placeholder 0.

  Returns:
    Counts: `examples` written and `at_max_length`, how many fill all
    `max_seq_length` positions (those were most likely truncated).

  Raises:
    UserError: on an unknown label or a bad regression target; for
      unlabelled rows, on an index that is not a new non-negative integer.
  """
  counts = dict(examples=0, at_max_length=0)
  seen = set()
  with tf.io.TFRecordWriter(path) as writer:
    for index, example in enumerate(examples):
      if unlabelled:
        label, index = 0, _row_index(source, example, seen)
      else:
        label = label_value(source, example, labels, spec.is_regression)
      features = {k: int_feature(v) for k, v in
                  encode_example(tokenizer, example, max_seq_length).items()}
      if spec.is_regression:
        features["label_ids"] = tf.train.Feature(
            float_list=tf.train.FloatList(value=[label]))
      else:
        features["label_ids"] = int_feature([label])
      features["example_id"] = int_feature([index])
      counts["at_max_length"] += (
          len(features["input_ids"].int64_list.value) == max_seq_length)
      writer.write(tf.train.Example(features=tf.train.Features(
          feature=features)).SerializeToString())
      counts["examples"] += 1
  return counts
