"""Token classification data: CoNLL files to per-piece label records.

A CoNLL file (CoNLL-2003: `token POS chunk NER`) has one token per line,
the token in the first column and its tag in the last; a blank line ends a
sentence and `-DOCSTART-` lines mark documents (skipped). Every line of a
file must have the column count of its first token line. Tags are IOB: `O`,
`B-TYPE` or `I-TYPE`. IOB1 files (an entity starts with `I-` unless it
follows one of the same type) and IOB2 files (every entity starts with `B-`)
both work: tags are read as IOB2 (an `I-TYPE` that starts an entity becomes
`B-TYPE`), which changes no entity (Tjong Kim Sang and Veenstra, 1999).

As in HuggingFace's token-classification examples and Model Garden's
`tagging` task, each word is tokenized on its own, its label goes on its
first piece, and the other pieces (and `[CLS]`, `[SEP]`) get -1, ignored by
the loss and the metric. A sentence longer than `max_seq_length - 2` pieces
is cut, between words, into several records (`sentence_id` ties them
together), so every word is labelled and predicted.

Bad input ends with a `UserError` naming the file and line: a line with
another number of columns, a tag that is not IOB, an empty file.
"""

import dataclasses
import json
import re
from typing import Dict, Iterator, List, Optional, Sequence

import tensorflow as tf

from official_albert import errors
from official_albert.data.finetuning import classification_data as cd
from official_albert.data import tokenization

DOCSTART = "-DOCSTART-"
_IOB = re.compile(r"^(O|[BI]-\S+)$")


@dataclasses.dataclass
class Sentence:
  """Words and their IOB2 tags; `line` is the 1-based line of the first."""
  line: int
  words: List[str]
  tags: List[str]


def to_iob2(tags: Sequence[str]) -> List[str]:
  """IOB1 (or IOB2) tags as IOB2: an `I-X` not after `B-X`/`I-X` -> `B-X`."""
  out = []
  for i, tag in enumerate(tags):
    if tag.startswith("I-") and (i == 0 or tags[i - 1][2:] != tag[2:]
                                 or tags[i - 1] == "O"):
      tag = "B-" + tag[2:]
    out.append(tag)
  return out


def _lines(path: str) -> Iterator[str]:
  if not tf.io.gfile.exists(path):
    errors.fail(f"input file {path!r} not found; check the path")
  with tf.io.gfile.GFile(path) as f:
    yield from f.read().splitlines()


def read_conll(path: str) -> List[Sentence]:
  """The sentences of a CoNLL file, tags as IOB2.

  Raises:
    UserError: on a line with another column count than the file's first
      token line, a tag that is not IOB, or a file without sentences
      (message gives file and line).
  """
  sentences, words, tags, columns, start = [], [], [], None, 0

  def flush():
    if words:
      sentences.append(Sentence(start, list(words), to_iob2(tags)))
    words.clear()
    tags.clear()

  for line, text in enumerate(_lines(path), 1):
    fields = text.split()
    if not fields:
      flush()
      continue
    if fields[0] == DOCSTART:
      flush()
      continue
    if columns is None:
      columns = len(fields)
      if columns < 2:
        errors.fail(f"{path}:{line}: one column; CoNLL lines need the token "
                    "first and the tag last")
    if len(fields) != columns:
      errors.fail(f"{path}:{line}: {len(fields)} columns where the file's "
                  f"lines have {columns}; fix the line (tokens cannot hold "
                  "spaces)")
    if not _IOB.match(fields[-1]):
      errors.fail(f"{path}:{line}: tag {fields[-1]!r} is not IOB (O, "
                  "B-TYPE or I-TYPE); convert the tags to IOB1 or IOB2")
    if not words:
      start = line
    words.append(fields[0])
    tags.append(fields[-1])
  flush()
  if not sentences:
    errors.fail(f"input file {path!r} has no sentences; pass a CoNLL file")
  return sentences


def label_list(sentences: Sequence[Sentence]) -> List[str]:
  """`O` then the other tags seen, sorted: the class ids."""
  tags = {t for s in sentences for t in s.tags} - {"O"}
  return ["O"] + sorted(tags)


def encode_sentence(tokenizer: tokenization.AlbertTokenizer,
                    sentence: Sentence, labels: Sequence[str],
                    max_seq_length: int) -> List[Dict[str, List[int]]]:
  """`[CLS] pieces [SEP]` windows of whole words, labels on first pieces.

  Returns:
    One dict per window: unpadded `input_ids` and `label_ids` (the tag's
    index in `labels` on each word's first piece, -1 elsewhere), at most
    `max_seq_length` long. A word with no piece is `<unk>`; a word with
    more than `max_seq_length - 2` pieces keeps its first ones.
  """
  room = max_seq_length - 2
  windows, ids, label_ids = [], [], []
  for word, tag in zip(sentence.words, sentence.tags):
    pieces = (tokenizer.encode(word) or [tokenizer.unk_id])[:room]
    if ids and len(ids) + len(pieces) > room:
      windows.append((ids, label_ids))
      ids, label_ids = [], []
    ids += pieces
    label_ids += [labels.index(tag)] + [-1] * (len(pieces) - 1)
  windows.append((ids, label_ids))
  return [dict(input_ids=[tokenizer.cls_id] + i + [tokenizer.sep_id],
               label_ids=[-1] + l + [-1]) for i, l in windows]


def write_records(path: str, tokenizer: tokenization.AlbertTokenizer,
                  sentences: Sequence[Sentence], labels: Sequence[str],
                  max_seq_length: int, source: str) -> Dict[str, int]:
  """Writes one record per window (not atomically: see the caller).

  Features: `input_ids`, `input_mask`, `segment_ids`, `label_ids` (int64,
  unpadded, at most `max_seq_length`), `sentence_id` (the sentence's index
  in `sentences`) and `example_id` (the window's index in the file).

  Returns:
    Counts: `sentences`, `examples` (windows) and `split_sentences`.

  Raises:
    UserError: on a tag not in `labels` (message gives file and line).
  """
  counts = dict(sentences=0, examples=0, split_sentences=0)
  with tf.io.TFRecordWriter(path) as writer:
    for index, sentence in enumerate(sentences):
      unknown = set(sentence.tags) - set(labels)
      if unknown:
        errors.fail(f"{source}:{sentence.line}: tag {sorted(unknown)[0]!r} "
                    f"is not in the label list {list(labels)}; pass --labels "
                    "with every tag")
      windows = encode_sentence(tokenizer, sentence, labels, max_seq_length)
      for window in windows:
        n = len(window["input_ids"])
        features = dict(window, input_mask=[1] * n, segment_ids=[0] * n,
                        sentence_id=[index], example_id=[counts["examples"]])
        writer.write(tf.train.Example(features=tf.train.Features(feature={
            k: cd.int_feature(v) for k, v in features.items()}))
                     .SerializeToString())
        counts["examples"] += 1
      counts["sentences"] += 1
      counts["split_sentences"] += len(windows) > 1
  return counts


def write_sentences(path: str, sentences: Sequence[Sentence]) -> None:
  """Writes each sentence's words and IOB2 tags as a JSON line, in record
  order (not atomically: see the caller); prediction files use them."""
  with tf.io.gfile.GFile(path, "w") as f:
    for s in sentences:
      f.write(json.dumps(dict(words=s.words, tags=s.tags),
                         ensure_ascii=False) + "\n")


def read_sentences(path: str) -> Optional[List[Dict[str, List[str]]]]:
  """The `write_sentences` file, or None if it is missing."""
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return [json.loads(line) for line in f if line.strip()]
