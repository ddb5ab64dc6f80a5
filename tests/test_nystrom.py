"""Tests of Nyström attention against exact attention and HuggingFace.

Inputs are real WikiText-2 paragraphs, tokenized with a SentencePiece model
trained here on the same file and embedded by a small randomly initialised
`AlbertEncoder`. Oracles: tf_keras `MultiHeadAttention` / Model Garden's
`TransformerEncoderBlock` (exact attention with the same weights), HuggingFace
`NystromformerSelfAttention` (an independent Nyströmformer), and
`numpy.linalg.pinv`.

Tests: `official_albert.modeling.nystrom`.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
import torch
from official.nlp.modeling import layers as mg_layers
from transformers import NystromformerConfig
from transformers.models.nystromformer import modeling_nystromformer

from official_albert import errors
from official_albert.data import tokenization
from official_albert.data.pretraining import train_vocab
from official_albert.modeling import albert, nystrom

HIDDEN, HEADS = 64, 4


@pytest.fixture(scope="module")
def paragraphs(test_data):
  """WikiText-2 valid paragraphs (headings and blank lines dropped)."""
  lines = (test_data / "corpus" / "wiki.valid.raw").read_text(
      encoding="utf-8").splitlines()
  return [line.strip() for line in lines
          if line.strip() and not line.strip().startswith("=")]


@pytest.fixture(scope="module")
def token_ids(paragraphs, tmp_path_factory):
  """One long stream of piece ids of the paragraphs, int list."""
  tmp = tmp_path_factory.mktemp("vocab")
  text = tmp / "text.txt"
  text.write_text("\n".join(paragraphs[:400]), encoding="utf-8")
  train_vocab.train_vocab([str(text)], str(tmp / "sp"), vocab_size=1000)
  tokenizer = tokenization.AlbertTokenizer(str(tmp / "sp.model"))
  return tokenizer.encode(" ".join(paragraphs[400:440]))


@pytest.fixture(scope="module")
def embed(token_ids):
  """Returns embed(rows, seq_length): float32 [rows, seq_length, HIDDEN].

  Row r holds the embedded ids `token_ids[r * seq_length:][:seq_length]`,
  layer-normalised (unit variance per token, no learned scale), the scale of
  the hidden states every ALBERT layer after the first receives.
  """
  tf_keras.utils.set_random_seed(0)
  encoder = albert.AlbertEncoder(
      vocab_size=1000, embedding_size=32, hidden_size=HIDDEN,
      num_hidden_layers=1, num_attention_heads=HEADS, intermediate_size=128,
      max_position_embeddings=128)
  normalise = tf_keras.layers.LayerNormalization(center=False, scale=False)

  def _embed(rows, seq_length):
    ids = np.reshape(token_ids[:rows * seq_length], [rows, seq_length])
    inputs = dict(input_word_ids=ids, input_mask=np.ones_like(ids),
                  input_type_ids=np.zeros_like(ids))
    return normalise(encoder(inputs)["embedding_output"])
  return _embed


def _block_kwargs():
  """The TransformerEncoderBlock arguments AlbertEncoder passes."""
  return dict(num_attention_heads=HEADS, inner_dim=128,
              inner_activation=albert.get_activation("gelu"),
              kernel_initializer=tf_keras.initializers.TruncatedNormal(
                  stddev=0.02),
              norm_first=False, norm_epsilon=1e-12, name="block")


def _attention_mask(lengths, seq_length):
  """Model Garden's [batch, seq, seq] key-padding mask for row `lengths`."""
  mask = tf.sequence_mask(lengths, seq_length, dtype=tf.int32)
  return mg_layers.SelfAttentionMask()(tf.zeros([len(lengths), seq_length]),
                                       mask)


def _relative_error(actual, expected):
  actual, expected = np.asarray(actual), np.asarray(expected)
  return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def _sharpen(attention):
  """Scales the query and key kernels by 4 (scores x16).

  At initialisation attention is nearly uniform, which any approximation gets
  right; trained attention is peaked, and so are the tests' inputs.
  """
  for dense in (attention._query_dense, attention._key_dense):
    dense.kernel.assign(dense.kernel * 4.0)


def _attention_pair(x, **nystrom_kwargs):
  """An exact MultiHeadAttention and a NystromAttention with its weights."""
  kwargs = dict(num_heads=HEADS, key_dim=HIDDEN // HEADS, name="attention")
  exact = tf_keras.layers.MultiHeadAttention(**kwargs)
  approx = nystrom.NystromAttention(**kwargs, **nystrom_kwargs)
  exact(x, x)
  approx(x, x)
  for variable in approx.weights:
    if "nystrom_conv" not in variable.name:
      [source] = [v for v in exact.weights if v.name == variable.name]
      variable.assign(source)
  _sharpen(exact)
  _sharpen(approx)
  return exact, approx


def test_landmarks_at_every_token_give_exact_attention(embed):
  # With m == seq_length each landmark is one token, so F = A = B = the exact
  # softmax matrix S and F pinv(A) B V = S V once the pseudo-inverse converged.
  x = embed(2, 48)
  exact, approx = _attention_pair(x, num_landmarks=48, conv_kernel_size=0,
                                  pinv_iterations=20)
  error = _relative_error(approx(x, x), exact(x, x))
  assert error < 1e-3
  # At the paper's 6 iterations the inverse has not converged yet.
  _, approx6 = _attention_pair(x, num_landmarks=48, conv_kernel_size=0)
  assert error < _relative_error(approx6(x, x), exact(x, x))


def test_matches_huggingface_nystromformer(embed):
  tf_keras.utils.set_random_seed(1)
  x = embed(2, 64)
  layer = nystrom.NystromAttention(num_heads=HEADS, key_dim=HIDDEN // HEADS,
                                   num_landmarks=8, conv_kernel_size=33)
  layer(x, x)
  layer._conv.depthwise_kernel.assign(
      tf.random.normal(layer._conv.depthwise_kernel.shape, stddev=0.1))
  _sharpen(layer)
  config = NystromformerConfig(
      hidden_size=HIDDEN, num_attention_heads=HEADS, num_landmarks=8,
      segment_means_seq_len=64, conv_kernel_size=33)
  hf = modeling_nystromformer.NystromformerSelfAttention(config).eval()
  # HF's default scales Z0 by the largest column sum over the whole batch and
  # all heads; its per-matrix option (ours) cannot be reached from the config
  # because of a key typo, so it is set on the module.
  hf.init_option = "per-matrix"
  with torch.no_grad():
    for name in ("query", "key", "value"):
      dense = getattr(layer, f"_{name}_dense")
      getattr(hf, name).weight.copy_(torch.from_numpy(
          dense.kernel.numpy().reshape(HIDDEN, HIDDEN).T))
      getattr(hf, name).bias.copy_(torch.from_numpy(
          dense.bias.numpy().reshape(HIDDEN)))
    hf.conv.weight.copy_(torch.from_numpy(
        layer._conv.depthwise_kernel.numpy().transpose(2, 3, 0, 1)))
    context = hf(torch.from_numpy(x.numpy()))[0].numpy()
  output = layer._output_dense
  expected = context @ output.kernel.numpy().reshape(HIDDEN, HIDDEN)
  expected += output.bias.numpy()
  assert _relative_error(layer(x, x), expected) < 1e-5


def test_iterative_pinv_approaches_numpy_pinv(embed):
  x = embed(1, 32)
  exact = tf_keras.layers.MultiHeadAttention(num_heads=HEADS,
                                             key_dim=HIDDEN // HEADS)
  _, probs = exact(x, x, return_attention_scores=True)
  matrices = tf.cast(probs[0], tf.float64)
  expected = np.linalg.pinv(matrices.numpy())
  # Early iterations fix the large singular values (the Penrose residual
  # A Z A - A shrinks), the small ones converge last.
  residuals = []
  for steps in (2, 6):
    z = nystrom.iterative_pinv(matrices, steps)
    residuals.append(_relative_error(matrices @ z @ matrices, matrices))
  assert residuals[1] < residuals[0]
  # One matrix per head in a batch, each scaled on its own.
  for head, z in enumerate(nystrom.iterative_pinv(matrices, 40)):
    assert _relative_error(z, expected[head]) < 1e-8


@pytest.mark.parametrize("length", [37, 5])
def test_padding_does_not_change_real_positions(embed, length):
  # Row 1 holds `length` real tokens (37: not a multiple of m; 5: fewer than
  # m) followed by other real text as padding, which must be ignored.
  tf_keras.utils.set_random_seed(2)
  seq_length, landmarks = 50, 8
  x = embed(2, seq_length)
  block = nystrom.NystromEncoderBlock(**_block_kwargs(),
                                      num_landmarks=landmarks)
  block([x, _attention_mask([seq_length, length], seq_length)])
  conv = block._attention_layer._conv.depthwise_kernel
  conv.assign(tf.random.normal(conv.shape, stddev=0.1))
  _sharpen(block._attention_layer)
  padded = block([x, _attention_mask([seq_length, length], seq_length)])
  alone = block([x[1:, :length], _attention_mask([length], length)])
  assert np.isfinite(padded.numpy()).all()
  np.testing.assert_allclose(padded[1, :length], alone[0], atol=1e-5)


def test_fewer_tokens_than_landmarks_is_exact_attention(embed):
  x = embed(1, 24)
  exact, approx = _attention_pair(x, num_landmarks=64, conv_kernel_size=0,
                                  pinv_iterations=20)
  mask = _attention_mask([13], 24)
  expected = exact(x, x, attention_mask=mask)[:, :13]
  assert _relative_error(approx(x, x, attention_mask=mask)[:, :13],
                         expected) < 1e-3


def test_exact_block_checkpoint_loads(embed, tmp_path):
  x = embed(2, 40)
  mask = _attention_mask([40, 40], 40)
  exact = mg_layers.TransformerEncoderBlock(**_block_kwargs())
  expected = exact([x, mask])
  path = tf.train.Checkpoint(block=exact).save(str(tmp_path / "exact"))

  # Without the convolution the variables match one to one, both ways.
  approx = nystrom.NystromEncoderBlock(**_block_kwargs(), num_landmarks=40,
                                       conv_kernel_size=0, pinv_iterations=20)
  approx([x, mask])
  tf.train.Checkpoint(block=approx).restore(path).assert_consumed()
  assert ({(v.name, tuple(v.shape)) for v in approx.weights} ==
          {(v.name, tuple(v.shape)) for v in exact.weights})
  # Landmarks at every token: the restored block computes the exact block.
  assert _relative_error(approx([x, mask]), expected) < 1e-4

  # With it, every checkpoint value still lands; the kernel keeps its zeros.
  with_conv = nystrom.NystromEncoderBlock(**_block_kwargs(), num_landmarks=8)
  with_conv([x, mask])
  tf.train.Checkpoint(block=with_conv).restore(path).expect_partial()
  exact_values = {v.name: v.numpy() for v in exact.weights}
  for variable in with_conv.weights:
    if "nystrom_conv" in variable.name:
      assert not variable.numpy().any()
    else:
      np.testing.assert_array_equal(variable.numpy(),
                                    exact_values.pop(variable.name))
  assert not exact_values


def test_gradients_flow(embed):
  x = embed(2, 30)
  block = nystrom.NystromEncoderBlock(**_block_kwargs(), num_landmarks=8)
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = block([x, _attention_mask([30, 21], 30)])
    loss = tf.reduce_sum(y[:, :, :8] ** 2)
  grads = tape.gradient(loss, block.trainable_variables + [x])
  for variable, grad in zip(block.trainable_variables + [x], grads):
    assert grad is not None, variable.name
    assert np.isfinite(grad.numpy()).all(), variable.name
    assert np.abs(grad.numpy()).max() > 0, variable.name


def test_config_round_trip_and_bad_arguments(embed):
  x = embed(1, 20)
  mask = _attention_mask([20], 20)
  block = nystrom.NystromEncoderBlock(**_block_kwargs(), num_landmarks=4,
                                      conv_kernel_size=5, pinv_iterations=3)
  expected = block([x, mask])
  clone = nystrom.NystromEncoderBlock.from_config(block.get_config())
  clone([x, mask])
  clone.set_weights(block.get_weights())
  np.testing.assert_allclose(clone([x, mask]), expected, atol=1e-6)
  attention = clone._attention_layer
  assert isinstance(attention, nystrom.NystromAttention)
  assert (attention.get_config()["num_landmarks"],
          attention.get_config()["conv_kernel_size"],
          attention.get_config()["pinv_iterations"]) == (4, 5, 3)

  for bad in (dict(num_landmarks=0), dict(conv_kernel_size=4),
              dict(pinv_iterations=0)):
    with pytest.raises(ValueError):
      nystrom.NystromAttention(num_heads=2, key_dim=8, **bad)
  with pytest.raises(ValueError, match="exact attention only"):
    nystrom.NystromEncoderBlock(**_block_kwargs(), linformer_dim=8)
  with pytest.raises(ValueError, match="self-attention only"):
    block([x, mask], output_range=1)


def test_benchmark_rejects_bad_input(test_data, tmp_path):
  from benchmarks import nystrom_attention
  corpus = str(test_data / "corpus" / "wiki.valid.raw")
  short = tmp_path / "short.raw"
  short.write_text("".join(open(corpus, encoding="utf-8").readlines()[:4]),
                   encoding="utf-8")
  cases = [
      (["--corpus", str(tmp_path / "missing.raw")], "not found"),
      (["--corpus", corpus, "--seq_lengths", "0"], "must be positive"),
      # --max_seconds 0 skips the timings and goes to the error measurement.
      (["--corpus", corpus, "--max_seconds", "0",
        "--trained_model_dir", str(tmp_path)], "no params.yaml"),
      (["--corpus", str(short), "--max_seconds", "0"], "longer corpus"),
  ]
  for argv, message in cases:
    with pytest.raises(errors.UserError, match=message):
      nystrom_attention.main(argv)


def test_encoder_attention_type_and_init_checkpoint(embed, tmp_path):
  """`attention_type=nystrom` in the encoder; an exact checkpoint restores."""
  from official_albert.tasks import checkpoints  # pylint: disable=g-import-not-at-top
  del embed  # Only for its random seed.
  kwargs = dict(vocab_size=1000, embedding_size=16, hidden_size=HIDDEN,
                num_hidden_layers=2, num_attention_heads=HEADS,
                intermediate_size=64)
  exact = albert.AlbertEncoder(**kwargs)
  approx = albert.AlbertEncoder(attention_type="nystrom", num_landmarks=64,
                                **kwargs)
  inputs = albert.dummy_inputs(2, 24)
  inputs["input_word_ids"] = tf.reshape(tf.range(48) % 1000, [2, 24])
  want = exact(inputs)["sequence_output"]
  approx(inputs)
  prefix = tf.train.Checkpoint(encoder=exact).write(str(tmp_path / "exact"))
  assert checkpoints.restore_items(prefix, encoder=approx) == ["encoder"]
  # 24 tokens < 64 landmarks: Nyström reduces to exact attention.
  got = approx(inputs)["sequence_output"]
  assert _relative_error(got, want) < 1e-4
  with pytest.raises(ValueError, match="attention_type must be"):
    albert.AlbertEncoder(attention_type="linear", **kwargs)
