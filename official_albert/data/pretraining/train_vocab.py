r"""Trains a SentencePiece unigram vocabulary the way ALBERT's was made.

Usage:

  python -m official_albert.data.pretraining.train_vocab --input train.txt \
      --model_prefix assets/vocab/albert_demo_8k --vocab_size 8000

The trainer settings are those of the original release's README (`spm_train
--pad_id=0 --unk_id=1 --eos_id=-1 --bos_id=-1
--control_symbols=[CLS],[SEP],[MASK]
--user_defined_symbols="(,),\",-,.,–,£,€"
--shuffle_input_sentence=true --input_sentence_size=10000000
--character_coverage=0.99995 --model_type=unigram`), so ids 0..4 are `<pad>`,
`<unk>`, `[CLS]`, `[SEP]`, `[MASK]`. Each non-blank input line is first
normalised with `tokenization.preprocess_text`, the normalisation
`AlbertTokenizer` applies at encode time, so the pieces match what the
tokenizer will see. Writes PREFIX.model and PREFIX.vocab, each atomically.

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.data.pretraining.train_vocab \
      --input /tmp/albert_example/seed.txt \
      --model_prefix /tmp/albert_example/vocab --vocab_size 2000
"""

import argparse
import os
import tempfile
from typing import Sequence

import sentencepiece as spm
import tensorflow as tf

from official_albert import errors, io_utils
from official_albert.data import tokenization

SPM_SETTINGS = dict(
    model_type="unigram", pad_id=0, unk_id=1, eos_id=-1, bos_id=-1,
    control_symbols=[tokenization.CLS, tokenization.SEP, tokenization.MASK],
    user_defined_symbols=["(", ")", '"', "-", ".", "–", "£", "€"],
    shuffle_input_sentence=True, input_sentence_size=10000000,
    character_coverage=0.99995)


def write_normalised(paths: Sequence[str], out_path: str,
                     lower_case: bool) -> int:
  """Writes the non-blank lines of `paths`, normalised, to `out_path`.

  Returns:
    The number of lines written.

  Raises:
    errors.UserError: a file is missing or not UTF-8.
  """
  count = 0
  with open(out_path, "w", encoding="utf-8") as out:
    for path in paths:
      try:
        with tf.io.gfile.GFile(path) as f:
          for line in f:
            text = tokenization.preprocess_text(line, lower_case)
            if text:
              out.write(text + "\n")
              count += 1
      except (OSError, UnicodeDecodeError, tf.errors.OpError) as e:
        errors.fail(f"cannot read --input {path!r} ({e}); pass existing "
                    "UTF-8 text files")
  return count


def train_vocab(paths: Sequence[str], model_prefix: str,
                vocab_size: int = 30000, lower_case: bool = True) -> None:
  """Trains PREFIX.model / PREFIX.vocab on the normalised text of `paths`.

  Args:
    paths: text files, one sentence per line (the seed format).
    model_prefix: output path prefix.
    vocab_size: number of pieces, special symbols included.
    lower_case: lower-case the text (for uncased models).

  Raises:
    errors.UserError: missing or empty input, or a vocabulary size the text
      cannot support.
  """
  with tempfile.TemporaryDirectory() as tmp_dir:
    text_path = os.path.join(tmp_dir, "input.txt")
    if not write_normalised(paths, text_path, lower_case):
      errors.fail(f"--input {list(paths)} has no text; pass non-empty "
                  "seed-format files (see "
                  "official_albert.data.pretraining.prepare_corpus)")
    tmp_prefix = os.path.join(tmp_dir, "spm")
    try:
      spm.SentencePieceTrainer.train(
          input=text_path, model_prefix=tmp_prefix, vocab_size=vocab_size,
          num_threads=os.cpu_count() or 1, minloglevel=1, **SPM_SETTINGS)
    except RuntimeError as e:
      # SentencePiece reports e.g. "Vocabulary size too high (8000). Please
      # set it to a value <= 5321." for text too small for the vocabulary.
      errors.fail(f"SentencePiece training failed: {str(e).strip()}; lower "
                  "--vocab_size or pass more text")
    # SentencePiece writes local files only; they are copied to the prefix,
    # which may be a URL.
    for ext in (".model", ".vocab"):
      with io_utils.atomic_path(model_prefix + ext) as tmp:
        tf.io.gfile.copy(tmp_prefix + ext, tmp)


def main(argv=None) -> None:
  """Command-line entry point (see the module doc)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input", nargs="+", required=True,
                      help="seed-format text files")
  parser.add_argument("--model_prefix", required=True,
                      help="writes PREFIX.model and PREFIX.vocab")
  parser.add_argument("--vocab_size", type=int, default=30000)
  parser.add_argument("--lower_case", action="store_true", default=True,
                      help="lower-case the text (uncased; the default)")
  parser.add_argument("--no_lower_case", action="store_false",
                      dest="lower_case", help="keep the case (cased)")
  args = parser.parse_args(argv)
  if args.vocab_size < 6:
    errors.fail(f"--vocab_size {args.vocab_size} is too small; the five "
                "special symbols alone take ids 0..4")
  train_vocab(args.input, args.model_prefix, args.vocab_size, args.lower_case)
  print(f"wrote {args.model_prefix}.model and {args.model_prefix}.vocab")


if __name__ == "__main__":
  errors.run_cli(main)
