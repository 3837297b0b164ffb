#!/usr/bin/env bash
# The GPU path checked for real, in one call of the device tool on a lent GPU machine:
#   bash scripts/gpu_prepare.sh        (here, once: packs .gpu/)
#   device run, carry [".gpu"], command "bash scripts/gpu_check.sh", timeout_s 600
# It runs the tests marked `gpu`, then trains the full-data WeiboNER benchmark rows on the GPU
# (python -m bench's runs, 1000 steps as reports/encoder_floor): the 12-layer encoder plain and
# with layer-wise learning rates, and the 6-layer default as the link to the CPU figures. Jobs
# run GPU_CHECK_JOBS at a time in priority order until GPU_CHECK_SECONDS have passed (the default
# 540 s left the call at 555 s, inside a 15-minute lease with one machine start); what
# finished comes back in $OUT (or /tmp/gpu_check): gpu.txt, gpu_tests.log, check.log,
# results.md and results.json (bench's tables, no inference speed), runs.tgz (each run's
# result.json and train.log; unpack into reports/encoder_floor_gpu/).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu_check}"
budget="${GPU_CHECK_SECONDS:-540}"
jobs="${GPU_CHECK_JOBS:-6}"
start=$(date +%s)
mkdir -p "$out"
exec > >(tee "$out/check.log") 2>&1

gpu=.gpu
runs=$gpu/encoder_floor_gpu
for packed in $gpu/*.tar.xz; do tar -C $gpu -xJf "$packed"; done
export PYTHONPATH="$PWD/$gpu/site:$PWD:$PWD/$gpu" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
# The 6-layer default and a 1-layer encoder for the tests: the bottom layers of the 12.
# (`encoder cut`'s function: the packed site has no typer for the command line)
cut() { python3 -c 'import sys; from spacy_lowner.encoders.cut import cut_encoder; cut_encoder(sys.argv[1], sys.argv[2], int(sys.argv[3]))' "$@"; }
cut $gpu/me5-zh-12l $gpu/me5-zh-6l 6 || exit 1
cut $gpu/me5-zh-12l $gpu/me5-zh-1l 1 || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import spacy, spacy_lowner, cupy, torch; spacy.require_gpu(0); print('spacy', spacy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)" \
    | tee -a "$out/gpu.txt" || exit 1

LOWNER_SHARED_DATA="$PWD/$gpu/data" LOWNER_TINY_ENCODER="$PWD/$gpu/me5-zh-1l" \
    timeout "$budget" python3 -m pytest tests/test_gpu.py -q -p no:cacheprovider >"$out/gpu_tests.log" 2>&1 &
tests=$!

# One benchmark run: train on the GPU, score model-best on test there (bench.runs).
cat >/tmp/gpu_job.py <<'EOF'
import sys
from pathlib import Path
import spacy
from bench.runs import train_and_score
from bench.systems import parse_systems
output, spec, seed, sets = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4:]
(system,) = parse_systems([spec], sets).values()
corpus = Path(".gpu/corpus/weibo")
overrides = {"paths.train": str(corpus / "train.spacy"), "paths.dev": str(corpus / "dev.spacy"),
             "training.max_steps": "1000", "training.eval_frequency": "100", "training.patience": "1000",
             **system.overrides}
spacy.require_gpu(0)
result, _ = train_and_score(system.name, seed, system.config_file(output), output / "runs" / f"{system.name}-seed{seed}",
                            corpus / "test.spacy", overrides, gpu_id=0, log=lambda line: None)
print(f"{system.name} seed {seed}: test F1 {100 * result.test['ents_f']:.2f}, {result.train_seconds:.0f} s", flush=True)
EOF
trf12="trf12=configs/weibo_trf.cfg trf12:paths.encoder=$gpu/me5-zh-12l"
trf12_llrd="trf12_llrd=configs/weibo_trf.cfg+configs/parts/layerwise_lr.cfg trf12_llrd:paths.encoder=$gpu/me5-zh-12l trf12_llrd:training.optimizer.num_layers=12"
trf6="trf6=configs/weibo_trf.cfg trf6:paths.encoder=$gpu/me5-zh-6l"
job() {  # SPEC SEED SETS...: one run, stopped when the budget is spent
    local left=$((start + budget - $(date +%s)))
    [ "$left" -gt 60 ] || return 0
    local spec=$1 seed=$2
    shift 2
    timeout "$left" python3 /tmp/gpu_job.py "$runs" "$spec" "$seed" "$@" || echo "${spec%%=*} seed $seed: stopped or failed"
}
export -f job
export start budget runs
{
    for seed in 0 1 2; do
        echo "${trf12%% *} $seed ${trf12#* }"
        echo "${trf12_llrd%% *} $seed ${trf12_llrd#* }"
        echo "${trf6%% *} $seed ${trf6#* }"
    done
} | xargs -P "$jobs" -L 1 bash -c 'job "$@"' _
wait $tests
tail -3 "$out/gpu_tests.log"

python3 - "$runs" "$out" <<'EOF'
import sys
from pathlib import Path
from bench.runs import read_result
from bench.sweep import write_reports
runs, out = Path(sys.argv[1]), Path(sys.argv[2])
write_reports([read_result(path) for path in sorted(runs.glob("runs/*/result.json"))], out, "trf6")
print((out / "results.md").read_text())
EOF
tar -C "$runs" -czf "$out/runs.tgz" --exclude="model-*" --ignore-failed-read runs configs
echo "gpu_check: $(($(date +%s) - start)) s"
