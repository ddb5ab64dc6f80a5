"""Sentence-order pairs with n-gram whole-word masks, one document at a time.

Implements the instance logic of the original ALBERT `create_pretraining_data`
(paper section 4.1 and google-research/albert) on piece ids, with these
differences (see also `create_pretraining_data`):

* Sentence-order prediction only. A and B are always consecutive segments of
  one document; with probability 0.5 they are swapped (label 1 = swapped,
  0 = in order). The original still draws B from a random document when a
  chunk holds a single sentence (google-research/albert#234); here such a
  sentence is cut at a uniformly chosen whole-word boundary into A and B, or
  dropped when it is a single word.
* n-grams never span [SEP]: masked words are consecutive in the text.
* n is drawn only among the lengths that fit before the segment's end, with
  p(n) proportional to 1/n renormalised over them (the original truncates
  the n-gram instead).
* A random replacement piece is never a special symbol (<pad>, <unk>, [CLS],
  [SEP], [MASK]).
* token_boundary marks every word start, including a segment's first piece
  when truncation left it mid-word, and the special tokens.

All randomness comes from the `random.Random` passed in, so a caller that
seeds one per (seed, document, dupe round) gets reproducible output.
"""

import dataclasses
import random
import string
from typing import Iterator, List, Optional, Sequence, Tuple

from official_albert.data import tokenization


# The original's punctuation set: string.punctuation without "'" (its literal
# repeats '"' where "'" would be). It also adds "€" and "£" UTF-8-encoded,
# as bytes, which no str piece or character equals under Python 3, so they
# count as foreign characters here as they did there.
_SPECIAL_PIECES = frozenset('!"#$%&()*+,-./:;?@[\\]^_`{|}~')
_ENGLISH_OR_SPECIAL = frozenset(string.ascii_lowercase) | _SPECIAL_PIECES


def is_start_piece(piece: str) -> bool:
  """Whether a SentencePiece piece starts a word: the original
  `_is_start_piece_sp` (google-research/albert `create_pretraining_data.py`).

  A piece starts a word when it begins with "▁" or "<", is a single
  punctuation character, or holds a character outside a-z (any case) and
  punctuation (digits, "'", accented or non-Latin letters). Other pieces,
  made of a-z letters and punctuation ("s", "s.", "),"), continue the
  previous word.
  """
  return (piece.startswith((tokenization.SPIECE_UNDERLINE, "<"))
          or piece in _SPECIAL_PIECES
          or not all(c.lower() in _ENGLISH_OR_SPECIAL for c in piece))


@dataclasses.dataclass
class Instance:
  """One unpadded training example; all lists are python ints.

  Attributes:
    input_ids: `[CLS] A [SEP] B [SEP]` after masking, [length].
    segment_ids: 0 for [CLS], A and the first [SEP]; 1 after, [length].
    token_boundary: 1 at word starts and special tokens, else 0, [length].
    masked_lm_positions: sorted masked positions, [num_masked].
    masked_lm_ids: the original ids at those positions, [num_masked].
    sop_label: 1 if A and B were swapped, else 0.
  """
  input_ids: List[int]
  segment_ids: List[int]
  token_boundary: List[int]
  masked_lm_positions: List[int]
  masked_lm_ids: List[int]
  sop_label: int


class InstanceBuilder:
  """Builds SOP instances with n-gram masks from tokenized documents.

  Args:
    tokenizer: the `AlbertTokenizer` whose ids the documents hold.
    max_seq_length: tokens per instance, including [CLS] and two [SEP]; >= 5.
    max_predictions_per_seq: most masked positions per instance.
    masked_lm_prob: fraction of tokens to mask, in (0, 1].
    short_seq_prob: probability of a shorter random target length.
    ngram: longest n-gram (in words) to mask.
  """

  def __init__(self, tokenizer: tokenization.AlbertTokenizer,
               max_seq_length: int, max_predictions_per_seq: int,
               masked_lm_prob: float, short_seq_prob: float, ngram: int):
    self.tokenizer = tokenizer
    self.max_seq_length = max_seq_length
    self.max_predictions_per_seq = max_predictions_per_seq
    self.masked_lm_prob = masked_lm_prob
    self.short_seq_prob = short_seq_prob
    self.ngram_weights = [1.0 / n for n in range(1, ngram + 1)]
    self.cls_id, self.sep_id = tokenizer.cls_id, tokenizer.sep_id
    self.mask_id = tokenizer.mask_id
    pieces = tokenizer.convert_ids_to_tokens(range(tokenizer.vocab_size))
    self.is_start = [is_start_piece(p) for p in pieces]
    special = {tokenizer.pad_id, tokenizer.unk_id, self.cls_id, self.sep_id,
               self.mask_id}
    self.random_ids = [i for i in range(len(pieces)) if i not in special]

  def document_instances(self, document: Sequence[Sequence[int]],
                         rng: random.Random) -> List[Instance]:
    """Cuts one document into instances (original `create_instances_from_
    document`, SOP only).

    Args:
      document: the document's sentences as non-empty lists of piece ids.
      rng: source of every random choice.

    Returns:
      The instances, in document order.
    """
    max_tokens = self.max_seq_length - 3
    target = max_tokens
    if rng.random() < self.short_seq_prob:
      target = rng.randint(2, max_tokens)
    instances, chunk, length = [], [], 0
    for i, sentence in enumerate(document):
      chunk.append(sentence)
      length += len(sentence)
      if i == len(document) - 1 or length >= target:
        pair = self._sop_pair(chunk, rng)
        if pair:
          instances.append(self._instance(*pair, rng))
        chunk, length = [], 0
    return instances

  def _sop_pair(self, chunk: Sequence[Sequence[int]], rng: random.Random
                ) -> Optional[Tuple[List[int], List[int], int]]:
    """Returns (A, B, label) from a chunk of sentences, or None."""
    if len(chunk) >= 2:
      a_end = rng.randint(1, len(chunk) - 1)
      a = [t for s in chunk[:a_end] for t in s]
      b = [t for s in chunk[a_end:] for t in s]
    else:
      sentence = chunk[0]
      cuts = [k for k in range(1, len(sentence)) if self.is_start[sentence[k]]]
      if not cuts:
        return None
      cut = rng.choice(cuts)
      a, b = list(sentence[:cut]), list(sentence[cut:])
    label = int(rng.random() < 0.5)
    if label:
      a, b = b, a
    truncate_seq_pair(a, b, self.max_seq_length - 3, rng)
    return a, b, label

  def _instance(self, a: List[int], b: List[int], label: int,
                rng: random.Random) -> Instance:
    """Lays out `[CLS] A [SEP] B [SEP]` and masks it."""
    ids = [self.cls_id] + a + [self.sep_id] + b + [self.sep_id]
    segments = [range(1, 1 + len(a)), range(2 + len(a), len(ids) - 1)]
    words = [self.words(ids, seg) for seg in segments]
    boundary = [0] * len(ids)
    for p in (0, len(a) + 1, len(ids) - 1):
      boundary[p] = 1
    for seg_words in words:
      for word in seg_words:
        boundary[word[0]] = 1
    masked_ids = list(ids)
    spans = self.mask_ngrams(len(ids), words, rng)
    for span in spans:
      for p in span:
        masked_ids[p] = self._replacement(ids[p], rng)
    positions = sorted(p for span in spans for p in span)
    return Instance(masked_ids, [0] * (len(a) + 2) + [1] * (len(b) + 1),
                    boundary, positions, [ids[p] for p in positions], label)

  def words(self, ids: Sequence[int], positions: range) -> List[List[int]]:
    """Groups `positions` of `ids` into words (lists of positions)."""
    words = []
    for p in positions:
      if words and not self.is_start[ids[p]]:
        words[-1].append(p)
      else:
        words.append([p])
    return words

  def mask_ngrams(self, length: int, words: Sequence[Sequence[List[int]]],
                  rng: random.Random) -> List[List[int]]:
    """Chooses n-gram whole-word spans to mask (original
    `create_masked_lm_predictions` with ngram and favor_shorter_ngram).

    Args:
      length: tokens in the instance, special tokens included.
      words: per segment, its words as lists of positions.
      rng: source of every random choice.

    Returns:
      The chosen spans in the order they were chosen, each the positions of
      n consecutive words of one segment; at most `min(max_predictions_per_
      seq, max(1, round(length * masked_lm_prob)))` positions in all.
    """
    budget = min(self.max_predictions_per_seq,
                 max(1, round(length * self.masked_lm_prob)))
    starts = [(seg, w) for seg in words for w in range(len(seg))]
    spans, covered, count = [], set(), 0
    for seg, w in _random_order(starts, rng):
      if count >= budget:
        break
      fits = min(len(self.ngram_weights), len(seg) - w)
      n = rng.choices(range(1, fits + 1), self.ngram_weights[:fits])[0]
      span = [p for word in seg[w:w + n] for p in word]
      # As in the original: try shorter n-grams until one fits the budget.
      while n > 1 and count + len(span) > budget:
        n -= 1
        span = [p for word in seg[w:w + n] for p in word]
      if count + len(span) > budget or covered.intersection(span):
        continue
      covered.update(span)
      spans.append(span)
      count += len(span)
    return spans

  def _replacement(self, token_id: int, rng: random.Random) -> int:
    """[MASK] 80% of the time, the token itself 10%, a random piece 10%."""
    if rng.random() < 0.8:
      return self.mask_id
    if rng.random() < 0.5:
      return token_id
    return self.random_ids[rng.randrange(len(self.random_ids))]


def _random_order(items: List, rng: random.Random) -> Iterator:
  """Yields `items` (reordered in place) in a uniformly random order.

  A Fisher-Yates shuffle run lazily: masking needs only the first few of an
  instance's ~100 word starts, and shuffling them all was a sixth of the
  data creation time.
  """
  for i in range(len(items) - 1, -1, -1):
    j = int(rng.random() * (i + 1))
    items[i], items[j] = items[j], items[i]
    yield items[i]


def truncate_seq_pair(a: List[int], b: List[int], max_tokens: int,
                      rng: random.Random) -> None:
  """Trims the longer of `a`, `b` until they hold at most `max_tokens`
  together (in place), as the original: one token at a time, from the front
  or the back at random.

  The one-at-a-time choices are drawn as the original draws them (so the
  output is the same), but only counted; each list is then cut once. Time is
  linear in the removed tokens: the original's `del longer[0]` made a
  200,000-word line quadratic.
  """
  lengths = [len(a), len(b)]
  front, back = [0, 0], [0, 0]
  while lengths[0] + lengths[1] > max_tokens:
    longer = 0 if lengths[0] > lengths[1] else 1
    if rng.random() < 0.5:
      front[longer] += 1
    else:
      back[longer] += 1
    lengths[longer] -= 1
  for k, tokens in enumerate((a, b)):
    tokens[:] = tokens[front[k]:front[k] + lengths[k]]
