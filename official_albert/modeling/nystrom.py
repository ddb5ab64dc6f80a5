"""Nyström self-attention (Nyströmformer) as a drop-in for exact attention.

Implements "Nyströmformer: A Nyström-Based Algorithm for Approximating
Self-Attention" (Xiong et al., 2021, arXiv:2102.03902):

  softmax(Q K^T / sqrt(d)) V  ~=  F · pinv(A) · B · V,
  F = softmax(Q K~^T / sqrt(d))   [seq, m]
  A = softmax(Q~ K~^T / sqrt(d))  [m, m]
  B = softmax(Q~ K^T / sqrt(d))   [m, seq]

where Q~, K~ are `m` landmarks, the means of `m` contiguous segments of the
queries and keys, `pinv` is the paper's iterative Moore-Penrose
approximation, and a depthwise convolution over V along the sequence (one
kernel per head, the paper's skip connection of the values) is added to the
output.
Time and memory are O(seq · m) instead of O(seq^2).

Differences from the reference code (mlpen/Nystromformer, HuggingFace
`NystromformerSelfAttention`), all so that padding never changes the result
at real positions:
* segments are taken over the real (unmasked) tokens of each sequence, so any
  length works (segment sizes differ by at most one), and a padded row gives
  the same output at its real positions as the unpadded row;
* masked keys enter neither the landmarks nor B, and V is zeroed there (so the
  convolution does not see them either);
* Z0 is scaled per matrix (per example and head), not by a batch-wide maximum.

`NystromAttention` subclasses `tf_keras.layers.MultiHeadAttention` and keeps
its query/key/value/output projections and their variable names, so weights of
exact attention load into it; `NystromEncoderBlock` is our `AlbertEncoderBlock` (Model Garden's
`TransformerEncoderBlock`) with its attention layer swapped for it.
"""

import math

import tensorflow as tf
import tf_keras

from official_albert.modeling import encoder_block


def iterative_pinv(matrix: tf.Tensor, num_iterations: int = 6) -> tf.Tensor:
  """Approximates the Moore-Penrose pseudo-inverse of square matrices.

  The Nyströmformer iteration (after Razavi et al., 2014):
  `Z0 = A^T / (||A||_1 ||A||_inf)` (max column sum times max row sum of |A|),
  then `Z <- 1/4 Z (13I - AZ (15I - AZ (7I - AZ)))`, `num_iterations` times.
  The initial scaling keeps `||I - A Z0|| < 1`, so the iteration converges to
  `pinv(A)`; zero rows and columns of `A` stay zero in `Z`, and an all-zero
  matrix gives an all-zero `Z`.

  Args:
    matrix: float tensor `[..., m, m]`.
    num_iterations: number of iterations (6 in the paper).

  Returns:
    Float tensor `[..., m, m]`, same dtype as `matrix`.
  """
  identity = tf.eye(tf.shape(matrix)[-1], dtype=matrix.dtype)
  magnitude = tf.abs(matrix)
  max_col_sum = tf.reduce_max(tf.reduce_sum(magnitude, axis=-2), axis=-1)
  max_row_sum = tf.reduce_max(tf.reduce_sum(magnitude, axis=-1), axis=-1)
  scale = tf.math.divide_no_nan(tf.ones_like(max_col_sum),
                                max_col_sum * max_row_sum)
  z = scale[..., None, None] * tf.linalg.matrix_transpose(matrix)
  for _ in range(num_iterations):
    az = tf.matmul(matrix, z)
    z = 0.25 * tf.matmul(
        z, 13 * identity - tf.matmul(
            az, 15 * identity - tf.matmul(az, 7 * identity - az)))
  return z


def segment_weights(valid: tf.Tensor, num_landmarks: int, dtype=tf.float32):
  """Averaging weights that turn a sequence into `num_landmarks` segment means.

  The real tokens of each row (`valid`, in order, wherever they are) are cut
  into `num_landmarks` contiguous segments; real token `r` of `n` belongs to
  segment `floor(r * num_landmarks / n)`, so segment sizes differ by at most
  one, and when `n` is a multiple of `num_landmarks` the segments are the
  paper's equal blocks. With fewer real tokens than landmarks some segments are
  empty: their weights are zero and `landmark_valid` is False.

  Args:
    valid: bool `[batch, seq_length]`, True at real tokens.
    num_landmarks: m, the number of segments.
    dtype: float dtype of the weights.

  Returns:
    `(weights, landmark_valid)`: `weights` float `[batch, seq_length, m]`, each
    non-empty column sums to 1, zero at padded tokens, so that
    `einsum("bsm,bs...->bm...", weights, x)` are the segment means;
    `landmark_valid` bool `[batch, m]`, False for empty segments.
  """
  valid_int = tf.cast(valid, tf.int32)
  length = tf.reduce_sum(valid_int, axis=-1, keepdims=True)
  rank = tf.cumsum(valid_int, axis=-1, exclusive=True)
  segment = rank * num_landmarks // tf.maximum(length, 1)
  one_hot = tf.one_hot(segment, num_landmarks, dtype=dtype)
  one_hot *= tf.cast(valid, dtype)[..., None]
  counts = tf.reduce_sum(one_hot, axis=1)
  weights = tf.math.divide_no_nan(one_hot, counts[:, None, :])
  return weights, counts > 0


@tf_keras.utils.register_keras_serializable(package="OfficialAlbert")
class NystromAttention(tf_keras.layers.MultiHeadAttention):
  """Multi-head self-attention with the Nyström approximation (see module doc).

  Same call signature, projections, variable names and output as
  `tf_keras.layers.MultiHeadAttention`: `query` float `[batch, seq_length,
  dim]`, `value` (and `key`) the same sequence, `attention_mask` `[batch,
  seq_length, seq_length]` (1/True = may attend) or None; output float
  `[batch, seq_length, output_dim]`. Only the attention computation is
  replaced, plus one extra variable, the depthwise convolution kernel
  `nystrom_conv/depthwise_kernel` `[conv_kernel_size, 1, num_heads, 1]`,
  initialised to zeros so that exact-attention weights loaded into this layer
  start from the plain Nyström approximation.

  Limits (raise ValueError where detectable): self-attention only (query and
  key of the same length), attention over the sequence axis only (inputs of
  rank 3, default `attention_axes`), and the mask must be a key-padding mask
  (every query sees the same keys, as Model Garden's `SelfAttentionMask`
  builds it); a key counts as real if any query may attend to it, so a causal
  mask is not honoured. Attention dropout (`dropout`) is not applied, as in the
  reference implementations. With `return_attention_scores=True` the scores
  are `F · pinv(A)`, float `[batch, num_heads, seq_length, num_landmarks]`
  (the full `[seq, seq]` matrix is never formed).

  Args:
    num_landmarks: m, the number of landmarks (64 in the paper); with m >= the
      number of real tokens every landmark is a token and the result is exact
      attention up to the pseudo-inverse's convergence.
    conv_kernel_size: odd length of the depthwise convolution over V along the
      sequence (33 in the paper); 0 disables it.
    pinv_iterations: iterations of `iterative_pinv` (6 in the paper).
    **kwargs: `tf_keras.layers.MultiHeadAttention` arguments.

  Raises:
    ValueError: if `num_landmarks` < 1, `pinv_iterations` < 1, or
      `conv_kernel_size` is negative or even; on the first call, for inputs
      not of rank 3 or non-default `attention_axes`; on any call, for query
      and key of different known lengths.
  """

  def __init__(self, num_landmarks: int = 64, conv_kernel_size: int = 33,
               pinv_iterations: int = 6, **kwargs):
    super().__init__(**kwargs)
    if num_landmarks < 1:
      raise ValueError(f"num_landmarks must be >= 1, got {num_landmarks}")
    if pinv_iterations < 1:
      raise ValueError(f"pinv_iterations must be >= 1, got {pinv_iterations}")
    if conv_kernel_size < 0 or (conv_kernel_size and conv_kernel_size % 2 == 0):
      raise ValueError("conv_kernel_size must be 0 (off) or odd, got "
                       f"{conv_kernel_size}")
    self._num_landmarks = num_landmarks
    self._conv_kernel_size = conv_kernel_size
    self._pinv_iterations = pinv_iterations

  def _build_attention(self, rank):
    if rank != 4:
      raise ValueError("NystromAttention needs inputs [batch, seq, dim]; got "
                       f"projected rank {rank}")
    super()._build_attention(rank)
    if self._attention_axes != (1,):
      raise ValueError("NystromAttention attends over the sequence axis only; "
                       f"got attention_axes={self._attention_axes}")
    if self._conv_kernel_size:
      # Acts on V laid out as an image [batch, seq, value_dim, heads]: one
      # [kernel, 1] filter per head, shared by that head's value channels.
      self._conv = tf_keras.layers.DepthwiseConv2D(
          (self._conv_kernel_size, 1), padding="same", use_bias=False,
          depthwise_initializer="zeros", dtype=self._dtype_policy,
          name="nystrom_conv")
      # Built here, under its own name, so that its variable exists (and is
      # named like the projections') before the first call.
      with tf.name_scope(self._conv.name):
        self._conv.build([None, None, self._value_dim, self._num_heads])

  def _compute_attention(self, query, key, value, attention_mask=None,
                         training=None):
    """Nyström attention on projected heads.

    Args:
      query: float `[batch, seq_length, num_heads, key_dim]`.
      key: float `[batch, seq_length, num_heads, key_dim]`.
      value: float `[batch, seq_length, num_heads, value_dim]`.
      attention_mask: `[batch, seq_length, seq_length]` key-padding mask or
        None.
      training: unused (no attention dropout).

    Returns:
      `(output, scores)`: float `[batch, seq_length, num_heads, value_dim]`
      and float `[batch, num_heads, seq_length, num_landmarks]`.

    Raises:
      ValueError: if query and key lengths are known and differ.
    """
    del training
    if (query.shape[1] is not None and key.shape[1] is not None and
        query.shape[1] != key.shape[1]):
      raise ValueError(
          "NystromAttention is self-attention only (query length "
          f"{query.shape[1]} != key length {key.shape[1]}); "
          "TransformerEncoderBlock's output_range is not supported")
    dtype = query.dtype
    if attention_mask is None:
      valid = tf.ones(tf.shape(key)[:2], tf.bool)
    else:
      valid = tf.reduce_any(tf.cast(attention_mask, tf.bool), axis=1)
    query = query * (1.0 / math.sqrt(float(self._key_dim)))
    # Padded tokens get zero weight, so they are left out of the landmarks.
    weights, landmark_valid = segment_weights(valid, self._num_landmarks,
                                              dtype)
    query_landmarks = tf.einsum("bsm,bsnd->bnmd", weights, query)
    key_landmarks = tf.einsum("bsm,bsnd->bnmd", weights, key)
    value *= tf.cast(valid, dtype)[:, :, None, None]

    # Empty landmarks (fewer real tokens than m) are masked as columns and
    # zeroed as rows, which keeps them out of the pseudo-inverse as well.
    landmark_columns = landmark_valid[:, None, None, :]
    landmark_rows = tf.cast(landmark_valid, dtype)[:, None, :, None]
    kernel_f = self._softmax(
        tf.einsum("btnd,bnmd->bntm", query, key_landmarks), landmark_columns)
    kernel_a = self._softmax(
        tf.einsum("bnld,bnmd->bnlm", query_landmarks, key_landmarks),
        landmark_columns) * landmark_rows
    kernel_b = self._softmax(
        tf.einsum("bnmd,bsnd->bnms", query_landmarks, key),
        valid[:, None, None, :]) * landmark_rows
    # The iteration cubes A Z; in float16 that loses the inverse.
    pinv = tf.cast(iterative_pinv(tf.cast(kernel_a, tf.float32),
                                  self._pinv_iterations), dtype)
    scores = tf.matmul(kernel_f, pinv)
    landmark_values = tf.einsum("bnms,bsnd->bnmd", kernel_b, value)
    output = tf.einsum("bntm,bnmd->btnd", scores, landmark_values)
    if self._conv_kernel_size:
      conv = self._conv(tf.transpose(value, [0, 1, 3, 2]))
      output += tf.transpose(conv, [0, 1, 3, 2])
    return output, scores

  def get_config(self):
    return dict(super().get_config(), num_landmarks=self._num_landmarks,
                conv_kernel_size=self._conv_kernel_size,
                pinv_iterations=self._pinv_iterations)


@tf_keras.utils.register_keras_serializable(package="OfficialAlbert")
class NystromEncoderBlock(encoder_block.AlbertEncoderBlock):
  """ALBERT's encoder block (`encoder_block`) with Nyström self-attention.

  Identical to the parent (same arguments, inputs, outputs, sublayers and
  variable names: input float `[batch, seq_length, hidden_size]` plus an
  optional `[batch, seq_length, seq_length]` mask, output float `[batch,
  seq_length, hidden_size]`), except that `build` replaces the exact
  `tf_keras.layers.MultiHeadAttention` by a `NystromAttention` built with the
  same arguments, so a checkpoint of the exact block restores into it (the
  convolution kernel, absent there, keeps its zero initialisation).

  Args:
    *args: `TransformerEncoderBlock` positional arguments.
    num_landmarks: see `NystromAttention`.
    conv_kernel_size: see `NystromAttention`.
    pinv_iterations: see `NystromAttention`.
    **kwargs: `TransformerEncoderBlock` keyword arguments.

  Raises:
    ValueError: for the parent's other attention kinds (`src_block_size`,
      `num_kv_heads`, `linformer_dim`), which it cannot replace; when built
      or called, as `NystromAttention` does (bad Nyström arguments, or
      `output_range`).
  """

  def __init__(self, *args, num_landmarks: int = 64,
               conv_kernel_size: int = 33, pinv_iterations: int = 6,
               **kwargs):
    super().__init__(*args, **kwargs)
    if (self._src_block_size is not None or self._num_kv_heads is not None or
        self._linformer_dim is not None):
      raise ValueError("NystromEncoderBlock replaces exact attention only; "
                       "unset src_block_size, num_kv_heads and linformer_dim")
    self._nystrom_kwargs = dict(num_landmarks=num_landmarks,
                                conv_kernel_size=conv_kernel_size,
                                pinv_iterations=pinv_iterations)

  def build(self, input_shape):
    super().build(input_shape)
    self._attention_layer = NystromAttention(**self.attention_config(),
                                             **self._nystrom_kwargs)

  def get_config(self):
    return dict(super().get_config(), **self._nystrom_kwargs)
