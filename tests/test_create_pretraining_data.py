"""Tests of create_pretraining_data on real text (Emma and WikiText articles).

The seed text is whole documents of assets/corpus/train.txt (prepare_corpus
output of the corpus in assets/README.md), with a 3000-piece vocabulary trained on it.
Statistical checks use 4 standard errors of the sample at hand.

Tests: `official_albert.data.pretraining.create_pretraining_data`,
`official_albert.data.pretraining.sop_instances`,
`official_albert.data.pretraining.seed_reader`.
"""

import collections
import hashlib
import json
import math
import os
import random

import numpy as np
import conftest
import pytest
import tensorflow as tf
from official.nlp.data import pretrain_dataloader

from official_albert import errors
from official_albert.data.pretraining import create_pretraining_data as cpd
from official_albert.data import tokenization
from official_albert.data.pretraining import sop_instances, train_vocab

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEQ, MAX_PRED = 128, 20
INT_FEATURES = {"input_ids": SEQ, "input_mask": SEQ, "segment_ids": SEQ,
                "token_boundary": SEQ, "masked_lm_positions": MAX_PRED,
                "masked_lm_ids": MAX_PRED, "next_sentence_labels": 1}


def z_ok(observed: float, p: float, n: int, z: float = 4.0) -> bool:
  """|observed - p| within z standard errors of a proportion over n draws."""
  return abs(observed - p) <= z * math.sqrt(p * (1 - p) / n)


@pytest.fixture(scope="module")
def seed_docs():
  """20 Emma chapters and the last 12 WikiText articles, in seed format."""
  with open(os.path.join(REPO, "assets", "corpus", "train.txt"),
            encoding="utf-8") as f:
    docs = [d.split("\n") for d in f.read().strip().split("\n\n")]
  return docs[:20] + docs[-12:]


@pytest.fixture(scope="module")
def work(tmp_path_factory, seed_docs):
  """A directory holding seed.txt and a 3000-piece vocabulary sp.model."""
  work = tmp_path_factory.mktemp("cpd")
  (work / "seed.txt").write_text(
      "\n\n".join("\n".join(d) for d in seed_docs) + "\n", encoding="utf-8")
  train_vocab.train_vocab([str(work / "seed.txt")], str(work / "sp"), 3000)
  return work


def make_args(work, out, **flags):
  """Flags as the command line would parse them."""
  argv = ["--input_file", str(work / "seed.txt"), "--output_dir", str(out),
          "--sp_model_file", str(work / "sp.model"), "--do_lower_case",
          "--max_seq_length", str(SEQ), "--max_predictions_per_seq",
          str(MAX_PRED), "--dupe_factor", "2", "--num_shards", "2"]
  for name, value in flags.items():
    argv += [f"--{name}", str(value)]
  return cpd.parse_args(argv)


def read_records(out):
  """All records of an output directory as a dict of numpy arrays."""
  meta = json.loads((out / "metadata.json").read_text())
  columns = collections.defaultdict(list)
  for name in meta["files"]:
    for raw in tf.data.TFRecordDataset(str(out / name)).as_numpy_iterator():
      feature = tf.train.Example.FromString(raw).features.feature
      for key, size in INT_FEATURES.items():
        values = feature[key].int64_list.value
        assert len(values) == size, key
        columns[key].append(values)
      columns["masked_lm_weights"].append(
          feature["masked_lm_weights"].float_list.value)
  return meta, {k: np.array(v) for k, v in columns.items()}


@pytest.fixture(scope="module")
def run(work):
  """The reference run: seed 12345, one worker, dupe 2, two shards."""
  out = work / "out_w1"
  meta = cpd.create_pretraining_data(make_args(work, out))
  return out, meta, read_records(out)[1]


@pytest.fixture(scope="module")
def tokenizer(work):
  return tokenization.AlbertTokenizer(str(work / "sp.model"))


def original_ids(r):
  """Input ids with the masked positions restored, [N, SEQ]."""
  ids = r["input_ids"].copy()
  for i in range(len(ids)):
    n = int(r["masked_lm_weights"][i].sum())
    ids[i, r["masked_lm_positions"][i, :n]] = r["masked_lm_ids"][i, :n]
  return ids


def test_layout_and_segments(run, tokenizer):
  _, meta, r = run
  n = len(r["input_ids"])
  assert n == meta["num_instances"] > 2000
  assert meta["num_tokens"] == r["input_mask"].sum()
  for i in range(n):
    length = int(r["input_mask"][i].sum())
    assert (r["input_mask"][i, :length] == 1).all()
    ids = r["input_ids"][i]
    assert (ids[length:] == 0).all() and ids[0] == tokenizer.cls_id
    seps = np.flatnonzero(ids == tokenizer.sep_id)
    assert len(seps) == 2 and seps[1] == length - 1 and 1 < seps[0] < length - 2
    expected = np.zeros(SEQ, int)
    expected[seps[0] + 1:length] = 1
    np.testing.assert_array_equal(r["segment_ids"][i], expected)


def test_sop_labels_are_balanced_and_match_source_order(run, seed_docs,
                                                        tokenizer):
  _, _, r = run
  labels = r["next_sentence_labels"][:, 0]
  assert set(labels) <= {0, 1}
  assert z_ok(labels.mean(), 0.5, len(labels))
  # Oracle: where A and B (masks undone) sit in the tokenized document.
  docs = ["," + ",".join(str(t) for s in d for t in tokenizer.encode(s)) + ","
          for d in seed_docs]
  ids, checked = original_ids(r), 0
  for i in range(0, len(ids), 5):
    sep = np.flatnonzero(ids[i] == tokenizer.sep_id)
    a, b = ids[i, 1:sep[0]], ids[i, sep[0] + 1:sep[1]]
    if min(len(a), len(b)) < 8:
      continue  # short pieces may occur in several places
    key_a = "," + ",".join(map(str, a)) + ","
    key_b = "," + ",".join(map(str, b)) + ","
    doc = next(d for d in docs if key_a in d)
    assert key_b in doc, "A and B come from one document"
    if doc.count(key_a) == 1 and doc.count(key_b) == 1:
      b_first = doc.index(key_b) < doc.index(key_a)
      assert b_first == bool(labels[i]), i
      checked += 1
  assert checked > 300


def test_masking_budget_and_replacement(run, tokenizer):
  _, _, r = run
  lengths = r["input_mask"].sum(1)
  masked = r["masked_lm_weights"].sum(1).astype(int)
  budget = np.minimum(MAX_PRED, np.maximum(1, np.round(lengths * 0.15)))
  assert (masked <= budget).all() and (masked >= 1).all()
  # Whole words leave the budget unfilled only when no word fits the rest.
  assert (masked == budget).mean() > 0.95
  assert abs(masked.sum() / (lengths - 3).sum() - 0.15) < 0.01
  inputs, labels = [], []
  for i, n in enumerate(masked):
    positions = r["masked_lm_positions"][i, :n]
    assert (np.diff(positions) > 0).all() and (r["masked_lm_weights"][i, n:]
                                               == 0).all()
    inputs.extend(r["input_ids"][i, positions])
    labels.extend(r["masked_lm_ids"][i, :n])
  inputs, labels = np.array(inputs), np.array(labels)
  total = len(inputs)
  is_mask = inputs == tokenizer.mask_id
  kept = inputs == labels
  assert z_ok(is_mask.mean(), 0.8, total)
  assert z_ok(kept.mean(), 0.1, total)
  assert z_ok((~is_mask & ~kept).mean(), 0.1, total)
  special = [tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id,
             tokenizer.sep_id, tokenizer.mask_id]
  assert not np.isin(inputs[~is_mask & ~kept], special).any()


def test_whole_words_are_never_partly_masked(run, tokenizer):
  _, _, r = run
  ids = original_ids(r)
  for i in range(len(ids)):
    length = int(r["input_mask"][i].sum())
    sep = int(np.flatnonzero(ids[i] == tokenizer.sep_id)[0])
    pieces = tokenizer.convert_ids_to_tokens(ids[i, :length])
    boundary = r["token_boundary"][i, :length]
    for p, piece in enumerate(pieces):
      special = p in (0, sep, length - 1)
      expected = (special or p in (1, sep + 1)
                  or conftest.original_is_start_piece_sp(piece))
      assert boundary[p] == expected, (i, p, piece)
    n = int(r["masked_lm_weights"][i].sum())
    is_masked = np.zeros(length, bool)
    is_masked[r["masked_lm_positions"][i, :n]] = True
    assert not is_masked[[0, sep, length - 1]].any()
    starts = list(np.flatnonzero(boundary)) + [length]
    for s, e in zip(starts[:-1], starts[1:]):
      assert is_masked[s:e].all() or not is_masked[s:e].any(), (i, s, e)


def test_ngram_lengths_follow_one_over_n(run, tokenizer):
  """Spans drawn while the full 3-gram fits and is uncovered have exact
  p(n) = (1/n) / (1 + 1/2 + 1/3) = 6/11, 3/11, 2/11."""
  _, _, r = run
  builder = sop_instances.InstanceBuilder(tokenizer, SEQ, MAX_PRED, 0.15,
                                          0.1, 3)
  ids = original_ids(r)
  counts = collections.Counter()
  for i in range(0, len(ids), 2):
    length = int(r["input_mask"][i].sum())
    sep = int(np.flatnonzero(ids[i] == tokenizer.sep_id)[0])
    words = [builder.words(ids[i], range(1, sep)),
             builder.words(ids[i], range(sep + 1, length - 1))]
    budget = min(MAX_PRED, max(1, round(length * 0.15)))
    first_word = {w[0]: (seg, k) for seg in words for k, w in enumerate(seg)}
    covered = set()
    for span in builder.mask_ngrams(length, words, random.Random(i)):
      seg, k = first_word[span[0]]
      trigram = [p for w in seg[k:k + 3] for p in w]
      if (k + 3 <= len(seg) and len(covered) + len(trigram) <= budget
          and not covered.intersection(trigram)):
        counts[sum(1 for w in seg[k:k + 3] if w[0] in span)] += 1
      covered.update(span)
  total = sum(counts.values())
  assert total > 2000
  for n, p in ((1, 6 / 11), (2, 3 / 11), (3, 2 / 11)):
    assert z_ok(counts[n] / total, p, total), (n, counts)


def test_same_seed_and_any_worker_count_give_identical_bytes(run, work):
  out, meta, _ = run
  for name, flags in (("again", {}), ("w2", {"num_workers": 2})):
    other = cpd.create_pretraining_data(make_args(work, work / name, **flags))
    for f in meta["files"]:
      assert (out / f).read_bytes() == (work / name / f).read_bytes()
    assert other["num_tokens"] == meta["num_tokens"]
  cpd.create_pretraining_data(make_args(work, work / "s7", random_seed=7))
  for f in meta["files"]:
    assert (out / f).read_bytes() != (work / "s7" / f).read_bytes()


def test_metadata(run, work):
  out, meta, _ = run
  on_disk = json.loads((out / "metadata.json").read_text())
  assert on_disk == meta
  assert sorted(os.listdir(out)) == sorted(meta["files"] + ["metadata.json"])
  assert meta["files"] == ["part-00000-of-00002.tfrecord",
                           "part-00001-of-00002.tfrecord"]
  model = work / "sp.model"
  assert meta["sp_model_file"] == str(model.resolve())
  assert meta["sp_model_sha256"] == hashlib.sha256(
      model.read_bytes()).hexdigest()
  assert (meta["format"], meta["vocab_size"], meta["max_seq_length"],
          meta["max_predictions_per_seq"], meta["do_lower_case"]) == (
              "albert_pretraining", 3000, SEQ, MAX_PRED, True)
  assert meta["settings"]["dupe_factor"] == 2


def test_model_garden_loader_reads_the_records(run):
  out, meta, _ = run
  config = pretrain_dataloader.BertPretrainDataConfig(
      input_path=",".join(str(out / f) for f in meta["files"]),
      seq_length=SEQ, max_predictions_per_seq=MAX_PRED, global_batch_size=4,
      is_training=False)
  batch = next(iter(pretrain_dataloader.BertPretrainDataLoader(config).load()))
  assert batch["input_word_ids"].shape == (4, SEQ)
  assert batch["masked_lm_positions"].shape == (4, MAX_PRED)
  assert batch["next_sentence_labels"].shape == (4, 1)


def test_one_sentence_document_is_cut_at_a_word_boundary(work, seed_docs,
                                                         tmp_path, tokenizer):
  sentence = seed_docs[0][0]  # Emma's first sentence, 40+ words.
  (tmp_path / "one.txt").write_text(sentence + "\n", encoding="utf-8")
  args = make_args(work, tmp_path / "out", dupe_factor=6, num_shards=1)
  args.input_file = [str(tmp_path / "one.txt")]
  cpd.create_pretraining_data(args)
  _, r = read_records(tmp_path / "out")
  assert len(r["input_ids"]) == 6
  expected = tokenizer.encode(sentence)
  for i, ids in enumerate(original_ids(r)):
    sep = np.flatnonzero(ids == tokenizer.sep_id)
    a, b = list(ids[1:sep[0]]), list(ids[sep[0] + 1:sep[1]])
    first, second = (b, a) if r["next_sentence_labels"][i, 0] else (a, b)
    assert first + second == expected
    assert conftest.original_is_start_piece_sp(
        tokenizer.convert_ids_to_tokens([second[0]])[0])


@pytest.mark.parametrize("case", [
    "no_match", "empty", "one_word", "bad_model", "max_pred", "output_full"])
def test_bad_input(case, work, tmp_path):
  out = tmp_path / "out"
  args = make_args(work, out)
  if case == "no_match":
    args.input_file = [str(tmp_path / "nothing-*.txt")]
  elif case in ("empty", "one_word"):
    (tmp_path / "in.txt").write_text("\n\n" if case == "empty" else "Emma\n")
    args.input_file = [str(tmp_path / "in.txt")]
  elif case == "bad_model":
    (tmp_path / "bad.model").write_bytes(b"not a sentencepiece model")
    args.sp_model_file = str(tmp_path / "bad.model")
  elif case == "max_pred":
    args.max_predictions_per_seq = SEQ + 1
  else:
    out.mkdir()
    (out / "keep.txt").write_text("x")
  with pytest.raises(errors.UserError) as e:
    cpd.create_pretraining_data(args)
  assert "\n" not in str(e.value)
  assert os.listdir(out) == ["keep.txt"] if case == "output_full" else (
      not out.exists())
  assert not [p for p in os.listdir(tmp_path) if p.startswith(".out")]
