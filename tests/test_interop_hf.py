"""HuggingFace interop through files: import, export, and the CLI's errors.

The oracle is transformers itself: a random-init HuggingFace model saved with
`save_pretrained` must give our model the same outputs after conversion, and
our export must load into transformers' classes without missing or unexpected
keys and reproduce our outputs.

Tests: `official_albert.interop.hf`.
"""

import json
import re

import numpy as np
import pytest
import torch
import transformers
from safetensors import numpy as safetensors_numpy
from test_parity_hf import padded_batch
from test_parity_hf import tiny_hf_model

from official_albert import errors
from official_albert.interop import convert
from official_albert.interop import hf
from official_albert.interop import ours
from official_albert.tasks import checkpoints

TOLERANCE = 1e-5


def hf_outputs(model, batch):
  """HF sequence output, and MLM logits at the masked positions and SOP."""
  with torch.no_grad():
    out = model(input_ids=torch.tensor(batch["input_word_ids"]),
                attention_mask=torch.tensor(batch["input_mask"]),
                token_type_ids=torch.tensor(batch["input_type_ids"]),
                output_hidden_states=True)
  rows = np.arange(len(batch["input_word_ids"]))[:, None]
  return dict(sequence_output=out.hidden_states[-1].numpy(),
              mlm_logits=out.prediction_logits.numpy()[
                  rows, batch["masked_lm_positions"]],
              sop_logits=out.sop_logits.numpy())


def our_outputs(model, batch):
  out = model({k: v.astype(np.int32) for k, v in batch.items()})
  return {k: out[k].numpy() for k in ("sequence_output", "mlm_logits",
                                      "sop_logits")}


def max_diffs(a, b):
  return {k: float(np.abs(a[k] - b[k]).max()) for k in a}


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
  """A random-init HF AlbertForPreTraining saved with save_pretrained."""
  path = tmp_path_factory.mktemp("hf") / "model"
  tiny_hf_model(2, 2).save_pretrained(path)
  return path


def test_hf_to_ours_checkpoint_restores_via_checkpoint_items(hf_dir, tmp_path):
  out = tmp_path / "ours"
  convert.convert("hf", "ours", str(hf_dir), str(out))
  config, _, _ = ours.load(str(out))
  # Restore the way a task's init_checkpoint does, from the directory.
  model = ours.build_pretrainer(config)
  assert checkpoints.restore_items(str(out), **model.checkpoint_items) == [
      "encoder", "masked_lm", "sop_classifier"]
  batch = padded_batch(config.vocab_size)
  expected = hf_outputs(
      transformers.AlbertForPreTraining.from_pretrained(hf_dir).eval(), batch)
  diffs = max_diffs(our_outputs(model, batch), expected)
  print("hf -> ours max abs diff:", diffs)
  assert max(diffs.values()) <= TOLERANCE, diffs


def test_ours_to_hf_loads_in_transformers(hf_dir, tmp_path):
  config, weights, _ = hf.load(str(hf_dir))
  model = ours.build_pretrainer(config)
  ours.assign(model, weights, "test")
  ours_dir = tmp_path / "ours"
  ours.save(str(ours_dir), config, ours.read(model))
  exported = tmp_path / "hf"
  convert.convert("ours", "hf", str(ours_dir), str(exported))

  reloaded, info = transformers.AlbertForPreTraining.from_pretrained(
      exported, output_loading_info=True)
  assert not info["missing_keys"] and not info["unexpected_keys"], info
  batch = padded_batch(config.vocab_size)
  diffs = max_diffs(our_outputs(model, batch), hf_outputs(reloaded.eval(),
                                                          batch))
  print("ours -> hf max abs diff:", diffs)
  assert max(diffs.values()) <= TOLERANCE, diffs
  _, info = transformers.AlbertModel.from_pretrained(
      exported, output_loading_info=True)
  assert not info["missing_keys"], info
  _, info = transformers.AlbertForSequenceClassification.from_pretrained(
      exported, output_loading_info=True)
  assert sorted(info["missing_keys"]) == ["classifier.bias",
                                          "classifier.weight"], info


def test_pytorch_bin_reads_like_safetensors(hf_dir, tmp_path):
  state = safetensors_numpy.load_file(str(hf_dir / hf.SAFETENSORS_FILE))
  (tmp_path / hf.CONFIG_FILE).write_text((hf_dir / hf.CONFIG_FILE).read_text())
  torch.save({k: torch.from_numpy(v) for k, v in state.items()},
             tmp_path / hf.TORCH_FILE)
  _, from_bin, _ = hf.load(str(tmp_path))
  _, from_safetensors, _ = hf.load(str(hf_dir))
  assert from_bin.keys() == from_safetensors.keys()
  for name in from_bin:
    np.testing.assert_array_equal(from_bin[name], from_safetensors[name])


def test_albert_model_without_heads_converts_encoder_only(tmp_path):
  base = tiny_hf_model(1, 1).albert
  base.save_pretrained(tmp_path / "base")
  config, weights, _ = hf.load(str(tmp_path / "base"))
  assert not any(n.startswith("cls/") for n in weights)
  assert set(ours.assign(ours.build_pretrainer(config), weights,
                         "test")) == {"encoder"}


def copy_with(hf_dir, path, state_edit=None, config_edit=None):
  """Copies an HF directory, editing its state dict or config."""
  path.mkdir()
  config = json.loads((hf_dir / hf.CONFIG_FILE).read_text())
  state = safetensors_numpy.load_file(str(hf_dir / hf.SAFETENSORS_FILE))
  if state_edit:
    state_edit(state)
  if config_edit:
    config_edit(config)
  (path / hf.CONFIG_FILE).write_text(json.dumps(config))
  safetensors_numpy.save_file(state, str(path / hf.SAFETENSORS_FILE))
  return path


@pytest.mark.parametrize("state_edit,config_edit,message", [
    (lambda s: s.pop("albert.encoder.albert_layer_groups.1.albert_layers.0."
                     "ffn.weight"), None,
     "missing albert.encoder.albert_layer_groups.1.albert_layers.0.ffn.weight"),
    (None, lambda c: c.update(intermediate_size=40),
     "shape mismatch albert.encoder.albert_layer_groups.0.albert_layers.0."
     "ffn.bias (37,) (config: (40,))"),
    (lambda s: s.update({"classifier.weight": np.zeros((2, 32), np.float32)}),
     None, "['classifier.weight']"),
    (lambda s: s.pop("predictions.bias"), None,
     "missing predictions.bias"),
    (None, lambda c: c.update(hidden_act="gelu_accurate"),
     "hidden_act 'gelu_accurate' is not supported"),
])
def test_bad_hf_input_is_a_user_error(hf_dir, tmp_path, state_edit,
                                      config_edit, message):
  bad = copy_with(hf_dir, tmp_path / "bad", state_edit, config_edit)
  with pytest.raises(errors.UserError, match=re.escape(message)):
    convert.convert("hf", "ours", str(bad), str(tmp_path / "out"))
  assert not (tmp_path / "out").exists()


def test_cli_reports_user_errors_in_one_line(hf_dir, tmp_path, capsys):
  cases = [
      (["--from", "hf", "--to", "ours", "--input", str(tmp_path / "nope"),
        "--output", str(tmp_path / "o")], "not found"),
      (["--from", "hf", "--to", "ours", "--input", str(hf_dir),
        "--output", str(hf_dir)], "already exists"),
      (["--from", "hf", "--to", "ours", "--input", str(hf_dir), "--output",
        str(tmp_path / "o"), "--config", str(hf_dir / "config.json")],
       "--config is only used"),
      (["--from", "hf", "--to", "ours", "--input", str(tmp_path),
        "--output", str(tmp_path / "o")], "config.json not found"),
  ]
  for argv, message in cases:
    with pytest.raises(SystemExit) as exit_info:
      errors.run_cli(lambda: convert.main(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1


def test_empty_hf_directory_names_the_weights_file(tmp_path):
  (tmp_path / hf.CONFIG_FILE).write_text(json.dumps({"model_type": "albert"}))
  with pytest.raises(errors.UserError, match="has no model.safetensors"):
    hf.load(str(tmp_path))
