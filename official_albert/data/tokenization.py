"""SentencePiece tokenization with ALBERT's text normalisation.

Follows the original release's `tokenization.py` (`preprocess_text`,
`encode_pieces`): whitespace collapsed, LaTeX-style quotes turned into `"`,
NFKD normalisation with combining marks dropped, optional lower-casing; then
SentencePiece pieces, with the release's fix that splits a trailing comma off
pieces such as "▁9," so that numbers tokenize the same with or without it.
"""

import unicodedata
from typing import Dict, List, Optional, Sequence

import sentencepiece as spm

from official_albert import io_utils

PAD, UNK, CLS, SEP, MASK = "<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"
SPIECE_UNDERLINE = "\u2581"


def preprocess_text(text: str, lower_case: bool = True) -> str:
  """Normalises raw text the way ALBERT's vocabulary was trained.

  Args:
    text: a unicode string.
    lower_case: lower-case the result (the released models are uncased).

  Returns:
    The normalised string.
  """
  text = " ".join(text.strip().split())
  text = text.replace("``", '"').replace("''", '"')
  if not text.isascii():  # NFKD leaves ASCII as it is, with no marks
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
  return text.lower() if lower_case else text


class AlbertTokenizer:
  """A SentencePiece model plus ALBERT's normalisation and special ids.

  Args:
    model_path: path or URL (`gs://...`) of a SentencePiece `.model` file
      whose vocabulary has
      `<pad>`, `<unk>`, `[CLS]`, `[SEP]` and `[MASK]`.
    lower_case: lower-case text before tokenizing.

  Raises:
    FileNotFoundError: if `model_path` does not exist.
    ValueError: if the model lacks one of the special pieces.
  """

  def __init__(self, model_path: str, lower_case: bool = True):
    if not io_utils.exists(model_path) or io_utils.isdir(model_path):
      raise FileNotFoundError(
          f"SentencePiece model {model_path!r} not found; train one with "
          "`python -m official_albert.data.pretraining.train_vocab` or pass "
          "the right path")
    self.model_path = model_path
    self.lower_case = lower_case
    with io_utils.open_file(model_path, "rb") as f:
      self.sp = spm.SentencePieceProcessor(model_proto=f.read())
    ids = {piece: self.sp.piece_to_id(piece)
           for piece in (PAD, UNK, CLS, SEP, MASK)}
    missing = [p for p, i in ids.items()
               if self.sp.id_to_piece(i) != p]
    if missing:
      raise ValueError(f"SentencePiece model {model_path!r} lacks the pieces "
                       f"{missing}; train it with official_albert.data."
                       "train_vocab, which adds ALBERT's special symbols")
    self.pad_id, self.unk_id = ids[PAD], ids[UNK]
    self.cls_id, self.sep_id, self.mask_id = ids[CLS], ids[SEP], ids[MASK]

  @property
  def vocab_size(self) -> int:
    """Number of pieces in the vocabulary."""
    return self.sp.get_piece_size()

  def split_digit_comma(self, piece: str) -> Optional[List[str]]:
    """The release's comma fix for one piece, or None where it does not apply.

    A piece ending in a digit and "," (such as "▁9," or "0,") is re-encoded
    without the comma, and the comma becomes a piece of its own, so numbers
    tokenize the same with or without it (original `encode_pieces`). A
    continuation piece ("0,") stays a continuation: the "▁" that
    re-encoding puts in front is dropped, or the whole piece when it is a
    bare "▁".
    """
    if not (len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()):
      return None
    sub = self.sp.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""),
                         out_type=str)
    if piece[0] != SPIECE_UNDERLINE and sub and sub[0][0] == SPIECE_UNDERLINE:
      if len(sub[0]) == 1:
        sub = sub[1:]
      else:
        sub[0] = sub[0][1:]
    return sub + [piece[-1]]

  def digit_comma_ids(self) -> Dict[int, List[int]]:
    """Piece id -> the ids `split_digit_comma` replaces it with (where it
    applies), for tokenizers that work on ids (the SavedModel's)."""
    table = {}
    for i in range(self.vocab_size):
      sub = self.split_digit_comma(self.sp.id_to_piece(i))
      if sub is not None:
        table[i] = self.convert_tokens_to_ids(sub)
    return table

  def tokenize(self, text: str) -> List[str]:
    """Normalises and splits `text` into SentencePiece pieces."""
    pieces = self.sp.encode(preprocess_text(text, self.lower_case),
                            out_type=str)
    out = []
    for piece in pieces:
      sub = self.split_digit_comma(piece)
      out.extend([piece] if sub is None else sub)
    return out

  def convert_tokens_to_ids(self, tokens: Sequence[str]) -> List[int]:
    """Maps pieces to ids; unknown pieces map to `<unk>`."""
    return [self.sp.piece_to_id(t) for t in tokens]

  def convert_ids_to_tokens(self, ids: Sequence[int]) -> List[str]:
    """Maps ids to pieces."""
    return [self.sp.id_to_piece(int(i)) for i in ids]

  def encode(self, text: str) -> List[int]:
    """Normalises and tokenizes `text`, returning piece ids."""
    return self.convert_tokens_to_ids(self.tokenize(text))
