#!/usr/bin/env bash
# The GPU path checked for real, for a session that is lent a GPU machine (one short run).
#
# Prepare here, in the repository root (git ignores .gpu/ and .whl/):
#   - wheels for the machine (Python 3.12): spacy, thinc, spacy-transformers, srsly, ... and a
#     transformers version spacy-transformers accepts, downloaded with `pip download --no-deps
#     --only-binary=:all: --python-version 3.12 ...` into .whl/;
#   - the corpora and a 12-layer encoder small enough to travel, in .gpu/:
#       python -m spacy_lowner encoder build me5 .gpu/me5-12l --layers 12 --half \
#           --corpus assets/weibo/weiboNER_2nd_conll.train --corpus assets/weibo/weiboNER_2nd_conll.dev \
#           --corpus assets/weibo/weiboNER_2nd_conll.test
#       mkdir -p .gpu/data && cp -r ../shared/data/weibo .gpu/data/ && cp -r corpus .gpu/corpus
# Then run it with the device tool, carrying .whl and .gpu: `bash scripts/gpu_check.sh`.
# It writes its logs to $OUT (or /tmp/gpu_check): the gpu tests, then 200 steps of weibo_trf at
# 12 layers with their seconds per 100 steps and dev F1.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu_check}"
mkdir -p "$out"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$PWD"
fi
export LOWNER_SHARED_DATA="$PWD/.gpu/data" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
python3 -m pytest -m gpu -q -p no:cacheprovider 2>&1 | tee "$out/gpu_tests.log"
start=$(date +%s)
python3 -m spacy train configs/weibo_trf.cfg --gpu-id 0 --output /tmp/gpu_trf12 \
    --paths.train .gpu/corpus/weibo/train.spacy --paths.dev .gpu/corpus/weibo/dev.spacy \
    --paths.encoder .gpu/me5-12l --training.max_steps 200 --training.eval_frequency 100 2>&1 | tee "$out/trf12_train.log"
end=$(date +%s)
echo "weibo_trf, 12 layers, 200 steps on the GPU: $((end - start)) s in all (including start-up)" | tee -a "$out/trf12_train.log"
