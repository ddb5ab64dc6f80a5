"""GLUE test sets: unlabelled `test.tsv` records and leaderboard file names.

A GLUE test file has no label column; its first column (`index`, `id` for
QQP) numbers the rows, and the leaderboard wants one prediction per index in
a file named after the task (`SST-2.tsv`, `MNLI-m.tsv`, ...; the names of
the GLUE submission format, gluebenchmark.com/faq, and of the original
`run_classifier.py` processors' test sets). Texts are read with the dev/train
reader (`classification_data.read_examples`) by column name, since test
files have a header even for CoLA, whose train and dev files do not.

Records are those of `classification_data.write_records(unlabelled=True)`:
a placeholder label 0 (so that the loader's features are the usual ones) and
`example_id` = the file's own index; `metadata.json` marks the file `"labelled": false`,
which makes `albert/sentence_prediction` write the leaderboard file instead
of scoring (see `tasks.sentence_prediction`).
"""

import os
from typing import Dict, Optional

from official_albert.data.finetuning import classification_data as cd

# GLUE file name -> leaderboard file stem, per task (MNLI has two test sets).
TEST_FILES: Dict[str, Dict[str, str]] = {
    "cola": {"test.tsv": "CoLA"},
    "sst-2": {"test.tsv": "SST-2"},
    "mrpc": {"test.tsv": "MRPC"},
    "qqp": {"test.tsv": "QQP"},
    "sts-b": {"test.tsv": "STS-B"},
    "mnli": {"test_matched.tsv": "MNLI-m", "test_mismatched.tsv": "MNLI-mm"},
    "qnli": {"test.tsv": "QNLI"},
    "rte": {"test.tsv": "RTE"},
    "wnli": {"test.tsv": "WNLI"},
}

# Text columns of the test files (by header name), and the index column.
_TEST_COLUMNS = {
    "cola": ("sentence", None),
    "sst-2": ("sentence", None),
    "qqp": ("question1", "question2"),
    "qnli": ("question", "sentence"),
}
_INDEX_COLUMN = {"qqp": "id"}


def is_test_file(task: str, path: str) -> bool:
  """Whether `path` is one of the unlabelled GLUE test files of `task`."""
  return os.path.basename(path) in TEST_FILES.get(task, {})


def test_spec(task: str) -> cd.TableSpec:
  """How to read `task`'s test file: its text columns, and the index column
  in the `label` slot (a test row's only non-text field)."""
  train = cd.GLUE_TASKS[task]
  text_a, text_b = _TEST_COLUMNS.get(task, (train.text_a, train.text_b))
  return cd.TableSpec(text_a, text_b, _INDEX_COLUMN.get(task, "index"),
                      is_regression=train.is_regression)


def submission_name(task: str, records_path: str) -> Optional[str]:
  """The leaderboard file name (`SST-2.tsv`) of a test records file, or None.

  Args:
    task: the GLUE task of the records (`metadata.json`'s `task`).
    records_path: a `.tfrecord` path from `create_finetuning_data`; its stem
      is the source file's (`test`, `test_matched`).
  """
  stem = os.path.splitext(os.path.basename(records_path))[0]
  name = TEST_FILES.get(task, {}).get(stem + ".tsv")
  return name + ".tsv" if name else None
