"""Cuts the real-data slices in tests/data from the project's shared data.

  python scripts/make_test_slices.py [--data_dir ../shared/data]

Rewrites every slice listed in PROVENANCE.md (deterministic: the same source
files give the same bytes) and prints each file's size and sha256.
"""

import argparse
import hashlib
import json
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"

# GLUE: (directory, file, data rows kept after the header, has a header).
GLUE = [("SST-2", "train.tsv", 400, True), ("SST-2", "dev.tsv", 200, True),
        ("MRPC", "dev.tsv", 200, True), ("CoLA", "dev.tsv", 200, False),
        ("STS-B", "train.tsv", 300, True), ("STS-B", "dev.tsv", 200, True),
        ("RTE", "train.tsv", 200, True), ("RTE", "dev.tsv", 100, True),
        ("QNLI", "dev.tsv", 100, True)]
# SQuAD dev: the first 8 paragraphs of the first two articles, then the
# first 3 paragraphs of the last article.
SQUAD_PARAGRAPHS = ((0, 8), (1, 8), (-1, 3))
WIKI_ARTICLES = 20      # wiki.valid.raw: the first 20 ` = Title = ` articles.
BOOK_CHAPTERS = {"austen-emma.txt": 4, "carroll-alice.txt": 3}
ENWIKI_DOCS = (24, 28)  # enwiki AA/wiki_00: the 24th to 28th <doc> blocks.


def _lines(path):
  return path.read_text(encoding="utf-8").splitlines(keepends=True)


def cut(src: pathlib.Path, dst: pathlib.Path) -> None:
  """Writes every slice from the shared data directory `src` into `dst`."""
  out = {}
  for directory, name, rows, header in GLUE:
    lines = _lines(src / "glue" / directory / name)
    out[f"glue/{directory}/{name}"] = "".join(lines[:rows + int(header)])
  for version in ("1.1", "2.0"):
    data = json.loads((src / f"squad/dev-v{version}.json").read_text(
        encoding="utf-8"))
    articles = [dict(data["data"][i], paragraphs=data["data"][i][
        "paragraphs"][:n]) for i, n in SQUAD_PARAGRAPHS]
    out[f"squad/dev-v{version}.json"] = json.dumps(
        {"version": data["version"], "data": articles})
  lines = _lines(src / "corpus/wiki.valid.raw")
  titles = [i for i, line in enumerate(lines)
            if re.match(r"^ = [^=].* = $", line.rstrip("\n"))]
  out["corpus/wiki.valid.raw"] = "".join(lines[:titles[WIKI_ARTICLES]])
  for name, chapters in BOOK_CHAPTERS.items():
    lines = _lines(src / "corpus" / name)
    starts = [i for i, line in enumerate(lines)
              if line.lstrip().startswith("CHAPTER")]
    out[f"corpus/{name}"] = "".join(lines[:starts[chapters]])
  lines, docs = _lines(src / "corpus/enwiki/AA/wiki_00"), 0
  kept = []
  for line in lines:
    docs += line.startswith("<doc ")
    if ENWIKI_DOCS[0] <= docs <= ENWIKI_DOCS[1]:
      kept.append(line)
  out["enwiki/wiki_00_docs24-28.txt"] = "".join(kept)
  for name, text in sorted(out.items()):
    path = dst / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(data)
    print(f"| {name} | {len(data)} | {hashlib.sha256(data).hexdigest()} |")


if __name__ == "__main__":
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--data_dir", default=str(REPO.parent / "shared/data"))
  cut(pathlib.Path(parser.parse_args().data_dir), TEST_DATA)
