"""SQuAD v1.1 / v2.0 examples and features for ALBERT span prediction.

Follows the original ALBERT `squad_utils.py` / Model Garden's `squad_lib_sp`
(whose `SquadExample`, `InputFeatures`, max-context rule, `FeatureWriter` and
`postprocess_output` are reused): each question is paired with windows of
its paragraph, `[CLS] question [SEP] paragraph window [SEP]`, question cut to
`max_query_length` pieces, windows `doc_stride` pieces apart
(Devlin et al., 2019, section 4.2; defaults 384/128/64).

What differs is the map from pieces back to the original text. The original
aligns the pieces to the context with a character-level longest-common-
subsequence search and drops examples where that fails. Here every original
character is normalised on its own (`preprocess_text`), so each normalised
character knows the original characters it came from, and each piece is
located in the normalised text by a forward search; pieces whose text does
not appear verbatim (`<unk>`, or characters SentencePiece's own normaliser
changed) take the gap between their located neighbours. A predicted span
therefore comes back as the exact original context substring, and no
example is dropped.

Bad input raises `UserError` naming the file and question id: a missing
field, an answer whose text is not at its `answer_start` in the context, a
training question (v1.1) without an answer.
"""

import collections
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from official.nlp.data import squad_lib_sp

from official_albert import errors
from official_albert import mg_internals
from official_albert.data import tokenization
from official_albert.metrics import squad as squad_metrics

# Unique ids start here, as in the original, so they never collide with
# example indices.
_BASE_UNIQUE_ID = 1000000000
# A window of the paragraph's pieces, the shape `is_max_context` expects.
_Window = collections.namedtuple("Window", ["start", "length"])


def read_examples(path: str, is_training: bool,
                  version_2_with_negative: bool
                  ) -> List[squad_lib_sp.SquadExample]:
  """Reads a SQuAD JSON file.

  For training, a question's first answer is its target (the dev sets list
  several); in v2.0 an `is_impossible` question targets the [CLS] position.

  Args:
    path: a SQuAD v1.1 or v2.0 JSON file.
    is_training: check and keep answer offsets.
    version_2_with_negative: accept unanswerable questions.

  Returns:
    `SquadExample`s in file order; `start_position` is the answer's
    character offset in the context (-1 when impossible), None for eval.

  Raises:
    UserError: on a missing or malformed file, a question lacking a field,
      an answer not found at its offset, an unanswerable question in v1.1
      training data.
  """
  examples = []
  for article in squad_metrics.load_dataset(path):
    for paragraph in article.get("paragraphs", []):
      context = paragraph.get("context")
      for qa in paragraph.get("qas", []):
        qid = qa.get("id", "?")
        if context is None or "question" not in qa or "id" not in qa:
          errors.fail(f"{path}: question {qid!r} lacks 'id', 'question' or "
                      "its paragraph's 'context'; fix the record")
        answers = qa.get("answers", [])
        impossible = bool(qa.get("is_impossible", False)) or not answers
        for answer in answers:
          start, text = answer.get("answer_start"), answer.get("text", "")
          if not isinstance(start, int) or (
              context[start:start + len(text)] != text):
            found = (context[start:start + len(text)]
                     if isinstance(start, int) else None)
            errors.fail(f"{path}: question {qid!r}: answer {text!r} is not "
                        f"at answer_start={start} (the context has {found!r} "
                        "there); fix answer_start")
        if is_training and impossible and not version_2_with_negative:
          errors.fail(f"{path}: question {qid!r} has no answer, which SQuAD "
                      "v1.1 training cannot use; pass --version 2.0 or add "
                      "the answer")
        example = squad_lib_sp.SquadExample(
            qas_id=qid, question_text=qa["question"], paragraph_text=context,
            is_impossible=impossible)
        if is_training:
          example.orig_answer_text = "" if impossible else answers[0]["text"]
          example.start_position = (
              -1 if impossible else answers[0]["answer_start"])
        examples.append(example)
  if not examples:
    errors.fail(f"{path}: no questions found; pass a SQuAD dataset file")
  return examples


def normalize_with_offsets(text: str, lower_case: bool = True
                           ) -> Tuple[str, List[int], List[int]]:
  """`preprocess_text` applied character by character, with provenance.

  Args:
    text: the original context.
    lower_case: as in `preprocess_text`.

  Returns:
    `(normalized, first, last)`: the normalised text, and for each of its
    characters the first and last index (inclusive) of the original
    characters it came from. `normalized` equals `preprocess_text(text)`
    except in rare cases (a lone spacing diacritic, context-dependent case
    mappings), which the piece alignment tolerates.
  """
  chars, first, last = [], [], []
  for match in re.finditer(r"``|''|\s+|.", text, re.DOTALL):
    piece = match.group()
    if piece.isspace():
      out = " " if chars and chars[-1] != " " else ""
    elif piece in ("``", "''"):
      out = '"'
    else:
      out = tokenization.preprocess_text(piece, lower_case)
    for c in out:
      chars.append(c)
      first.append(match.start())
      last.append(match.end() - 1)
  if chars and chars[-1] == " ":
    chars.pop(), first.pop(), last.pop()
  return "".join(chars), first, last


def piece_char_spans(pieces: Sequence[str], normalized: str
                     ) -> List[Tuple[int, int]]:
  """Locates SentencePiece pieces in the text they were cut from.

  Args:
    pieces: pieces of `normalized` (from `AlbertTokenizer.tokenize`).
    normalized: the normalised text.

  Returns:
    For each piece, `[start, end)` character offsets in `normalized`. A
    piece whose text is not found just ahead (`<unk>`, a bare "▁", text the
    SentencePiece normaliser changed) shares the gap between the pieces
    located around it.
  """
  spans: List[Optional[Tuple[int, int]]] = [None] * len(pieces)
  pos, pending = 0, []

  def settle(end: int):
    for i in pending:
      spans[i] = (pos, max(pos, end))
    pending.clear()

  for i, piece in enumerate(pieces):
    text = piece.replace(tokenization.SPIECE_UNDERLINE, " ").strip()
    # Search only a short way ahead: skipped text belongs to pending pieces.
    window = pos + len(text) + 2 + 16 * len(pending)
    found = normalized.find(text, pos, window) if text else -1
    if piece == tokenization.UNK or found < 0:
      pending.append(i)
      continue
    settle(found)
    spans[i] = (found, found + len(text))
    pos = found + len(text)
  settle(len(normalized))
  return spans


def _piece_offsets(tokenizer: tokenization.AlbertTokenizer, context: str
                   ) -> Tuple[List[str], List[int], List[int]]:
  """Pieces of `context` and each piece's original [first, last] characters."""
  normalized, first, last = normalize_with_offsets(context,
                                                   tokenizer.lower_case)
  pieces = tokenizer.tokenize(context)
  starts, ends = [], []
  n = len(normalized)
  for start, end in piece_char_spans(pieces, normalized):
    start = min(start, n - 1)
    starts.append(first[start])
    ends.append(last[min(max(end - 1, start), n - 1)])
  return pieces, starts, ends


def convert_examples(examples: Sequence[squad_lib_sp.SquadExample],
                     tokenizer: tokenization.AlbertTokenizer,
                     max_seq_length: int, doc_stride: int,
                     max_query_length: int, is_training: bool,
                     output_fn: Callable[[squad_lib_sp.InputFeatures], None]
                     ) -> Dict[str, int]:
  """Turns examples into windowed features and passes each to `output_fn`.

  Each feature is a `squad_lib_sp.InputFeatures` with unpadded int lists
  `input_ids`, `input_mask`, `segment_ids` (length <= `max_seq_length`),
  `tokens` (piece strings), `tok_start_to_orig_index` /
  `tok_end_to_orig_index` (first / last original character of each window
  piece), `token_is_max_context`, `example_index`, `unique_id`; for training
  also `start_position` / `end_position` (token indices of the answer, 0 =
  [CLS] when the window lacks it or the question is impossible) and
  `is_impossible`.

  Returns:
    Counts: `examples`, `features`, `impossible_features`.

  Raises:
    ValueError: if `max_seq_length` leaves no room for the paragraph.
  """
  if max_seq_length - max_query_length - 3 <= 0 or doc_stride <= 0:
    raise ValueError(f"max_seq_length {max_seq_length} leaves no room for the "
                     f"paragraph after a {max_query_length}-piece question, or "
                     f"doc_stride {doc_stride} is not positive")
  counts = collections.Counter(examples=len(examples))
  unique_id = _BASE_UNIQUE_ID
  # A paragraph's questions are consecutive: keep the last paragraph's pieces.
  cache = {}
  for example_index, example in enumerate(examples):
    if example.paragraph_text not in cache:
      cache = {example.paragraph_text: _piece_offsets(
          tokenizer, example.paragraph_text)}
    pieces, starts, ends = cache[example.paragraph_text]
    query = tokenizer.tokenize(example.question_text)[:max_query_length]
    # [CLS] query [SEP] window [SEP]: a short question leaves a longer window.
    max_tokens_for_doc = max_seq_length - len(query) - 3
    if is_training and not example.is_impossible:
      answer_first = example.start_position
      answer_last = answer_first + len(example.orig_answer_text) - 1
      tok_start = next((i for i, e in enumerate(ends) if e >= answer_first),
                       len(pieces) - 1)
      tok_end = max([i for i, s in enumerate(starts) if s <= answer_last] +
                    [tok_start])

    windows, offset = [], 0
    while True:
      length = min(len(pieces) - offset, max_tokens_for_doc)
      windows.append(_Window(offset, length))
      if offset + length >= len(pieces):
        break
      offset += min(length, doc_stride)

    for window_index, window in enumerate(windows):
      tokens = [tokenization.CLS] + query + [tokenization.SEP]
      segment_ids = [0] * len(tokens)
      max_context = {}
      for i in range(window.start, window.start + window.length):
        max_context[len(tokens)] = mg_internals.is_max_context(
            windows, window_index, i)
        tokens.append(pieces[i])
      tokens.append(tokenization.SEP)
      segment_ids += [1] * (window.length + 1)
      feature = squad_lib_sp.InputFeatures(
          unique_id=unique_id, example_index=example_index,
          doc_span_index=window_index,
          tok_start_to_orig_index=starts[window.start:
                                         window.start + window.length],
          tok_end_to_orig_index=ends[window.start:window.start + window.length],
          token_is_max_context=max_context, tokens=tokens,
          input_ids=tokenizer.convert_tokens_to_ids(tokens),
          input_mask=[1] * len(tokens), segment_ids=segment_ids,
          paragraph_len=window.length)
      if is_training:
        doc_offset = len(query) + 2 - window.start
        inside = (not example.is_impossible and tok_start >= window.start and
                  tok_end < window.start + window.length)
        feature.start_position = tok_start + doc_offset if inside else 0
        feature.end_position = tok_end + doc_offset if inside else 0
        feature.is_impossible = not inside
        counts["impossible_features"] += not inside
      output_fn(feature)
      counts["features"] += 1
      unique_id += 1
  return dict(counts)

