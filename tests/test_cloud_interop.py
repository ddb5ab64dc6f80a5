"""Checkpoint conversion, export and batch prediction on `ram://` URLs.

Every input and output path is a `ram://` URL (standing in for `gs://`, see
the `ram` fixture in conftest.py). Oracles: the random-init HuggingFace
model's own weights, which every round trip through a format must give back
exactly (as in test_interop_tf1.py); the same conversions on local paths,
which must write the same files and weights; for fill-mask, the same run on
the local checkpoint; and for the exported classifier, the task
evaluation's `dev_predictions.tsv` and the same prediction from the local
SavedModel.

Tests: `official_albert.interop.convert`, `official_albert.serving.export`,
`official_albert.serving.predict`.
"""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from test_export import finetuned_model  # pylint: disable=g-bad-import-order
from test_parity_hf import tiny_hf_model

from official_albert import errors
from official_albert import io_utils
from official_albert.interop import convert
from official_albert.interop import hf
from official_albert.interop import layout
from official_albert.interop import ours
from official_albert.serving import export
from official_albert.serving import finetuned
from official_albert.serving import predict

gfile = tf.io.gfile
VOCAB = (pathlib.Path(__file__).resolve().parents[1] / "assets" / "vocab" /
         "albert_demo_8k.model")
# Formats that keep the pretraining heads; the others hold the encoder only.
WITH_HEADS = ("hf", "tf1")


def _tree(root: str) -> dict:
  """Relative file name -> bytes, for every file under `root`."""
  files = {}
  for folder, _, names in gfile.walk(root):
    for name in names:
      with gfile.GFile(f"{folder}/{name}", "rb") as f:
        files[f"{folder}/{name}"[len(root) + 1:]] = f.read()
  return files


def _round_trips(root: str, config, weights, vocab: str) -> dict:
  """ours -> each format -> ours under `root`; format -> weights read back."""
  ours.save(io_utils.join(root, "ours"), config, weights, vocab)
  back = {}
  for fmt in ("hf", "tf1", "model_garden", "keras_hub"):
    convert.main(["--from", "ours", "--to", fmt, "--input",
                  io_utils.join(root, "ours"), "--output",
                  io_utils.join(root, f"{fmt}_out")])
    convert.convert(fmt, "ours", io_utils.join(root, f"{fmt}_out"),
                    io_utils.join(root, f"back_{fmt}"))
    back_config, back[fmt], back_vocab = ours.load(
        io_utils.join(root, f"back_{fmt}"))
    assert back_config == config
    assert back_vocab == io_utils.join(root, f"back_{fmt}",
                                       layout.VOCAB_FILE)
  return back


def test_conversions_on_ram_equal_local_and_are_exact(ram, tmp_path_factory):
  # One group, so that Model Garden's encoder fits; VOCAB's size for fill-mask.
  model = tiny_hf_model(1, 1, vocab_size=8000)
  config = hf.config_from_hf(model.config.to_dict(), "test")
  weights = hf.from_state_dict(model.state_dict(), config, "test")
  local = tmp_path_factory.mktemp("local")
  (local / "spm.model").write_bytes(VOCAB.read_bytes())
  io_utils.copy(str(local / "spm.model"), f"{ram}/spm.model")
  on_ram = _round_trips(ram, config, weights, f"{ram}/spm.model")
  on_disk = _round_trips(str(local), config, weights, str(local / "spm.model"))
  for fmt, got in on_ram.items():
    expected = (weights if fmt in WITH_HEADS else
                {n: w for n, w in weights.items() if not layout.head_of(n)})
    assert got.keys() == expected.keys() == on_disk[fmt].keys(), fmt
    for name in got:
      np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
      np.testing.assert_array_equal(got[name], on_disk[fmt][name])
  # Every output holds the same files as the local one, nothing half-written
  # (no temporary names) is left, and the HuggingFace files are identical.
  assert sorted(gfile.listdir(ram)) == sorted(
      p.name for p in local.iterdir())
  for name in gfile.listdir(ram):
    if gfile.isdir(f"{ram}/{name}"):
      assert _tree(f"{ram}/{name}").keys() == _tree(
          str(local / name)).keys(), name
  hf_ram, hf_local = _tree(f"{ram}/hf_out"), _tree(str(local / "hf_out"))
  for name in (hf.CONFIG_FILE, hf.SAFETENSORS_FILE, layout.VOCAB_FILE):
    assert hf_ram[name] == hf_local[name], name
  assert _tree(f"{ram}/keras_hub_out")["assets/tokenizer/vocabulary.spm"] == (
      VOCAB.read_bytes())
  with pytest.raises(errors.UserError, match="already exists"):
    convert.convert("ours", "hf", f"{ram}/ours", f"{ram}/hf_out")
  with pytest.raises(errors.UserError, match="missing not found"):
    convert.convert("hf", "ours", f"{ram}/missing", f"{ram}/never")
  assert not gfile.exists(f"{ram}/never")
  # fill-mask from a checkpoint directory on ram:// equals the local run.
  texts = "the [MASK] of the city\nhe [MASK] a [MASK] in 1990\n"
  for root in (ram, str(local)):
    with gfile.GFile(f"{root}/masked.txt", "w") as f:
      f.write(texts)
    predict.main(["fill-mask", "--model", f"{root}/back_hf", "--input",
                  f"{root}/masked.txt", "--output", f"{root}/filled.jsonl",
                  "--top_k", "3"])
  filled = _jsonl(f"{ram}/filled.jsonl")
  assert [len(r["masks"]) for r in filled] == [1, 2]
  for a, b in zip(filled, _jsonl(str(local / "filled.jsonl"))):
    for mask_a, mask_b in zip(a["masks"], b["masks"]):
      assert ([p["id"] for p in mask_a["predictions"]] ==
              [p["id"] for p in mask_b["predictions"]])
      np.testing.assert_allclose(
          [p["probability"] for p in mask_a["predictions"]],
          [p["probability"] for p in mask_b["predictions"]], rtol=1e-6)


def _jsonl(path: str):
  with gfile.GFile(path) as f:
    return [json.loads(line) for line in f.read().splitlines()]


def test_export_and_classify_on_ram(ram, test_data, tmp_path_factory):
  """A fine-tuned model_dir on ram:// exported there; predict reads/writes it."""
  root = finetuned_model(test_data, tmp_path_factory, "sst-2")
  io_utils.copy_tree(str(root / "model"), f"{ram}/model_dir")
  io_utils.copy(str(root / "src/dev.tsv"), f"{ram}/dev.tsv")
  vocab, = (root / "saved" / "assets").glob("*.model")
  io_utils.copy(str(vocab), f"{ram}/spm.model")
  export.main(["--input", f"{ram}/model_dir", "--output", f"{ram}/saved",
               "--vocab", f"{ram}/spm.model"])
  assert sorted(gfile.listdir(ram)) == ["dev.tsv", "model_dir", "saved",
                                        "spm.model"]
  assert {"saved_model.pb", "variables", "assets"} <= set(
      gfile.listdir(f"{ram}/saved"))
  served = finetuned.load(f"{ram}/saved")
  assert served.kind == finetuned.CLASSIFIER and served.model is None
  assert served.params_path == f"{ram}/saved/assets/{finetuned.PARAMS_FILE}"
  assert served.vocab == f"{ram}/saved/assets/spm.model"
  with gfile.GFile(served.vocab, "rb") as f:
    assert f.read() == vocab.read_bytes()
  outputs = {}
  for name, model, text in (
      ("ram", f"{ram}/saved", f"{ram}/dev.tsv"),
      ("local", str(root / "saved"), str(root / "src/dev.tsv"))):
    outputs[name] = f"{ram}/{name}.jsonl"
    errors.run_cli(lambda: predict.main([  # pylint: disable=cell-var-from-loop
        "classify", "--model", model, "--input", text, "--output",
        outputs[name]]))
  records = _jsonl(outputs["ram"])
  evaluated = (root / "model/dev_predictions.tsv").read_text().splitlines()
  assert [r["label"] for r in records] == [
      line.split("\t")[1] for line in evaluated[1:]]
  for a, b in zip(records, _jsonl(outputs["local"])):
    np.testing.assert_allclose(list(a["probabilities"].values()),
                               list(b["probabilities"].values()), atol=1e-6)
