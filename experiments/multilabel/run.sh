#!/usr/bin/env bash
# Multi-label (click + conversion) vs. single-label training of REACTION, DNN and DCNv2 on the
# synthetic data with its conversion label. Usage: experiments/multilabel/run.sh [ROWS] [SEEDS...]
#   REACTION_TRAIN="python -m reaction.cli.train" experiments/multilabel/run.sh 200000 0
set -euo pipefail
rows=${1:-200000}
shift || true
seeds=${*:-0}
train=${REACTION_TRAIN:-reaction-train}
out=${OUT:-outputs/multilabel}
for seed in $seeds; do
  for model in dnn reaction dcnv2; do
    for labels in "[click,conversion]" "[conversion]" "[click]"; do
      tag=$(echo "$labels" | tr -d '[]' | tr ',' '+')
      $train model=$model seed=$seed "module.labels=$labels" \
        data.datamodule.raw_source.config.conversion=true \
        data.datamodule.raw_source.config.num_rows=$rows \
        trainer.max_epochs=6 logger=csv '~callbacks.progress_bar' \
        experiment_name=multilabel hydra.run.dir=$out/${tag}_${model}_s$seed
    done
  done
done
