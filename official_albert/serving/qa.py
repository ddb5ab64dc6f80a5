"""Question answering with a fine-tuned SQuAD model.

The model (or its SavedModel `squad` signature) only scores token windows.
Everything around it is the evaluation's own code, so that served answers
are the ones `albert/squad` evaluation writes to `predictions.json`:
windows and piece-to-character maps by `data.squad_data.convert_examples`
(with the config's `seq_length`, `doc_stride`, `query_length`), answers by
`tasks.squad.decode_answers` (n-best, `max_answer_length`, v2.0 no-answer
threshold; for the beam SQuAD 2.0 head the start/end beam and `cls_logits`
through Model Garden's XLNet-style post-processing). That part is data-dependent (how many windows a context needs,
where each piece came from in the original text), which is why it is not
inside the SavedModel.
"""

import json
from typing import Dict, Iterator, List, Tuple

import numpy as np
from official.nlp.data import squad_lib_sp
from official.nlp.tasks import question_answering

from official_albert import errors
from official_albert import io_utils
from official_albert.data.finetuning import squad_data
from official_albert.data import tokenization
from official_albert.serving import finetuned
from official_albert.tasks import squad


def read_questions(path: str) -> List[squad_lib_sp.SquadExample]:
  """Reads JSONL questions: `question`, `context` and an optional `id`.

  A line without `id` gets its line number (as a string) as its id.

  Raises:
    UserError: if the file is missing or empty, a line is not a JSON object,
      lacks `question` or `context` (or they are not strings), or an id
      repeats.
  """
  if not io_utils.exists(path) or io_utils.isdir(path):
    errors.fail(f"input file {path!r} not found; pass a JSONL file of "
                "{\"question\": ..., \"context\": ...} lines")
  examples, seen = [], set()
  with io_utils.open_file(path) as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except json.JSONDecodeError as e:
        errors.fail(f"{path}:{number}: not JSON ({e.msg}); write one JSON "
                    "object per line")
      if not isinstance(record, dict) or not all(
          isinstance(record.get(k), str) for k in ("question", "context")):
        errors.fail(f"{path}:{number}: needs string fields 'question' and "
                    "'context'; fix the line")
      qid = str(record.get("id", number))
      if qid in seen:
        errors.fail(f"{path}:{number}: id {qid!r} repeats; give each "
                    "question its own id")
      seen.add(qid)
      examples.append(squad_lib_sp.SquadExample(
          qas_id=qid, question_text=record["question"],
          paragraph_text=record["context"]))
  if not examples:
    errors.fail(f"input file {path!r} is empty; write one question per line")
  return examples


def _best_spans(result, best: Dict, doc_offset: int
                ) -> Iterator[Tuple[int, int]]:
  """(start, end) paragraph-piece indices whose scores are `best`'s.

  A [CLS]-head result has per-position `start_logits` / `end_logits`; a
  beam result (`start_indexes` set) has the beam's sequence positions and
  log-probabilities, end `i * k + j` belonging to start `i`.
  """
  if getattr(result, "start_indexes", None) is None:
    starts = np.flatnonzero(result.start_logits == best["start_logit"])
    ends = np.flatnonzero(result.end_logits == best["end_logit"])
    for s in starts[starts >= doc_offset]:
      for e in ends[ends >= doc_offset]:
        yield s - doc_offset, e - doc_offset
    return
  per_start = len(result.end_indexes) // len(result.start_indexes)
  for i, start in enumerate(result.start_indexes):
    if result.start_logits[i] != best["start_logit"]:
      continue
    for j in range(i * per_start, (i + 1) * per_start):
      if result.end_logits[j] == best["end_logit"]:
        yield start - doc_offset, result.end_indexes[j] - doc_offset


def _char_start(example: squad_lib_sp.SquadExample, features, results,
                best: Dict) -> int:
  """Character offset of the best answer in the original context.

  `decode_answers` returns the answer's text, not where it came from: the
  span is found again as the window positions whose scores are the
  answer's and whose characters are its text. -1 for no answer.
  """
  if not best["text"]:
    return -1
  for feature in features:
    doc_offset = feature.tokens.index(tokenization.SEP) + 1
    for s, e in _best_spans(results[feature.unique_id], best, doc_offset):
      if 0 <= s <= e < len(feature.tok_end_to_orig_index):
        first = feature.tok_start_to_orig_index[s]
        raw = example.paragraph_text[
            first:feature.tok_end_to_orig_index[e] + 1]
        if raw.strip() == best["text"]:
          return first + len(raw) - len(raw.lstrip())
  return example.paragraph_text.find(best["text"])


def _result(feature, outputs: Dict[str, np.ndarray], row: int):
  """One window's result as Model Garden's post-processing takes it."""
  if "start_top_index" in outputs:  # The beam head.
    return question_answering.RawAggregatedResult(
        unique_id=feature.unique_id,
        start_logits=outputs["start_top_predictions"][row].tolist(),
        end_logits=outputs["end_top_predictions"][row].tolist(),
        start_indexes=outputs["start_top_index"][row].tolist(),
        end_indexes=outputs["end_top_index"][row].tolist(),
        class_logits=outputs["class_logits"][row])
  n = len(feature.input_ids)
  return question_answering.RawAggregatedResult(
      unique_id=feature.unique_id,
      start_logits=outputs["start_logits"][row, :n],
      end_logits=outputs["end_logits"][row, :n])


def answer(served: finetuned.Served,
           examples: List[squad_lib_sp.SquadExample],
           batch_size: int) -> List[Dict]:
  """Answers every question.

  Args:
    served: a SQuAD model (`finetuned.load`).
    examples: from `read_questions`.
    batch_size: windows per model call.

  Returns:
    One record per question, in input order: `id`, `answer` (exact
    substring of the context; "" for no answer with v2.0), `start`
    (character offset, -1 for no answer), `score` (start + end logit) and
    `probability` (softmax over the n-best), and for v2.0 `null_score_diff`
    (for the beam head: the smallest `cls_logits`; a no-answer then keeps
    the score and probability of the best span it overruled).

  Raises:
    UserError: if `served` is not a SQuAD model.
  """
  if served.kind != finetuned.SQUAD:
    errors.fail("this model is a classifier; use `predict classify`")
  config = served.params.task
  data = config.validation_data
  tokenizer = served.tokenizer
  features = []
  squad_data.convert_examples(examples, tokenizer, data.seq_length,
                              data.doc_stride, data.query_length, False,
                              features.append)
  results = {}
  for start in finetuned.batch_starts(len(features), batch_size, "qa"):
    chunk = features[start:start + batch_size]
    outputs = served.predict(finetuned.pad_batch(
        [dict(input_ids=f.input_ids, segment_ids=f.segment_ids)
         for f in chunk], tokenizer.pad_id))
    for row, feature in enumerate(chunk):
      results[feature.unique_id] = _result(feature, outputs, row)
  predictions, nbest, null_diffs = squad.decode_answers(
      config, examples, features, list(results.values()))
  by_example = {}
  for feature in features:
    by_example.setdefault(feature.example_index, []).append(feature)
  records = []
  for index, example in enumerate(examples):
    qid = example.qas_id
    text = predictions[qid]
    # The beam head's no-answer has no n-best entry of its own: its score
    # and probability are those of the best span it overruled.
    best = next((e for e in nbest[qid] if e["text"] == text), nbest[qid][0])
    record = dict(id=qid, answer=text, start=_char_start(
        example, by_example[index], results, dict(best, text=text)),
                  score=float(best["start_logit"] + best["end_logit"]),
                  probability=float(best["probability"]))
    if qid in null_diffs:
      record["null_score_diff"] = float(null_diffs[qid])
    records.append(record)
  return records
