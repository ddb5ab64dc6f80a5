"""Multiple-choice data: RACE in its original layout, or a user's JSONL/CSV.

RACE (Lai et al., 2017) unpacks to `RACE/{train,dev,test}/{middle,high}/*.txt`,
each file one JSON object (one article): `article`, `questions` (list),
`options` (a list of 4 options per question), `answers` (letters) and `id`.
A user's own data is a JSONL file of one question per line (`context`,
`question`, `options` list, `label` as a letter or a 0-based index, optional
`id`) or a CSV with a header naming `context`, `question`, `option_*`
columns (in header order) and `label`.

Each question becomes one sequence per option, as the original ALBERT
`race_utils.py` builds them: `[CLS] context [SEP] qa [SEP]`, where `qa` is
the question with its blank `_` replaced by the option (or the question, a
space and the option when there is no blank); `qa` keeps its last
`max_qa_length` pieces and the context is cut to fill the rest of
`max_seq_length`. The options of a question are stored padded to the longest
of them and flattened (`input_ids` `[num_options * length]`), so that the
input pipeline can batch questions of similar length (see
`finetune_dataloader.MultipleChoiceDataLoader`).

Bad input ends with a `UserError` naming the file and the line or question:
an answer letter outside the option letters (A-D for RACE), questions with
different numbers of options, lists of unequal length in a RACE article, a
line that is not JSON, a missing field.
"""

import csv
import dataclasses
import io
import json
import os
import string
from typing import Dict, Iterator, List, Optional, Sequence

import tensorflow as tf

from official_albert import errors
from official_albert.data.finetuning import classification_data as cd
from official_albert.data import tokenization

LEVELS = ("middle", "high")  # RACE's two subsets; level id = index, else -1.
SPLITS = ("train", "dev", "test")


@dataclasses.dataclass
class Question:
  """One multiple-choice question.

  Attributes:
    id: `<article id>-<question index>` for RACE, else the given id or
      `<file>:<line>`.
    level: index in `LEVELS`, or -1 outside RACE.
    context: the passage.
    qa_texts: one text per option, the option merged into the question.
    label: the 0-based index of the right option.
  """
  id: str
  level: int
  context: str
  qa_texts: List[str]
  label: int


def merge_option(question: str, option: str) -> str:
  """The question with its blank `_` filled by `option`, else followed by it
  (original `race_utils.RaceProcessor.read_examples`)."""
  if "_" in question:
    return question.replace("_", option)
  return " ".join([question, option])


def _label(where: str, answer, num_options: int) -> int:
  """A letter (`A`..) or 0-based index as an option index.

  Raises:
    UserError: if it names no option.
  """
  letters = string.ascii_uppercase[:num_options]
  if isinstance(answer, str) and len(answer) == 1 and answer in letters:
    return letters.index(answer)
  if isinstance(answer, int) and 0 <= answer < num_options:
    return answer
  if isinstance(answer, str) and answer.isdigit() and int(answer) < num_options:
    return int(answer)
  errors.fail(f"{where}: answer {answer!r} is not one of {list(letters)} "
              f"(or an index 0-{num_options - 1}); fix the answer")


def _read_json(path: str, line: int, text: str) -> dict:
  try:
    value = json.loads(text)
  except json.JSONDecodeError as e:
    errors.fail(f"{path}:{line}: not valid JSON ({e.msg}); one JSON object "
                "per line is expected")
  if not isinstance(value, dict):
    errors.fail(f"{path}:{line}: a JSON object is expected, got "
                f"{type(value).__name__}")
  return value


def _field(where: str, record: dict, name: str):
  if name not in record:
    errors.fail(f"{where}: no field {name!r}; the fields are "
                f"{sorted(record)}")
  return record[name]


def _race_article(path: str, line: int, record: dict,
                  level: int) -> Iterator[Question]:
  where = f"{path}:{line}"
  answers, options, questions = (_field(where, record, k) for k in
                                 ("answers", "options", "questions"))
  article = _field(where, record, "article")
  if not len(answers) == len(options) == len(questions):
    errors.fail(f"{where}: {len(questions)} questions, {len(options)} option "
                f"lists and {len(answers)} answers; they must be equal")
  article_id = record.get("id", os.path.basename(path))
  for i, (question, opts, answer) in enumerate(
      zip(questions, options, answers)):
    qid = f"{article_id}-{i}"
    yield Question(qid, level, article,
                   [merge_option(question, o) for o in opts],
                   _label(f"{path} question {qid}", answer, len(opts)))


def _race_split(directory: str) -> List[Question]:
  """Questions of `DIR/{middle,high}/*.txt`, in sorted file order."""
  questions = []
  for level, name in enumerate(LEVELS):
    for path in sorted(tf.io.gfile.glob(os.path.join(directory, name,
                                                     "*.txt"))):
      with tf.io.gfile.GFile(path) as f:
        for line, text in enumerate(f.read().splitlines(), 1):
          if text.strip():
            questions.extend(_race_article(
                path, line, _read_json(path, line, text), level))
  return questions


def race_splits(directory: str) -> Dict[str, List[Question]]:
  """The RACE splits under `directory`: the unpacked `RACE` folder (with
  `train/`, `dev/`, `test/`) or one split folder (with `middle/`, `high/`).

  Returns:
    Split name -> questions; a split folder is named by its base name.

  Raises:
    UserError: if no RACE files are found, or on bad input (see module doc).
  """
  has_levels = lambda d: any(tf.io.gfile.isdir(os.path.join(d, n))
                             for n in LEVELS)
  if has_levels(directory):
    name = os.path.basename(os.path.normpath(directory))
    found = {name: directory}
  else:
    found = {s: os.path.join(directory, s) for s in SPLITS
             if has_levels(os.path.join(directory, s))}
  if not found:
    errors.fail(f"--input_dir {directory!r} holds neither middle/ and high/ "
                "nor train/, dev/, test/ with them; point it at the unpacked "
                "RACE folder or one of its splits")
  return {name: _race_split(d) for name, d in found.items()}


def _from_record(where: str, record: dict, default_id: str,
                 labelled: bool) -> Question:
  options = _field(where, record, "options")
  if not isinstance(options, list) or len(options) < 2:
    errors.fail(f"{where}: 'options' must be a list of at least 2 texts")
  question = str(_field(where, record, "question"))
  return Question(str(record.get("id", default_id)), -1,
                  str(_field(where, record, "context")),
                  [merge_option(question, str(o)) for o in options],
                  _label(where, _field(where, record, "label"), len(options))
                  if labelled else -1)


def read_table(path: str, labelled: bool = True) -> List[Question]:
  """Questions of a user's `.jsonl` or `.csv` file (see the module doc).

  Args:
    path: the file.
    labelled: read the `label` field (questions to predict have none;
      their `label` is then -1).

  Raises:
    UserError: on a missing or empty file or bad input (see module doc).
  """
  if not tf.io.gfile.exists(path):
    errors.fail(f"input file {path!r} not found; check the path")
  with tf.io.gfile.GFile(path) as f:
    text = f.read()
  if path.lower().endswith(".csv"):
    # Quoted fields may hold newlines; reader.line_num is the row's last line.
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None) or []
    option_columns = [i for i, c in enumerate(header)
                      if c.startswith("option")]
    questions = []
    for row in rows:
      line = rows.line_num
      if not row:
        continue
      if len(row) != len(header):
        errors.fail(f"{path}:{line}: {len(row)} fields but the header has "
                    f"{len(header)}; fix the row")
      record = dict(zip(header, row))
      record["options"] = [row[i] for i in option_columns]
      questions.append(_from_record(f"{path}:{line}", record,
                                    f"{os.path.basename(path)}:{line}",
                                    labelled))
  else:
    questions = [_from_record(f"{path}:{line}", _read_json(path, line, t),
                              f"{os.path.basename(path)}:{line}", labelled)
                 for line, t in enumerate(text.splitlines(), 1) if t.strip()]
  if not questions:
    errors.fail(f"input file {path!r} has no questions")
  return questions


def check_option_counts(source: str, questions: Sequence[Question],
                        num_options: Optional[int] = None) -> int:
  """The common number of options.

  Raises:
    UserError: naming the first question whose count differs from the
      first question's (or from `num_options`).
  """
  want = num_options or len(questions[0].qa_texts)
  for q in questions:
    if len(q.qa_texts) != want:
      errors.fail(f"{source} question {q.id}: {len(q.qa_texts)} options "
                  f"where the others have {want}; every question needs the "
                  "same number of options")
  return want


def encode_question(tokenizer: tokenization.AlbertTokenizer,
                    question: Question, max_seq_length: int,
                    max_qa_length: int) -> Dict[str, List[List[int]]]:
  """`[CLS] context [SEP] qa [SEP]` per option (original `race_utils`).

  Returns:
    `input_ids` and `segment_ids`: one unpadded int list per option, each at
    most `max_seq_length` long (segment 0 for `[CLS] context [SEP]`, 1 for
    `qa [SEP]`).
  """
  context = tokenizer.encode(question.context)
  out = dict(input_ids=[], segment_ids=[])
  for text in question.qa_texts:
    qa = tokenizer.encode(text)[-max_qa_length:]
    ctx = context[:max(0, max_seq_length - 3 - len(qa))]
    out["input_ids"].append([tokenizer.cls_id] + ctx + [tokenizer.sep_id] +
                            qa + [tokenizer.sep_id])
    out["segment_ids"].append([0] * (len(ctx) + 2) + [1] * (len(qa) + 1))
  return out


def write_records(path: str, tokenizer: tokenization.AlbertTokenizer,
                  questions: Sequence[Question], max_seq_length: int,
                  max_qa_length: int) -> Dict[str, int]:
  """Writes one record per question (not atomically: see the caller).

  Features: `input_ids`, `input_mask`, `segment_ids` (int64
  `[num_options * length]`: the options padded with 0 to their longest,
  `length` <= `max_seq_length`), `num_options`, `label_ids` (option index),
  `example_id` (the question's position in `questions`), `level` (RACE
  level id, -1 outside RACE).

  Returns:
    Counts: `examples`, and `at_max_length` (questions whose longest option
    fills `max_seq_length`: their context was most likely cut).
  """
  counts = dict(examples=0, at_max_length=0)
  with tf.io.TFRecordWriter(path) as writer:
    for index, question in enumerate(questions):
      encoded = encode_question(tokenizer, question, max_seq_length,
                                max_qa_length)
      length = max(len(ids) for ids in encoded["input_ids"])
      pad = lambda rows: [v for r in rows for v in r + [0] * (length - len(r))]
      features = dict(
          input_ids=pad(encoded["input_ids"]),
          input_mask=pad([[1] * len(r) for r in encoded["input_ids"]]),
          segment_ids=pad(encoded["segment_ids"]),
          num_options=[len(question.qa_texts)], label_ids=[question.label],
          example_id=[index], level=[question.level])
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          k: cd.int_feature(v) for k, v in features.items()}))
                   .SerializeToString())
      counts["examples"] += 1
      counts["at_max_length"] += length == max_seq_length
  return counts


def write_questions(path: str, questions: Sequence[Question],
                    num_options: int) -> None:
  """Writes the questions' ids, levels and answers, one JSON line each in
  record order (not atomically: see the caller); prediction files name
  questions by these ids."""
  letters = string.ascii_uppercase
  with tf.io.gfile.GFile(path, "w") as f:
    for q in questions:
      f.write(json.dumps(dict(
          id=q.id, level=LEVELS[q.level] if q.level >= 0 else "",
          answer=letters[q.label] if num_options <= 26 else q.label)) + "\n")
