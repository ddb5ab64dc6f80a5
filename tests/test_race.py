"""`albert/race` on real RACE files (tests/data/race, PROVENANCE.md).

The tiny model trains a few steps through `train.py` on RACE dev articles
and is evaluated on RACE test articles; the accuracies (all, middle, high)
are recounted from `predictions.jsonl` and the answers in the source JSON.
The records are checked against the original `race_utils` construction
(restated here on pieces), the loader's shapes against the records, and
every bad input against its one-line error.

Tests: `official_albert.tasks.multiple_choice`,
`official_albert.configs.multiple_choice`,
`official_albert.data.finetuning.multiple_choice_data`,
`official_albert.data.finetuning.multiple_choice_dataloader`,
`official_albert.modeling.multiple_choice`,
`official_albert.metrics.multiple_choice`, `official_albert.serving.choice`.
"""

import json
import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf

import train
from official_albert import errors
from official_albert.serving import export
from official_albert.serving import predict
from official_albert.configs import overrides
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.finetuning import finetune_dataloader
from official_albert.data.finetuning import multiple_choice_data as mcd
from official_albert.data.finetuning import multiple_choice_dataloader
from official_albert.data import tokenization
from official_albert.errors import UserError
from test_finetune_tasks import _trainer_yaml  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = str(REPO / "assets/vocab/albert_demo_8k.model")
TINY = str(REPO / "configs/models/albert_tiny.yaml")


def _make(args):
  create_finetuning_data.main(["--task", "race", "--sp_model_file", VOCAB] +
                              args)


@pytest.fixture(scope="module")
def records(test_data, tmp_path_factory):
  out = tmp_path_factory.mktemp("race") / "records"
  _make(["--input_dir", str(test_data / "race"), "--output_dir", str(out),
         "--max_seq_length", "192", "--max_qa_length", "32"])
  return out


def _answers(directory: pathlib.Path):
  """Question id -> (level, answer letter), read from the RACE JSON."""
  result = {}
  for level in ("middle", "high"):
    for path in sorted((directory / level).glob("*.txt")):
      article = json.loads(path.read_text())
      for i, answer in enumerate(article["answers"]):
        result[f"{article['id']}-{i}"] = (level, answer)
  return result


@pytest.fixture(scope="module")
def model_dir(records, tmp_path_factory):
  """A tiny model trained a few steps on RACE dev, evaluated on RACE test."""
  root = tmp_path_factory.mktemp("race_model")
  run_yaml = _trainer_yaml(root, (
      f"task:\n  train_data: {{input_path: {records}/dev.tfrecord, "
      "global_batch_size: 8, seq_length: 192}\n"
      f"  validation_data: {{input_path: {records}/test.tfrecord, "
      "global_batch_size: 8, seq_length: 192}\n"))
  train.run("albert/race", "train_and_eval", str(root / "model"),
            [TINY, str(REPO / "experiments/race/race.yaml"), run_yaml], "")
  return root / "model"


def test_train_and_eval(test_data, records, model_dir):
  meta = json.loads((records / "metadata.json").read_text())
  answers = _answers(test_data / "race/test")
  assert meta["num_options"] == 4
  assert meta["files"]["test.tfrecord"]["examples"] == len(answers)
  metrics = json.loads((model_dir / "metrics.json").read_text())
  lines = [json.loads(line) for line in
           (model_dir / "predictions.jsonl").read_text().splitlines()]
  assert sorted(p["id"] for p in lines) == sorted(answers)
  for p in lines:
    assert (p["level"], p["answer"]) == answers[p["id"]]
    assert p["prediction"] == "ABCD"[int(np.argmax(p["probabilities"]))]
  right = {p["id"]: p["prediction"] == p["answer"] for p in lines}
  assert metrics["accuracy"] == pytest.approx(np.mean(list(right.values())))
  for level in ("middle", "high"):
    assert metrics[f"accuracy_{level}"] == pytest.approx(np.mean(
        [ok for qid, ok in right.items() if answers[qid][0] == level]))
  # Model Garden's streaming accuracy is another count of the same thing.
  assert metrics["cls_accuracy"] == pytest.approx(metrics["accuracy"])


def test_records_follow_race_utils(test_data, records):
  """[CLS] context [SEP] qa [SEP] per option; qa = its last 32 pieces."""
  tokenizer = tokenization.AlbertTokenizer(VOCAB)
  article = json.loads((test_data / "race/test/middle/1.txt").read_text())
  record = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(
      str(records / "test.tfrecord")))).numpy()).features.feature
  ids = np.reshape(record["input_ids"].int64_list.value, [4, -1])
  segments = np.reshape(record["segment_ids"].int64_list.value, [4, -1])
  context = tokenizer.encode(article["article"])
  question = article["questions"][0]
  for option, row, seg in zip(article["options"][0], ids, segments):
    text = (question.replace("_", option) if "_" in question
            else question + " " + option)
    qa = tokenizer.encode(text)[-32:]
    want = ([tokenizer.cls_id] + context[:192 - 3 - len(qa)] +
            [tokenizer.sep_id] + qa + [tokenizer.sep_id])
    np.testing.assert_array_equal(row[:len(want)], want)
    assert not row[len(want):].any()
    assert list(seg[:len(want)]) == [0] * (len(want) - len(qa) - 1) + [1] * (
        len(qa) + 1)
  assert record["label_ids"].int64_list.value[0] == "ABCD".index(
      article["answers"][0])


@pytest.mark.parametrize("dynamic", [True, False])
def test_loader_shapes(records, dynamic):
  config = finetune_dataloader.FinetuneDataConfig(
      input_path=str(records / "dev.tfrecord"), seq_length=192,
      global_batch_size=4, is_training=False, drop_remainder=False,
      dynamic_padding=dynamic)
  loader = multiple_choice_dataloader.MultipleChoiceDataLoader(config, 4)
  batch = next(iter(loader.load()))
  real = int(batch["input_mask"].numpy().sum(-1).max())
  assert batch["input_word_ids"].shape == [4, 4, real if dynamic else 192]
  assert list(batch["level"].numpy()) == [0] * 4  # middle comes first


def test_recipe():
  params = overrides.parse_configuration(
      "albert/race", [str(REPO / "configs/models/albert_base_v2.yaml"),
                      str(REPO / "experiments/race/race.yaml")], "")
  opt = params.trainer.optimizer_config
  assert opt.learning_rate.polynomial.initial_learning_rate == 1e-5
  assert params.trainer.train_steps == 12000
  assert opt.warmup.linear.warmup_steps == 1000
  assert params.task.train_data.global_batch_size == 32
  assert params.task.train_data.seq_length == 512
  assert params.task.model.num_classes == 4


def test_jsonl_and_csv_layouts(tmp_path, test_data):
  article = json.loads((test_data / "race/dev/high/10024.txt").read_text())
  rows = [dict(id=f"q{i}", context=article["article"], question=q,
               options=o, label=a) for i, (q, o, a) in enumerate(zip(
                   article["questions"], article["options"],
                   article["answers"]))]
  jsonl = tmp_path / "mine.jsonl"
  jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
  header = "context,question,option_a,option_b,option_c,option_d,label\n"
  quote = lambda s: '"' + s.replace('"', '""') + '"'
  table = tmp_path / "mine.csv"
  table.write_text(header + "".join(
      ",".join([quote(s) for s in [r["context"], r["question"]] +
                r["options"]] + [str("ABCD".index(r["label"]))]) + "\n"
      for r in rows))
  from_jsonl = mcd.read_table(str(jsonl))
  from_csv = mcd.read_table(str(table))
  from_race = mcd.race_splits(str(test_data / "race/dev"))["dev"]
  race = [q for q in from_race if q.id.startswith(article["id"])]
  for a, b, c in zip(from_jsonl, from_csv, race):
    assert a.qa_texts == b.qa_texts == c.qa_texts
    assert a.label == b.label == c.label
    assert a.context == b.context == c.context
  assert [q.id for q in from_jsonl] == [r["id"] for r in rows]


def _article(tmp_path, **change):
  base = dict(id="x.txt", article="A short text.", questions=["Why _?"],
              options=[["a", "b", "c", "d"]], answers=["B"])
  base.update(change)
  path = tmp_path / "RACE/dev/middle/x.txt"
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(base) + "\n")
  return tmp_path / "RACE"


@pytest.mark.parametrize("change,message", [
    (dict(answers=["E"]), r"x.txt question x.txt-0: answer 'E' is not one of "
     r"\['A', 'B', 'C', 'D'\]"),
    (dict(questions=["a", "b"], options=[["a", "b", "c", "d"], ["a", "b", "c"]],
          answers=["A", "B"]),
     r"question x.txt-1: 3 options where the others have 4"),
    (dict(answers=["A", "B"]), r"x.txt:1: 1 questions, 1 option lists and 2 "
     "answers"),
])
def test_bad_race_input(tmp_path, change, message, capsys):
  root = _article(tmp_path, **change)
  with pytest.raises(SystemExit) as exit_info:
    errors.run_cli(lambda: _make(["--input_dir", str(root), "--output_dir",
                                  str(tmp_path / "out")]))
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and err.startswith("error: ")
  assert re.search(message, err), err
  assert not (tmp_path / "out" / "dev.tfrecord").exists()


def test_bad_jsonl_line(tmp_path):
  path = tmp_path / "q.jsonl"
  path.write_text('{"context": "c", "question": "q", "options": ["a", "b"], '
                  '"label": 1}\nnot json\n')
  with pytest.raises(UserError, match=r"q.jsonl:2: not valid JSON"):
    mcd.read_table(str(path))


def test_predict_and_export(tmp_path, test_data, model_dir):
  """`predict multiple-choice` on the model_dir, its SavedModel and its
  LiteRT float32 model matches the evaluation's predictions on the same
  questions."""
  article = json.loads((test_data / "race/test/middle/1.txt").read_text())
  questions = tmp_path / "q.jsonl"
  questions.write_text("".join(json.dumps(dict(
      id=f"q{i}", context=article["article"], question=q, options=o)) + "\n"
                               for i, (q, o) in enumerate(zip(
                                   article["questions"], article["options"]))))
  evaluated = {p["id"]: p for p in map(json.loads, (
      model_dir / "predictions.jsonl").read_text().splitlines())}
  saved = tmp_path / "saved"
  export.main(["--input", str(model_dir), "--output", str(saved),
               "--litert", "float32"])
  for source in (model_dir, saved, tmp_path / "saved.float32.tflite"):
    out = tmp_path / "out.jsonl"
    predict.main(["multiple-choice", "--model", str(source), "--input",
                  str(questions), "--output", str(out)])
    for i, line in enumerate(out.read_text().splitlines()):
      record = json.loads(line)
      want = evaluated[f"{article['id']}-{i}"]
      # Served at the records' 192 and max_qa_length 32 (params.yaml).
      assert record["id"] == f"q{i}"
      np.testing.assert_allclose(record["probabilities"],
                                 want["probabilities"], atol=1e-4)
      top2 = np.sort(want["probabilities"])[-2:]
      if top2[1] - top2[0] > 1e-4:  # Else a tie that float noise may break.
        assert record["prediction"] == want["prediction"]
