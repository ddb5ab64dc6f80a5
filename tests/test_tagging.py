"""`albert/tagging` on real CoNLL-2003 slices (tests/data/conll2003).

The tiny model trains a few steps through `train.py`; its entity-level
precision, recall and F1 are recomputed from `predictions.conll` with a
brute-force chunker written here from the conlleval rules (an entity starts
at `B-X`, or at `I-X` after `O` or another type, and runs over the `I-X`
that follow), independent of seqeval. The reader is checked on IOB1 and
IOB2 versions of the same file, the records on first-piece labels, and each
bad input on its one-line error.

Tests: `official_albert.tasks.tagging`, `official_albert.configs.tagging`,
`official_albert.data.finetuning.tagging_data`,
`official_albert.data.finetuning.tagging_dataloader`,
`official_albert.modeling.token_classification`,
`official_albert.metrics.tagging`, `official_albert.serving.tag`.
"""

import json
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf
import yaml

import train
from official_albert import errors
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.finetuning import finetune_dataloader
from official_albert.data.finetuning import tagging_data
from official_albert.data.finetuning import tagging_dataloader
from official_albert.data import tokenization
from official_albert.serving import export
from official_albert.serving import predict
from test_finetune_tasks import _trainer_yaml  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = str(REPO / "assets/vocab/albert_demo_8k.model")
TINY = str(REPO / "configs/models/albert_tiny.yaml")


def _chunks(tags):
  """{(sentence, start, end, type)} by the conlleval rules."""
  found, start = set(), None
  for s, sentence in enumerate(tags):
    start = None
    for i, tag in enumerate(list(sentence) + ["O"]):
      prev = sentence[i - 1] if i and start is not None else "O"
      inside = tag.startswith("I-") and prev != "O" and prev[2:] == tag[2:]
      if start is not None and not inside:
        found.add((s, start, i, sentence[start][2:]))
        start = None
      if tag != "O" and not inside:
        start = i
  return found


def _make(args):
  create_finetuning_data.main(["--task", "conll", "--sp_model_file", VOCAB] +
                              args)


@pytest.fixture(scope="module")
def trained(test_data, tmp_path_factory):
  """(records, model_dir): a tiny tagger trained a few steps on the slice."""
  root = tmp_path_factory.mktemp("ner")
  records = root / "records"
  _make(["--input_dir", str(test_data / "conll2003"), "--output_dir",
         str(records), "--max_seq_length", "64"])
  run_yaml = _trainer_yaml(root, (
      f"task:\n  train_data: {{input_path: {records}/train.tfrecord, "
      "global_batch_size: 16, seq_length: 64}\n"
      f"  validation_data: {{input_path: {records}/valid.tfrecord, "
      "global_batch_size: 16, seq_length: 64}\n"
      "trainer:\n  optimizer_config:\n    learning_rate:\n      polynomial:"
      "\n        initial_learning_rate: 0.003\n"))
  train.run("albert/tagging", "train_and_eval", str(root / "model"),
            [TINY, str(REPO / "experiments/tagging/conll2003.yaml"),
             run_yaml], "")
  return records, root / "model"


def test_train_and_eval(test_data, trained):
  records, model_dir = trained
  meta = json.loads((records / "metadata.json").read_text())
  assert meta["label_list"][0] == "O" and len(meta["label_list"]) == 9
  metrics = json.loads((model_dir / "metrics.json").read_text())
  sentences = tagging_data.read_conll(str(test_data / "conll2003/valid.txt"))
  blocks = (model_dir / "predictions.conll").read_text().split("\n\n")
  rows = [[line.split(" ") for line in b.splitlines()] for b in blocks
          if b.strip()]
  assert len(rows) == len(sentences)
  for sentence, lines in zip(sentences, rows):
    assert [l[0] for l in lines] == sentence.words
    assert [l[1] for l in lines] == sentence.tags
  gold = _chunks([[l[1] for l in lines] for lines in rows])
  predicted = _chunks([[l[2] for l in lines] for lines in rows])
  right = len(gold & predicted)
  precision = right / len(predicted) if predicted else 0.0
  recall = right / len(gold)
  f1 = 2 * precision * recall / (precision + recall) if right else 0.0
  assert metrics["precision"] == pytest.approx(precision)
  assert metrics["recall"] == pytest.approx(recall)
  assert metrics["f1"] == pytest.approx(f1)
  params = yaml.safe_load((model_dir / "params.yaml").read_text())
  assert params["task"]["class_names"] == meta["label_list"]


def _to_iob1(tags):
  """IOB2 -> IOB1: `B-X` only where it follows an entity of type X."""
  out = []
  for i, tag in enumerate(tags):
    if tag.startswith("B-") and not (i and tags[i - 1][2:] == tag[2:]):
      tag = "I-" + tag[2:]
    out.append(tag)
  return out


def test_iob1_and_iob2_read_the_same(tmp_path, test_data):
  iob2 = tagging_data.read_conll(str(test_data / "conll2003/valid.txt"))
  text = []
  for sentence in iob2:
    text += [f"{w} {t}" for w, t in zip(sentence.words,
                                        _to_iob1(sentence.tags))] + [""]
  path = tmp_path / "iob1.txt"
  path.write_text("-DOCSTART- O\n\n" + "\n".join(text))
  iob1 = tagging_data.read_conll(str(path))
  assert any(_to_iob1(s.tags) != s.tags for s in iob2)  # Not the same file.
  assert [s.tags for s in iob1] == [s.tags for s in iob2]
  assert [s.words for s in iob1] == [s.words for s in iob2]


def test_labels_on_first_pieces_and_long_sentences(test_data):
  tokenizer = tokenization.AlbertTokenizer(VOCAB)
  sentences = tagging_data.read_conll(str(test_data / "conll2003/train.txt"))
  labels = tagging_data.label_list(sentences)
  longest = max(sentences, key=lambda s: len(s.words))
  for length in (512, 24):  # Whole, then cut into windows between words.
    windows = tagging_data.encode_sentence(tokenizer, longest, labels, length)
    assert (len(windows) == 1) == (length == 512)
    words = []
    for w in windows:
      assert len(w["input_ids"]) <= length
      assert w["input_ids"][0] == tokenizer.cls_id
      assert w["label_ids"][0] == w["label_ids"][-1] == -1
      words += [labels[l] for l in w["label_ids"] if l >= 0]
    assert words == longest.tags
  ids = tagging_data.encode_sentence(tokenizer, longest, labels, 512)[0]
  expect = []
  for word, tag in zip(longest.words, longest.tags):
    pieces = tokenizer.encode(word)
    expect += [labels.index(tag)] + [-1] * (len(pieces) - 1)
  assert ids["label_ids"] == [-1] + expect + [-1]


def test_records_and_batches(tmp_path, test_data):
  _make(["--input_files", str(test_data / "conll2003/valid.txt"),
         "--output_dir", str(tmp_path), "--max_seq_length", "64"])
  config = finetune_dataloader.FinetuneDataConfig(
      input_path=str(tmp_path / "valid.tfrecord"), seq_length=64,
      global_batch_size=8, is_training=False, drop_remainder=False)
  first = next(iter(tf.data.TFRecordDataset(str(tmp_path /
                                                "valid.tfrecord"))))
  stored = tf.train.Example.FromString(first.numpy()).features.feature[
      "label_ids"].int64_list.value
  features, labels = next(iter(
      tagging_dataloader.TaggingDataLoader(config).load()))
  n = len(stored)
  np.testing.assert_array_equal(labels[0, :n], stored)
  assert np.all(labels.numpy()[features["input_mask"].numpy() == 0] == -1)


@pytest.mark.parametrize("text,message", [
    ("EU NNP B-NP B-ORG\nrejects VBZ B-VP\n", r"x.txt:2: 3 columns where the "
     r"file's lines have 4"),
    ("EU NNP B-NP B-ORG\nrejects VBZ B-VP ORG\n", r"x.txt:2: tag 'ORG' is not "
     "IOB"),
    ("EU NNP B-NP E-ORG\n", r"x.txt:1: tag 'E-ORG' is not IOB"),
    ("-DOCSTART- -X- -X- O\n\n", r"has no sentences"),
])
def test_bad_conll(tmp_path, text, message, capsys):
  path = tmp_path / "x.txt"
  path.write_text(text)
  with pytest.raises(SystemExit) as exit_info:
    errors.run_cli(lambda: _make(["--input_files", str(path), "--output_dir",
                                  str(tmp_path / "out")]))
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and re.search(message, err), err
  assert not (tmp_path / "out" / "x.tfrecord").exists()


def test_predict_and_export(tmp_path, test_data, trained):
  """`predict tag` on the model_dir, its SavedModel and its LiteRT float32
  model gives the
  evaluation's tags, and entity offsets that cut the entity's words out of
  the line."""
  _, model_dir = trained
  sentences = tagging_data.read_conll(str(test_data / "conll2003/valid.txt"))
  blocks = [b for b in (model_dir / "predictions.conll").read_text().split(
      "\n\n") if b.strip()]
  evaluated = [[l.split(" ")[2] for l in b.splitlines()] for b in blocks]
  lines = tmp_path / "lines.txt"
  lines.write_text("\n".join("  ".join(s.words) for s in sentences) + "\n")
  saved = tmp_path / "saved"
  export.main(["--input", str(model_dir), "--output", str(saved),
               "--litert", "float32"])
  for source in (model_dir, saved, tmp_path / "saved.float32.tflite"):
    out = tmp_path / "out.jsonl"
    predict.main(["tag", "--model", str(source), "--input", str(lines),
                  "--output", str(out)])
    records = [json.loads(l) for l in out.read_text().splitlines()]
    served = [r["tags"] for r in records]
    assert [len(t) for t in served] == [len(t) for t in evaluated]
    # Batches are padded differently, so a near-tie may flip; nothing more.
    same = np.mean([a == b for x, y in zip(served, evaluated)
                    for a, b in zip(x, y)])
    assert same > 0.99
    for r, sentence in zip(records, sentences):
      text = "  ".join(sentence.words)
      chunks = sorted(_chunks([r["tags"]]), key=lambda c: c[1])
      assert [(e["type"], e["text"]) for e in r["entities"]] == [
          (kind, "  ".join(sentence.words[a:b])) for _, a, b, kind in chunks]
      for e in r["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]
