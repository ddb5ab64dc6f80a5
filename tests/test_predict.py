"""Batch prediction: fill-mask, classify and qa.

fill-mask: a random-init HuggingFace ALBERT with a vocabulary trained on
WikiText is read straight from its HuggingFace directory; the top-k pieces
and probabilities written for real SST-2 sentences with masked words must be
HuggingFace's.

classify / qa: tiny models fine-tuned a few steps by train.py on real SST-2,
RTE and SQuAD v1.1 slices (test_export.finetuned_model); what predict writes
must be what the task's own evaluation wrote (`dev_predictions.tsv`,
`predictions.json`, scored by the official SQuAD script), from the model
directory, from its SavedModel and from its LiteRT float32 model alike
(probabilities within 1e-4 of the SavedModel's). The beam SQuAD 2.0 head
(`squad2_beam`) is served like the [CLS] head: the answers and no-answer
scores of its `predictions.json` and `null_odds.json`.

Tests: `official_albert.serving.predict`, `official_albert.serving.classify`,
`official_albert.serving.qa`, `official_albert.serving.finetuned`.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import torch
from official.nlp.tools import squad_evaluate_v1_1
from test_export import finetuned_model  # pylint: disable=g-bad-import-order
from test_parity_hf import tiny_hf_model

from official_albert import errors
from official_albert.data.finetuning import classification_data
from official_albert.data.pretraining import train_vocab
from official_albert.data.tokenization import AlbertTokenizer
from official_albert.serving import finetuned
from official_albert.serving import predict

TOP_K = 4
# The LiteRT float32 export beside each SavedModel (test_export).
LITERT = "saved.float32.tflite"


@pytest.fixture(scope="module")
def hf_model_dir(tmp_path_factory, test_data):
  tmp = tmp_path_factory.mktemp("predict")
  train_vocab.train_vocab([str(test_data / "corpus" / "wiki.valid.raw")],
                          str(tmp / "vocab"), vocab_size=2000)
  model = tiny_hf_model(1, 1, vocab_size=2000)
  model.save_pretrained(tmp / "hf")
  shutil.copyfile(tmp / "vocab.model", tmp / "hf" / "spiece.model")
  return tmp / "hf", model


def masked_sst2(test_data, count):
  """SST-2 dev sentences with their 3rd word (and 6th, every other) masked."""
  with open(test_data / "glue/SST-2/dev.tsv", encoding="utf-8") as f:
    sentences = [line.split("\t")[0] for line in f.readlines()[1:]]
  texts = []
  for i, sentence in enumerate(s for s in sentences if len(s.split()) > 6):
    words = sentence.split()
    for index in (2, 5) if i % 2 else (2,):
      words[index] = "[MASK]"
    texts.append(" ".join(words))
    if len(texts) == count:
      return texts


def run(argv):
  errors.run_cli(lambda: predict.main(["fill-mask"] + argv))


def test_fill_mask_matches_huggingface(hf_model_dir, test_data, tmp_path):
  model_dir, hf_model = hf_model_dir
  texts = masked_sst2(test_data, 10)
  (tmp_path / "in.txt").write_text("\n".join(texts[:5] + [""] + texts[5:]))
  run(["--model", str(model_dir), "--format", "hf", "--input",
       str(tmp_path / "in.txt"), "--output", str(tmp_path / "out.jsonl"),
       "--top_k", str(TOP_K), "--batch_size", "3"])
  records = [json.loads(l) for l in
             (tmp_path / "out.jsonl").read_text().splitlines()]
  assert [r["line"] for r in records] == [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]

  tokenizer = AlbertTokenizer(str(model_dir / "spiece.model"))
  for record, text in zip(records, texts):
    parts = text.split("[MASK]")
    ids = [tokenizer.cls_id] + tokenizer.encode(parts[0])
    for part in parts[1:]:
      ids += [tokenizer.mask_id] + tokenizer.encode(part)
    # The tiny model has 64 positions: truncate as --seq_length is capped.
    ids = ids[:63] + [tokenizer.sep_id]
    with torch.no_grad():
      logits = hf_model(input_ids=torch.tensor([ids])).prediction_logits[0]
    probs = torch.softmax(logits, -1).numpy()
    positions = [i for i, t in enumerate(ids) if t == tokenizer.mask_id]
    assert [m["position"] for m in record["masks"]] == positions
    for mask in record["masks"]:
      expected = np.argsort(-probs[mask["position"]])[:TOP_K]
      got = [p["id"] for p in mask["predictions"]]
      assert got == expected.tolist()
      np.testing.assert_allclose(
          [p["probability"] for p in mask["predictions"]],
          probs[mask["position"], expected], atol=1e-6)
      assert [p["token"] for p in mask["predictions"]] == (
          tokenizer.convert_ids_to_tokens(expected))


@pytest.mark.parametrize("content,extra,message", [
    (None, [], "not found"),
    ("\n\n", [], "is empty"),
    ("a [MASK] b\nno mask here\n", [], "input line 2 has no [MASK]"),
    ("a b c d e f [MASK]\n", ["--seq_length", "5"],
     "input line 1 has a [MASK] beyond --seq_length 5"),
])
def test_fill_mask_bad_input_is_a_user_error(hf_model_dir, tmp_path, capsys,
                                             content, extra, message):
  model_dir, _ = hf_model_dir
  if content is not None:
    (tmp_path / "in.txt").write_text(content)
  with pytest.raises(SystemExit):
    run(["--model", str(model_dir), "--format", "hf", "--input",
         str(tmp_path / "in.txt"), "--output", str(tmp_path / "o.jsonl")]
        + extra)
  err = capsys.readouterr().err
  assert err.startswith("error: ") and message in err, err
  assert not (tmp_path / "o.jsonl").exists()


def test_fill_mask_with_another_vocabulary_is_a_user_error(
    hf_model_dir, test_data, tmp_path):
  model_dir, _ = hf_model_dir
  train_vocab.train_vocab([str(test_data / "corpus" / "carroll-alice.txt")],
                          str(tmp_path / "alice"), vocab_size=500)
  (tmp_path / "in.txt").write_text("alice was [MASK] tired\n")
  with pytest.raises(errors.UserError, match="the vocabulary has 500 pieces "
                     "but the model scores 2000"):
    predict.main(["fill-mask", "--model", str(model_dir), "--format", "hf",
                  "--input", str(tmp_path / "in.txt"), "--output",
                  str(tmp_path / "o.jsonl"), "--vocab",
                  str(tmp_path / "alice.model")])


def test_fill_mask_needs_the_mlm_head(hf_model_dir, tmp_path):
  model_dir, hf_model = hf_model_dir
  hf_model.albert.save_pretrained(tmp_path / "base")
  (tmp_path / "in.txt").write_text("a [MASK]\n")
  with pytest.raises(errors.UserError, match="has no MLM head"):
    predict.main(["fill-mask", "--model", str(tmp_path / "base"), "--format",
                  "hf", "--input", str(tmp_path / "in.txt"), "--output",
                  str(tmp_path / "o.jsonl"), "--vocab",
                  str(model_dir / "spiece.model")])


def _jsonl(path):
  return [json.loads(line) for line in path.read_text().splitlines()]


def test_classify_matches_the_task_evaluation(test_data, tmp_path_factory,
                                              tmp_path):
  for task, columns in (("sst-2", []), ("rte", [
      "--text_column", "sentence1", "--text_b_column", "sentence2"])):
    root = finetuned_model(test_data, tmp_path_factory, task)
    outputs = {}
    for name in ("model", "saved", LITERT):
      outputs[name] = tmp_path / f"{task}_{name}.jsonl"
      errors.run_cli(lambda: predict.main([
          "classify", "--model", str(root / name), "--input",
          str(root / "src/dev.tsv"), "--output", str(outputs[name]),
          "--batch_size", "7"] + columns))
    records = _jsonl(outputs["model"])
    # Each text alone through the live model: the probabilities of its row,
    # whatever the batching and length sorting did.
    served = finetuned.load(str(root / "model"))
    tokenizer = AlbertTokenizer(served.vocab)
    rows = [line.split("\t") for line in
            (root / "src/dev.tsv").read_text().splitlines()[1:]]
    for record, row in zip(records, rows):
      example = classification_data.Example(
          0, row[-3] if columns else row[0], row[-2] if columns else None, "")
      ids = classification_data.encode_example(tokenizer, example, 128)
      logits = served.model({k: np.array([ids[v]], np.int32) for k, v in (
          ("input_word_ids", "input_ids"), ("input_mask", "input_mask"),
          ("input_type_ids", "segment_ids"))}, training=False)
      np.testing.assert_allclose(list(record["probabilities"].values()),
                                 tf.nn.softmax(logits)[0].numpy(), atol=1e-5)
    # The evaluation's predictions, by example (row) order.
    tsv = (root / "model/dev_predictions.tsv").read_text().splitlines()
    evaluated = [line.split("\t")[1] for line in tsv[1:]]
    assert [r["label"] for r in records] == evaluated
    assert [r["line"] for r in records] == list(range(2, len(evaluated) + 2))
    for record in records:
      probs = record["probabilities"]
      assert record["label"] == max(probs, key=probs.get)
      assert sum(probs.values()) == pytest.approx(1.0, abs=1e-6)
    print(task, "labels predicted:", sorted({r["label"] for r in records}))
    for a, b in zip(records, _jsonl(outputs["saved"])):
      assert a["label"] == b["label"]
      np.testing.assert_allclose(list(a["probabilities"].values()),
                                 list(b["probabilities"].values()), atol=1e-5)
    for a, b in zip(records, _jsonl(outputs[LITERT])):  # Padded to 128.
      np.testing.assert_allclose(list(a["probabilities"].values()),
                                 list(b["probabilities"].values()), atol=1e-4)


def test_regression_scores_are_the_task_evaluation(
    test_data, tmp_path_factory, tmp_path):
  """STS-B: `score` per pair, as the evaluation's dev_predictions.tsv."""
  root = finetuned_model(test_data, tmp_path_factory, "sts-b")
  scores = {}
  for name in ("model", "saved", LITERT):
    errors.run_cli(lambda: predict.main([
        "classify", "--model", str(root / name), "--input",
        str(root / "src/dev.tsv"), "--output", str(tmp_path / "o.jsonl"),
        "--text_column", "sentence1", "--text_b_column", "sentence2"]))
    records = _jsonl(tmp_path / "o.jsonl")
    (tmp_path / "o.jsonl").unlink()
    assert all(set(r) == {"line", "score"} for r in records)
    scores[name] = [r["score"] for r in records]
  tsv = (root / "model/dev_predictions.tsv").read_text().splitlines()
  evaluated = [float(line.split("\t")[1]) for line in tsv[1:]]
  assert len(evaluated) == 50
  # The evaluation writes float32 scores exactly (9 significant digits);
  # predict batches them differently.
  np.testing.assert_allclose(scores["model"], evaluated, rtol=1e-5,
                             atol=1e-6)
  np.testing.assert_allclose(scores["saved"], scores["model"], atol=1e-5)
  np.testing.assert_allclose(scores[LITERT], scores["model"], atol=1e-4)
  assert np.std(scores["model"]) > 0  # Not a constant.


def test_classify_a_text_file_by_command_line(test_data, tmp_path_factory,
                                              tmp_path):
  """`python -m ...predict classify` on a .txt equals the .tsv's records."""
  root = finetuned_model(test_data, tmp_path_factory, "sst-2")
  rows = (root / "src/dev.tsv").read_text().splitlines()[1:21]
  (tmp_path / "in.txt").write_text(
      "\n\n".join(r.split("\t")[0] for r in rows))  # Blank lines between.
  subprocess.run([sys.executable, "-m", "official_albert.serving.predict",
                  "classify", "--model", str(root / "saved"), "--input",
                  str(tmp_path / "in.txt"), "--output",
                  str(tmp_path / "out.jsonl")], check=True)
  records = _jsonl(tmp_path / "out.jsonl")
  evaluated = (root / "model/dev_predictions.tsv").read_text().splitlines()
  assert [r["line"] for r in records] == list(range(1, 40, 2))
  assert [r["label"] for r in records] == [
      line.split("\t")[1] for line in evaluated[1:21]]


@pytest.mark.parametrize("task", ["squad", "squad2", "squad2_beam"])
def test_qa_matches_the_task_predictions(test_data, tmp_path_factory,
                                         tmp_path, task):
  root = finetuned_model(test_data, tmp_path_factory, task)
  dataset = json.loads((root / "eval.json").read_text())["data"]
  questions = [dict(id=qa["id"], question=qa["question"],
                    context=p["context"])
               for a in dataset for p in a["paragraphs"] for qa in p["qas"]]
  (tmp_path / "q.jsonl").write_text(
      "\n".join(json.dumps(q) for q in questions))
  expected = json.loads((root / "model/predictions.json").read_text())
  for name in ("model", "saved", LITERT):
    errors.run_cli(lambda: predict.main([
        "qa", "--model", str(root / name), "--input",
        str(tmp_path / "q.jsonl"), "--output", str(tmp_path / "a.jsonl")]))
    records = _jsonl(tmp_path / "a.jsonl")
    (tmp_path / "a.jsonl").unlink()
    assert [r["id"] for r in records] == [q["id"] for q in questions]
    answers = {r["id"]: r["answer"] for r in records}
    assert answers == expected
    for record, question in zip(records, questions):
      start = record["start"]
      if record["answer"]:
        assert question["context"][start:start + len(record["answer"])] == (
            record["answer"])
      assert 0 < record["probability"] <= 1
    if task != "squad":  # No-answer scores as the evaluation's.
      null_odds = json.loads((root / "model/null_odds.json").read_text())
      np.testing.assert_allclose(
          [r["null_score_diff"] for r in records],
          [null_odds[q["id"]] for q in questions], rtol=1e-5, atol=1e-4)
      assert all((r["answer"] == "") == (r["start"] == -1) for r in records)
    else:
      print(name, "answers:", len(set(answers.values())), "distinct;",
            squad_evaluate_v1_1.evaluate(dataset, answers))


@pytest.mark.parametrize("command,model,content,extra,message", [
    ("classify", "sst-2", None, [], "not found"),
    ("classify", "sst-2", "", [], "is empty"),
    ("classify", "sst-2", "sentence\tlabel\nfine\t1\n",
     ["--text_column", "review"], "no column named 'review'"),
    ("classify", "squad", "a text\n", [], "is a SQuAD model; use `predict qa`"),
    ("qa", "sst-2", '{"question": "q", "context": "c"}\n', [],
     "is a classifier; use `predict classify`"),
    ("qa", "squad", '{"question": "who?"}\n', [],
     "needs string fields 'question' and 'context'"),
    ("qa", "squad", "who?\n", [], "not JSON"),
    ("qa", "squad", "\n", [], "is empty"),
])
def test_classify_and_qa_bad_input_is_a_user_error(
    test_data, tmp_path_factory, tmp_path, capsys, command, model, content,
    extra, message):
  root = finetuned_model(test_data, tmp_path_factory, model)
  suffix = ".jsonl" if command == "qa" else (
      ".txt" if content and "\t" not in content else ".tsv")
  path = tmp_path / ("in" + suffix)
  if content is not None:
    path.write_text(content)
  with pytest.raises(SystemExit):
    errors.run_cli(lambda: predict.main([
        command, "--model", str(root / "model"), "--input", str(path),
        "--output", str(tmp_path / "o.jsonl")] + extra))
  err = capsys.readouterr().err
  assert err.startswith("error: ") and message in err, err
  assert not (tmp_path / "o.jsonl").exists()


def test_predict_needs_a_finetuned_model(hf_model_dir, tmp_path):
  """A pretrained (HF) directory is neither a classifier nor a SQuAD model."""
  model_dir, _ = hf_model_dir
  (tmp_path / "in.txt").write_text("a text\n")
  with pytest.raises(errors.UserError, match="has no params.yaml"):
    predict.main(["classify", "--model", str(model_dir), "--input",
                  str(tmp_path / "in.txt"), "--output",
                  str(tmp_path / "o.jsonl")])


def test_pad_batch_and_batch_starts():
  """Padding to the longest or to a given length (a fixed-length model's),
  and a progress bar only when there is more than one batch."""
  features = [dict(input_ids=[2, 7, 3], segment_ids=[0, 0, 0]),
              dict(input_ids=[2, 8, 3, 9, 3], segment_ids=[0, 0, 0, 1, 1])]
  ids = finetuned.pad_batch(features, 0)
  np.testing.assert_array_equal(ids["input_word_ids"],
                                [[2, 7, 3, 0, 0], [2, 8, 3, 9, 3]])
  np.testing.assert_array_equal(ids["input_mask"].sum(1), [3, 5])
  np.testing.assert_array_equal(ids["input_type_ids"][1], [0, 0, 0, 1, 1])
  assert {v.dtype for v in ids.values()} == {np.dtype(np.int32)}
  fixed = finetuned.pad_batch(features, 0, 8)
  assert fixed["input_word_ids"].shape == (2, 8)
  np.testing.assert_array_equal(fixed["input_word_ids"][:, :5],
                                ids["input_word_ids"])
  with pytest.raises(ValueError, match="5 ids does not fit length 4"):
    finetuned.pad_batch(features, 0, 4)
  assert list(finetuned.batch_starts(5, 8, "classify")) == [0]
  assert isinstance(finetuned.batch_starts(5, 8, "classify"), range)
  bar = finetuned.batch_starts(20, 8, "classify")
  assert not isinstance(bar, range) and list(bar) == [0, 8, 16]
