"""Multiple choice with a fine-tuned `albert/race` model.

Questions are encoded exactly as `create_finetuning_data --task race` made
the training records (`multiple_choice_data.encode_question`: one
`[CLS] context [SEP] question+option [SEP]` per option, the question+option
part cut to its last `task.max_qa_length` pieces), batched by length, and
scored by the model's `multiple_choice` outputs.
"""

import string
from typing import Dict, List, Optional

import numpy as np

from official_albert import errors
from official_albert.data.finetuning import multiple_choice_data
from official_albert.serving import finetuned


def pad_options(encoded: List[Dict[str, List[List[int]]]], pad_id: int
                ) -> Dict[str, np.ndarray]:
  """Pads questions' option lists to `[batch, options, longest]` int32
  `input_word_ids`, `input_mask` and `input_type_ids`."""
  flat = [dict(input_ids=ids, segment_ids=seg) for e in encoded
          for ids, seg in zip(e["input_ids"], e["segment_ids"])]
  batch = finetuned.pad_batch(flat, pad_id)
  num_options = len(encoded[0]["input_ids"])
  return {k: v.reshape(len(encoded), num_options, -1)
          for k, v in batch.items()}


def choose(served: finetuned.Served,
           questions: List[multiple_choice_data.Question], batch_size: int,
           seq_length: Optional[int] = None) -> List[Dict]:
  """Picks an option for every question.

  Args:
    served: a multiple-choice model (`finetuned.load`).
    questions: from `multiple_choice_data.read_table` (JSONL or CSV).
    batch_size: questions per model call.
    seq_length: longest sequence per option (default: the fine-tuning one).

  Returns:
    One record per question, in input order: `id`, `prediction` (option
    letter), `index` (0-based) and `probabilities` (one per option).

  Raises:
    UserError: if `served` is not a multiple-choice model, or the questions
      do not all have the model's number of options.
  """
  if served.kind != finetuned.MULTIPLE_CHOICE:
    errors.fail(f"this model is a {served.kind} model, not albert/race; use "
                "the matching predict command")
  task = served.params.task
  multiple_choice_data.check_option_counts(
      "--input", questions, task.model.num_classes)
  tokenizer = served.tokenizer
  seq_length = seq_length or served.seq_length
  encoded = [multiple_choice_data.encode_question(
      tokenizer, q, seq_length, min(task.max_qa_length, seq_length - 3))
             for q in questions]
  order = sorted(range(len(encoded)),
                 key=lambda i: max(map(len, encoded[i]["input_ids"])))
  records: List[Optional[Dict]] = [None] * len(questions)
  for start in finetuned.batch_starts(len(order), batch_size,
                                         "multiple-choice"):
    rows = order[start:start + batch_size]
    outputs = served.predict(pad_options([encoded[i] for i in rows],
                                         tokenizer.pad_id))
    for k, i in enumerate(rows):
      index = int(outputs["prediction"][k])
      records[i] = dict(id=questions[i].id,
                        prediction=string.ascii_uppercase[index], index=index,
                        probabilities=np.asarray(
                            outputs["probabilities"][k]).round(6).tolist())
  return records
