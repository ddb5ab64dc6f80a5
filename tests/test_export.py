"""SavedModel export: reloaded in a fresh process, it must match the live model.

Oracles: the live Keras model for the tensor signatures, and the Python
`AlbertTokenizer` (plus the original `_truncate_seq_pair` rule) for the ids
the in-graph text signatures produce on real GLUE and WikiText sentences.
"""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from official_albert import errors
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.data import train_vocab
from official_albert.data.tokenization import AlbertTokenizer
from official_albert.data.tokenization import preprocess_text
from official_albert.interop import ours
from official_albert.serving import export
from official_albert.serving import predict

SEQ_LENGTH = 48
TOLERANCE = 1e-5

# Runs in a fresh Python process: loads the SavedModel and evaluates every
# signature on the arrays in argv[2], writing the outputs to argv[3].
RELOAD_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # registers the SentencePiece ops
saved = tf.saved_model.load(sys.argv[1])
inputs = dict(np.load(sys.argv[2], allow_pickle=True))  # text: object arrays
ids = {k: tf.constant(inputs[k]) for k in
       ("input_word_ids", "input_mask", "input_type_ids")}
out = {}
for name, kwargs in (
    ("encoder", ids),
    ("pretraining", dict(ids, masked_lm_positions=tf.constant(
        inputs["masked_lm_positions"]))),
    ("text", dict(text=tf.constant(inputs["text"]))),
    ("text_pair", dict(text_a=tf.constant(inputs["text_a"]),
                       text_b=tf.constant(inputs["text_b"])))):
  for key, value in saved.signatures[name](**kwargs).items():
    out[name + "/" + key] = value.numpy()
np.savez(sys.argv[3], **out)
"""


def read_tsv(path, columns):
  with open(path, encoding="utf-8-sig", newline="") as f:
    rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
  return [tuple(row[c] for c in columns) for row in rows]


def non_ascii_lines(path, count):
  """WikiText lines with accents and other non-ASCII text (NFKD matters)."""
  with open(path, encoding="utf-8") as f:
    lines = [l.strip() for l in f if not l.isascii() and l.strip()]
  return lines[:count]


def pack(tokenizer, ids_a, ids_b=None):
  """[CLS] a [SEP] (b [SEP]), truncated as the original _truncate_seq_pair."""
  a, b = list(ids_a), list(ids_b or [])
  budget = SEQ_LENGTH - (3 if ids_b is not None else 2)
  while len(a) + len(b) > budget:
    (a if len(a) > len(b) else b).pop()
  ids = [tokenizer.cls_id] + a + [tokenizer.sep_id]
  types = [0] * len(ids)
  if ids_b is not None:
    ids += b + [tokenizer.sep_id]
    types += [1] * (len(b) + 1)
  pad = SEQ_LENGTH - len(ids)
  return (ids + [tokenizer.pad_id] * pad, [1] * len(ids) + [0] * pad,
          types + [0] * pad)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, shared_data):
  """A random tiny ALBERT with a real vocabulary, exported by the CLI."""
  tmp = tmp_path_factory.mktemp("export")
  vocab_prefix = str(tmp / "vocab")
  train_vocab.train_vocab([str(shared_data / "corpus" / "wiki.valid.raw")],
                          vocab_prefix, vocab_size=2000)
  config = AlbertEncoderConfig(
      vocab_size=2000, embedding_size=16, hidden_size=32, num_hidden_layers=3,
      num_attention_heads=4, intermediate_size=37,
      max_position_embeddings=SEQ_LENGTH)
  model = ours.build_pretrainer(config)
  rng = np.random.default_rng(0)
  for var in model.weights:
    var.assign(rng.normal(0.0, 0.1, var.shape).astype(np.float32))
  ours.save(str(tmp / "ckpt"), config, ours.read(model),
            vocab_prefix + ".model")
  errors.run_cli(lambda: export.main([
      "--input", str(tmp / "ckpt"), "--output", str(tmp / "saved"),
      "--seq_length", str(SEQ_LENGTH)]))
  return tmp / "saved", model, AlbertTokenizer(vocab_prefix + ".model")


def test_reloaded_signatures_match_live_model_and_tokenizer(
    exported, shared_data, tmp_path):
  saved, model, tokenizer = exported
  sentences = [s for s, in read_tsv(shared_data / "glue/SST-2/dev.tsv",
                                    ["sentence"])]
  sentences += non_ascii_lines(shared_data / "corpus/wiki.valid.raw", 100)
  pairs = read_tsv(shared_data / "glue/MRPC/dev.tsv",
                   ["#1 String", "#2 String"])
  single = [pack(tokenizer, tokenizer.encode(s)) for s in sentences[:8]]
  ids = {k: np.array([row[i] for row in single], np.int32)
         for i, k in enumerate(export.ENCODER_INPUTS)}
  positions = np.tile(np.arange(1, 6, dtype=np.int32), (8, 1))
  np.savez(tmp_path / "inputs.npz", masked_lm_positions=positions,
           text=np.array(sentences, object), **ids,
           text_a=np.array([a for a, _ in pairs], object),
           text_b=np.array([b for _, b in pairs], object))
  subprocess.run([sys.executable, "-c", RELOAD_SCRIPT, str(saved),
                  str(tmp_path / "inputs.npz"), str(tmp_path / "out.npz")],
                 check=True)
  out = dict(np.load(tmp_path / "out.npz"))

  live = model(dict(ids, masked_lm_positions=positions))
  for key in ("sequence_output", "pooled_output"):
    np.testing.assert_allclose(out["encoder/" + key], live[key].numpy(),
                               atol=TOLERANCE)
  for key in ("mlm_logits", "sop_logits", "sequence_output"):
    np.testing.assert_allclose(out["pretraining/" + key], live[key].numpy(),
                               atol=TOLERANCE)

  # Text: the in-graph ids equal the Python tokenizer's, except where its
  # digit-comma fix applies, which the graph leaves out (documented): there
  # they equal plain SentencePiece on the normalised text.
  comma_fixed = 0
  for kind, texts in (("text", [(s,) for s in sentences]),
                      ("text_pair", pairs)):
    for row, segments in enumerate(texts):
      python = [tokenizer.encode(t) for t in segments]
      plain = [tokenizer.sp.encode(preprocess_text(t)) for t in segments]
      got = tuple(out[f"{kind}/{k}"][row].tolist()
                  for k in export.ENCODER_INPUTS)
      assert got == pack(tokenizer, *plain), (kind, segments)
      if python != plain:
        comma_fixed += 1
      else:
        assert got == pack(tokenizer, *python)
  print(f"{len(sentences)} texts and {len(pairs)} pairs; "
        f"{comma_fixed} differ by the digit-comma fix only")
  assert comma_fixed < len(pairs) // 10

  # The text signature's encoder outputs are those of the live model.
  text_ids = {k: out["text/" + k][:8] for k in export.ENCODER_INPUTS}
  np.testing.assert_allclose(out["text/pooled_output"][:8],
                             model.encoder(text_ids)["pooled_output"].numpy(),
                             atol=TOLERANCE)
  assert (saved / "assets" / "spiece.model").is_file()


def test_export_bad_input_is_a_user_error(exported, tmp_path, capsys):
  saved, _, _ = exported
  cases = [
      (["--input", str(saved.parent / "ckpt"), "--output", str(saved)],
       "already exists"),
      (["--input", str(saved.parent / "ckpt"), "--output",
        str(tmp_path / "s"), "--seq_length", "4096"],
       "--seq_length 4096 must be in [2, 48]"),
      (["--input", str(tmp_path / "missing"), "--output",
        str(tmp_path / "s")], "not found"),
  ]
  for argv, message in cases:
    with pytest.raises(SystemExit):
      errors.run_cli(lambda: export.main(argv))
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
  assert not (tmp_path / "s").exists()


def test_fill_mask_from_saved_model_equals_checkpoint(exported, shared_data,
                                                      tmp_path):
  """serving.predict reads a SavedModel like the checkpoint it came from."""
  saved, _, _ = exported
  sentences = [s for s, in read_tsv(shared_data / "glue/SST-2/dev.tsv",
                                    ["sentence"])[:6]]
  (tmp_path / "in.txt").write_text("\n".join(
      s.replace(" ", " [MASK] ", 1) for s in sentences))
  outputs = {}
  for name, model in (("saved", saved), ("ckpt", saved.parent / "ckpt")):
    outputs[name] = tmp_path / f"{name}.jsonl"
    errors.run_cli(lambda: predict.main([
        "fill-mask", "--model", str(model), "--input", str(tmp_path / "in.txt"),
        "--output", str(outputs[name]), "--top_k", "3"]))
  saved_records = [json.loads(l) for l in outputs["saved"].open()]
  ckpt_records = [json.loads(l) for l in outputs["ckpt"].open()]
  assert len(saved_records) == 6
  for a, b in zip(saved_records, ckpt_records):
    assert [m["position"] for m in a["masks"]] == [
        m["position"] for m in b["masks"]]
    for ma, mb in zip(a["masks"], b["masks"]):
      assert [p["id"] for p in ma["predictions"]] == [
          p["id"] for p in mb["predictions"]]
      np.testing.assert_allclose(
          [p["probability"] for p in ma["predictions"]],
          [p["probability"] for p in mb["predictions"]], atol=1e-6)
