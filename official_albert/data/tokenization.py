"""SentencePiece tokenization with ALBERT's text normalisation.

Follows the original release's `tokenization.py` (`preprocess_text`,
`encode_pieces`): whitespace collapsed, LaTeX-style quotes turned into `"`,
NFKD normalisation with combining marks dropped, optional lower-casing; then
SentencePiece pieces, with the release's fix that splits a trailing comma off
pieces such as "▁9," so that numbers tokenize the same with or without it.
"""

import os
import unicodedata
from typing import List, Sequence

import sentencepiece as spm

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
    model_path: path of a SentencePiece `.model` file whose vocabulary has
      `<pad>`, `<unk>`, `[CLS]`, `[SEP]` and `[MASK]`.
    lower_case: lower-case text before tokenizing.

  Raises:
    FileNotFoundError: if `model_path` does not exist.
    ValueError: if the model lacks one of the special pieces.
  """

  def __init__(self, model_path: str, lower_case: bool = True):
    if not os.path.isfile(model_path):
      raise FileNotFoundError(
          f"SentencePiece model {model_path!r} not found; train one with "
          "`python -m official_albert.data.train_vocab` or pass the right path")
    self.model_path = model_path
    self.lower_case = lower_case
    self.sp = spm.SentencePieceProcessor(model_file=model_path)
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

  def tokenize(self, text: str) -> List[str]:
    """Normalises and splits `text` into SentencePiece pieces."""
    pieces = self.sp.encode(preprocess_text(text, self.lower_case),
                            out_type=str)
    out = []
    for piece in pieces:
      # The release's comma fix: "▁9," -> "▁9", "," (digits keep one form).
      if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
        sub = self.sp.encode(piece[:-1].replace(SPIECE_UNDERLINE, ""),
                             out_type=str)
        if piece[0] != SPIECE_UNDERLINE and sub and sub[0][0] == SPIECE_UNDERLINE:
          sub[0] = sub[0][1:] or sub.pop(0)
        out.extend(sub)
        out.append(piece[-1])
      else:
        out.append(piece)
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
