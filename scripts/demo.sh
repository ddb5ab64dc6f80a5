#!/usr/bin/env bash
# The main job on bundled real data: vocabulary (if missing) -> SOP records
# (if missing) -> pretraining with evaluation on held-out text -> final table
# (metric, value, baseline, 95% interval) and runs/demo/curves.png.
# Runs from the repository root on a 2-core CPU in under 10 minutes.
#   bash scripts/demo.sh            # everything under runs/demo/
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=runs/demo
VOCAB=assets/vocab/albert_demo_8k
DATA_FLAGS="--sp_model_file $VOCAB.model --do_lower_case --max_seq_length 64
  --max_predictions_per_seq 10 --masked_lm_prob 0.15 --short_seq_prob 0.1
  --ngram 3 --random_seed 12345 --num_workers 2"

if [ ! -f "$VOCAB.model" ]; then
  echo "== training the SentencePiece vocabulary"
  python -m official_albert.data.pretraining.train_vocab --input assets/corpus/train.txt \
    --model_prefix "$VOCAB" --vocab_size 8000
fi
# Wikipedia articles, read compressed; each seen once (dupe_factor 1), so
# that sentence order is learned rather than memorised (assets/README.md).
if [ ! -f "$RUN/data/train/metadata.json" ]; then
  echo "== creating training records (assets/corpus/enwiki_train.txt.gz)"
  python -m official_albert.data.pretraining.create_pretraining_data $DATA_FLAGS \
    --input_file assets/corpus/enwiki_train.txt.gz \
    --output_dir "$RUN/data/train" --dupe_factor 1 --num_shards 4
fi
if [ ! -f "$RUN/data/heldout/metadata.json" ]; then
  echo "== creating held-out records (assets/corpus/enwiki_heldout.txt.gz)"
  python -m official_albert.data.pretraining.create_pretraining_data $DATA_FLAGS \
    --input_file assets/corpus/enwiki_heldout.txt.gz \
    --output_dir "$RUN/data/heldout" --dupe_factor 1 --num_shards 1
fi

echo "== pretraining (progress every 50 steps, evaluation on held-out text)"
rm -rf "$RUN/model"  # A fresh run; a leftover checkpoint would end it at once.
python train.py --experiment=albert/pretraining --mode=train_and_eval \
  --model_dir="$RUN/model" \
  --config_file=configs/models/albert_tiny.yaml \
  --config_file=configs/runtime/cpu.yaml \
  --config_file=experiments/pretraining/demo.yaml

echo "== held-out results against trivial baselines; curves"
python -m official_albert.tools.run_report --model_dir "$RUN/model" \
  --train "$RUN/data/train/*.tfrecord" --eval "$RUN/data/heldout/*.tfrecord" \
  --plot "$RUN/curves.png"
