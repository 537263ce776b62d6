#!/bin/bash
# The arm3 training study of controllers/ahf/weights/README.md: every training run, then the figure.
# Each run is `bench train arm3 ahf reach --dt 0.01` in a folder of its own under $OUT (default /tmp/ahf-arm3-study),
# at most 150 s of training (or until the named goal); about 25 minutes in all on 2 cores.
set -euo pipefail
OUT=${OUT:-/tmp/ahf-arm3-study}
BENCH=${BENCH:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/bench}
HERE=$(cd "$(dirname "$0")" && pwd)
train() {  # NAME SEED SETTING...
    local name=$1 seed=$2; shift 2
    local sets=(--set ahf.max_seconds=150 --set ahf.iterations=2000)
    for s in "$@"; do sets+=(--set "$s"); done
    mkdir -p "$OUT/$name"
    (cd "$OUT/$name" && "$BENCH" train arm3 ahf reach --dt 0.01 --seed "$seed" --db "$OUT/$name/r.sqlite" \
        "${sets[@]}" > log.txt 2>&1)
    echo "$name done"
}
G=ahf.output_gain
train g300 1 $G=300 ahf.goal=0.005
train g1000 1 $G=1000 ahf.goal=0.005
train g3000 1 $G=3000 ahf.goal=0.005
train md1e-4 1 $G=1000 ahf.min_damping=1e-4 ahf.goal=0.005
train md1e-3 1 $G=1000 ahf.min_damping=1e-3 ahf.goal=0.005
train md1e-3_long 1 $G=1000 ahf.min_damping=1e-3 ahf.goal=0
train md1e-2 1 $G=1000 ahf.min_damping=1e-2 ahf.goal=0.005
train cg32 1 $G=1000 ahf.min_damping=1e-3 ahf.cg_iter=32 ahf.goal=0.005
train f32 1 $G=1000 ahf.min_damping=1e-3 ahf.dtype=float32 ahf.goal=0.005
train in1 1 $G=1000 ahf.min_damping=1e-3 ahf.input_scale=1.0 ahf.goal=0.005
train seed2 2 $G=1000 ahf.min_damping=1e-3 ahf.goal=0.005
train seed3 3 $G=1000 ahf.min_damping=1e-3 ahf.goal=0.005
train cur30 1 $G=1000 ahf.min_damping=1e-3 ahf.curriculum=30
train cur30_seed2 2 $G=1000 ahf.min_damping=1e-3 ahf.curriculum=30 ahf.goal=0.005
train cur30_seed3 3 $G=1000 ahf.min_damping=1e-3 ahf.curriculum=30 ahf.goal=0.005
train cur30_nofloor 1 $G=1000 ahf.curriculum=30 ahf.goal=0.005
S="output scaling (no damping floor)"; D="damping control (output_gain 1000)"
C="CG budget, float type, input conditioning (gain 1000, floor 1e-3)"; R="curriculum over reach distance, seeds (gain 1000, floor 1e-3)"
cd "$OUT" && "$(dirname "$BENCH")/python" "$HERE/ahf_training_study.py" --out "$HERE/figures/ahf-arm3-study.png" \
    --threshold 0.02 --title "ahf on arm3 (studywolf's three-link arm), 64 targets, dt 0.01 s, seed 1 unless named: what holds training back" \
    "$S|output_gain 300=g300" "$S|output_gain 1000=g1000" "$S|output_gain 3000=g3000" \
    "$D|no floor=g1000" "$D|min_damping 1e-4=md1e-4" "$D|min_damping 1e-3 (goal 0: run on)=md1e-3_long" "$D|min_damping 1e-2=md1e-2" \
    "$C|cg_iter 96, float64, input_scale 0.2 (run on)=md1e-3_long" "$C|cg_iter 32=cg32" "$C|float32=f32" "$C|input_scale 1 rad=in1" \
    "$R|seed 1=md1e-3" "$R|seed 2=seed2" "$R|seed 3=seed3" "$R|curriculum 30, seed 1 (shipped)=cur30" \
    "$R|curriculum 30, seed 2=cur30_seed2" "$R|curriculum 30, seed 3=cur30_seed3" "$R|curriculum 30, no floor=cur30_nofloor"
