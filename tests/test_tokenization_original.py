"""Tokenization details against the original release's definitions.

A 4000-piece vocabulary is trained here on real text (SQuAD, WikiText-2 and
enwiki slices in tests/data) plus lines of comma-grouped numbers such as
"52,706,749,", so that it holds digit-comma pieces ("000,", "▁1,") of every
kind the original `encode_pieces` fix handles.

Tests: `official_albert.data.tokenization`.
"""

import json
import random

import numpy as np
import pytest
import tensorflow as tf

import conftest
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.data.pretraining import prepare_corpus
from official_albert.data.pretraining import sop_instances
from official_albert.data import tokenization
from official_albert.data.pretraining import train_vocab
from official_albert.interop import ours
from official_albert.serving import export

NUMBERS_TEXT = "It cost 1,000,000, or 52,706,749, in 1998, not 2,5, or 0,"


@pytest.fixture(scope="module")
def tokenizer(test_data, tmp_path_factory):
  lines = []
  for version in ("1.1", "2.0"):
    data = json.loads((test_data / f"squad/dev-v{version}.json").read_text())
    lines += [p["context"] for a in data["data"] for p in a["paragraphs"]]
  documents = prepare_corpus.read_documents(
      [str(test_data / "enwiki/wiki_00_docs24-28.txt"),
       str(test_data / "corpus/wiki.valid.raw")])
  lines += [p for d in documents for p in d]
  rng = random.Random(0)
  lines += [" ".join(f"{rng.randrange(10**6, 10**8):,}," for _ in range(6))
            for _ in range(1500)]
  tmp = tmp_path_factory.mktemp("numbers_vocab")
  (tmp / "text.txt").write_text("\n".join(lines), encoding="utf-8")
  train_vocab.train_vocab([str(tmp / "text.txt")], str(tmp / "sp"),
                          vocab_size=4000)
  return tokenization.AlbertTokenizer(str(tmp / "sp.model"))


def original_encode_pieces(sp_model, text):
  """The original `encode_pieces` (google-research/albert tokenization.py),
  with Python 3 strings for its bytes, as the oracle."""
  pieces = sp_model.encode(text, out_type=str)
  new_pieces = []
  for piece in pieces:
    if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
      cur_pieces = sp_model.encode(
          piece[:-1].replace(tokenization.SPIECE_UNDERLINE, ""), out_type=str)
      if (piece[0] != tokenization.SPIECE_UNDERLINE and
          cur_pieces[0][0] == tokenization.SPIECE_UNDERLINE):
        if len(cur_pieces[0]) == 1:
          cur_pieces = cur_pieces[1:]
        else:
          cur_pieces[0] = cur_pieces[0][1:]
      cur_pieces.append(piece[-1])
      new_pieces.extend(cur_pieces)
    else:
      new_pieces.append(piece)
  return new_pieces


def test_digit_comma_pieces_split_like_the_original(tokenizer):
  sp = tokenizer.sp
  pieces = [sp.id_to_piece(i) for i in range(tokenizer.vocab_size)]
  fixed = [p for p in pieces if tokenizer.split_digit_comma(p) is not None]
  # A continuation piece whose digits re-encode behind a bare "▁" (the case
  # the old code turned into "▁").
  bare = [p for p in fixed if not p.startswith("▁")
          and sp.encode(p[:-1], out_type=str)[0] == "▁"]
  assert len(fixed) > 100 and "000," in bare
  for piece in fixed:
    assert tokenizer.split_digit_comma(piece) == original_encode_pieces(
        _OnePiece(sp, piece), piece)
  assert tokenizer.split_digit_comma("000,") == ["0", "00", ","]
  normalised = tokenization.preprocess_text(NUMBERS_TEXT)
  got = tokenizer.tokenize(NUMBERS_TEXT)
  assert got == original_encode_pieces(sp, normalised)
  assert got != sp.encode(normalised, out_type=str)  # The fix applied.
  assert "000," in sp.encode(normalised, out_type=str)
  assert "▁" not in got[got.index("1") + 1:got.index("▁or")]


class _OnePiece:
  """A SentencePiece stand-in that encodes `piece` as itself (so the oracle
  runs its fix on exactly that piece) and anything else normally."""

  def __init__(self, sp, piece):
    self.sp, self.piece = sp, piece

  def encode(self, text, out_type):
    return [text] if text == self.piece else self.sp.encode(text,
                                                            out_type=out_type)


def test_saved_model_text_signature_applies_the_comma_fix(tokenizer,
                                                          tmp_path):
  config = AlbertEncoderConfig(
      vocab_size=tokenizer.vocab_size, embedding_size=8, hidden_size=16,
      num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
      max_position_embeddings=64)
  model = ours.build_pretrainer(config)
  export.export(model, str(tmp_path / "saved"), tokenizer.model_path,
                seq_length=64)
  loaded = tf.saved_model.load(str(tmp_path / "saved"))
  texts = [NUMBERS_TEXT, "Population 2,000,000, up from 1,500,000,"]
  out = loaded.signatures["text"](text=tf.constant(texts))
  for row, text in enumerate(texts):
    ids = [tokenizer.cls_id] + tokenizer.encode(text) + [tokenizer.sep_id]
    want = ids + [tokenizer.pad_id] * (64 - len(ids))
    np.testing.assert_array_equal(out["input_word_ids"][row].numpy(), want)


def test_start_pieces_follow_the_original_on_every_piece(tokenizer):
  pieces = [tokenizer.sp.id_to_piece(i) for i in range(tokenizer.vocab_size)]
  # Pieces of a-z letters and punctuation, and foreign letters, which the
  # original treats differently from a plain "a-z only" rule.
  extra = ["s.", "co.", "),", "a-b", "'s", "é", "€", "£", "[CLS]", "ß", "A."]
  for piece in pieces + extra:
    assert (sop_instances.is_start_piece(piece) ==
            conftest.original_is_start_piece_sp(piece)), piece
  assert not sop_instances.is_start_piece("s.")
  assert sop_instances.is_start_piece(",")
