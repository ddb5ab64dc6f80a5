"""The Beam pipeline (DirectRunner) against create_pretraining_data.

The oracle is the sequential tool: for the same flags the pipeline must
write byte-identical shards and the same metadata. Input: whole documents of
assets/corpus/train.txt (prepare_corpus output; assets/README.md) split
over two files, so that document numbering across files is exercised, and
the bundled 8k-piece vocabulary.

Tests: `official_albert.data.pretraining.beam_pipeline`.
"""

import gzip
import json
import os

import pytest

if os.environ.get("ALBERT_REQUIRE_BEAM"):  # .ci/run's Beam environment
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
else:
  beam = pytest.importorskip(
      "apache_beam", reason="apache-beam is an optional extra for its own "
      "environment: pip install -r requirements-beam.txt "
      "(docs/data_at_scale.md); .ci/run runs these tests in one")

# pylint: disable=g-import-not-at-top,wrong-import-position
from official_albert import errors
from official_albert.data.pretraining import beam_pipeline
from official_albert.data.pretraining import create_pretraining_data as cpd

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, "assets", "vocab", "albert_demo_8k.model")
# Threads rather than processes: several bundles run concurrently, so the
# output must not depend on their order, without a TensorFlow import each.
RUNNER = ["--runner=DirectRunner", "--direct_num_workers=2",
          "--direct_running_mode=multi_threading"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  """Two seed-format files: 3 Emma chapters, then 3 WikiText articles
  (assets/corpus/train.txt; assets/README.md)."""
  with open(os.path.join(REPO, "assets", "corpus", "train.txt"),
            encoding="utf-8") as f:
    docs = f.read().strip().split("\n\n")
  work = tmp_path_factory.mktemp("beam")
  (work / "a.txt").write_text("\n\n".join(docs[:3]) + "\n", encoding="utf-8")
  (work / "b.txt").write_text("\n\n".join(docs[-3:]) + "\n", encoding="utf-8")
  return work


def flags(inputs, out, **extra):
  """The shared flags, as the command line spells them."""
  argv = ["--input_file", str(inputs / "*.txt"), "--output_dir", str(out),
          "--sp_model_file", MODEL, "--do_lower_case", "--max_seq_length",
          "128", "--dupe_factor", "2", "--num_shards", "3"]
  for name, value in extra.items():
    argv += [f"--{name}", str(value)]
  return argv


def assert_same_output(beam_out, local_out):
  """Byte-identical shards; metadata equal but for the flags that differ."""
  local = json.loads((local_out / "metadata.json").read_text())
  ours = json.loads((beam_out / "metadata.json").read_text())
  assert local["settings"].pop("num_workers") == 1
  assert local["settings"].pop("output_dir") == str(local_out)
  assert ours["settings"].pop("output_dir") == str(beam_out)
  assert ours == local
  assert sorted(os.listdir(beam_out)) == sorted(os.listdir(local_out))
  for name in local["files"]:
    assert (beam_out / name).read_bytes() == (local_out / name).read_bytes()


def test_beam_output_is_byte_identical_to_create_pretraining_data(
    inputs, tmp_path):
  local = cpd.create_pretraining_data(cpd.parse_args(
      flags(inputs, tmp_path / "local")))
  beam_pipeline.main(flags(inputs, tmp_path / "beam") + RUNNER)
  assert local["num_instances"] > 30
  assert_same_output(tmp_path / "beam", tmp_path / "local")
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_bucketed_shard_shuffle_is_byte_identical(inputs, tmp_path,
                                                  monkeypatch):
  # Shards above SHUFFLE_BUCKET_BYTES: buckets spilled to files locally,
  # held in memory by the pipeline; the same draws, the same bytes.
  monkeypatch.setattr(cpd, "SHUFFLE_BUCKET_BYTES", 50_000)
  local = cpd.create_pretraining_data(cpd.parse_args(
      flags(inputs, tmp_path / "local")))
  beam_pipeline.main(flags(inputs, tmp_path / "beam") + RUNNER)
  for name in local["files"]:  # several buckets per shard
    assert (tmp_path / "local" / name).stat().st_size > (
        2 * cpd.SHUFFLE_BUCKET_BYTES)
  assert_same_output(tmp_path / "beam", tmp_path / "local")


def test_gz_input_gives_the_same_shards(inputs, tmp_path):
  packed = tmp_path / "packed"
  packed.mkdir()
  for name in ("a.txt", "b.txt"):
    (packed / f"{name}.gz").write_bytes(
        gzip.compress((inputs / name).read_bytes()))
  local = cpd.create_pretraining_data(cpd.parse_args(
      flags(inputs, tmp_path / "local")))
  argv = flags(inputs, tmp_path / "beam")
  argv[1] = str(packed / "*.txt.gz")
  beam_pipeline.main(argv + RUNNER)
  for name in local["files"]:
    assert (tmp_path / "beam" / name).read_bytes() == (
        tmp_path / "local" / name).read_bytes()


def test_shard_without_instances_is_still_written(inputs, tmp_path):
  # One sentence, one round: a single instance for two shards.
  sentence = (inputs / "a.txt").read_text(encoding="utf-8").split("\n")[0]
  (tmp_path / "one.txt").write_text(sentence + "\n", encoding="utf-8")
  argv = flags(inputs, tmp_path / "local", dupe_factor=1, num_shards=2)
  argv[1] = str(tmp_path / "one.txt")
  cpd.create_pretraining_data(cpd.parse_args(argv))
  argv[3] = str(tmp_path / "beam")
  beam_pipeline.main(argv + RUNNER)
  meta = json.loads((tmp_path / "beam" / "metadata.json").read_text())
  assert meta["num_instances"] == 1
  assert_same_output(tmp_path / "beam", tmp_path / "local")
  assert (tmp_path / "beam" / meta["files"][1]).stat().st_size == 0


@pytest.mark.parametrize("case", [
    "no_match", "empty", "not_utf8", "not_utf8_threads", "bad_model",
    "max_pred", "typo", "output_full"])
def test_bad_input(case, inputs, tmp_path):
  out = tmp_path / "out"
  argv = flags(inputs, out)
  if case == "no_match":
    argv[1] = str(tmp_path / "nothing-*.txt")
  elif case == "empty":
    (tmp_path / "in.txt").write_text("\n\n")
    argv[1] = str(tmp_path / "in.txt")
  elif case.startswith("not_utf8"):  # found by a worker, in the pipeline
    (tmp_path / "in.txt").write_bytes("Emma Woodhouse\n".encode("utf-16"))
    argv[1] = str(tmp_path / "in.txt")
  elif case == "bad_model":
    (tmp_path / "bad.model").write_bytes(b"not a sentencepiece model")
    argv[5] = str(tmp_path / "bad.model")
  elif case == "max_pred":
    argv += ["--max_predictions_per_seq", "129"]
  elif case == "typo":  # Beam itself would only warn and go on
    argv += ["--dupe_facter", "3"]
  else:
    out.mkdir()
    (out / "keep.txt").write_text("x")
  # The in-memory runner re-raises a worker's exception; with threads it
  # comes back as the text of its traceback.
  if case == "not_utf8_threads":
    argv += RUNNER
  with pytest.raises(errors.UserError) as e:
    beam_pipeline.main(argv)
  assert "\n" not in str(e.value)
  assert os.listdir(out) == ["keep.txt"] if case == "output_full" else (
      not out.exists())
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".out")]
