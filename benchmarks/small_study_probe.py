"""Frozen-feature probes: does the small study's pretrained encoder carry
features that a random one does not?

  python -m benchmarks.small_study_probe --run_dir runs/small \
      [--data_dir ../shared/data]

Fine-tuning (scripts/reproduce_small.sh) compares whole training runs, where
the labels can teach a random encoder what pretraining would have. These
probes freeze the encoder and ask what its features already hold, on GLUE's
official dev sets:

* STS-B, no training at all: the cosine of the two sentences' mean-pooled
  `sequence_output` (each sentence encoded alone), Pearson with the gold
  scores (the SentEval-style similarity probe).
* STS-B, ridge regression (scikit-learn) on `[|u - v|, u * v]` of those
  vectors, fit on the training set: Pearson.
* SST-2, logistic regression (scikit-learn) on the mean-pooled
  `sequence_output` of the first `--sst2_train` training sentences:
  accuracy.

Each for three feature sets: the encoder restored from `RUN_DIR/pretrain`
(the last checkpoint), the same config randomly initialised (seed 1), and
the mean of the pretrained input word embeddings (no context: a
bag-of-words floor). Prints a Markdown table.
"""

import argparse
import csv
from typing import Any, Callable, Dict, List

import numpy as np
from scipy import stats
from sklearn import linear_model
import tf_keras

from official_albert import errors
from official_albert import io_utils
from official_albert.configs import encoders
from official_albert.configs import overrides
from official_albert.data import tokenization
from official_albert.tasks import checkpoints

SEQ = 128
VOCAB = "assets/vocab/albert_demo_8k.model"
MODEL = "configs/models/albert_tiny.yaml"


def _rows(path: str) -> List[List[str]]:
  """A GLUE TSV's rows, header dropped (quotes are text, as in GLUE)."""
  if not io_utils.isfile(path):
    errors.fail(f"{path} not found; pass --data_dir with glue/SST-2 and "
                "glue/STS-B")
  with io_utils.open_file(path) as f:
    return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]


def _encode(tokenizer, texts: List[str]) -> np.ndarray:
  """`[CLS] text [SEP]` piece ids, int32 `[len(texts), SEQ]`, 0-padded."""
  ids = np.zeros([len(texts), SEQ], np.int32)
  for row, text in enumerate(texts):
    pieces = ([tokenizer.cls_id] + tokenizer.encode(text)[:SEQ - 2]
              + [tokenizer.sep_id])
    ids[row, :len(pieces)] = pieces
  return ids


def _mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
  """`[batch, SEQ, width]` -> `[batch, width]`, over the real tokens."""
  mask = mask[..., None].astype(np.float32)
  return (values * mask).sum(1) / mask.sum(1)


def load_data(data_dir: str, sst2_train: int) -> Dict[str, Any]:
  """The probes' dev and training sets, read and tokenized once: piece ids
  (see `_encode`) for each sentence column, float or int labels."""
  tokenizer = tokenization.AlbertTokenizer(VOCAB)
  data = {}
  for split in ("train", "dev"):
    rows = _rows(io_utils.join(data_dir, "glue", "STS-B", f"{split}.tsv"))
    data[f"sts_{split}"] = (_encode(tokenizer, [r[7] for r in rows]),
                            _encode(tokenizer, [r[8] for r in rows]),
                            np.array([float(r[9]) for r in rows]))
    rows = _rows(io_utils.join(data_dir, "glue", "SST-2", f"{split}.tsv"))
    if split == "train":
      rows = rows[:sst2_train]
    data[f"sst_{split}"] = (_encode(tokenizer, [r[0] for r in rows]),
                            np.array([int(r[1]) for r in rows]))
  return data


def feature_fns(run_dir: str) -> Dict[str, Callable]:
  """{name: piece ids `[n, SEQ]` -> float32 `[n, width]`} for the three
  feature sets (see the module doc)."""
  config = overrides.parse_configuration(
      "albert/pretraining", [MODEL], "").task.model.encoder
  tf_keras.utils.set_random_seed(1)
  models = {}
  for name in ("pretrained", "random"):
    models[name] = encoders.build_encoder(config)
    checkpoints.build(models[name], SEQ)
  checkpoints.restore_items(io_utils.join(run_dir, "pretrain"),
                            encoder=models["pretrained"])

  def contextual(encoder):
    def fn(ids):
      out = []
      for start in range(0, len(ids), 256):
        batch = ids[start:start + 256]
        mask = (batch > 0).astype(np.int32)
        sequence = encoder(dict(input_word_ids=batch, input_mask=mask,
                                input_type_ids=np.zeros_like(batch)),
                           training=False)["sequence_output"].numpy()
        out.append(_mean(sequence, mask))
      return np.concatenate(out)
    return fn

  table = models["pretrained"].word_embeddings.embeddings.numpy()
  return {"pretrained encoder": contextual(models["pretrained"]),
          "random encoder": contextual(models["random"]),
          "pretrained word embeddings, averaged":
              lambda ids: _mean(table[ids], ids > 0)}


def _pair_features(u: np.ndarray, v: np.ndarray) -> np.ndarray:
  return np.concatenate([np.abs(u - v), u * v], -1)


def probe(features: Callable, data: Dict[str, Any]) -> Dict[str, float]:
  """The three probe scores of one feature set on `load_data`'s sets."""
  out = {}
  u, v, gold = (features(data["sts_dev"][0]), features(data["sts_dev"][1]),
                data["sts_dev"][2])
  cosine = (u * v).sum(-1) / (np.linalg.norm(u, axis=-1)
                              * np.linalg.norm(v, axis=-1))
  out["STS-B cosine Pearson"] = stats.pearsonr(cosine, gold)[0]
  train_u, train_v, train_gold = data["sts_train"]
  ridge = linear_model.RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(
      _pair_features(features(train_u), features(train_v)), train_gold)
  out["STS-B ridge Pearson"] = stats.pearsonr(
      ridge.predict(_pair_features(u, v)), gold)[0]
  classifier = linear_model.LogisticRegression(max_iter=2000).fit(
      features(data["sst_train"][0]), data["sst_train"][1])
  out["SST-2 logistic accuracy"] = classifier.score(
      features(data["sst_dev"][0]), data["sst_dev"][1])
  return out


def main(argv=None) -> None:
  """Prints the probe table (see the module doc)."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run_dir", default="runs/small")
  parser.add_argument("--data_dir", default="../shared/data")
  parser.add_argument("--sst2_train", type=int, default=10000)
  args = parser.parse_args(argv)
  data = load_data(args.data_dir, args.sst2_train)
  results = {name: probe(fn, data)
             for name, fn in feature_fns(args.run_dir).items()}
  columns = list(next(iter(results.values())))
  print("| features | " + " | ".join(columns) + " |")
  print("|---" * (len(columns) + 1) + "|")
  for name, scores in results.items():
    print(f"| {name} | " + " | ".join(f"{scores[c]:.3f}" for c in columns)
          + " |")


if __name__ == "__main__":
  errors.run_cli(main)
