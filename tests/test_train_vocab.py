"""Tests of train_vocab on real seed-format text (Emma, from assets/corpus).

Tests: `official_albert.data.pretraining.train_vocab`.
"""

import pathlib
import subprocess
import sys

import pytest
from sentencepiece import sentencepiece_model_pb2

from official_albert import errors
from official_albert.data import tokenization
from official_albert.data.pretraining import train_vocab

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
  """The first 8000 sentences of the bundled training seed file."""
  lines = (REPO / "assets" / "corpus" / "train.txt").read_text(
      encoding="utf-8").splitlines()[:8000]
  path = tmp_path_factory.mktemp("vocab") / "seed.txt"
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  return path


@pytest.fixture(scope="module")
def model(seed):
  prefix = seed.parent / "sp2k"
  train_vocab.main(["--input", str(seed), "--model_prefix", str(prefix),
                    "--vocab_size", "2000"])
  return prefix


def test_special_ids_and_settings(model):
  proto = sentencepiece_model_pb2.ModelProto()
  proto.ParseFromString(model.with_suffix(".model").read_bytes())
  pieces = [p.piece for p in proto.pieces]
  assert len(pieces) == 2000
  assert pieces[:13] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "(",
                         ")", '"', "-", ".", "–", "£", "€"]
  spec = proto.trainer_spec
  assert spec.model_type == sentencepiece_model_pb2.TrainerSpec.UNIGRAM
  assert (spec.bos_id, spec.eos_id) == (-1, -1)
  assert spec.character_coverage == pytest.approx(0.99995)
  vocab = model.with_suffix(".vocab").read_text(encoding="utf-8").splitlines()
  assert [line.split("\t")[0] for line in vocab] == pieces


def test_loads_in_albert_tokenizer(model, seed):
  tok = tokenization.AlbertTokenizer(str(model.with_suffix(".model")))
  assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id,
          tok.vocab_size) == (0, 1, 2, 3, 4, 2000)
  sentences = seed.read_text(encoding="utf-8").splitlines()[:500]
  pieces = [p for s in sentences if s for p in tok.tokenize(s)]
  # Lower-cased training text: no upper-case piece, almost no <unk>.
  assert not any(any(c.isupper() for c in p) for p in pieces)
  assert pieces.count("<unk>") / len(pieces) < 0.001


def test_no_lower_case_keeps_case(seed, tmp_path):
  prefix = tmp_path / "cased"
  train_vocab.main(["--input", str(seed), "--model_prefix", str(prefix),
                    "--vocab_size", "1000", "--no_lower_case"])
  pieces = (prefix.with_suffix(".vocab")).read_text(encoding="utf-8")
  assert "▁Emma" in pieces.split()


@pytest.mark.parametrize("case", ["missing", "empty", "too_large"])
def test_bad_input(case, seed, tmp_path):
  (tmp_path / "empty.txt").write_text("\n  \n")
  source = {"missing": tmp_path / "missing.txt",
            "empty": tmp_path / "empty.txt", "too_large": seed}[case]
  size = "300000" if case == "too_large" else "1000"
  with pytest.raises(errors.UserError, match="--vocab_size|--input"):
    train_vocab.main(["--input", str(source), "--model_prefix",
                      str(tmp_path / "m"), "--vocab_size", size])
  assert not list(tmp_path.glob("m.*"))


def test_cli_reports_one_line(tmp_path):
  result = subprocess.run(
      [sys.executable, "-m", "official_albert.data.pretraining.train_vocab",
       "--input",
       str(tmp_path / "missing.txt"), "--model_prefix", str(tmp_path / "m")],
      capture_output=True, text=True, check=False, cwd=REPO)
  assert result.returncode == 2
  assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
