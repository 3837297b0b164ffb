#!/usr/bin/env bash
# The GPU path checked for real, in one call of the device tool on a lent GPU machine:
#   bash scripts/gpu_prepare.sh        (here, once: packs .gpu/)
#   device run, carry [".gpu"], command "bash scripts/gpu_check.sh [JOBSET]", timeout_s 600
# It runs the tests marked `gpu`, then one set of benchmark trainings on the GPU, in parallel,
# in priority order, until GPU_CHECK_SECONDS have passed (the default 540 s left the call at
# 555 s, inside a 15-minute lease with one machine start):
#   encoder-floor  (default) full-data WeiboNER as reports/encoder_floor (python -m bench's runs,
#                  1000 steps): the 12-layer encoder plain and with layer-wise learning rates,
#                  and the 6-layer default as the link to the CPU figures, seeds 0-2, 6 at a time;
#                  unpack runs.tgz into reports/encoder_floor_gpu/
#   chars-6l       the same runs for the 6-layer default as it is and with a piece per CJK
#                  character (`encoder single-chars`), seeds 0-4, 10 at a time; unpack runs.tgz
#                  into reports/encoder_floor_chars_gpu/
#   mix-12l        the same runs for the 12-layer encoder with the learned layer mix started from
#                  the last layer (`encoder mix --start last`, the start that scored best at 2
#                  layers) against the 6-layer default, seeds 0-2, 6 at a time; unpack runs.tgz
#                  into reports/encoder_floor_mix_gpu/
#   ratios-6l      `python -m bench ratios` on the 6-layer default, one process per split (the
#                  splits of every ratio benchmark): supervised at 0.01/0.05/0.1 and self-training
#                  from it at 0.05/0.1, seeds 0-4, all at once; unpack runs.tgz into
#                  reports/ratios_weibo_trf_6l/
#   datnet-wnut    DATNet's full grid, CoNLL-2003 -> WNUT-17 on the CNN tok2vec: 13 systems (the CPU
#                  sweeps' five and the paper's component rows) at 10-1000 target sentences, seeds
#                  0-4, 15 sweeps at a time; unpack runs.tgz into reports/datnet_wnut_gpu/
#   datnet-es      the same for CoNLL-2003 -> CoNLL-2002 Spanish on the 2-layer en-es encoder,
#                  packed by `scripts/gpu_prepare.sh datnet-es` (in place of me5-zh-12l, so the
#                  tests that need the 1-layer encoder fail); into reports/datnet_es_gpu/
#   advpicker      AdvPicker (issue 32, `python -m bench advpicker`) beyond the CPU workflow:
#                  CoNLL-2003 English -> the CoNLL-2002 language packed (`scripts/gpu_prepare.sh
#                  advpicker-es` or `advpicker-nl`: .gpu/me5-conll-LANG-6l, one language a call),
#                  seeds 0-4, the me5 encoder at 6 layers and at 2 (cut from it here), model chosen
#                  on English dev; the teacher stage one process per (layers, seed), then per
#                  layers seed 0's students (which pick once from the 5 teachers), then seeds 1-4;
#                  unpack runs.tgz into reports/advpicker_gpu/
#   project CMD[,CMD...]  the project.yml commands named (those that run `python -m bench ratios`:
#                  kl-phase-weibo-trf, kl-phase-cluener, compute-matched-weibo-trf,
#                  self-train-pool-weibo-trf, crosslingual-weibo, crosslingual-weibo-zero,
#                  crosslingual-weibo-ablations, ...) as they are, one process per (ratio or
#                  count, seed) (scripts/project_jobs.py), 15 at a time, into
#                  .gpu/project/<report folder>; corpus/ and assets/encoders/ point into .gpu
#                  (me5-zh-2l is cut from the 12-layer encoder; the crosslingual commands need
#                  `scripts/gpu_prepare.sh crosslingual`, which packs me5-en-zh-2l in its place);
#                  unpack runs.tgz into reports/<report folder>_gpu/
# What finished comes back in $OUT (or /tmp/gpu_check): gpu.txt, gpu_tests.log, check.log,
# results.md and results.json (bench's tables), runs.tgz (each run's result.json and train.log).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu_check}"
budget="${GPU_CHECK_SECONDS:-540}"
jobset="${1:-encoder-floor}"
start=$(date +%s)
mkdir -p "$out"
exec > >(tee "$out/check.log") 2>&1

gpu=.gpu
for packed in $gpu/*.tar.xz; do tar -C $gpu -xJf "$packed"; done
export PYTHONPATH="$PWD/$gpu/site:$PWD:$PWD/$gpu" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
# The 6-layer default and a 1-layer encoder for the tests: the bottom layers of the 12.
# (`encoder cut`'s function: the packed site has no typer for the command line)
cut() { python3 -c 'import sys; from spacy_lowner.encoders.cut import cut_encoder; cut_encoder(sys.argv[1], sys.argv[2], int(sys.argv[3]))' "$@"; }
if [ -d $gpu/me5-zh-12l ]; then  # not packed for datnet-es (scripts/gpu_prepare.sh datnet-es)
    cut $gpu/me5-zh-12l $gpu/me5-zh-6l 6 || exit 1
    cut $gpu/me5-zh-12l $gpu/me5-zh-1l 1 || exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import spacy, spacy_lowner, cupy, torch; spacy.require_gpu(0); print('spacy', spacy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__)" \
    | tee -a "$out/gpu.txt" || exit 1

LOWNER_SHARED_DATA="$PWD/$gpu/data" LOWNER_TINY_ENCODER="$PWD/$gpu/me5-zh-1l" \
    timeout "$budget" python3 -m pytest tests/test_gpu.py -q -p no:cacheprovider >"$out/gpu_tests.log" 2>&1 &
tests=$!

job() {  # COMMAND...: one training process, stopped when the budget is spent
    local left=$((start + budget - $(date +%s)))
    [ "$left" -gt 60 ] || return 0
    timeout "$left" "$@" || echo "stopped or failed: ${*: -4}"
}
export -f job
export start budget out

corpus=$gpu/corpus/weibo
case $jobset in
encoder-floor | chars-6l | mix-12l)
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
    trf6="trf6=configs/weibo_trf.cfg trf6:paths.encoder=$gpu/me5-zh-6l"
    if [ "$jobset" = chars-6l ]; then
        runs=$gpu/encoder_floor_chars_gpu seeds="0 1 2 3 4" parallel=10
        python3 -c 'import sys; from spacy_lowner.encoders.single_characters import make_single_character_folder as m; m(*sys.argv[1:])' \
            $gpu/me5-zh-6l $gpu/me5-zh-6l-chars || exit 1
        systems=("$trf6" "trf6_chars=configs/weibo_trf.cfg trf6_chars:paths.encoder=$gpu/me5-zh-6l-chars")
    elif [ "$jobset" = mix-12l ]; then
        runs=$gpu/encoder_floor_mix_gpu seeds="0 1 2" parallel=6
        python3 -c 'import sys; from spacy_lowner.encoders.layer_mix import make_layer_mix_folder as m; m(*sys.argv[1:], start="last")' \
            $gpu/me5-zh-12l $gpu/me5-zh-12l-mix-last || exit 1
        systems=("$trf6" "trf12_mix_last=configs/weibo_trf.cfg trf12_mix_last:paths.encoder=$gpu/me5-zh-12l-mix-last")
    else
        runs=$gpu/encoder_floor_gpu seeds="0 1 2" parallel=6
        systems=(
            "trf12=configs/weibo_trf.cfg trf12:paths.encoder=$gpu/me5-zh-12l"
            "trf12_llrd=configs/weibo_trf.cfg+configs/parts/layerwise_lr.cfg trf12_llrd:paths.encoder=$gpu/me5-zh-12l trf12_llrd:training.optimizer.num_layers=12"
            "$trf6"
        )
    fi
    for seed in $seeds; do
        for system in "${systems[@]}"; do
            echo "python3 /tmp/gpu_job.py $runs ${system%% *} $seed ${system#* }"
        done
    done | xargs -P $parallel -L 1 bash -c 'job "$@"' _
    wait $tests
    python3 - "$runs" "$out" <<'EOF'
import sys
from pathlib import Path
from bench.reports import BenchmarkReport, write_reports
from bench.runs import read_result
runs, out = Path(sys.argv[1]), Path(sys.argv[2])
write_reports([read_result(path) for path in sorted(runs.glob("runs/*/result.json"))], out, BenchmarkReport("trf6"))
EOF
    ;;
ratios-6l)
    runs=$gpu/ratios_weibo_trf_6l
    # As the project's ratios-weibo-trf-6l (and unlabeled-weibo-trf's self_train), one process
    # per split so that they share the card; self_train learns from supervised on its split.
    sweep="python3 -m bench ratios $runs -s supervised=configs/weibo_trf.cfg+configs/parts/word_batches.cfg
        --train $corpus/train.spacy --dev $corpus/dev.spacy --test $corpus/test.spacy --baseline supervised
        -o paths.encoder=$gpu/me5-zh-6l -o training.max_steps=500 -o training.eval_frequency=50
        -o training.patience=500 --threads 1 --gpu-id 0 --cost-batches 0"
    self_train="-s self_train=configs/weibo_trf.cfg+configs/parts/word_batches.cfg --self-train self_train=supervised:0.9:O"
    for seed in 0 1 2 3 4; do
        for ratio in 0.1 0.05; do echo $sweep $self_train --ratios $ratio --seeds $seed; done
        echo $sweep --ratios 0.01 --seeds $seed
    done | xargs -P 15 -L 1 bash -c 'job "$@" >"$out/sweep$(printf "_%s" "${@: -3:1}" "${@: -1}").log" 2>&1' _
    wait $tests
    python3 -m bench ratios $runs -s supervised=configs/weibo_trf.cfg -s self_train=configs/weibo_trf.cfg \
        --train $corpus/train.spacy --dev $corpus/dev.spacy --test $corpus/test.spacy --baseline supervised \
        --report-only --cost-batches 0 --title "WeiboNER, me5-zh 6 layers on a GPU" >/dev/null
    cp $runs/results.md $runs/results.json "$out"/
    runs_extra="splits self_training"
    ;;
datnet-wnut | datnet-es)
    # DATNet's full grid (issue 31; the paper's tables 3-4): 10 to 1000 target sentences, seeds
    # 0-4, the CPU sweeps' systems (project.yml datnet-wnut / datnet-es) and the component rows:
    # +AT on the target alone, F and P alone (concat, concat_p: transfer, no discriminator), with
    # the plain discriminator (AD: alpha 0.5, gamma 0) or GRAD, with AT, and both (datnet_f, _p).
    # One `bench ratios --counts` process per (count, seed), seed-major so that a budget spent
    # midway leaves whole seeds; 500 steps as on the CPU, target dev every 100. datnet-es needs
    # the en-es encoder packed as .gpu/me5-en-es-2l.tar.xz (scripts/gpu_prepare.sh datnet-es).
    if [ "$jobset" = datnet-wnut ]; then
        runs=$gpu/datnet_wnut_gpu target=$gpu/corpus/wnut17 base=configs/conll_en_cnn
        alone="$base.cfg" size="--set target_only:training.batcher.size.start=500 --set target_only:training.batcher.size.stop=500
            --set target_only_at:training.batcher.size.start=500 --set target_only_at:training.batcher.size.stop=500"
        extra=""
    else
        [ -d $gpu/me5-en-es-2l ] || { echo "datnet-es: no $gpu/me5-en-es-2l (pack it with scripts/gpu_prepare.sh datnet-es)"; exit 2; }
        runs=$gpu/datnet_es_gpu target=$gpu/corpus/conll2002_es base=configs/conll_trf
        alone="$base.cfg+configs/parts/word_batches.cfg"
        size="--set target_only:training.batcher.size=500 --set target_only_at:training.batcher.size=500"
        extra="-o paths.encoder=$gpu/me5-en-es-2l -o nlp.lang=es"
    fi
    two=${base}_two_corpora.cfg f=configs/parts/head_bilstm.cfg p=configs/parts/head_shared_private.cfg
    grad=configs/parts/resource_adversarial.cfg at=configs/parts/adversarial_training.cfg
    ad="components.lowner_ner.objectives.resource_adversarial"
    sweep="python3 -m bench ratios $runs
        -s target_only=$alone+$f -s target_only_at=$alone+$f+$at -s concat=$two+$f -s concat_p=$two+$p
        -s sequential=$two+$f+configs/parts/sequential.cfg -s f_ad=$two+$f+$grad -s p_ad=$two+$p+$grad
        -s f_grad=$two+$f+$grad -s p_grad=$two+$p+$grad -s f_at=$two+$f+$at -s p_at=$two+$p+$at
        -s datnet_f=$two+$f+$grad+$at -s datnet_p=$two+$p+$grad+$at $size
        --set sequential:training.batcher.source_steps=250
        --set f_ad:$ad.alpha=[0.5,0.5] --set f_ad:$ad.gamma=0 --set p_ad:$ad.alpha=[0.5,0.5] --set p_ad:$ad.gamma=0
        --train $target/train.spacy --dev $target/dev.spacy --test $target/test.spacy
        --baseline target_only --control concat --cost-batches 0
        -o paths.source=$gpu/corpus/conll2003/train.spacy $extra
        -o training.max_steps=500 -o training.eval_frequency=100 -o training.patience=500 --threads 1 --gpu-id 0"
    for seed in 0 1 2 3 4; do
        for count in 10 100 50 200 500 1000; do echo $sweep --counts $count --seeds $seed; done
    done | xargs -P 15 -L 1 bash -c 'job "$@" >"$out/sweep$(printf "_%s" "${@: -3:1}" "${@: -1}").log" 2>&1' _
    wait $tests
    # the tables of every run finished here (each process rewrote them; this once more, all in)
    $sweep --counts 10,100,50,200,500,1000 --seeds 0,1,2,3,4 --report-only >/dev/null
    cp $runs/results.md $runs/results.json "$out"/
    runs_extra="splits"
    ;;
advpicker)
    # Three waves, each process a `bench advpicker` into runs/LANG-LAYERSl (its source_dev/):
    # the teacher stage per seed, then seed 0's students (the one pick from seeds 0-4's teachers,
    # --teacher-seeds), then seeds 1-4's students, which read that picked set.
    runs=$gpu/advpicker_gpu
    langs=""
    for lang in es nl; do
        [ -d $gpu/me5-conll-$lang-6l ] || continue
        [ -d $gpu/corpus/conll2002_$lang ] || { echo "advpicker: no $gpu/corpus/conll2002_$lang (convert-conll, then pack)"; exit 2; }
        cut $gpu/me5-conll-$lang-6l $gpu/me5-conll-$lang-2l 2 || exit 1
        langs="$langs $lang"
    done
    [ -n "$langs" ] || { echo "advpicker: no .gpu/me5-conll-LANG-6l (pack it: scripts/gpu_prepare.sh advpicker-es)"; exit 2; }
    advpicker() {  # LANG LAYERS SEEDS SYSTEMS: a log name, then the command
        local c=$gpu/corpus
        local line="advpicker_$1_$2l_${3//,/-}_${4%%,*} python3 -m bench advpicker $runs/runs/$1-$2l --encoder $gpu/me5-conll-$1-$2l --lang $1
            --source-train $c/conll2003/train.spacy --source-dev $c/conll2003/dev.spacy
            --target-train $c/conll2002_$1/train.spacy --target-dev $c/conll2002_$1/dev.spacy --test $c/conll2002_$1/test.spacy
            --seeds $3 --teacher-seeds 0,1,2,3,4 --systems $4 --selections source
            -o training.max_steps=1000 -o training.eval_frequency=100 -o training.patience=1000 --threads 1 --gpu-id 0"
        echo $line  # one line for xargs
    }
    teachers=source_only,control,teacher students=teacher,student_picked,student_all,self_train_all
    for wave in teachers first rest; do
        for lang in $langs; do for layers in 6 2; do
            case $wave in
            teachers) for seed in 0 1 2 3 4; do advpicker $lang $layers $seed $teachers; done ;;
            first) advpicker $lang $layers 0 $students ;;
            rest) for seed in 1 2 3 4; do advpicker $lang $layers $seed $students; done ;;
            esac
        done; done | xargs -P 20 -L 1 bash -c 'log=$1; shift; job "$@" >"$out/$log.log" 2>&1' _
    done
    wait $tests
    for folder in $runs/runs/*/source_dev; do
        name=$(basename "$(dirname "$folder")")
        [ -f "$folder/results.md" ] && { echo "## $name"; cat "$folder/results.md"; } >>"$out/results.md"
    done
    runs_extra=""
    ;;
project)
    # project.yml's own sweeps, split by scripts/project_jobs.py into one process per split,
    # their corpus/ and assets/encoders/ paths pointing into .gpu
    [ -n "${2:-}" ] || { echo "project: name the project.yml commands, comma-separated"; exit 2; }
    runs=$gpu/project
    [ -e corpus ] || ln -s $gpu/corpus corpus
    [ -e assets/encoders ] || ln -s ../$gpu assets/encoders
    if [ -d $gpu/me5-zh-12l ]; then cut $gpu/me5-zh-12l $gpu/me5-zh-2l 2 || exit 1; fi
    commands="${2//,/ }"
    python3 scripts/project_jobs.py --var gpu_id=0 --reports $runs $commands >/tmp/gpu_jobs.txt || exit 2
    xargs -P 15 -L 1 bash -c 'log=$1; shift; job "$@" >"$out/$log.log" 2>&1' _ </tmp/gpu_jobs.txt
    wait $tests
    # the tables of every run finished (each job rewrote its sweep's; this once more, all in)
    python3 scripts/project_jobs.py --var gpu_id=0 --reports $runs --report-only $commands \
        | xargs -L 1 bash -c 'shift; "$@" >/dev/null' _
    for folder in $runs/*/; do
        [ -f "$folder/results.md" ] && { echo "## $(basename "$folder")"; cat "$folder/results.md"; } >>"$out/results.md"
    done
    tar_paths="."
    ;;
*)
    echo "unknown job set $jobset: encoder-floor, chars-6l, mix-12l, ratios-6l, datnet-wnut, datnet-es, advpicker or project"
    exit 2
    ;;
esac
tail -3 "$out/gpu_tests.log"
cat "$out/results.md"
tar -C "$runs" -czf "$out/runs.tgz" --exclude="model-*" --exclude="unlabeled.spacy" \
    --ignore-failed-read ${tar_paths:-runs configs ${runs_extra:-}}
echo "gpu_check: $(($(date +%s) - start)) s"
