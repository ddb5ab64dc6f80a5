"""LiteRT forms against the SavedModel: file size, latency, dev metric.

  bash scripts/serving_models.sh               # the fine-tuned tiny models
  python -m benchmarks.litert_quality --out runs/serving/litert \
      --sst2 runs/serving/sst2/model --squad runs/serving/squad/model \
      [--data_dir ../shared/data] [--threads 1]

Exports each fine-tuned model directory with `serving.export --litert all`
(SavedModel, float32, dynamic_int8, int8 calibrated on 200 of the task's
own training examples), then for each of the four:

  size: bytes on disk (the SavedModel directory's variables and graph;
    the `.tflite` file, vocabulary and config included);
  latency: one example per call, `--threads` threads, p50 and p95 over 300
    calls after 20 warm-up calls, at the model's sequence length (SST-2:
    128, a real dev sentence padded to it; SQuAD: 256);
  metric: SST-2 dev accuracy (all 872 sentences), SQuAD v1.1 EM / F1 on
    the held-out dev articles (`scripts/serving_models.sh`), through
    `serving.classify` / `serving.qa` (`predict`'s own code).
"""

import argparse
import csv
import json
import pathlib
import time

import numpy as np
import tensorflow as tf

from official_albert import errors
from official_albert.data.finetuning import classification_data
from official_albert.metrics import squad as squad_metrics
from official_albert.serving import classify
from official_albert.serving import export
from official_albert.serving import finetuned
from official_albert.serving import litert
from official_albert.serving import qa

REPO = pathlib.Path(__file__).resolve().parents[1]
FORMS = ("SavedModel",) + litert.QUANTIZATIONS


def size_of(path: pathlib.Path) -> int:
  """Bytes of a file, or of every file under a directory."""
  if path.is_file():
    return path.stat().st_size
  return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def latency_ms(served: finetuned.Served, ids, calls: int = 300):
  """p50 and p95 milliseconds of `served.predict` on one example."""
  for _ in range(20):
    served.predict(ids)
  times = []
  for _ in range(calls):
    start = time.perf_counter()
    served.predict(ids)
    times.append((time.perf_counter() - start) * 1e3)
  return np.percentile(times, 50), np.percentile(times, 95)


def one_example(served: finetuned.Served, text: str, text_b=None):
  """A real example's ids padded to the model's sequence length."""
  encoded = classification_data.encode_example(
      served.tokenizer, classification_data.Example(0, text, text_b, ""),
      served.seq_length)
  return finetuned.pad_batch([encoded], served.tokenizer.pad_id,
                             served.seq_length)


def sst2_accuracy(served: finetuned.Served, dev_tsv: pathlib.Path) -> float:
  """Dev accuracy through `classify.classify` (batch 32)."""
  spec = classification_data.GLUE_TASKS["sst-2"]
  examples = classification_data.read_examples(str(dev_tsv), spec)
  with open(dev_tsv, encoding="utf-8") as f:
    labels = [row["label"] for row in csv.DictReader(
        f, delimiter="\t", quoting=csv.QUOTE_NONE)]
  records = classify.classify(served, examples, 32, served.seq_length)
  return float(np.mean([r["label"] == l for r, l in zip(records, labels)]))


def squad_scores(served: finetuned.Served, eval_json: pathlib.Path):
  """EM and F1 (official v1.1 script) through `qa.answer` (batch 32)."""
  data = json.loads(eval_json.read_text(encoding="utf-8"))["data"]
  questions = [dict(id=q["id"], question=q["question"], context=p["context"])
               for a in data for p in a["paragraphs"] for q in p["qas"]]
  path = eval_json.with_suffix(".questions.jsonl")
  path.write_text("\n".join(json.dumps(q) for q in questions))
  records = qa.answer(served, qa.read_questions(str(path)), 32)
  metrics = squad_metrics.squad_v1_metrics(
      squad_metrics.load_dataset(str(eval_json)),
      {r["id"]: r["answer"] for r in records})
  return metrics["exact_match"], metrics["f1"]


def main() -> None:
  """Exports, measures and prints the table (markdown)."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", required=True, help="exports go here")
  parser.add_argument("--sst2", help="fine-tuned SST-2 model directory")
  parser.add_argument("--squad", help="fine-tuned SQuAD v1.1 model directory")
  parser.add_argument("--data_dir", default=str(REPO.parent / "shared/data"))
  parser.add_argument("--threads", type=int, default=1)
  args = parser.parse_args()
  tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  tf.config.threading.set_inter_op_parallelism_threads(args.threads)
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  rows = []
  for name, model_dir in (("sst2", args.sst2), ("squad", args.squad)):
    if not model_dir:
      continue
    saved = out / name
    if not saved.exists():
      start = time.perf_counter()
      export.main(["--input", model_dir, "--output", str(saved), "--litert",
                   "all"])
      print(f"{name}: export with --litert all took "
            f"{time.perf_counter() - start:.0f} s", flush=True)
    for form in FORMS:
      path = saved if form == "SavedModel" else pathlib.Path(
          litert.output_path(str(saved), form))
      served = finetuned.load(str(path), num_threads=args.threads)
      if name == "sst2":
        ids = one_example(served, "a gorgeous , witty , seductive movie .")
        metric = f"accuracy {sst2_accuracy(served, pathlib.Path(args.data_dir) / 'glue/SST-2/dev.tsv'):.4f}"
      else:
        ids = one_example(served, "Which NFL team represented the AFC at "
                          "Super Bowl 50?", "The American Football "
                          "Conference (AFC) champion Denver Broncos defeated"
                          " the National Football Conference (NFC) champion"
                          " Carolina Panthers 24-10.")
        em, f1 = squad_scores(served, pathlib.Path(
            model_dir).parent / "heldout-v1.1.json")
        metric = f"EM {em:.2f} / F1 {f1:.2f}"
      p50, p95 = latency_ms(served, ids)
      rows.append((name, form, size_of(path) / 1e6, p50, p95, metric))
      print(f"{name} {form}: {rows[-1][2]:.2f} MB, p50 {p50:.2f} ms, "
            f"p95 {p95:.2f} ms, {metric}", flush=True)
  print("\n| model | form | size (MB) | latency p50 (ms) | p95 (ms) | dev "
        "metric |\n|---|---|---|---|---|---|")
  for row in rows:
    print("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {} |".format(*row))


if __name__ == "__main__":
  errors.run_cli(main)
