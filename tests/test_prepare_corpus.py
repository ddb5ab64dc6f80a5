"""Tests of prepare_corpus on the real WikiText and Gutenberg files.

Tests: `official_albert.data.pretraining.prepare_corpus`.
"""

import collections
import pathlib
import re
import subprocess
import sys

import pytest

from official_albert import errors
from official_albert.data.pretraining import prepare_corpus

REPO = pathlib.Path(__file__).resolve().parents[1]
FILES = ("wiki.valid.raw", "austen-emma.txt", "carroll-alice.txt")


@pytest.fixture(scope="module")
def raw(test_data):
  """The raw lines of FILES."""
  return {name: (test_data / "corpus" / name).read_text(
      encoding="utf-8").splitlines() for name in FILES}


@pytest.fixture(scope="module")
def documents(test_data, tmp_path_factory):
  """The seed-format output for FILES, as lists of sentence lines."""
  out = tmp_path_factory.mktemp("corpus") / "seed.txt"
  prepare_corpus.main(["--input"] + [str(test_data / "corpus" / n)
                                     for n in FILES] + ["--output", str(out)])
  text = out.read_text(encoding="utf-8")
  assert text.endswith("\n") and "\n\n\n" not in text
  return [d.split("\n") for d in text.strip("\n").split("\n\n")]


def is_wiki_title(line):
  return line.startswith(" = ") and not line.startswith(" = = ")


def test_one_document_per_article_and_chapter(raw, documents):
  articles = sum(map(is_wiki_title, raw["wiki.valid.raw"]))
  chapters = sum(line.lstrip().startswith("CHAPTER") for name in FILES[1:]
                 for line in raw[name])
  assert articles == 20  # tests/data/PROVENANCE.md
  assert len(documents) == articles + chapters


def test_no_heading_survives(documents):
  lines = [s for d in documents for s in d]
  assert all(s.strip() == s and s for s in lines)
  for s in lines:
    assert not s.startswith(("=", "CHAPTER", "VOLUME")), s
    assert not re.match(r"\[(Emma|Alice's Adventures) .* by ", s), s
    assert not re.search(r"@[-,.]@", s), s


def test_wikitext_words_are_kept(raw, documents):
  """Detokenizing must not add or lose a word of any paragraph."""
  def words(lines):
    return collections.Counter(w for line in lines
                               for w in re.findall(r"\w+", line))
  paragraphs = [line for line in raw["wiki.valid.raw"]
                if line.strip() and not line.startswith(" = ")]
  wiki = [s for d in documents[:20] for s in d]
  # Compared as differences: a full Counter diff would take pytest minutes.
  kept, given = words(wiki), words(paragraphs)
  assert not kept - given and not given - kept
  assert sum(s.count(" ,") + s.count(" .") for s in wiki) == 0
  assert "1 @,@ 000" in "\n".join(raw["wiki.valid.raw"])
  assert any("1,000" in s for s in wiki)


def test_sentences_end_with_terminal_punctuation(documents):
  lines = [s for d in documents for s in d]
  ends = sum(bool(re.search(r"[.!?][\"')\]]*$|[:;]$", s)) for s in lines)
  assert ends / len(lines) > 0.95


def test_gutenberg_paragraphs_are_joined_and_titles_kept(raw, documents):
  emma = raw["austen-emma.txt"]
  first = " ".join(emma[emma.index("CHAPTER I") + 3:][:4])
  assert documents[20][0] == first
  emma_text = "\n".join(s for d in documents[20:] for s in d)
  # Punkt must not end a sentence after a title before a name.
  assert not re.search(r"\b(Mr|Mrs)\.$", emma_text, re.M)
  # Bracketed lines ("[To Mrs. Weston.]") are dropped by design.
  raw_count = sum(line.count("Mrs.") for line in emma
                  if not re.match(r"\s*\[.*\]\s*$", line))
  assert emma_text.count("Mrs.") == raw_count > 30


def test_bad_input(tmp_path, test_data):
  out = tmp_path / "out.txt"
  (tmp_path / "empty.raw").write_text("\n \n")
  for bad in (tmp_path / "missing.txt", tmp_path / "empty.raw"):
    with pytest.raises(errors.UserError, match=bad.name):
      prepare_corpus.main(["--input", str(bad), "--output", str(out)])
  assert not out.exists()
  result = subprocess.run(
      [sys.executable, "-m", "official_albert.data.pretraining.prepare_corpus",
       "--input",
       str(test_data / "corpus" / "carroll-alice.txt"),
       str(tmp_path / "missing.txt"), "--output", str(out)],
      capture_output=True, text=True, check=False, cwd=REPO)
  assert result.returncode == 2
  assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
  assert not out.exists()


WIKI_SLICE = "enwiki/wiki_00_docs24-28.txt"


def test_wikiextractor_one_document_per_doc_block(test_data, tmp_path):
  """Real WikiExtractor output (enwiki AA/wiki_00, articles 24-28)."""
  path = test_data / WIKI_SLICE
  raw = path.read_text(encoding="utf-8").splitlines()
  assert prepare_corpus.detect_format(str(path), raw) == "wikiextractor"
  out = tmp_path / "seed.txt"
  prepare_corpus.main(["--input", str(path), "--output", str(out)])
  text = out.read_text(encoding="utf-8")
  assert text.endswith("\n") and "\n\n\n" not in text
  documents = [d.split("\n") for d in text.strip("\n").split("\n\n")]
  titles = [re.search(r'title="([^"]*)"', line).group(1)
            for line in raw if line.startswith("<doc ")]
  assert titles == ["Alien", "Astronomer", "ASCII",
                    "Austin (disambiguation)", "Animation"]
  assert len(documents) == len(titles)
  # The repeated title line is dropped, markup never leaks into the text.
  for title, doc in zip(titles, documents):
    assert doc[0] != title and not doc[0].startswith(title + "\n")
    assert not any(s.startswith(("<doc", "</doc")) for s in doc)
  assert documents[0] == ["Alien may refer to:"]
  assert documents[1][0].startswith("An astronomer is a scientist who")
  # Every character of every paragraph is kept, in order (compared without
  # whitespace: Punkt may split inside a token such as "code.:215,"), and
  # paragraphs are split into sentences (never joined across paragraphs).
  blocks, current = [], None
  for line in raw:
    if line.startswith("<doc "):
      current = []
    elif line == "</doc>":
      blocks.append(current[1:])
    elif line.strip():
      current.append(line)
  for paragraphs, doc in zip(blocks, documents):
    assert "".join("".join(doc).split()) == "".join(
        "".join(paragraphs).split())
    assert len(doc) >= len(paragraphs)
  first = blocks[1][0]
  assert first.count(". ") >= 2
  assert documents[1][0] != first and first.startswith(documents[1][0])
  assert sum(len(d) for d in documents) > 1.5 * sum(map(len, blocks))


def test_wikiextractor_bare_title_block_is_dropped(tmp_path):
  src = tmp_path / "wiki_00"
  src.write_text('<doc id="1" url="u" title="T">\nT\n\n</doc>\n'
                 '<doc id="2" url="u" title="U">\nU\n\nOne. Two here.\n'
                 '</doc>\n', encoding="utf-8")
  out = tmp_path / "seed.txt"
  prepare_corpus.main(["--input", str(src), "--output", str(out)])
  assert out.read_text(encoding="utf-8") == "One.\nTwo here.\n"
