"""Named entities with a fine-tuned `albert/tagging` model.

Each line of text is split into words at whitespace (CoNLL tokens are such
words), encoded as `create_finetuning_data --task conll` made the training
records (`tagging_data.encode_sentence`: each word tokenized alone, a long
line cut into windows between words), and tagged on each word's first
piece. Entities are read from the IOB tags by the conlleval rules
(`seqeval`'s `get_entities`, as the evaluation) and given as character
offsets into the original line.
"""

import re
from typing import Dict, List, Optional

import numpy as np
from seqeval.metrics import sequence_labeling

from official_albert import errors
from official_albert.data.finetuning import tagging_data
from official_albert.serving import finetuned


def tag_lines(served: finetuned.Served, lines: List[str], batch_size: int,
              seq_length: Optional[int] = None) -> List[Dict]:
  """Tags every non-blank line.

  Args:
    served: a tagger (`finetuned.load`).
    lines: input lines (blank ones are skipped; numbering counts them).
    batch_size: windows per model call.
    seq_length: longest window (default: the fine-tuning length).

  Returns:
    One record per non-blank line: `line` (1-based), `words`, `tags` (one
    per word), and `entities`: a list of `type`, `start`, `end` (character
    offsets, end exclusive) and `text` (= the line's `[start:end]`).

  Raises:
    UserError: if `served` is not a tagger or has no `O` tag.
  """
  if served.kind != finetuned.TAGGER:
    errors.fail(f"this model is a {served.kind} model, not albert/tagging; "
                "use the matching predict command")
  if "O" not in served.labels:
    errors.fail(f"the model's tags {served.labels} have no 'O'; it was not "
                "trained on IOB tags")
  tokenizer = served.tokenizer
  seq_length = seq_length or served.seq_length
  texts = [(n, t) for n, t in enumerate(lines, 1) if t.strip()]
  spans = [[m.span() for m in re.finditer(r"\S+", t)] for _, t in texts]
  windows = []  # (text index, window)
  for i, ((_, text), offsets) in enumerate(zip(texts, spans)):
    words = [text[a:b] for a, b in offsets]
    sentence = tagging_data.Sentence(0, words, ["O"] * len(words))
    windows += [(i, w) for w in tagging_data.encode_sentence(
        tokenizer, sentence, served.labels, seq_length)]
  tags = [[] for _ in texts]
  for start in finetuned.batch_starts(len(windows), batch_size, "tag"):
    chunk = windows[start:start + batch_size]
    outputs = served.predict(finetuned.pad_batch(
        [dict(input_ids=w["input_ids"], segment_ids=[0] * len(w["input_ids"]))
         for _, w in chunk], tokenizer.pad_id))
    for k, (i, w) in enumerate(chunk):
      first = np.asarray(w["label_ids"]) >= 0
      ids = outputs["tag_id"][k][:len(first)][first]
      tags[i] += [served.labels[int(t)] for t in ids]
  records = []
  for (number, text), offsets, line_tags in zip(texts, spans, tags):
    entities = []
    for kind, first, last in sequence_labeling.get_entities(line_tags):
      start, end = offsets[first][0], offsets[last][1]
      entities.append(dict(type=kind, start=start, end=end,
                           text=text[start:end]))
    records.append(dict(line=number, words=[text[a:b] for a, b in offsets],
                        tags=line_tags, entities=entities))
  return records
