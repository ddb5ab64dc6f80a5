"""Shared test fixtures: the bundled real-data slices and quiet TF logs."""

import os
import pathlib
import subprocess
import sys
import uuid

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = pathlib.Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"
# A two-layer encoder on the 8k demo vocabulary, as encoder config fields.
TINY_ENCODER = dict(
    vocab_size=8000, embedding_size=16, hidden_size=32, num_hidden_layers=2,
    num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
# The same encoder as a --params_override of a fine-tuning experiment.
TINY_ENCODER_OVERRIDE = ",".join(
    f"task.model.encoder.{k}={v}" for k, v in TINY_ENCODER.items())


@pytest.fixture(scope="session")
def test_data() -> pathlib.Path:
  """Real data slices bundled in the repository (`tests/data`, PROVENANCE.md)."""
  return TEST_DATA


@pytest.fixture
def ram(tmp_path, monkeypatch):
  """A fresh `ram://` root; the test runs in an empty local directory.

  `ram://` (TensorFlow's in-memory filesystem) stands in for `gs://`: both
  go through `tf.io.gfile` only, so a path handled with `open`/`os` would
  land in a local directory named `ram:` (the bug this guards against:
  `--output_dir gs://b/x` writing `./gs:/b/x`). Checks after the test that
  nothing appeared in the working directory or the repository.
  """
  monkeypatch.chdir(tmp_path)
  yield f"ram://{uuid.uuid4().hex}"
  assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())
  assert not (REPO / "ram:").exists() and not (REPO / "gs:").exists()


def make_pretraining_records(root: pathlib.Path, num_documents: int,
                             seq_length: int, max_predictions: int,
                             num_shards: int = 1) -> pathlib.Path:
  """Records made by our CLI from the first documents of real held-out text.

  `assets/corpus/heldout.txt` is WikiText-2 test (assets/README.md) in the
  one-sentence-per-line format
  (`official_albert.data.pretraining.prepare_corpus`).
  Returns the output directory (`*.tfrecord` and `metadata.json`).
  """
  text = (REPO / "assets/corpus/heldout.txt").read_text(encoding="utf-8")
  seed = root / "seed.txt"
  seed.write_text("\n\n".join(text.split("\n\n")[:num_documents]) + "\n",
                  encoding="utf-8")
  subprocess.run(
      [sys.executable, "-m",
       "official_albert.data.pretraining.create_pretraining_data",
       "--input_file", str(seed), "--output_dir", str(root / "out"),
       "--sp_model_file", str(REPO / "assets/vocab/albert_demo_8k.model"),
       "--do_lower_case", "--max_seq_length", str(seq_length),
       "--max_predictions_per_seq", str(max_predictions),
       "--dupe_factor", "1", "--num_shards", str(num_shards)],
      check=True, capture_output=True)
  return root / "out"


def original_is_start_piece_sp(piece):
  """The original `_is_start_piece_sp`, verbatim but for `six.ensure_str`
  (google-research/albert create_pretraining_data.py), as a test oracle."""
  special_pieces = set(list('!"#$%&\"()*+,-./:;?@[\\]^_`{|}~'))
  special_pieces.add(u"€".encode("utf-8"))
  special_pieces.add(u"£".encode("utf-8"))
  # Note(mingdachen):
  # For foreign characters, we always treat them as a whole piece.
  english_chars = set(list("abcdefghijklmnopqrstuvwxyz"))
  if (piece.startswith("▁") or
      piece.startswith("<") or piece in special_pieces or
      not all([i.lower() in english_chars.union(special_pieces)
               for i in piece])):
    return True
  else:
    return False

# Rows of the bundled SST-2 slice (tests/data/glue/SST-2) that the smaller
# SST-2 runs use: the first 256 training and 128 dev sentences.
SST2_HEAD_ROWS = {"train.tsv": 256, "dev.tsv": 128}


def sst2_head(name: str, rows: int) -> str:
  """The header and the first `rows` rows of the bundled SST-2 file `name`."""
  lines = (TEST_DATA / "glue" / "SST-2" / name).read_text(
      encoding="utf-8").splitlines(keepends=True)
  assert len(lines) > rows, f"the SST-2 slice {name} has fewer rows"
  return "".join(lines[:rows + 1])


def make_sst2_records(root: pathlib.Path, seq_length: int) -> pathlib.Path:
  """SST-2 records (`train.tfrecord`, `dev.tfrecord`) made by our CLI.

  From the first 256 training and 128 dev sentences of the bundled slice
  (`SST2_HEAD_ROWS`) and the demo vocabulary. Returns the output directory.
  """
  from official_albert.data.finetuning import create_finetuning_data  # pylint: disable=g-import-not-at-top
  src = root / "sst2_head"
  src.mkdir(parents=True)
  for name, rows in SST2_HEAD_ROWS.items():
    (src / name).write_text(sst2_head(name, rows), encoding="utf-8")
  out = root / "records"
  create_finetuning_data.main([
      "--task", "sst-2", "--input_dir", str(src),
      "--sp_model_file", str(REPO / "assets/vocab/albert_demo_8k.model"),
      "--output_dir", str(out), "--max_seq_length", str(seq_length)])
  return out
