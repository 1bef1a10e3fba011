#!/usr/bin/env bash
# Multi-label (click + conversion) vs. single-label training on the synthetic data with its
# conversion label. Usage: experiments/multilabel/run.sh [ROWS] [SEEDS...]
#   MODELS="dnn reaction dcnv2"  VARIANTS="both both_mon_conversion conversion click"
#   REACTION_TRAIN="python -m reaction.cli.train" experiments/multilabel/run.sh 200000 0 1 2
# Runs land in $OUT/<variant>_<model>_s<seed> (default outputs/multilabel); finished ones are reused.
set -euo pipefail
rows=${1:-200000}
shift || true
seeds=${*:-0}
train=${REACTION_TRAIN:-reaction-train}
out=${OUT:-outputs/multilabel}
declare -A labels=(
  [both]="module.labels=[click,conversion]"
  [both_mon_conversion]="module.labels=[click,conversion] module.monitor_label=conversion"
  [conversion]="module.labels=[conversion]"
  [click]="module.labels=[click]"
)
for seed in $seeds; do
  for model in ${MODELS:-dnn reaction dcnv2}; do
    for variant in ${VARIANTS:-both both_mon_conversion conversion click}; do
      # shellcheck disable=SC2086  # the variant's overrides are separate words
      $train model="$model" seed="$seed" ${labels[$variant]} \
        data.datamodule.raw_source.config.conversion=true \
        data.datamodule.raw_source.config.num_rows="$rows" \
        trainer.max_epochs=6 logger=csv '~callbacks.progress_bar' \
        experiment_name=multilabel hydra.run.dir="$out/${variant}_${model}_s$seed"
    done
  done
done
