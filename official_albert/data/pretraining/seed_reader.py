"""Streams documents from seed-format text that nobody cleaned, counting repairs.

Seed format is one sentence per line with a blank line between documents
(`prepare_corpus` writes it). Real files also bring Windows line endings, a
UTF-8 byte order mark, NUL bytes, whole books on one line, or are not text
at all. The reader repairs what has one obvious repair, counts every repair
in `FileStats` (which `create_pretraining_data` writes to metadata.json), and
refuses what is not text with a one-line error:

* CRLF line endings: the CR is dropped (`crlf_lines`).
* A byte order mark at the start of a line: dropped (`bom_lines`).
* NUL bytes: removed (`nul_lines`); a line of nothing else is skipped
  (`nul_only_lines`) rather than taken for a document break.
* Whitespace-only lines: document breaks, as blank lines.
* Lines of more than `LONG_LINE_FACTOR * max_seq_length` words are kept (and
  truncated like any other) but counted in `long_lines`, and the first one in
  a file prints one warning pointing to `prepare_corpus`: such a file is
  probably paragraphs or books per line, not sentences.
* A file named `*.gz` is gunzipped as it is read (`open_seed_file`), so a
  compressed corpus needs no unpacked copy; gzip bytes under another name,
  or otherwise non-UTF-8 bytes: `errors.UserError`.

Each file is read once, as bytes, so its size and sha256 (of the text, after
decompression) come with the read.
"""

import contextlib
import dataclasses
import gzip
import hashlib
import sys
import zlib
from typing import BinaryIO, Iterator, List, Optional

import tqdm

from official_albert import errors
from official_albert import io_utils

# A line this many times longer (in words) than max_seq_length cannot be one
# sentence of a corpus made for that sequence length.
LONG_LINE_FACTOR = 4
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclasses.dataclass
class FileStats:
  """What reading one input file found; all counts are lines or documents.

  Attributes:
    path: the file as matched.
    long_line_words: lines with more words than this count as long.
    bytes: the size of its text in bytes (after gunzip for `*.gz`).
    sha256: hex digest of that text (complete once the file is read).
    lines: lines read.
    documents: documents yielded.
    crlf_lines: lines that ended in CR LF (CR dropped).
    bom_lines: lines that started with a UTF-8 byte order mark (dropped).
    nul_lines: lines with NUL bytes (removed).
    nul_only_lines: lines of NUL bytes and whitespace only (skipped).
    long_lines: lines longer than `long_line_words` words (kept).
  """
  path: str
  long_line_words: int
  bytes: int = 0
  sha256: str = ""
  lines: int = 0
  documents: int = 0
  crlf_lines: int = 0
  bom_lines: int = 0
  nul_lines: int = 0
  nul_only_lines: int = 0
  long_lines: int = 0

  def to_json(self) -> dict:
    """The counts for metadata.json (without the threshold setting)."""
    out = dataclasses.asdict(self)
    del out["long_line_words"]
    return out


def _warn_long_line(stats: FileStats) -> None:
  # tqdm.write: the line does not run into a progress bar on stderr.
  tqdm.tqdm.write(
      f"warning: {stats.path!r} line {stats.lines} has more than "
      f"{stats.long_line_words} words ({LONG_LINE_FACTOR}x --max_seq_length); "
      "the input is probably not one sentence per line. Instances are cut "
      "from such lines by truncation and lose most of their text; run "
      "python -m official_albert.data.pretraining.prepare_corpus on the raw "
      "text first",
      file=sys.stderr)


def _text(line: bytes, stats: FileStats) -> str:
  """The stripped text of one line, counting repairs; "" for a break."""
  if line.endswith(b"\r\n"):
    stats.crlf_lines += 1
  if line.startswith(_BOM):
    stats.bom_lines += 1
    line = line[len(_BOM):]
  if b"\0" in line:
    stats.nul_lines += 1
    line = line.replace(b"\0", b"")
  try:
    return line.decode("utf-8").strip()
  except UnicodeDecodeError as e:
    errors.fail(f"--input_file {stats.path!r} line {stats.lines} is not UTF-8 "
                f"text ({e.reason} at byte {e.start}); convert it to UTF-8 "
                "or pass seed-format text from prepare_corpus")


@contextlib.contextmanager
def open_seed_file(path: str, raw: Optional[BinaryIO] = None
                   ) -> Iterator[BinaryIO]:
  """Opens seed-format `path` for reading bytes; `*.gz` is gunzipped on read.

  Args:
    path: a local path or a URL (`tf.io.gfile`); the name decides
      decompression, as for TensorFlow's and Beam's readers.
    raw: the file already opened by the caller (e.g. Beam's `FileSystems`);
      default: `io_utils.open_file(path, "rb")`. Closed on exit.

  Raises:
    FileNotFoundError / tf.errors.NotFoundError: `path` does not exist.
    errors.UserError: a `*.gz` file is truncated or not gzip.
  """
  with (raw or io_utils.open_file(path, "rb")) as f:
    if path.endswith(".gz"):
      with gzip.GzipFile(fileobj=f, mode="rb") as text:
        try:
          yield text
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
          errors.fail(f"--input_file {path!r} is not a complete gzip file "
                      f"({e}); re-download or re-compress it")
    else:
      yield f


def file_documents(f: BinaryIO, stats: FileStats) -> Iterator[List[str]]:
  """Streams the documents (lists of sentence lines) of one open file.

  Args:
    f: the file `stats.path`, opened for reading bytes (`open_seed_file`).
    stats: filled in as the file is read; complete when the generator ends.

  Raises:
    errors.UserError: gzip bytes in a file not named `*.gz`, a corrupt
      `*.gz` file, or text that is not UTF-8.
  """
  digest = hashlib.sha256()
  document = []
  for line in f:
    if not stats.lines and line.startswith(_GZIP_MAGIC):
      errors.fail(f"--input_file {stats.path!r} is gzip-compressed but not "
                  "named *.gz; rename it to end in .gz (read compressed) "
                  "or gunzip it")
    stats.lines += 1
    stats.bytes += len(line)
    digest.update(line)
    had_nul = b"\0" in line
    text = _text(line, stats)
    if text:
      if len(text.split(None, stats.long_line_words)) > stats.long_line_words:
        if not stats.long_lines:
          _warn_long_line(stats)
        stats.long_lines += 1
      document.append(text)
    elif had_nul and line.strip(b" \t\r\n"):
      stats.nul_only_lines += 1  # NULs only: no text, but not a break either
    elif document:
      stats.documents += 1
      yield document
      document = []
  stats.sha256 = digest.hexdigest()
  if document:
    stats.documents += 1
    yield document
