#!/usr/bin/env bash
# The GPU check of the zoo-promises issue: one short run (< 8 min) on a lent CUDA machine.
#   1. the recipe comparison at a larger budget: OFA's progressive shrinking vs warm start + sandwich +
#      in-place distillation, on the shared CIFAR-10 (32x32 space), inherited top-1 of the reference
#      sub-networks (largest, smallest, 2 random) after BN recalibration;
#   2. the training-step time against MIT's official package on CUDA (when its venv can be made there).
# Usage (repository root, project installed in .venv): bash bench/gpu_check.sh   -> $OUT or bench/results/gpu/
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT_DIR=${OUT:-bench/results/gpu}
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT_DIR/gpu.txt" 2>&1 || true
SCALE=${SCALE:-0.02}   # x OFA's epochs per stage: ~12 CIFAR-10 epochs in all, a few minutes per recipe on an H100

for recipe in ps sandwich; do
  if [ "$recipe" = ps ]; then
    extra=()
  else
    extra=(--set 'schedule=[{name: full, epochs: 180, warmup_epochs: 5, lr: 0.1}, {name: elastic, ks: all, e: all, d: all, epochs: 420, lr: 0.1, sandwich: true, subnets_per_step: 4, kd_weight: 1.0, kd_source: inplace}]'
           --set loss.teacher_stage=null)
  fi
  timeout 200 $PY -m ofa.cli.main train --space ofa_mbv3_in32_d234_e346_k357_w1.0 --data cifar10 \
    --out "$OUT_DIR/run-$recipe" --set device=cuda --set batch_size=256 --set epochs_scale=$SCALE \
    --set workers=8 --set tensorboard=false "${extra[@]}" > "$OUT_DIR/train-$recipe.log" 2>&1
  echo "recipe $recipe: exit $?" >> "$OUT_DIR/summary.txt"
  cp "$OUT_DIR/run-$recipe/validation.json" "$OUT_DIR/validation-$recipe.json" 2>/dev/null || true
done

timeout 150 $PY bench/train_speed.py --device cuda --batch 128 --resolutions 224 128 --steps 10 --rounds 2 \
  --out "$OUT_DIR/train_speed_cuda.json" > "$OUT_DIR/train_speed.log" 2>&1
echo "train_speed: exit $?" >> "$OUT_DIR/summary.txt"
cat "$OUT_DIR/summary.txt"
