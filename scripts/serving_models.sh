#!/usr/bin/env bash
# Fine-tuned tiny models for the serving benchmarks (docs/serving.md):
#   bash scripts/serving_models.sh [DATA_DIR] [OUT]   # ../shared/data, runs/serving
# 1. SST-2: albert_tiny.yaml from random initialisation, the small study's
#    fine-tuning recipe (experiments/glue/small.yaml), 800 steps at batch 32.
# 2. SQuAD v1.1: there is no training set in DATA_DIR, so the dev set's
#    first 24 articles train (600 steps at batch 32, sequence length 256)
#    and its other 24 articles are the held-out evaluation set
#    ($OUT/squad/heldout-v1.1.json).
# Stages skip when their model directory exists.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:-../shared/data}
OUT=${2:-runs/serving}
VOCAB=assets/vocab/albert_demo_8k.model
MODEL="--config_file=configs/models/albert_tiny.yaml --config_file=configs/runtime/cpu.yaml"
mkdir -p $OUT

if [ ! -f $OUT/sst2/model/params.yaml ]; then
  python -m official_albert.data.finetuning.create_finetuning_data --task sst-2 \
    --input_dir $DATA_DIR/glue/SST-2 --sp_model_file $VOCAB \
    --max_seq_length 128 --output_dir $OUT/sst2/records
  python train.py --experiment=albert/sentence_prediction \
    --mode=train_and_eval --model_dir=$OUT/sst2/model $MODEL \
    --config_file=experiments/glue/small.yaml \
    --params_override="task.seed=1,trainer.train_steps=800,trainer.optimizer_config.learning_rate.polynomial.decay_steps=800,trainer.optimizer_config.warmup.linear.warmup_steps=80,task.train_data.input_path=$OUT/sst2/records/train.tfrecord,task.validation_data.input_path=$OUT/sst2/records/dev.tfrecord"
fi

if [ ! -f $OUT/squad/model/params.yaml ]; then
  mkdir -p $OUT/squad
  python - "$DATA_DIR/squad/dev-v1.1.json" "$OUT/squad" <<'PY'
import json, sys
dev = json.load(open(sys.argv[1], encoding="utf-8"))
for name, articles in (("train", dev["data"][:24]), ("heldout", dev["data"][24:])):
  with open(f"{sys.argv[2]}/{name}-v1.1.json", "w", encoding="utf-8") as f:
    json.dump(dict(dev, data=articles), f)
PY
  python -m official_albert.data.finetuning.create_finetuning_data --task squad \
    --input_files $OUT/squad/train-v1.1.json --sp_model_file $VOCAB \
    --max_seq_length 256 --output_dir $OUT/squad/records
  python train.py --experiment=albert/squad --mode=train_and_eval \
    --model_dir=$OUT/squad/model $MODEL \
    --config_file=experiments/squad/v1.1.yaml \
    --params_override="task.seed=1,task.model.dropout_rate=0.0,trainer.train_steps=600,trainer.validation_interval=600,trainer.checkpoint_interval=600,trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate=5e-4,trainer.optimizer_config.learning_rate.polynomial.decay_steps=600,trainer.optimizer_config.warmup.linear.warmup_steps=60,task.train_data.input_path=$OUT/squad/records/train-v1.1.tfrecord,task.train_data.global_batch_size=32,task.train_data.seq_length=256,task.validation_data.input_path=$OUT/squad/heldout-v1.1.json,task.validation_data.vocab_file=$VOCAB,task.validation_data.seq_length=256,task.validation_data.global_batch_size=64"
fi
