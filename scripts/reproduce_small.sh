#!/usr/bin/env bash
# The small-scale study of docs/results.md: does pretraining on Wikipedia beat
# random initialisation on GLUE at the tiny size?
#   bash scripts/reproduce_small.sh [--runtime FILE] [--model tiny|base]
#       [--pretrain_batch N] [--pretrain_steps N] [DATA_DIR]
#   DATA_DIR default ../shared/data. Defaults: the 2-core CPU study
#   (configs/runtime/cpu.yaml, albert_tiny.yaml, batch 64, 10,000 steps).
#   On one GPU with ALBERT-base (issue 16's GPU study), under runs/small_base:
#   bash scripts/reproduce_small.sh --runtime configs/runtime/gpu.yaml \
#       --model base --pretrain_batch 256 --pretrain_steps 20000
#   (20,000 steps is a guess at one hour; no GPU run has measured it. The
#   encoder keeps base's sizes with the bundled 8k vocabulary.)
# Environment: PRETRAIN=0 skips stages 1-3 (e.g. to fine-tune from scratch
# while pretraining runs elsewhere); INITS="scratch" or "pretrained" runs
# only those fine-tunings (default both).
# Stages skip when their output exists (delete runs/small/... to redo one):
#   1. enwiki sample -> seed format (train: AA/wiki_00-59, held out: AA/wiki_99)
#   2. SOP records at sequence length 128 (bundled 8k vocabulary)
#   3. pretraining (experiments/pretraining/small.yaml)
#   4. fine-tuning pretrained and from scratch on SST-2, MRPC, CoLA, STS-B,
#      RTE, task.seed 1-3 each (experiments/glue/small.yaml; per task below:
#      about 3 epochs, capped at 800 steps, warm-up 10% of the steps)
#   5. the table and plot (benchmarks/small_study_report.py)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNTIME=configs/runtime/cpu.yaml SIZE=tiny BATCH=64 STEPS=10000
while [ $# -gt 0 ]; do
  case $1 in
    --runtime) RUNTIME=$2; shift 2 ;;
    --model) SIZE=$2; shift 2 ;;
    --pretrain_batch) BATCH=$2; shift 2 ;;
    --pretrain_steps) STEPS=$2; shift 2 ;;
    -*) echo "error: unknown flag $1; see the usage at the top of $0" >&2
        exit 2 ;;
    *) break ;;
  esac
done
case $SIZE in
  tiny) MODEL_FILE=configs/models/albert_tiny.yaml RUN=runs/small ;;
  base) MODEL_FILE=configs/models/albert_base_v2.yaml RUN=runs/small_base ;;
  *) echo "error: --model $SIZE; use tiny or base" >&2; exit 2 ;;
esac
[ -f "$RUNTIME" ] || { echo "error: --runtime $RUNTIME not found; pass a file of configs/runtime/" >&2; exit 2; }
DATA_DIR=${1:-../shared/data}
VOCAB=assets/vocab/albert_demo_8k.model
WIKI=$DATA_DIR/corpus/enwiki/AA
# Every size runs on the bundled 8k vocabulary (base's own is 30k).
MODEL="--config_file=$MODEL_FILE --config_file=$RUNTIME"
SIZE_OVERRIDE="task.model.encoder.vocab_size=8000"
PRETRAIN_OVERRIDE="$SIZE_OVERRIDE,task.train_data.input_path=$RUN/data/train/*.tfrecord,task.validation_data.input_path=$RUN/data/heldout/*.tfrecord,task.train_data.global_batch_size=$BATCH,trainer.train_steps=$STEPS,trainer.optimizer_config.learning_rate.polynomial.decay_steps=$STEPS"
mkdir -p $RUN/corpus

if [ "${PRETRAIN:-1}" = 1 ]; then
if [ ! -f $RUN/corpus/train.txt ]; then
  echo "== enwiki -> seed format"
  python -m official_albert.data.pretraining.prepare_corpus --output $RUN/corpus/train.txt \
    --input $(printf "$WIKI/wiki_%02d " $(seq 0 59))
  python -m official_albert.data.pretraining.prepare_corpus --output $RUN/corpus/heldout.txt \
    --input $WIKI/wiki_99
fi
FLAGS="--sp_model_file $VOCAB --do_lower_case --max_seq_length 128
  --max_predictions_per_seq 20 --masked_lm_prob 0.15 --short_seq_prob 0.1
  --ngram 3 --random_seed 12345 --num_workers 2"
if [ ! -f $RUN/data/train/metadata.json ]; then
  echo "== training records"
  python -m official_albert.data.pretraining.create_pretraining_data $FLAGS \
    --input_file $RUN/corpus/train.txt --output_dir $RUN/data/train \
    --dupe_factor 2 --num_shards 8
fi
if [ ! -f $RUN/data/heldout/metadata.json ]; then
  echo "== held-out records"
  python -m official_albert.data.pretraining.create_pretraining_data $FLAGS \
    --input_file $RUN/corpus/heldout.txt --output_dir $RUN/data/heldout \
    --dupe_factor 1 --num_shards 1
fi
if [ ! -f $RUN/pretrain/metrics.json ]; then
  echo "== pretraining"
  START=$SECONDS
  python train.py --experiment=albert/pretraining --mode=train_and_eval \
    --model_dir=$RUN/pretrain $MODEL \
    --config_file=experiments/pretraining/small.yaml \
    --params_override="$PRETRAIN_OVERRIDE"
  echo "pretraining wall time: $((SECONDS - START)) s" | tee $RUN/pretrain.time
fi
fi

# Fine-tuning: TASK DIR METRIC NUM_CLASSES LABEL_TYPE STEPS. Steps at batch
# 32: 3 epochs of RTE (2,490 examples), MRPC (3,668), STS-B (5,749) and CoLA
# (8,551); SST-2 stops at the cap, 800 steps (0.38 epochs), that keeps the
# 30 runs within about 50 minutes of a 2-core CPU.
GLUE_TASKS="sst-2:SST-2:accuracy:2:int:800 mrpc:MRPC:f1:2:int:345
  cola:CoLA:matthews_corrcoef:2:int:800
  sts-b:STS-B:pearson_spearman_corr:1:float:540 rte:RTE:accuracy:2:int:240"
INITS=${INITS:-"scratch pretrained"}
for spec in $GLUE_TASKS; do
  IFS=: read -r task dir metric classes label steps <<< "$spec"
  if [ ! -f $RUN/glue/$task/metadata.json ]; then
    python -m official_albert.data.finetuning.create_finetuning_data --task $task \
      --input_dir $DATA_DIR/glue/$dir --sp_model_file $VOCAB \
      --max_seq_length 128 --output_dir $RUN/glue/$task
  fi
done
# Run 1 of every task first, so that a cut-off leaves every task covered.
for seed in 1 2 3; do
  for spec in $GLUE_TASKS; do
    IFS=: read -r task dir metric classes label steps <<< "$spec"
    for init in $INITS; do
      out=$RUN/finetune/$task/$init/seed$seed
      [ -f $out/metrics.json ] && continue
      ckpt=""
      [ $init = pretrained ] && ckpt="task.init_checkpoint=$RUN/pretrain,"
      echo "== fine-tuning $task ($init, run $seed)"
      rm -rf $out && mkdir -p $(dirname $out)
      python train.py --experiment=albert/sentence_prediction \
        --mode=train_and_eval --model_dir=$out $MODEL \
        --config_file=experiments/glue/small.yaml \
        --params_override="${ckpt}$SIZE_OVERRIDE,task.seed=$seed,trainer.train_steps=$steps,trainer.optimizer_config.learning_rate.polynomial.decay_steps=$steps,trainer.optimizer_config.warmup.linear.warmup_steps=$((steps / 10)),task.metric_type=$metric,task.model.num_classes=$classes,task.train_data.label_type=$label,task.validation_data.label_type=$label,task.train_data.input_path=$RUN/glue/$task/train.tfrecord,task.validation_data.input_path=$RUN/glue/$task/dev.tfrecord" \
        > $out.log 2>&1 || { tail -5 $out.log; exit 1; }
    done
  done
done
if [ "$INITS" = "scratch pretrained" ]; then
  python -m benchmarks.small_study_report --run_dir $RUN
fi
