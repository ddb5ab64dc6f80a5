"""SavedModel export: reloaded in a fresh process, it must match the live model.

Oracles: the live Keras model for the tensor signatures, and the Python
`AlbertTokenizer` (plus the original `_truncate_seq_pair` rule) for the ids
the in-graph text signatures produce on real GLUE and WikiText sentences.
Fine-tuned exports: tiny models fine-tuned for a few steps by `train.py` on
real SST-2, RTE, STS-B and SQuAD slices (`finetuned_model`, shared with
test_predict.py); their signatures must give the live model's outputs on
the Python tokenizer's ids, and the classifier's label names.

Tests: `official_albert.serving.export`, `official_albert.serving.finetuned`.
"""

import csv
import json
import subprocess
import sys

import conftest
import numpy as np
import pytest
from test_finetune_data import finetune_sp_model  # pylint: disable=g-bad-import-order
from test_finetune_tasks import _records
from test_finetune_tasks import _squad_files
from test_finetune_tasks import _trainer_yaml

import train
from official_albert import errors
from official_albert.configs.encoders import AlbertEncoderConfig
from official_albert.data.finetuning import classification_data
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.finetuning import squad_data
from official_albert.data.pretraining import train_vocab
from official_albert.data.tokenization import AlbertTokenizer
from official_albert.interop import ours
from official_albert.serving import export
from official_albert.serving import finetuned
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


def pack(tokenizer, ids_a, ids_b=None, seq_length=SEQ_LENGTH):
  """[CLS] a [SEP] (b [SEP]), truncated as the original _truncate_seq_pair."""
  a, b = list(ids_a), list(ids_b or [])
  budget = seq_length - (3 if ids_b is not None else 2)
  while len(a) + len(b) > budget:
    (a if len(a) > len(b) else b).pop()
  ids = [tokenizer.cls_id] + a + [tokenizer.sep_id]
  types = [0] * len(ids)
  if ids_b is not None:
    ids += b + [tokenizer.sep_id]
    types += [1] * (len(b) + 1)
  pad = seq_length - len(ids)
  return (ids + [tokenizer.pad_id] * pad, [1] * len(ids) + [0] * pad,
          types + [0] * pad)


# Fine-tuned tiny models: (GLUE directory, task, train rows, dev rows).
FINETUNED = {"sst-2": ("SST-2", 200, 100), "rte": ("RTE", 200, 64),
             "sts-b": ("STS-B", 200, 50)}
FINETUNE_SEQ = 128


def finetuned_model(test_data, tmp_path_factory, task):
  """A tiny model fine-tuned 6 steps by train.py; made once a session.

  Args:
    task: "sst-2", "rte", "sts-b" (classifiers and a regression, 128
      pieces), "squad", "squad2" (v1.1, v2.0; 192 pieces) or "squad2_beam"
      (v2.0 with the beam head, `task.model.head=beam`).

  Returns:
    The directory holding `model/` (the model_dir, with the evaluation's
    `dev_predictions.tsv` or `predictions.json`), `src/dev.tsv` or
    `eval.json` (the evaluated data), `saved/` (its export) and
    `saved.float32.tflite` (its LiteRT float32 export).
  """
  root = tmp_path_factory.getbasetemp() / f"finetuned_{task}"
  if (root / "saved").is_dir():
    return root
  root.mkdir()
  vocab = finetune_sp_model(test_data, tmp_path_factory)
  tiny = root / "tiny.yaml"
  tiny.write_text(
      "task:\n  model:\n    encoder:\n"
      f"      vocab_size: {AlbertTokenizer(vocab).vocab_size}\n"
      "      embedding_size: 16\n      hidden_size: 32\n"
      "      num_hidden_layers: 2\n      num_attention_heads: 2\n"
      "      intermediate_size: 64\n")
  if task.startswith("squad"):
    v2 = task.startswith("squad2")
    _, eval_json, _ = _squad_files(test_data, root, "2.0" if v2 else "1.1")
    create_finetuning_data.main(
        ["--task", "squad", "--input_files", str(root / "train.json"),
         "--sp_model_file", vocab, "--output_dir", str(root / "records"),
         "--max_seq_length", "192"] + (["--version_2_with_negative"] if v2
                                       else []))
    body = ("task:\n" + ("  model: {head: beam}\n" if task == "squad2_beam"
                         else "") +
            f"  train_data: {{input_path: {root}/records/train.tfrecord,"
            " global_batch_size: 16, seq_length: 192}\n"
            f"  validation_data: {{input_path: {eval_json}, vocab_file: "
            f"{vocab}, global_batch_size: 32, seq_length: 192, "
            f"version_2_with_negative: {str(v2).lower()}}}\n")
    experiment = "albert/squad"
  else:
    directory, train_rows, dev_rows = FINETUNED[task]
    _, records = _records(root, test_data, vocab, task, directory,
                          train_rows, dev_rows)
    regression = task == "sts-b"
    data = (f"seq_length: {FINETUNE_SEQ}, label_type: "
            f"{'float' if regression else 'int'}")
    body = (f"task:\n  model: {{num_classes: {1 if regression else 2}}}\n"
            f"  metric_type: "
            f"{'pearson_spearman_corr' if regression else 'accuracy'}\n"
            f"  train_data: {{input_path: {records}/train.tfrecord, "
            f"global_batch_size: 16, {data}}}\n"
            f"  validation_data: {{input_path: {records}/dev.tfrecord, "
            f"global_batch_size: 32, {data}}}\n")
    experiment = "albert/sentence_prediction"
  # Past the warm-up at once, so that 6 steps move the model off its init.
  fast = root / "fast.yaml"
  fast.write_text("trainer:\n  optimizer_config:\n    learning_rate:\n"
                  "      polynomial: {initial_learning_rate: 0.0001}\n"
                  "    warmup:\n      linear: {warmup_steps: 1}\n")
  train.run(experiment, "train_and_eval", str(root / "model"),
            [str(tiny), _trainer_yaml(root, body), str(fast)], "")
  export.main(["--input", str(root / "model"), "--output",
               str(root / "saved"), "--litert", "float32"])
  return root


# Runs in a fresh process: the fine-tuned SavedModels' signatures on the
# inputs in argv[4], written to argv[5] (argv 1-3: SST-2, RTE, SQuAD).
FINETUNED_RELOAD_SCRIPT = """
import sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # registers the SentencePiece ops
inputs = dict(np.load(sys.argv[4], allow_pickle=True))
out = {}
def run(prefix, signature, **kwargs):
  for key, value in signature(**{k: tf.constant(v)
                                 for k, v in kwargs.items()}).items():
    out[prefix + key] = value.numpy()
sst2, rte, squad = (tf.saved_model.load(p) for p in sys.argv[1:4])
run("sst2/", sst2.signatures["classify_text"], text=inputs["sst2_text"])
run("sst2_default/", sst2.signatures["serving_default"],
    text=inputs["sst2_text"])
out["sst2/label_list"] = sst2.label_list.numpy()
run("rte/", rte.signatures["classify_text_pair"], text_a=inputs["rte_a"],
    text_b=inputs["rte_b"])
run("squad/", squad.signatures["squad"], **{
    k: inputs["squad_" + k] for k in
    ("input_word_ids", "input_mask", "input_type_ids")})
np.savez(sys.argv[5], **out)
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory, test_data):
  """A random tiny ALBERT with a real vocabulary, exported by the CLI."""
  tmp = tmp_path_factory.mktemp("export")
  vocab_prefix = str(tmp / "vocab")
  # WikiText-2 test (assets/corpus/heldout.txt, 1.2 MB): on the 270 kB
  # WikiText slice alone the pieces tie ("000" = "0"+"00" = "00"+"0"), and
  # tf_text and Python SentencePiece break such ties differently.
  train_vocab.train_vocab([str(conftest.REPO / "assets/corpus/heldout.txt")],
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
    exported, test_data, tmp_path):
  saved, model, tokenizer = exported
  sentences = [s for s, in read_tsv(test_data / "glue/SST-2/dev.tsv",
                                    ["sentence"])]
  sentences += non_ascii_lines(test_data / "corpus/wiki.valid.raw", 100)
  pairs = read_tsv(test_data / "glue/MRPC/dev.tsv",
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

  # Text: the in-graph ids equal the Python tokenizer's, its digit-comma
  # fix included.
  for kind, texts in (("text", [(s,) for s in sentences]),
                      ("text_pair", pairs)):
    for row, segments in enumerate(texts):
      python = [tokenizer.encode(t) for t in segments]
      got = tuple(out[f"{kind}/{k}"][row].tolist()
                  for k in export.ENCODER_INPUTS)
      assert got == pack(tokenizer, *python), (kind, segments)

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


def test_fill_mask_from_saved_model_equals_checkpoint(exported, test_data,
                                                      tmp_path):
  """serving.predict reads a SavedModel like the checkpoint it came from."""
  saved, _, _ = exported
  sentences = [s for s, in read_tsv(test_data / "glue/SST-2/dev.tsv",
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


def softmax(logits):
  """numpy softmax over the last axis (the probabilities' definition)."""
  e = np.exp(logits - logits.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def test_finetuned_signatures_match_live_models(test_data, tmp_path_factory,
                                                tmp_path):
  roots = {t: finetuned_model(test_data, tmp_path_factory, t)
           for t in ("sst-2", "rte", "squad")}
  sst2 = read_tsv(roots["sst-2"] / "src/dev.tsv", ["sentence"])
  rte = read_tsv(roots["rte"] / "src/dev.tsv", ["sentence1", "sentence2"])
  served = {t: finetuned.load(str(r / "model")) for t, r in roots.items()}
  tokenizer = AlbertTokenizer(served["sst-2"].vocab)
  squad_examples = squad_data.read_examples(
      str(roots["squad"] / "eval.json"), False, False)[:10]
  features = []
  squad_data.convert_examples(squad_examples, tokenizer, 192, 128, 64, False,
                              features.append)
  squad_ids = finetuned.pad_batch(
      [dict(input_ids=f.input_ids, segment_ids=f.segment_ids)
       for f in features], tokenizer.pad_id)
  np.savez(tmp_path / "inputs.npz",
           sst2_text=np.array([a for a, in sst2], object),
           rte_a=np.array([a for a, _ in rte], object),
           rte_b=np.array([b for _, b in rte], object),
           **{"squad_" + k: v for k, v in squad_ids.items()})
  subprocess.run([sys.executable, "-c", FINETUNED_RELOAD_SCRIPT] +
                 [str(roots[t] / "saved") for t in ("sst-2", "rte", "squad")] +
                 [str(tmp_path / "inputs.npz"), str(tmp_path / "out.npz")],
                 check=True)
  out = dict(np.load(tmp_path / "out.npz", allow_pickle=True))

  # Label names: the records' label list, stored and returned by the export.
  assert [l.decode() for l in out["sst2/label_list"]] == ["0", "1"]
  for task, prefix, rows in (("sst-2", "sst2/", sst2), ("rte", "rte/", rte)):
    model = served[task].model
    labels = json.loads((roots[task] / "records/metadata.json").read_text())[
        "label_list"]
    assert served[task].labels == labels
    # The Python tokenization of the training records, digit-comma fix
    # included.
    expected = []
    for row in rows:
      example = classification_data.Example(0, row[0], (row + (None,))[1], "")
      ids = classification_data.encode_example(tokenizer, example,
                                               FINETUNE_SEQ)
      n = len(ids["input_ids"])
      pad = FINETUNE_SEQ - n
      expected.append((ids["input_ids"] + [tokenizer.pad_id] * pad,
                       [1] * n + [0] * pad, ids["segment_ids"] + [0] * pad))
    ids = {k: np.array([e[i] for e in expected], np.int32)
           for i, k in enumerate(export.ENCODER_INPUTS)}
    for k in export.ENCODER_INPUTS:
      np.testing.assert_array_equal(out[prefix + k], ids[k])
    live = softmax(model(ids, training=False).numpy())
    np.testing.assert_allclose(out[prefix + "probabilities"], live,
                               atol=TOLERANCE)
    np.testing.assert_array_equal(out[prefix + "label_id"], live.argmax(-1))
    assert [l.decode() for l in out[prefix + "label"]] == [
        labels[i] for i in live.argmax(-1)]
  np.testing.assert_array_equal(out["sst2_default/probabilities"],
                                out["sst2/probabilities"])

  start, end = served["squad"].model(squad_ids, training=False)
  np.testing.assert_allclose(out["squad/start_logits"], start.numpy(),
                             atol=TOLERANCE)
  np.testing.assert_allclose(out["squad/end_logits"], end.numpy(),
                             atol=TOLERANCE)
  assert (roots["squad"] / "saved/assets/params.yaml").is_file()


def test_finetuned_export_bad_input_is_a_user_error(
    test_data, tmp_path_factory, tmp_path, capsys):
  root = finetuned_model(test_data, tmp_path_factory, "sst-2")
  no_ckpt = tmp_path / "no_ckpt"
  no_ckpt.mkdir()
  (no_ckpt / "params.yaml").write_text(
      (root / "model/params.yaml").read_text())
  pretraining = tmp_path / "pretraining"
  pretraining.mkdir()
  (pretraining / "params.yaml").write_text("task:\n  model: {}\n")
  cases = [
      (no_ckpt, "no checkpoint in"),
      (pretraining, "is not an albert/sentence_prediction, albert/squad, "
       "albert/race or albert/tagging config"),
  ]
  for model_dir, message in cases:
    with pytest.raises(SystemExit):
      errors.run_cli(lambda: export.main(
          ["--input", str(model_dir), "--output", str(tmp_path / "s")]))
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
  assert not (tmp_path / "s").exists()
