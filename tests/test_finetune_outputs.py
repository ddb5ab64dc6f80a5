"""create_finetuning_data writes its outputs as one unit (issue: hardening).

Input: the first 60 rows of the real SST-2 dev set (tests/data, see
PROVENANCE.md), split into two tables, and the bundled 8k vocabulary.

Tests: `official_albert.data.finetuning.create_finetuning_data`.
"""

import os
import pathlib

import pytest

import conftest
from official_albert import errors
from official_albert.data.finetuning import create_finetuning_data

REPO = pathlib.Path(__file__).resolve().parents[1]
MODEL = REPO / "assets" / "vocab" / "albert_demo_8k.model"


@pytest.fixture()
def tables(tmp_path):
  """a.tsv and b.tsv: 30 SST-2 rows each, with the header."""
  rows = conftest.sst2_head("dev.tsv", 60).splitlines()
  for name, part in (("a", rows[1:31]), ("b", rows[31:61])):
    (tmp_path / f"{name}.tsv").write_text(
        "\n".join([rows[0]] + part) + "\n", encoding="utf-8")
  return tmp_path


def run(inputs, out):
  create_finetuning_data.main([
      "--task", "custom", "--input_files", *map(str, inputs),
      "--text_a_column", "sentence", "--label_column", "label",
      "--labels", "0,1", "--sp_model_file", str(MODEL),
      "--max_seq_length", "32", "--output_dir", str(out)])


def snapshot(directory):
  return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_failure_on_the_second_file_leaves_the_old_outputs(tables):
  out = tables / "out"
  run([tables / "a.tsv", tables / "b.tsv"], out)
  before = snapshot(out)
  assert sorted(before) == ["a.tfrecord", "b.tfrecord", "metadata.json"]
  # New rows for a.tsv; b.tsv gets a label outside --labels, which fails
  # while its records are written, after a.tsv's.
  a_rows = (tables / "a.tsv").read_text().splitlines()
  (tables / "a.tsv").write_text("\n".join([a_rows[0]] + a_rows[:0:-1]) + "\n")
  (tables / "b.tsv").write_text("sentence\tlabel\nfine film .\t7\n")
  with pytest.raises(errors.UserError, match="b.tsv:2: unknown label"):
    run([tables / "a.tsv", tables / "b.tsv"], out)
  assert snapshot(out) == before
  assert not [p for p in os.listdir(tables) if p.startswith(".out")]


def test_a_successful_rerun_replaces_all_outputs(tables):
  out = tables / "out"
  run([tables / "a.tsv", tables / "b.tsv"], out)
  run([tables / "b.tsv"], out)
  meta = (out / "metadata.json").read_text()
  assert '"b.tfrecord"' in meta and '"a.tfrecord"' not in meta


def test_inputs_with_the_same_stem_are_refused(tables):
  for sub in ("train", "dev"):
    (tables / sub).mkdir()
    (tables / sub / "data.tsv").write_bytes((tables / "a.tsv").read_bytes())
  with pytest.raises(errors.UserError, match="would both write data.tfrecord"):
    run([tables / "train" / "data.tsv", tables / "dev" / "data.tsv"],
        tables / "out")
  assert not (tables / "out").exists()
