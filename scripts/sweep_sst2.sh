#!/usr/bin/env bash
# Sweep of the demo model on SST-2: learning rate x 3 seeds, median per point.
# Needs the demo's pretraining checkpoint (bash scripts/demo.sh) and GLUE
# SST-2 (train.tsv, dev.tsv) under DATA_DIR/glue/SST-2.
#   bash scripts/sweep_sst2.sh [DATA_DIR]      # default ../shared/data
# Results: runs/sweeps/sst2_demo/summary.md (and .csv, sweep.png, HParams).
set -euo pipefail
cd "$(dirname "$0")/.."
GLUE="${1:-../shared/data}/glue/SST-2"
RECORDS=runs/finetuning/sst2_demo
INIT=${INIT:-runs/demo/model}
if [ ! -f "$INIT/checkpoint" ]; then
  echo "error: no pretraining checkpoint in $INIT; run bash scripts/demo.sh" >&2
  exit 2
fi
if [ ! -f "$RECORDS/metadata.json" ]; then
  echo "== SST-2 records: first 10,000 training sentences, the whole dev set"
  mkdir -p "$RECORDS/tsv"
  head -n 10001 "$GLUE/train.tsv" > "$RECORDS/tsv/train.tsv"
  cp "$GLUE/dev.tsv" "$RECORDS/tsv/dev.tsv"
  python -m official_albert.data.finetuning.create_finetuning_data --task sst-2 \
    --input_dir "$RECORDS/tsv" --sp_model_file assets/vocab/albert_demo_8k.model \
    --output_dir "$RECORDS" --max_seq_length 128
fi
python -m official_albert.sweep --experiment=albert/sentence_prediction \
  --sweep_dir=runs/sweeps/sst2_demo \
  --config_file=configs/models/albert_tiny.yaml \
  --config_file=configs/runtime/cpu.yaml \
  --config_file=experiments/glue/sst2_demo.yaml \
  --params_override="task.init_checkpoint=$INIT" \
  --grid trainer.optimizer_config.learning_rate.polynomial.initial_learning_rate=1e-4,3e-4,1e-3 \
  --seeds 3 --parallel 1
