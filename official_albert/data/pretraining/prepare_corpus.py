r"""Turns raw WikiText, WikiExtractor or Gutenberg text into ALBERT's seed format.

The seed format (read by `create_pretraining_data`) has one sentence per line
and one blank line between documents. Usage:

  python -m official_albert.data.pretraining.prepare_corpus --input wiki.valid.raw \
      austen-emma.txt --output train.txt \
      [--format auto|wikitext|wikiextractor|gutenberg]

Document boundaries come from each source's structure:

* WikiText (`--format wikitext`, or `auto` for a `.raw` file or one whose
  first non-blank line is ` = Title = `): a ` = Title = ` line starts an
  article, which is one document; section headings (` = = X = = `, any depth)
  are dropped. Each other non-blank line is a paragraph. WikiText's
  tokenisation is undone so the splitter and SentencePiece see normal text:
  ` @-@ `, ` @,@ `, ` @.@ ` become `-`, `,`, `.`; spaces before closing
  punctuation and clitics (`'s`, `n't`, `n 't`, ...) and after opening
  brackets go; `" quoted "` becomes `"quoted"`.
* WikiExtractor output (`--format wikiextractor`, or `auto` for a file whose
  first non-blank line starts with `<doc `), the format of BERT's and
  ALBERT's English Wikipedia (`text/AA/wiki_00` ...): each `<doc id=..
  url=.. title=..>` ... `</doc>` block is one document; its first non-blank
  line repeats the title and is dropped; each other non-blank line is a
  paragraph. Section headings ("History.") are paragraphs in this format
  and cannot be told from one-sentence paragraphs, so they are kept, as in
  the original's input. Blocks without paragraphs (a bare title) are dropped.
* Project Gutenberg (`gutenberg`, the `auto` choice otherwise): paragraphs
  are separated by blank lines and hard-wrapped, so their lines are joined
  with single spaces. A heading line (starting with CHAPTER, BOOK, VOLUME,
  PART, ACT, SCENE, Actus, Scena or Scoena, a bracketed `[BOOK ...]` line, or
  a Whitman-style `}  Title` poem title) starts a new document and is
  dropped, as is a short one-line paragraph right after it (a chapter title
  such as Moby Dick's "Loomings."). Bracketed lines such as the
  `[Emma by Jane Austen 1816]` title line are dropped.

Sentences are split inside each paragraph (never across paragraphs) with
NLTK's Punkt (Kiss & Strunk 2006), trained unsupervised on the input text
itself, because no pretrained Punkt model can be downloaded here; it learns
abbreviations such as "Mr." and "Mrs." from their frequency. The whole input
is read into memory for that training. Documents without sentences are
dropped. The output file is written atomically.

Example (on bundled data; the examples of train.py, the data commands,
convert, export, predict and sweep chain through /tmp/albert_example):

  python -m official_albert.data.pretraining.prepare_corpus \
      --input tests/data/corpus/wiki.valid.raw \
      --output /tmp/albert_example/seed.txt
"""

import argparse
import io
import re
from typing import Iterable, Iterator, List, Sequence

import tensorflow as tf
from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

from official_albert import errors, io_utils

FORMATS = ("auto", "wikitext", "wikiextractor", "gutenberg")
# A chapter title following its heading is at most this many words long.
_MAX_TITLE_WORDS = 8

_WIKI_TITLE = re.compile(r"^ = [^=].* = $")
_DOC_START = re.compile(r"^<doc\b[^>]*>\s*$")
_DOC_END = re.compile(r"^</doc>\s*$")
_WIKI_HEADING = re.compile(r"^ (= )+.* (= )+$")
_GUTENBERG_HEADING = re.compile(
    r"^\s*((CHAPTER|BOOK|VOLUME|PART|ACT|SCENE|Actus|Scena|Scoena)\b"
    r"|\[BOOK\b|\})")
_BRACKETED = re.compile(r"^\s*\[.*\]\s*$")
# Punkt learns these abbreviations but still splits after them when the next
# word is a name it has seen sentence-initially ("Mr. Martin"); titles before
# a name practically never end a sentence, so such splits are undone.
_TITLE_END = re.compile(r"(?<![A-Za-z])(Mr|Mrs|Messrs|Ms|Dr|St)\.$")
_WIKI_DETOKENIZE = (
    (re.compile(r" @(.)@( |$)"), r"\1"),                   # 1 @,@ 000
    (re.compile(r'" ([^"]*?) "'), r'"\1"'),                 # " quoted "
    (re.compile(r" ([.,;:!?%)\]}])"), r"\1"),               # word .
    (re.compile(r"([(\[{$]) "), r"\1"),                     # ( word
    (re.compile(r" ((n['’]t|['’](s|re|ve|ll|d|m))(?=\W|$))"), r"\1"),
    (re.compile(r"(?<=n) (['’]t)(?=\W|$)"), r"\1"),         # haven 't
)


def detokenize_wikitext(line: str) -> str:
  """Undoes WikiText's tokenisation of one paragraph line (see module doc)."""
  text = " ".join(line.split())
  for pattern, replacement in _WIKI_DETOKENIZE:
    text = pattern.sub(replacement, text)
  return text


def wikitext_documents(lines: Iterable[str]) -> Iterator[List[str]]:
  """Yields WikiText articles as lists of detokenized paragraphs.

  Args:
    lines: the lines of a WikiText `.raw` file.

  Yields:
    One list of paragraph strings per ` = Title = ` article (text before the
    first title, if any, forms a document of its own).
  """
  paragraphs = []
  for line in lines:
    line = line.rstrip("\r\n")
    if _WIKI_TITLE.match(line):
      if paragraphs:
        yield paragraphs
      paragraphs = []
    elif line.strip() and not _WIKI_HEADING.match(line):
      paragraphs.append(detokenize_wikitext(line))
  if paragraphs:
    yield paragraphs


def wikiextractor_documents(lines: Iterable[str]) -> Iterator[List[str]]:
  """Yields WikiExtractor articles as lists of paragraphs.

  Args:
    lines: the lines of a WikiExtractor output file (`<doc ...>` blocks).

  Yields:
    One list of paragraph strings (whitespace collapsed) per `<doc>` block
    that has text after its title line. Text outside blocks is ignored.
  """
  paragraphs, inside, titled = [], False, False
  for line in lines:
    line = line.strip()
    if _DOC_START.match(line):
      paragraphs, inside, titled = [], True, False
    elif _DOC_END.match(line):
      if inside and paragraphs:
        yield paragraphs
      inside = False
    elif inside and line:
      if titled:
        paragraphs.append(" ".join(line.split()))
      titled = True
  if inside and paragraphs:  # a file cut inside its last block
    yield paragraphs


def gutenberg_documents(lines: Iterable[str]) -> Iterator[List[str]]:
  """Yields Gutenberg chapters (or acts, books, poems) as paragraph lists.

  Args:
    lines: the lines of a Project Gutenberg plain-text book.

  Yields:
    One list of paragraphs (wrapped lines joined by spaces) per document.
  """
  paragraphs, current = [], []
  after_heading = False

  def flush():
    nonlocal after_heading
    if current:
      is_title = (after_heading and len(current) == 1
                  and len(current[0].split()) <= _MAX_TITLE_WORDS)
      if not is_title:
        paragraphs.append(" ".join(current))
      after_heading = False
      current.clear()

  for line in lines:
    line = line.strip()
    if _GUTENBERG_HEADING.match(line):
      flush()
      if paragraphs:
        yield list(paragraphs)
      paragraphs.clear()
      after_heading = True
    elif _BRACKETED.match(line):
      flush()
    elif line:
      current.append(" ".join(line.split()))
    else:
      flush()
  flush()
  if paragraphs:
    yield paragraphs


def detect_format(path: str, lines: Sequence[str]) -> str:
  """Returns "wikitext", "wikiextractor" or "gutenberg" (see the module doc)."""
  if path.endswith(".raw"):
    return "wikitext"
  first = next((line for line in lines if line.strip()), "")
  if _DOC_START.match(first.strip()):
    return "wikiextractor"
  return "wikitext" if _WIKI_TITLE.match(first.rstrip("\r\n")) else "gutenberg"


_READERS = {"wikitext": wikitext_documents,
            "wikiextractor": wikiextractor_documents,
            "gutenberg": gutenberg_documents}


def read_documents(paths: Sequence[str], fmt: str = "auto"
                   ) -> List[List[str]]:
  """Reads raw files into documents of paragraphs.

  Args:
    paths: input files (UTF-8).
    fmt: one of FORMATS.

  Returns:
    All documents of all files, in order, each a list of paragraphs.

  Raises:
    errors.UserError: a file is missing, not UTF-8 or has no text.
  """
  documents = []
  for path in paths:
    try:
      with tf.io.gfile.GFile(path, "rb") as f:
        # Universal newlines, as open() reads them (Gutenberg uses "\r\n").
        lines = io.StringIO(f.read().decode("utf-8"), newline=None).readlines()
    except (tf.errors.OpError, UnicodeDecodeError) as e:
      errors.fail(f"cannot read --input {path!r} ({e}); pass an existing "
                  "UTF-8 text file")
    kind = detect_format(path, lines) if fmt == "auto" else fmt
    reader = _READERS[kind]
    found = list(reader(lines))
    if not found:
      errors.fail(f"--input {path!r} has no text; pass a non-empty "
                  "WikiText, WikiExtractor or Gutenberg file")
    documents.extend(found)
  return documents


def train_punkt(documents: Sequence[Sequence[str]]) -> PunktSentenceTokenizer:
  """Trains a Punkt sentence splitter on the documents' own paragraphs."""
  trainer = PunktTrainer()
  trainer.train("\n\n".join(p for doc in documents for p in doc),
                finalize=True)
  return PunktSentenceTokenizer(trainer.get_params())


def to_seed_format(documents: Sequence[Sequence[str]],
                   splitter: PunktSentenceTokenizer) -> Iterator[List[str]]:
  """Yields each non-empty document as its list of sentences."""
  for doc in documents:
    sentences = []
    for paragraph in doc:
      for i, sentence in enumerate(splitter.tokenize(paragraph)):
        if i and _TITLE_END.search(sentences[-1]):
          sentences[-1] += " " + sentence
        else:
          sentences.append(sentence)
    if sentences:
      yield sentences


def main(argv=None) -> None:
  """Command-line entry point (see the module doc)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input", nargs="+", required=True,
                      help="raw WikiText (.raw), WikiExtractor or Gutenberg files")
  parser.add_argument("--output", required=True, help="seed-format file")
  parser.add_argument("--format", choices=FORMATS, default="auto")
  args = parser.parse_args(argv)
  documents = read_documents(args.input, args.format)
  splitter = train_punkt(documents)
  with io_utils.atomic_path(args.output) as tmp:
    with tf.io.gfile.GFile(tmp, "w") as f:
      count = 0
      for sentences in to_seed_format(documents, splitter):
        f.write(("\n" if count else "") + "\n".join(sentences) + "\n")
        count += 1
  print(f"wrote {count} documents to {args.output}")


if __name__ == "__main__":
  errors.run_cli(main)
