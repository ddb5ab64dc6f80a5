"""keras-hub (`AlbertBackbone`, Keras 3) as a weight format.

Oracle: keras-hub's own forward pass on the same inputs, after converting
through `interop.convert --to keras_hub` / `--from keras_hub` preset
directories, for one group and for several groups with several inner layers;
and keras-hub's tokenizer on the preset's vocabulary. Keras 3 and tf_keras
run in this one process; our model's outputs are checked unchanged after
keras-hub has run.

Tests: `official_albert.interop.kerashub`.
"""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from official_albert.configs import encoders
from official_albert.data import tokenization
from official_albert.errors import UserError
from official_albert.interop import convert
from official_albert.interop import kerashub
from official_albert.interop import ours

keras_hub = pytest.importorskip("keras_hub")

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"
SIZES = [dict(num_hidden_layers=2),
         dict(num_hidden_layers=6, num_hidden_groups=3, inner_group_num=2)]


def _config(**sizes):
  return encoders.AlbertEncoderConfig(
      vocab_size=8000, embedding_size=16, hidden_size=32,
      num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **sizes)


def _inputs():
  """Real text (held-out WikiText-2) as our tokenizer packs it."""
  tokenizer = tokenization.AlbertTokenizer(str(VOCAB))
  lines = [l for l in (REPO / "assets/corpus/heldout.txt").read_text(
      encoding="utf-8").splitlines() if len(l.split()) > 8][:3]
  rows = [[tokenizer.cls_id] + tokenizer.encode(l)[:40] + [tokenizer.sep_id]
          for l in lines]
  length = max(map(len, rows))
  ids = np.zeros((len(rows), length), np.int32)
  types = np.zeros_like(ids)
  for i, r in enumerate(rows):
    ids[i, :len(r)] = r
    types[i, len(r) // 2:len(r)] = 1
  return ids, (ids > 0).astype(np.int32), types


def _ours(model, ids, mask, types):
  out = model.encoder(dict(input_word_ids=ids, input_mask=mask,
                           input_type_ids=types), training=False)
  return out["sequence_output"].numpy(), out["pooled_output"].numpy()


def _keras_hub(backbone, ids, mask, types):
  out = backbone(dict(token_ids=ids, segment_ids=types, padding_mask=mask))
  return (np.asarray(out["sequence_output"]),
          np.asarray(out["pooled_output"]))


def _assert_close(a, b, mask):
  real = mask.astype(bool)  # Padding rows are not outputs of either model.
  np.testing.assert_allclose(a[0][real], b[0][real], atol=1e-5, rtol=0)
  np.testing.assert_allclose(a[1], b[1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("sizes", SIZES)
def test_ours_to_keras_hub_preset(tmp_path, sizes):
  config = _config(**sizes)
  tf.keras.utils.set_random_seed(1)
  model = ours.build_pretrainer(config)
  ours.save(str(tmp_path / "ours"), config, ours.read(model), str(VOCAB))
  inputs = _inputs()
  before = _ours(model, *inputs)
  convert.main(["--from", "ours", "--to", "keras_hub", "--input",
                str(tmp_path / "ours"), "--output", str(tmp_path / "preset")])
  backbone = keras_hub.models.AlbertBackbone.from_preset(
      str(tmp_path / "preset"))
  _assert_close(_keras_hub(backbone, *inputs), before, inputs[1])
  # tf_keras is undisturbed by Keras 3 having run in this process.
  after = _ours(model, *inputs)
  np.testing.assert_array_equal(after[0], before[0])
  # The vocabulary travels unchanged, and keras-hub's tokenizer on it gives
  # our ids for lower-cased text.
  assert (tmp_path / "preset" / kerashub.PRESET_VOCAB).read_bytes() == (
      VOCAB.read_bytes())
  tokenizer = keras_hub.models.AlbertTokenizer.from_preset(
      str(tmp_path / "preset"))
  assert tokenizer.proto == VOCAB.read_bytes()
  text = "the university of notre dame was founded in 1842 ."
  ids = [int(i) for i in np.asarray(tokenizer(text))]
  assert ids == tokenization.AlbertTokenizer(str(VOCAB)).encode(text)


@pytest.mark.parametrize("sizes", SIZES)
def test_keras_hub_preset_to_ours(tmp_path, sizes):
  config = _config(**sizes)
  backbone = keras_hub.models.AlbertBackbone(
      vocabulary_size=8000, num_layers=config.num_hidden_layers, num_heads=4,
      embedding_dim=16, hidden_dim=32, intermediate_dim=64,
      num_groups=config.num_hidden_groups,
      num_inner_repetitions=config.inner_group_num, max_sequence_length=64)
  backbone.save_to_preset(str(tmp_path / "preset"))
  keras_hub.models.AlbertTokenizer(proto=str(VOCAB)).save_to_preset(
      str(tmp_path / "preset"))
  convert.main(["--from", "keras_hub", "--to", "ours", "--input",
                str(tmp_path / "preset"), "--output", str(tmp_path / "ours")])
  loaded_config, weights, vocab = ours.load(str(tmp_path / "ours"))
  assert loaded_config == config
  assert pathlib.Path(vocab).read_bytes() == VOCAB.read_bytes()
  model = ours.build_pretrainer(loaded_config)
  ours.assign(model, weights, str(tmp_path / "ours"))
  inputs = _inputs()
  _assert_close(_ours(model, *inputs), _keras_hub(backbone, *inputs),
                inputs[1])


def test_casing_and_errors(tmp_path):
  """keras-hub does not lower-case: a capital our vocabulary lacks is <unk>
  there, while ours lower-cases first (README, interop/kerashub.py)."""
  tokenizer = keras_hub.models.AlbertTokenizer(proto=str(VOCAB))
  ours_tokenizer = tokenization.AlbertTokenizer(str(VOCAB))
  cased = [int(i) for i in np.asarray(tokenizer("Paris"))]
  assert ours_tokenizer.unk_id in cased
  assert ours_tokenizer.unk_id not in ours_tokenizer.encode("Paris")
  (tmp_path / "bad").mkdir()
  (tmp_path / "bad" / "config.json").write_text(
      '{"class_name": "BertBackbone"}')
  with pytest.raises(UserError, match="'BertBackbone' preset, not "
                     "AlbertBackbone"):
    kerashub.load(str(tmp_path / "bad"))
  with pytest.raises(UserError, match="tanh GELU only"):
    kerashub.to_backbone(_config(num_hidden_layers=1, hidden_act="relu"), {})
