"""Throughput of `predict classify` and `predict qa` on CPU (random init).

  python -m benchmarks.serving_throughput OUT_DIR tiny|base N_SST2 N_SQUAD

Builds a randomly initialised fine-tuned model directory (params.yaml +
checkpoint) of the given size for albert/sentence_prediction and albert/squad,
exports each, and times classify.classify / qa.answer (tokenization, batched
model calls and decoding; model loading and one warm-up batch excluded) on
real SST-2 dev sentences and SQuAD v1.1 dev questions, from the model
directory (Keras) and from the SavedModel.
"""
import json
import pathlib
import sys
import time

import tensorflow as tf
from official.core import train_utils
from official.nlp.data import squad_lib_sp

from official_albert.configs import overrides
from official_albert.data import create_finetuning_data
from official_albert.data import classification_data
from official_albert.modeling import albert
from official_albert.serving import classify, export, finetuned, qa
from official_albert.tasks import sentence_prediction, squad

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared/data"
VOCAB = REPO / "assets/vocab/albert_demo_8k.model"
out, size = pathlib.Path(sys.argv[1]), sys.argv[2]
n_sst2, n_squad = int(sys.argv[3]), int(sys.argv[4])
yaml = str(REPO / f"configs/models/albert_{'tiny' if size == 'tiny' else 'base_v2'}.yaml")
out.mkdir(parents=True, exist_ok=True)

src = out / "sst2"
src.mkdir(exist_ok=True)
(src / "dev.tsv").write_text((DATA / "glue/SST-2/dev.tsv").read_text())
if not (out / "records/metadata.json").exists():
  create_finetuning_data.main(["--task", "sst-2", "--input_dir", str(src),
                               "--sp_model_file", str(VOCAB), "--output_dir",
                               str(out / "records"), "--max_seq_length", "128"])


def make(kind, override):
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


cls_dir = make("classifier", json.dumps(
    {"task": {"train_data": {"input_path": str(out / "records/dev.tfrecord"),
                             "seq_length": 128}}}))
qa_dir = make("squad", json.dumps(
    {"task": {"validation_data": {"vocab_file": str(VOCAB)}}}))

texts = classification_data.read_examples(
    str(src / "dev.tsv"), classification_data.GLUE_TASKS["sst-2"])[:n_sst2]
questions = []
for article in json.loads((DATA / "squad/dev-v1.1.json").read_text())["data"]:
  for p in article["paragraphs"]:
    for q in p["qas"]:
      questions.append(squad_lib_sp.SquadExample(
          qas_id=q["id"], question_text=q["question"],
          paragraph_text=p["context"]))
questions = questions[:n_squad]

results = {}
for kind, model_dir, fn, items in (
    ("classify", cls_dir, lambda s, x: classify.classify(s, x, 32, 128), texts),
    ("qa", qa_dir, lambda s, x: qa.answer(s, x, 32), questions)):
  for source in (str(model_dir), str(model_dir) + "_saved"):
    served = finetuned.load(source)
    fn(served, items[:8])  # Warm-up: tracing / first call.
    start = time.perf_counter()
    records = fn(served, items)
    seconds = time.perf_counter() - start
    name = f"{size} {kind} {'SavedModel' if source.endswith('_saved') else 'model_dir'}"
    results[name] = dict(examples=len(records), seconds=round(seconds, 2),
                         examples_per_s=round(len(records) / seconds, 1))
    print(name, results[name], flush=True)
(out / f"results_{size}.json").write_text(json.dumps(results, indent=1))
