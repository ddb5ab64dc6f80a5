"""create_pretraining_data on corpora nobody cleaned (issue: hardening).

Each input is real text (whole documents of the bundled assets/corpus/
train.txt, prepare_corpus output of Emma and WikiText-2) damaged the way real
files are: Windows line endings, a byte order mark, NUL bytes, whitespace-only
files, a whole book on one line, very long words, one-token documents, gzip
bytes. The oracle for a repaired file is the clean file: the same records,
byte for byte, with the repair counted in metadata.json.

Tests: `official_albert.data.pretraining.create_pretraining_data`,
`official_albert.data.pretraining.seed_reader`.
"""

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from official_albert import errors
from official_albert.data.pretraining import create_pretraining_data as cpd
from official_albert.data.pretraining import sop_instances

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, "assets", "vocab", "albert_demo_8k.model")
SEQ = 64


@pytest.fixture(scope="module")
def docs():
  """The first 4 documents of assets/corpus/train.txt as lists of lines."""
  with open(os.path.join(REPO, "assets", "corpus", "train.txt"),
            encoding="utf-8") as f:
    text = f.read(400_000)
  return [d.split("\n") for d in text.split("\n\n")[:4]]


def seed_text(docs) -> str:
  return "\n\n".join("\n".join(d) for d in docs) + "\n"


def create(tmp_path, name, *inputs, **flags):
  """Runs the tool on files `inputs` (name -> bytes) and returns metadata."""
  paths = []
  for file_name, data in inputs:
    (tmp_path / file_name).write_bytes(data)
    paths.append(str(tmp_path / file_name))
  argv = ["--input_file", *paths, "--output_dir", str(tmp_path / name),
          "--sp_model_file", MODEL, "--do_lower_case", "--max_seq_length",
          str(SEQ), "--max_predictions_per_seq", "10", "--dupe_factor", "2"]
  for flag, value in flags.items():
    argv += [f"--{flag}", str(value)]
  return cpd.create_pretraining_data(cpd.parse_args(argv))


def shard(tmp_path, name) -> bytes:
  return (tmp_path / name / "part-00000-of-00001.tfrecord").read_bytes()


def original_truncate(a, b, max_tokens, rng):
  """The original ALBERT truncate_seq_pair, as the oracle."""
  while len(a) + len(b) > max_tokens:
    trunc = a if len(a) > len(b) else b
    if rng.random() < 0.5:
      del trunc[0]
    else:
      trunc.pop()


def test_linear_truncation_matches_the_original():
  for trial in range(300):
    sizes = random.Random(trial)
    a = list(range(sizes.randint(0, 400)))
    b = list(range(1000, 1000 + sizes.randint(0, 400)))
    limit = sizes.randint(2, 300)
    expected_a, expected_b = list(a), list(b)
    rng, oracle_rng = random.Random(trial), random.Random(trial)
    sop_instances.truncate_seq_pair(a, b, limit, rng)
    original_truncate(expected_a, expected_b, limit, oracle_rng)
    assert (a, b) == (expected_a, expected_b)
    assert rng.random() == oracle_rng.random()  # the same draws were used


def test_whole_book_on_one_line_is_truncated_and_warned_once(
    docs, tmp_path, capsys):
  words = " ".join(" ".join(d) for d in docs).split()
  line = " ".join((words * (200_000 // len(words) + 1))[:200_000])
  meta = create(tmp_path, "out", ("book.txt", (line + "\n").encode()),
                ("two.txt", (line + "\n\n" + line + "\n").encode()),
                dupe_factor=5)
  # One document of one sentence: one instance per dupe round.
  assert meta["num_instances"] == 3 * 5
  assert [i["long_lines"] for i in meta["inputs"]] == [1, 2]
  warnings = [l for l in capsys.readouterr().err.splitlines()
              if l.startswith("warning:")]
  assert len(warnings) == 2  # once per file
  assert "book.txt' line 1 " in warnings[0] and "prepare_corpus" in warnings[0]


def test_crlf_and_byte_order_mark_are_repaired_and_counted(docs, tmp_path):
  clean = seed_text(docs)
  create(tmp_path, "clean", ("clean.txt", clean.encode()))
  windows = "\ufeff" + clean.replace("\n", "\r\n")
  meta = create(tmp_path, "windows", ("windows.txt", windows.encode()))
  assert shard(tmp_path, "windows") == shard(tmp_path, "clean")
  (stats,) = meta["inputs"]
  assert stats["crlf_lines"] == stats["lines"] == clean.count("\n")
  assert stats["bom_lines"] == 1
  assert stats["bytes"] == len(windows.encode())
  assert stats["documents"] == len(docs)


def test_nul_bytes_are_removed_and_nul_lines_skipped(docs, tmp_path):
  clean = seed_text(docs)
  create(tmp_path, "clean", ("clean.txt", clean.encode()))
  lines = clean.split("\n")
  lines[0] = lines[0][:5] + "\0" + lines[0][5:]
  lines.insert(3, "\0\0\0")  # inside the first document: not a break
  meta = create(tmp_path, "nul", ("nul.txt", "\n".join(lines).encode()))
  assert shard(tmp_path, "nul") == shard(tmp_path, "clean")
  (stats,) = meta["inputs"]
  assert (stats["nul_lines"], stats["nul_only_lines"]) == (2, 1)
  assert meta["skipped_lines"]["nul_bytes_only"] == 1
  assert stats["documents"] == len(docs)


def test_whitespace_only_file_counts_zero_documents(docs, tmp_path):
  meta = create(tmp_path, "out", ("text.txt", seed_text(docs).encode()),
                ("blank.txt", b" \t\n\n   \r\n\t\n"))
  assert [i["documents"] for i in meta["inputs"]] == [len(docs), 0]
  assert meta["num_instances"] > 0
  with pytest.raises(errors.UserError, match="no instances"):
    create(tmp_path, "blank_only", ("blank2.txt", b" \t\n\n   \n"))


def test_long_words_one_token_documents_and_pieceless_lines(docs, tmp_path):
  word = "".join(random.Random(0).choice("abcdefghij") for _ in range(20_000))
  text = (seed_text(docs[:2]) + "\n" + f"{docs[2][0]} {word} {docs[2][1]}\n"
          + "\nthe\n\n" + "Emma\n\n" + "\u0301\u0301\n" + docs[3][0] + "\n")
  meta = create(tmp_path, "out", ("odd.txt", text.encode()))
  assert meta["documents_without_instances"] == 2  # one token; one word
  assert meta["skipped_lines"]["no_pieces"] == 1  # combining marks only
  assert meta["inputs"][0]["documents"] == 6
  assert meta["num_instances"] > 0


def test_gz_input_is_read_compressed(docs, tmp_path):
  text = seed_text(docs).encode()
  plain = create(tmp_path, "plain", ("corpus.txt", text))
  packed = create(tmp_path, "packed", ("corpus.txt.gz", gzip.compress(text)))
  assert shard(tmp_path, "packed") == shard(tmp_path, "plain")
  for key in ("bytes", "sha256", "lines", "documents"):
    assert packed["inputs"][0][key] == plain["inputs"][0][key]


def test_gzip_bytes_under_another_name_are_a_clear_error(docs, tmp_path):
  data = gzip.compress(seed_text(docs).encode())
  with pytest.raises(errors.UserError, match="gzip-compressed") as e:
    create(tmp_path, "out", ("corpus.txt", data))
  assert "\n" not in str(e.value) and ".gz" in str(e.value)
  assert not (tmp_path / "out").exists()


def test_truncated_gz_is_a_clear_error(docs, tmp_path):
  data = gzip.compress(seed_text(docs).encode())
  with pytest.raises(errors.UserError, match="not a complete gzip") as e:
    create(tmp_path, "out", ("corpus.txt.gz", data[:len(data) // 2]))
  assert "\n" not in str(e.value)
  assert not (tmp_path / "out").exists()


def test_binary_input_names_the_line(docs, tmp_path):
  data = seed_text(docs[:1]).encode() + b"\xff\xfe binary\n"
  with pytest.raises(errors.UserError, match="line 1[0-9]* is not UTF-8"):
    create(tmp_path, "out", ("data.bin", data))
  assert not (tmp_path / "out").exists()


def test_killed_run_leaves_nothing_that_looks_finished(docs, tmp_path):
  out = tmp_path / "out"
  command = [sys.executable, "-m",
             "official_albert.data.pretraining.create_pretraining_data",
             "--input_file",
             os.path.join(REPO, "assets", "corpus", "train.txt"),
             "--output_dir", str(out), "--sp_model_file", MODEL,
             "--do_lower_case", "--max_seq_length", str(SEQ),
             "--dupe_factor", "5", "--num_shards", "2"]
  proc = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 120
  # Kill once records are being written (the staging directory has bytes).
  while time.time() < deadline and proc.poll() is None:
    staged = [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    if staged and any(f.stat().st_size for f in staged[0].iterdir()):
      break
    time.sleep(0.05)
  assert proc.poll() is None, "the run ended before it could be killed"
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not out.exists()  # readers look for out/metadata.json and shards
  # A rerun into the same directory (on a small input, to be quick) starts
  # clean.
  (tmp_path / "small.txt").write_text(seed_text(docs), encoding="utf-8")
  command[4] = str(tmp_path / "small.txt")
  subprocess.run(command, check=True, capture_output=True)
  meta = json.loads((out / "metadata.json").read_text())
  assert sorted(os.listdir(out)) == sorted(meta["files"] + ["metadata.json"])
