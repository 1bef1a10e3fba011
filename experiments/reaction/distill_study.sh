#!/usr/bin/env bash
# The distillation study (experiments/reaction/README.md, "Distillation baselines"): per seed, ECKD
# trains its two teachers (DCNv2, DeepFM) in its own run; KD-DAGFM, KD-DAGFM+ and BKD then learn
# from that run's DCNv2 teacher (fusion.teacher_run), so each teacher is trained once per seed, and
# so does plain KD (a reference row). Finished runs are skipped when the script is run again.
#   experiments/reaction/distill_study.sh students "0 1 2" data=synthetic_sparse   # ECKD, BKD, KD-DAGFM(+)
#   experiments/reaction/distill_study.sh dtf "0 1 2" data=synthetic_sparse        # REACTION (DTF)
# Runs land in ${OUT:-outputs/distill}/<method>_s<seed>; reaction-report reads that folder.
set -euo pipefail
what=$1; seeds=$2; shift 2
out=${OUT:-outputs/distill}
train=(${TRAIN:-reaction-train} logger=none "$@")
for seed in $seeds; do
  if [[ $what == dtf ]]; then
    "${train[@]}" model=reaction seed="$seed" hydra.run.dir="$out/dtf_s$seed"
    continue
  fi
  "${train[@]}" model=reaction fusion=eckd 'fusion.teacher_model=[dcnv2,deepfm]' seed="$seed" \
    hydra.run.dir="$out/eckd_s$seed"
  teacher=$out/eckd_s$seed/teachers/0_dcnv2
  "${train[@]}" model=reaction fusion=bkd fusion.teacher_run="$teacher" seed="$seed" \
    hydra.run.dir="$out/bkd_s$seed"
  "${train[@]}" model=reaction fusion=kd fusion.teacher_run="$teacher" seed="$seed" \
    hydra.run.dir="$out/kd_s$seed"  # plain KD from the same teacher: a reference row
  # afe.mi_threshold=0.0: the AFE plan of model=reaction (its config sets it), so every student
  # sees the same fields
  "${train[@]}" model=dagfm afe=paper afe.mi_threshold=0.0 fusion=kd_dagfm fusion.teacher_run="$teacher" seed="$seed" \
    hydra.run.dir="$out/kd_dagfm_s$seed"
  "${train[@]}" model=dagfm_plus afe=paper afe.mi_threshold=0.0 fusion=kd_dagfm fusion.teacher_run="$teacher" \
    seed="$seed" hydra.run.dir="$out/kd_dagfm_plus_s$seed"
done
