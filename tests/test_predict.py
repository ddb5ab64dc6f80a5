"""fill-mask prediction against HuggingFace's MLM on the same weights.

A random-init HuggingFace ALBERT with a vocabulary trained on WikiText is read
straight from its HuggingFace directory; the top-k pieces and probabilities
written for real SST-2 sentences with masked words must be HuggingFace's.
"""

import json
import shutil

import numpy as np
import pytest
import torch
from test_parity_hf import tiny_hf_model

from official_albert import errors
from official_albert.data import train_vocab
from official_albert.data.tokenization import AlbertTokenizer
from official_albert.serving import predict

TOP_K = 4


@pytest.fixture(scope="module")
def hf_model_dir(tmp_path_factory, shared_data):
  tmp = tmp_path_factory.mktemp("predict")
  train_vocab.train_vocab([str(shared_data / "corpus" / "wiki.valid.raw")],
                          str(tmp / "vocab"), vocab_size=2000)
  model = tiny_hf_model(1, 1, vocab_size=2000)
  model.save_pretrained(tmp / "hf")
  shutil.copyfile(tmp / "vocab.model", tmp / "hf" / "spiece.model")
  return tmp / "hf", model


def masked_sst2(shared_data, count):
  """SST-2 dev sentences with their 3rd word (and 6th, every other) masked."""
  with open(shared_data / "glue/SST-2/dev.tsv", encoding="utf-8") as f:
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


def test_fill_mask_matches_huggingface(hf_model_dir, shared_data, tmp_path):
  model_dir, hf_model = hf_model_dir
  texts = masked_sst2(shared_data, 10)
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
    hf_model_dir, shared_data, tmp_path):
  model_dir, _ = hf_model_dir
  train_vocab.train_vocab([str(shared_data / "corpus" / "carroll-alice.txt")],
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
