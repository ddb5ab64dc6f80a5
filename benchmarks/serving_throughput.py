"""Serving throughput on CPU: our pipelines, and our paths against peers.

  python -m benchmarks.serving_throughput pipelines OUT_DIR {tiny,base} \
      N_SST2 N_SQUAD [--data_dir ../shared/data]
  python -m benchmarks.serving_throughput peers OUT_DIR \
      --model_dir runs/serving/sst2/model [--threads 2] [--sentences 872]

`pipelines`: builds a randomly initialised fine-tuned model directory
(params.yaml + checkpoint) of the given size for albert/sentence_prediction
and albert/squad, exports each, and times classify.classify / qa.answer
(tokenization, batched model calls and decoding; model loading and one
warm-up batch excluded) on real SST-2 dev sentences and SQuAD v1.1 dev
questions, from the model directory (Keras) and from the SavedModel.

`peers`: one fine-tuned SST-2 classifier (`scripts/serving_models.sh`)
served several ways on the same weights, text in, label out (tokenization
included), on `--threads` threads each: our SavedModel and our LiteRT
float32, dynamic_int8 and int8 (`predict classify`'s code), HuggingFace's
`pipeline("text-classification")` on PyTorch with the weights converted by
our `interop.hf`, and ONNX Runtime on that HuggingFace model
(`torch.onnx.export`) in float32 and in its dynamic-range int8 form
(`quantize_dynamic`; both skipped if onnxruntime is not installed). Sentences per
second at batch 1 and 32 over the first `--sentences` SST-2 dev sentences,
p50 / p95 latency at batch 1, the ratio of each peer to our fastest path,
and each path's agreement with the SavedModel's labels.
"""
import argparse
import json
import pathlib
import sys
import time

import tensorflow as tf
from official.core import train_utils
from official.nlp.data import squad_lib_sp

from official_albert import errors
from official_albert.configs import overrides
from official_albert.data.finetuning import create_finetuning_data
from official_albert.data.finetuning import classification_data
from official_albert.modeling import albert
from official_albert.serving import classify, export, finetuned, qa
from official_albert.tasks import sentence_prediction, squad

from benchmarks import serving_peers

REPO = pathlib.Path(__file__).resolve().parents[1]
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"


def prepare_records(out: pathlib.Path, data: pathlib.Path) -> pathlib.Path:
  """SST-2 dev (from `data`/glue) as records under `out`; returns its TSV copy."""
  src = out / "sst2"
  src.mkdir(parents=True, exist_ok=True)
  (src / "dev.tsv").write_text((data / "glue/SST-2/dev.tsv").read_text())
  if not (out / "records/metadata.json").exists():
    create_finetuning_data.main(["--task", "sst-2", "--input_dir", str(src),
                                 "--sp_model_file", str(VOCAB), "--output_dir",
                                 str(out / "records"), "--max_seq_length",
                                 "128"])
  return src / "dev.tsv"


def make(out: pathlib.Path, size: str, kind: str, override: str):
  """Random-init model dir of `kind` (params.yaml, checkpoint, `_saved` export).

  Reuses the directory when an earlier run left one.
  """
  yaml = str(REPO / f"configs/models/albert_"
             f"{'tiny' if size == 'tiny' else 'base_v2'}.yaml")
  model_dir = out / f"{size}_{kind}"
  if (model_dir / "params.yaml").exists():
    return model_dir
  params = overrides.parse_configuration(finetuned.EXPERIMENTS[kind], [yaml],
                                         override)
  config = params.task.replace(validation_data=dict(input_path=""))
  task_cls = (squad.SquadTask if kind == "squad"
              else sentence_prediction.SentencePredictionTask)
  model = task_cls(config).build_model()
  model(albert.dummy_inputs())
  tf.train.Checkpoint(model=model).save(str(model_dir / "ckpt"))
  train_utils.serialize_config(params, str(model_dir))
  export.export_finetuned(str(model_dir), str(model_dir) + "_saved")
  return model_dir


def squad_questions(data: pathlib.Path, limit: int):
  """The first `limit` SQuAD v1.1 dev questions as Model Garden examples."""
  questions = []
  for article in json.loads((data / "squad/dev-v1.1.json").read_text())["data"]:
    for p in article["paragraphs"]:
      for q in p["qas"]:
        questions.append(squad_lib_sp.SquadExample(
            qas_id=q["id"], question_text=q["question"],
            paragraph_text=p["context"]))
  return questions[:limit]


def pipelines(args) -> None:
  """Times classify and qa from a model_dir and its SavedModel; prints them."""
  out = pathlib.Path(args.out)
  print("command:", " ".join([sys.executable, "-m",
                              "benchmarks.serving_throughput"] + sys.argv[1:]))
  tsv = prepare_records(out, pathlib.Path(args.data_dir))
  cls_dir = make(out, args.size, "classifier", json.dumps(
      {"task": {"train_data": {"input_path": str(out / "records/dev.tfrecord"),
                               "seq_length": 128}}}))
  qa_dir = make(out, args.size, "squad", json.dumps(
      {"task": {"validation_data": {"vocab_file": str(VOCAB)}}}))
  texts = classification_data.read_examples(
      str(tsv), classification_data.GLUE_TASKS["sst-2"])[:args.n_sst2]
  for kind, model_dir, fn, items in (
      ("classify", cls_dir, lambda s, x: classify.classify(s, x, 32, 128),
       texts),
      ("qa", qa_dir, lambda s, x: qa.answer(s, x, 32),
       squad_questions(pathlib.Path(args.data_dir), args.n_squad))):
    for source in (str(model_dir), str(model_dir) + "_saved"):
      served = finetuned.load(source)
      fn(served, items[:8])  # Warm-up: tracing / first call.
      start = time.perf_counter()
      records = fn(served, items)
      seconds = time.perf_counter() - start
      where = "SavedModel" if source.endswith("_saved") else "model_dir"
      print(f"{args.size} {kind} {where}: {len(records)} examples in "
            f"{seconds:.2f} s = {len(records) / seconds:.1f} examples/s",
            flush=True)


def main() -> None:
  """Parses the command line and runs `pipelines` or `peers.run`."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  commands = parser.add_subparsers(dest="command", required=True)
  old = commands.add_parser("pipelines", help="our pipelines, random init")
  old.add_argument("out", help="work directory (models and records)")
  old.add_argument("size", choices=["tiny", "base"])
  old.add_argument("n_sst2", type=int, help="SST-2 dev sentences to time")
  old.add_argument("n_squad", type=int, help="SQuAD questions to time")
  old.set_defaults(run=pipelines)
  new = commands.add_parser("peers", help="our paths against HF and ONNX")
  new.add_argument("out", help="work directory (exports, HF model)")
  new.add_argument("--model_dir", required=True,
                   help="fine-tuned SST-2 model directory (train.py)")
  new.add_argument("--threads", type=int, default=2)
  new.add_argument("--sentences", type=int, default=872)
  new.set_defaults(run=serving_peers.run)
  for sub in (old, new):
    sub.add_argument("--data_dir", default=str(REPO.parent / "shared/data"),
                     help="the real data (glue/SST-2, squad)")
  args = parser.parse_args()
  args.run(args)


if __name__ == "__main__":
  errors.run_cli(main)
