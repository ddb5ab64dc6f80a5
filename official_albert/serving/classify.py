"""Batch classification (or regression) with a fine-tuned classifier.

Texts are tokenized in Python exactly as `create_finetuning_data` made the
training records (`classification_data.encode_example`: `[CLS] a [SEP]
(b [SEP])`, pair truncation of the original), batched by length so that a
batch is padded only to its own longest text, and scored by the model's
`classify` outputs (`finetuned.classifier_outputs`).
"""

from typing import Dict, List, Optional

import numpy as np

from official_albert import errors
from official_albert import io_utils
from official_albert.data.finetuning import classification_data
from official_albert.serving import finetuned


def read_texts(path: str, text_column: str, text_b_column: Optional[str]
               ) -> List[classification_data.Example]:
  """Reads the texts to classify.

  Args:
    path: a `.txt` file (one text per line; blank lines skipped), or a
      `.tsv` / `.csv` table with a header (`classification_data.read_examples`
      rules: TSV unquoted, CSV standard quoting).
    text_column: the table's column of the (first) text.
    text_b_column: the table's column of the second text, for pair tasks.

  Returns:
    Examples with their 1-based line numbers (labels are not read).

  Raises:
    UserError: if the file is missing or empty, a column is missing, a row
      is short, or a `.txt` file is given a second text column.
  """
  if not path.lower().endswith(".txt"):
    # The label column is not used; the text column stands in for it.
    spec = classification_data.TableSpec(text_column, text_b_column,
                                         label=text_column)
    return classification_data.read_examples(path, spec)
  if text_b_column:
    errors.fail(f"--text_b_column needs a .tsv or .csv table, but {path} is "
                "a .txt file of single texts")
  if not io_utils.exists(path) or io_utils.isdir(path):
    errors.fail(f"input file {path!r} not found; check the path")
  with io_utils.open_file(path) as f:
    examples = [classification_data.Example(n, line, None, "")
                for n, line in enumerate(f.read().splitlines(), 1)
                if line.strip()]
  if not examples:
    errors.fail(f"input file {path!r} is empty; write one text per line")
  return examples


def classify(served: finetuned.Served,
             examples: List[classification_data.Example], batch_size: int,
             seq_length: int) -> List[Dict]:
  """Predicts every example.

  Args:
    served: a classifier (`finetuned.load`).
    examples: from `read_texts`.
    batch_size: texts per model call.
    seq_length: longest token sequence, special tokens included.

  Returns:
    One record per example, in input order: `line`; `label` (name) and
    `probabilities` (label name -> probability), or `score` for regression.

  Raises:
    UserError: if `served` is not a classifier.
  """
  if served.kind != finetuned.CLASSIFIER:
    errors.fail("this model is a SQuAD model; use `predict qa`")
  tokenizer = served.tokenizer
  encoded = [classification_data.encode_example(tokenizer, e, seq_length)
             for e in examples]
  # Similar lengths together: less padding per batch.
  order = sorted(range(len(encoded)),
                 key=lambda i: len(encoded[i]["input_ids"]))
  records: List[Optional[Dict]] = [None] * len(examples)
  for start in finetuned.batch_starts(len(order), batch_size, "classify"):
    rows = order[start:start + batch_size]
    outputs = served.predict(finetuned.pad_batch([encoded[i] for i in rows],
                                                 tokenizer.pad_id))
    for k, i in enumerate(rows):
      record = dict(line=examples[i].line)
      if served.labels:
        record["label"] = served.labels[int(outputs["label_id"][k])]
        record["probabilities"] = dict(zip(
            served.labels, np.asarray(outputs["probabilities"][k]).tolist()))
      else:
        record["score"] = float(outputs["score"][k])
      records[i] = record
  return records
