"""Parity oracle: our ALBERT against HuggingFace transformers' PyTorch ALBERT.

transformers' `AlbertForPreTraining` is an independent implementation of the
same network; with its weights copied into our `AlbertPretrainer` through
`interop.hf`, every output must agree to float32 round-off. The parameter
counts of the released sizes are checked against HuggingFace `AlbertModel`
(built on the meta device, so xxlarge costs no memory) and the paper.

Tests: `official_albert.modeling.albert`, `official_albert.configs.encoders`.
"""

import numpy as np
import pytest
import torch
import transformers

from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.configs.encoders import build_encoder
from official_albert.interop import hf
from official_albert.interop import layout
from official_albert.interop import ours
from official_albert.modeling import albert

TOLERANCE = 1e-5
SEQ_LENGTH = 12
# Real tokens per row: a full row and two padded ones.
LENGTHS = (12, 8, 5)


def tiny_hf_model(num_hidden_groups: int, inner_group_num: int,
                  vocab_size: int = 300):
  """A random-init HuggingFace ALBERT (float32, eval mode, fixed seed)."""
  torch.manual_seed(1234)
  config = transformers.AlbertConfig(
      vocab_size=vocab_size, embedding_size=16, hidden_size=32, num_hidden_layers=3,
      num_hidden_groups=num_hidden_groups, inner_group_num=inner_group_num,
      num_attention_heads=4, intermediate_size=37, hidden_act="gelu_new",
      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
      classifier_dropout_prob=0.0, max_position_embeddings=64,
      attn_implementation="eager")
  model = transformers.AlbertForPreTraining(config).eval()
  # HF init leaves biases at 0 and LayerNorm at (1, 0), where a swapped or
  # dropped bias or gamma would go unnoticed: randomise every parameter.
  with torch.no_grad():
    for name, param in model.named_parameters():
      if "norm" in name.lower() and name.endswith("weight"):
        param.uniform_(0.5, 1.5)
      else:
        param.normal_(0.0, 0.1)
  return model


def padded_batch(vocab_size: int, max_predictions: int = 4):
  """A batch with padding at the end of two rows and both segment ids."""
  rng = np.random.default_rng(7)
  ids = rng.integers(5, vocab_size, size=(len(LENGTHS), SEQ_LENGTH))
  mask = np.zeros_like(ids)
  types = np.zeros_like(ids)
  positions = np.zeros((len(LENGTHS), max_predictions), np.int64)
  for row, length in enumerate(LENGTHS):
    mask[row, :length] = 1
    ids[row, length:] = 0
    types[row, length // 2:length] = 1
    positions[row] = rng.choice(np.arange(1, length), max_predictions,
                                replace=False)
  return dict(input_word_ids=ids, input_mask=mask, input_type_ids=types,
              masked_lm_positions=positions)


@pytest.mark.parametrize("groups,inner", [(1, 1), (2, 2)])
def test_pretrainer_matches_huggingface(groups, inner):
  hf_model = tiny_hf_model(groups, inner)
  config = hf.config_from_hf(hf_model.config.to_dict(), "test config")
  assert config.hidden_act == "gelu"  # tanh approximation on both sides
  model = ours.build_pretrainer(config)
  weights = hf.from_state_dict(hf_model.state_dict(), config, "test model")
  items = ours.assign(model, weights, "test model")
  assert set(items) == {"encoder", "masked_lm", "sop_classifier"}

  batch = padded_batch(config.vocab_size)
  with torch.no_grad():
    expected = hf_model(
        input_ids=torch.tensor(batch["input_word_ids"]),
        attention_mask=torch.tensor(batch["input_mask"]),
        token_type_ids=torch.tensor(batch["input_type_ids"]))
    hf_encoder = hf_model.albert(
        input_ids=torch.tensor(batch["input_word_ids"]),
        attention_mask=torch.tensor(batch["input_mask"]),
        token_type_ids=torch.tensor(batch["input_type_ids"]))
  got = model({k: v.astype(np.int32) for k, v in batch.items()})

  # HF scores every position; ours only the masked ones.
  rows = np.arange(len(LENGTHS))[:, None]
  hf_mlm = expected.prediction_logits.numpy()[rows, batch["masked_lm_positions"]]
  diffs = {
      "sequence_output": np.abs(got["sequence_output"].numpy() -
                                hf_encoder.last_hidden_state.numpy()),
      "pooled_output": np.abs(got["pooled_output"].numpy() -
                              hf_encoder.pooler_output.numpy()),
      "mlm_logits": np.abs(got["mlm_logits"].numpy() - hf_mlm),
      "sop_logits": np.abs(got["sop_logits"].numpy() -
                           expected.sop_logits.numpy()),
  }
  worst = {name: float(d.max()) for name, d in diffs.items()}
  print(f"groups={groups} inner={inner} max abs diff: {worst}")
  # Padded positions are compared too: both sides only mask keys, so padded
  # queries still see the same real tokens and give the same values.
  assert all(d <= TOLERANCE for d in worst.values()), worst
  # The outputs are far from trivial, so the tolerance is meaningful.
  assert np.abs(hf_mlm).max() > 0.1


# (H, layers, heads, FFN, parameters of encoder + pooler as ALBERT_FACTS.md
# and the paper's table 1 give them, in millions, and the relative tolerance
# of that rounded figure).
RELEASED_SIZES = {
    "base": (768, 12, 12, 3072, 11.68, 0.001),
    "large": (1024, 24, 16, 4096, 17.7, 0.005),
    "xlarge": (2048, 24, 16, 8192, 58.7, 0.005),
    "xxlarge": (4096, 12, 64, 16384, 222.6, 0.002),
}


def huggingface_parameter_count(config: AlbertEncoderConfig) -> int:
  """Parameters of HF AlbertModel (with pooler), built without memory."""
  with torch.device("meta"):
    model = transformers.AlbertModel(transformers.AlbertConfig(
        vocab_size=config.vocab_size, embedding_size=config.embedding_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size))
  return sum(p.numel() for p in model.parameters())


def encoder_count_from_shapes(config: AlbertEncoderConfig) -> int:
  """Encoder + pooler parameters summed over the interchange layout's shapes."""
  return sum(int(np.prod(shape))
             for name, shape in layout.expected_shapes(config).items()
             if layout.head_of(name) is None)


@pytest.mark.parametrize("size", ["base", "large", "xlarge"])
def test_released_sizes_parameter_counts(size):
  hidden, layers, heads, ffn, paper_millions, rel = RELEASED_SIZES[size]
  config = AlbertEncoderConfig(
      hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
      intermediate_size=ffn)
  encoder = build_encoder(config)
  encoder(albert.dummy_inputs())
  count = encoder.count_params()
  assert count == huggingface_parameter_count(config)
  assert count == encoder_count_from_shapes(config)
  assert count / 1e6 == pytest.approx(paper_millions, rel=rel)


def test_xxlarge_parameter_count():
  """xxlarge is counted from the interchange shapes, not built.

  Building it costs 2.5 GB and 16 s on the 2-core CI machine; the test above
  ties the count over `layout.expected_shapes` to our built model for the
  other sizes, and here it must equal HuggingFace's count and the paper's.
  """
  hidden, layers, heads, ffn, paper_millions, rel = RELEASED_SIZES["xxlarge"]
  config = AlbertEncoderConfig(
      hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
      intermediate_size=ffn)
  count = encoder_count_from_shapes(config)
  assert count == huggingface_parameter_count(config)
  assert count / 1e6 == pytest.approx(paper_millions, rel=rel)
