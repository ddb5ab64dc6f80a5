"""Fine-tuning data: GLUE/user tables and SQuAD, on the real files.

Oracles: the original BERT/ALBERT GLUE processors' column indices (applied
here with a plain split), Model Garden's `convert_single_example` and its
`squad_lib_sp` (the original ALBERT SQuAD code, with its LCS alignment) on
the same SentencePiece model.

Tests: `official_albert.data.finetuning.classification_data`,
`official_albert.data.finetuning.squad_data`,
`official_albert.data.finetuning.create_finetuning_data`.
"""

import csv
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from official.nlp.data import classifier_data_lib
from official.nlp.data import squad_lib_sp
from official.nlp.tools import tokenization as mg_tokenization

from official_albert.data.finetuning import classification_data as cd
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.finetuning import squad_data
from official_albert.data import tokenization
from official_albert.data.pretraining import train_vocab
from official_albert.errors import UserError

REPO = pathlib.Path(__file__).resolve().parents[1]
BUNDLED_VOCAB = REPO / "assets" / "vocab" / "albert_demo_8k.model"


def finetune_sp_model(test_data, tmp_path_factory) -> str:
  """The bundled demo vocabulary, or a 2k-piece one trained once a session.

  Trained on real text: the SQuAD v1.1 contexts and SST-2 training sentences.
  The file is kept in the session's base temp directory, so every test
  module reuses it.
  """
  if BUNDLED_VOCAB.is_file():
    return str(BUNDLED_VOCAB)
  base = tmp_path_factory.getbasetemp()
  prefix = base / "finetune_sp"
  if not (base / "finetune_sp.model").is_file():
    text = base / "finetune_text.txt"
    squad = json.loads((test_data / "squad/dev-v1.1.json").read_text())
    lines = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
    sst = (test_data / "glue/SST-2/train.tsv").read_text().splitlines()
    lines += [row.split("\t")[0] for row in sst[1:20001]]
    text.write_text("\n".join(lines) + "\n")
    train_vocab.train_vocab([str(text)], str(prefix), vocab_size=2000)
  return str(prefix) + ".model"


@pytest.fixture(scope="module")
def sp_model(test_data, tmp_path_factory):
  return finetune_sp_model(test_data, tmp_path_factory)


@pytest.fixture(scope="module")
def tokenizer(sp_model):
  return tokenization.AlbertTokenizer(sp_model)


# (directory, task, text_a index, text_b index, label index): the columns the
# original run_classifier.py processors read (CoLA has no header).
_ORIGINAL_COLUMNS = [
    ("CoLA", "cola", 3, None, 1, False),
    ("SST-2", "sst-2", 0, None, 1, True),
    ("MRPC", "mrpc", 3, 4, 0, True),
    ("STS-B", "sts-b", 7, 8, -1, True),
    ("RTE", "rte", 1, 2, -1, True),
    ("QNLI", "qnli", 1, 2, -1, True),
]


@pytest.mark.parametrize("directory,task,a,b,label,header", _ORIGINAL_COLUMNS)
def test_glue_readers_match_the_original_columns(test_data, directory, task,
                                                 a, b, label, header):
  path = test_data / "glue" / directory / "dev.tsv"
  examples = cd.read_examples(str(path), cd.GLUE_TASKS[task])
  lines = path.read_text(encoding="utf-8-sig").splitlines()[int(header):]
  rows = [line.split("\t") for line in lines if line]
  assert len(examples) == len(rows)
  for example, row in zip(examples, rows):
    assert example.text_a == row[a]
    assert example.text_b == (row[b] if b is not None else None)
    assert example.label == row[label]


@pytest.mark.parametrize("directory,task", [("RTE", "rte"), ("CoLA", "cola"),
                                            ("MRPC", "mrpc"),
                                            ("STS-B", "sts-b")])
def test_encoding_matches_model_garden(test_data, tokenizer, sp_model,
                                       directory, task):
  """Same ids and segments as Model Garden's converter, pair truncation too."""
  mg_tok = mg_tokenization.FullSentencePieceTokenizer(sp_model)

  def mg_text(text):
    # Model Garden's preprocess_text lacks the original's ``/'' -> " rule.
    if text is None:
      return None
    text = text.replace("``", '"').replace("''", '"')
    return mg_tokenization.preprocess_text(text, lower=True)

  spec = cd.GLUE_TASKS[task]
  examples = cd.read_examples(
      str(test_data / "glue" / directory / "dev.tsv"), spec)[:300]
  labels = cd.label_list(examples, spec)
  max_len = 40  # Short, so that many pairs are truncated.
  for example in examples:
    ours = cd.encode_example(tokenizer, example, max_len)
    theirs = classifier_data_lib.convert_single_example(
        0, classifier_data_lib.InputExample(
            "x", mg_text(example.text_a), mg_text(example.text_b),
            labels[0] if labels else 0.0),
        labels, max_len, mg_tok)
    n = sum(theirs.input_mask)
    assert ours["input_ids"] == theirs.input_ids[:n]
    assert ours["segment_ids"] == theirs.segment_ids[:n]


def _parse(path):
  out = []
  for record in tf.data.TFRecordDataset(str(path)):
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    out.append({k: (list(v.int64_list.value) or list(v.float_list.value))
                for k, v in feature.items()})
  return out


def test_cli_writes_glue_records_and_metadata(test_data, sp_model, tmp_path,
                                              tokenizer):
  out = tmp_path / "rte"
  create_finetuning_data.main([
      "--task", "rte", "--input_dir", str(test_data / "glue/RTE"),
      "--sp_model_file", sp_model, "--output_dir", str(out),
      "--max_seq_length", "128"])
  meta = json.loads((out / "metadata.json").read_text())
  assert meta["label_list"] == ["entailment", "not_entailment"]
  assert meta["files"]["dev.tfrecord"]["examples"] == 100  # tests/data/PROVENANCE.md
  assert meta["files"]["train.tfrecord"]["examples"] == 200
  records = _parse(out / "dev.tfrecord")
  rows = (test_data / "glue/RTE/dev.tsv").read_text().splitlines()[1:]
  assert len(records) == len(rows)
  for i, (record, row) in enumerate(zip(records, rows)):
    cols = row.split("\t")
    assert record["label_ids"] == [["entailment", "not_entailment"].index(
        cols[3])]
    assert record["example_id"] == [i]
    assert len(record["input_ids"]) <= 128
    assert record["input_ids"][0] == tokenizer.cls_id
    assert record["input_ids"][-1] == tokenizer.sep_id
    assert record["input_mask"] == [1] * len(record["input_ids"])
  assert not list(out.glob(".*"))  # No temporary files left behind.


def test_custom_csv_infers_sorted_labels(test_data, sp_model, tmp_path):
  """A user CSV (quoted, commas in text) made from real SST-2 rows."""
  rows = (test_data / "glue/SST-2/dev.tsv").read_text().splitlines()[1:60]
  names = {"0": "negative", "1": "positive"}
  csv_path = tmp_path / "reviews.csv"
  with open(csv_path, "w", encoding="utf-8", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["id", "review", "sentiment"])
    for i, row in enumerate(rows):
      text, label = row.split("\t")
      writer.writerow([i, text, names[label]])
  out = tmp_path / "out"
  create_finetuning_data.main([
      "--task", "custom", "--input_files", str(csv_path), "--text_a_column",
      "review", "--label_column", "sentiment", "--sp_model_file", sp_model,
      "--output_dir", str(out)])
  meta = json.loads((out / "metadata.json").read_text())
  assert meta["label_list"] == ["negative", "positive"]
  records = _parse(out / "reviews.tfrecord")
  assert [r["label_ids"][0] for r in records] == [
      int(row.split("\t")[1]) for row in rows]


def _cli_error(args):
  """Runs the CLI in a subprocess; returns (exit code, stderr lines)."""
  proc = subprocess.run(
      [sys.executable, "-m",
       "official_albert.data.finetuning.create_finetuning_data", *args], capture_output=True, text=True, cwd=REPO, check=False)
  return proc.returncode, [l for l in proc.stderr.splitlines()
                           if l.startswith("error:")]


def test_cli_bad_input_is_one_line_exit_2(test_data, sp_model, tmp_path):
  empty = tmp_path / "empty.tsv"
  empty.write_text("")
  code, lines = _cli_error(["--task", "sst-2", "--input_files", str(empty),
                            "--sp_model_file", sp_model,
                            "--output_dir", str(tmp_path / "o")])
  assert code == 2 and len(lines) == 1 and "empty" in lines[0]
  assert str(empty) in lines[0]
  assert not (tmp_path / "o" / "metadata.json").exists()


def test_missing_column_names_file(test_data):
  path = str(test_data / "glue/SST-2/dev.tsv")
  spec = cd.TableSpec("text", None, "label")
  with pytest.raises(UserError, match=r"dev.tsv.*no column named 'text'"):
    cd.read_examples(path, spec)


def test_short_row_names_file_and_line(test_data, tmp_path):
  lines = (test_data / "glue/MRPC/dev.tsv").read_text(
      encoding="utf-8").splitlines()[:12]
  lines[7] = "\t".join(lines[7].split("\t")[:3])  # Drop both texts.
  path = tmp_path / "dev.tsv"
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  with pytest.raises(UserError, match=r"dev.tsv:8: row has 3 fields"):
    cd.read_examples(str(path), cd.GLUE_TASKS["mrpc"])


def test_unknown_label_names_file_and_line(test_data, tokenizer, tmp_path):
  path = str(test_data / "glue/RTE/dev.tsv")
  spec = cd.TableSpec("sentence1", "sentence2", "label",
                      labels=("entailment",))
  examples = cd.read_examples(path, spec)
  first_other = next(e for e in examples if e.label != "entailment")
  with pytest.raises(UserError, match=(
      rf"dev.tsv:{first_other.line}: unknown label 'not_entailment'")):
    cd.write_records(str(tmp_path / "x.tfrecord"), tokenizer, examples,
                     cd.label_list(examples, spec), spec, 64, path)


def test_bad_regression_target_names_line(test_data, tokenizer, tmp_path):
  lines = (test_data / "glue/STS-B/dev.tsv").read_text().splitlines()[:6]
  cols = lines[4].split("\t")
  lines[4] = "\t".join(cols[:-1] + ["n/a"])
  path = tmp_path / "dev.tsv"
  path.write_text("\n".join(lines) + "\n")
  spec = cd.GLUE_TASKS["sts-b"]
  examples = cd.read_examples(str(path), spec)
  with pytest.raises(UserError, match=r"dev.tsv:5: regression target 'n/a'"):
    cd.write_records(str(tmp_path / "x.tfrecord"), tokenizer, examples, [],
                     spec, 64, str(path))


@pytest.fixture(scope="module")
def squad_slice(test_data, tmp_path_factory):
  """Two real SQuAD v1.1 articles and two v2.0 articles, as files."""
  out = {}
  for version in ("1.1", "2.0"):
    data = json.loads((test_data / f"squad/dev-v{version}.json").read_text())
    path = tmp_path_factory.mktemp("squad") / f"slice-v{version}.json"
    path.write_text(json.dumps({"version": data["version"],
                                "data": data["data"][:2]}))
    out[version] = path
  return out


def test_squad_answers_come_back_as_original_text(squad_slice, tokenizer):
  examples = squad_data.read_examples(str(squad_slice["1.1"]), True, False)
  features = []
  counts = squad_data.convert_examples(examples, tokenizer, 384, 128, 64,
                                       True, features.append)
  assert counts["examples"] == len(examples)
  exact = {}
  for f in features:
    assert len(f.input_ids) <= 384 and f.input_ids[0] == tokenizer.cls_id
    if f.is_impossible:
      assert f.start_position == f.end_position == 0
      continue
    offset = len(f.tokens) - f.paragraph_len - 1
    example = examples[f.example_index]
    start = f.tok_start_to_orig_index[f.start_position - offset]
    end = f.tok_end_to_orig_index[f.end_position - offset]
    text = example.paragraph_text[start:end + 1]
    # The span is whole pieces: it covers the answer, and is exactly it
    # unless the answer starts or ends inside a piece.
    assert example.orig_answer_text in text
    exact[f.example_index] = text.strip() == example.orig_answer_text
  assert len(exact) == len(examples)
  assert np.mean(list(exact.values())) > 0.95  # 0.968 on tests/data


def test_squad_features_match_model_garden(squad_slice, sp_model, tokenizer):
  """Same windows, ids and answer positions as the original ALBERT code."""
  examples = squad_data.read_examples(str(squad_slice["2.0"]), True, True)
  examples = examples[:60]
  ours, theirs = [], []
  squad_data.convert_examples(examples, tokenizer, 192, 64, 32, True,
                              ours.append)
  squad_lib_sp.convert_examples_to_features(
      examples, mg_tokenization.FullSentencePieceTokenizer(sp_model), 192, 64,
      32, True, theirs.append, do_lower_case=True)
  assert len(ours) == len(theirs)
  for a, b in zip(ours, theirs):
    n = sum(b.input_mask)
    assert a.input_ids == b.input_ids[:n]
    assert a.segment_ids == b.segment_ids[:n]
    assert (a.start_position, a.end_position, a.is_impossible) == (
        b.start_position, b.end_position, b.is_impossible)


def test_squad_answer_off_its_offset_names_question(squad_slice, tmp_path):
  data = json.loads(squad_slice["1.1"].read_text())
  qa = data["data"][1]["paragraphs"][0]["qas"][2]
  qa["answers"][0]["answer_start"] += 1
  path = tmp_path / "bad.json"
  path.write_text(json.dumps(data))
  with pytest.raises(UserError, match=(
      rf"bad.json: question '{qa['id']}': answer .* is not at "
      rf"answer_start={qa['answers'][0]['answer_start']}")):
    squad_data.read_examples(str(path), True, False)


def test_squad_v11_training_rejects_unanswerable(squad_slice):
  with pytest.raises(UserError, match="has no answer.*--version 2.0"):
    squad_data.read_examples(str(squad_slice["2.0"]), True, False)


def test_normalize_with_offsets_maps_back(test_data):
  """Every normalised character comes from original characters it matches."""
  data = json.loads((test_data / "squad/dev-v2.0.json").read_text())
  contexts = [p["context"] for a in data["data"][:5] for p in a["paragraphs"]]
  for context in contexts:
    normalized, first, last = squad_data.normalize_with_offsets(context)
    assert normalized == tokenization.preprocess_text(context)
    for c, i, j in zip(normalized, first, last):
      source = context[i:j + 1]
      assert c == " " and source.isspace() or c in tokenization.preprocess_text(
          source) or source in ("``", "''")
