#!/usr/bin/env bash
# What scripts/gpu_check.sh needs on a lent GPU machine, packed into .gpu/ (git ignores it) so
# that it travels in one call of the device tool (64 MiB at most, carried as `.gpu`):
#   site.tar.xz         spaCy's stack for the machine's Python 3.12 (it has torch, CuPy and
#                       pytest, but no spaCy and a transformers too new for spacy-transformers):
#                       the wheels installed into a folder, extension modules stripped,
#                       transformers' model code cut to the BERT / XLM-R families (every
#                       family's configuration module stays, so that the Auto classes work);
#                       88 MB unpacked, 16 MB packed
#   me5-zh-12l.tar.xz   the 12-layer offline encoder in float16 (its weights come from 4-bit
#                       ones, so they compress: 78 MB, 35 MB packed); the check cuts the 6-layer
#                       default and a 1-layer test encoder from it there (the same weights as
#                       `encoder build me5-zh --layers N`, in float16)
#   data/weibo, corpus/weibo/{train,dev,test}.spacy, spacy_lowner.egg-info (the entry points)
#   corpus/{conll2003,wnut17,conll2002_es}/*.spacy where convert-conll made them (7 MB, DATNet)
#   With the argument datnet-es: me5-en-es-2l.tar.xz (the 2-layer en-es encoder in float16) in
#   place of me5-zh-12l.tar.xz, which would not fit beside it.
#   With crosslingual: me5-en-zh-2l.tar.xz (the encoder of the crosslingual-weibo commands, 2
#   layers, the vocabulary of WeiboNER and CoNLL-2003, float16: 51 MB, 22 MB packed) in place
#   of me5-zh-12l.tar.xz, for `gpu_check.sh project crosslingual-weibo,...`.
#   corpus/cluener/{train,dev,test,unlabeled}.spacy where convert-cluener made them (kl-phase-cluener).
#   With advpicker-es or advpicker-nl: me5-conll-LANG-6l.tar.xz (6 layers, the vocabulary of
#   CoNLL-2003 and CoNLL-2002 LANG, float16; gpu_check.sh advpicker cuts the 2-layer one from it)
#   in place of me5-zh-12l.tar.xz: one language a pack, as two would not fit in 64 MiB (es: 53 MB,
#   23.5 MB packed, built in 73 s and packed in 2.5 min on the 2-core CPU).
# Run from the repository root after `spacy project run convert` (a few minutes, mostly xz).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f corpus/weibo/train.spacy ] || { echo "corpus/weibo/*.spacy missing: run 'spacy project run convert' first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p .gpu
wheels=(spacy==3.8.18 thinc==8.3.14 spacy-transformers==1.4.0 spacy-alignments==0.9.3 srsly==2.5.6
    cymem==2.0.16 preshed==3.0.15 murmurhash==1.0.16 blis==1.3.4 catalogue==2.0.10 confection==1.3.4
    wasabi==1.1.3 weasel==1.0.1 cloudpathlib==0.26.0 smart_open==9.0.2 spacy-legacy==3.0.12
    spacy-loggers==1.0.5 pydantic==2.13.4 pydantic_core==2.46.4 annotated-types==0.8.0
    typing-inspection==0.4.2 typing_extensions==4.16.0 transformers==4.53.2 tokenizers==0.21.4 huggingface_hub==0.36.2)
platforms=()
for p in manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 manylinux1 manylinux_2_5; do
    platforms+=(--platform "${p}_x86_64")
done
pip download -q --no-deps --only-binary=:all: --python-version 3.12 "${platforms[@]}" --platform any -d "$work/wheels" "${wheels[@]}"
pip install -q --no-deps --no-compile --only-binary=:all: --python-version 3.12 "${platforms[@]}" --platform any \
    --target "$work/site" "$work"/wheels/*.whl
(
    cd "$work/site"
    rm -rf spacy/tests thinc/tests
    find . \( -name "*.pyx" -o -name "*.pxd" -o -name "*.cpp" -o -name "*.c" -o -name "*.h" \) -delete
    find . -name "*.so" -exec strip --strip-unneeded {} \;
    for family in transformers/models/*/; do
        case $family in
            */bert/ | */auto/ | */xlm_roberta/ | */roberta/ | */encoder_decoder/) ;;
            *) find "$family" -type f ! -name "__init__.py" ! -name "configuration_*.py" -delete ;;
        esac
    done
)
tar -C "$work" -cJf .gpu/site.tar.xz site
rm -f .gpu/me5-*.tar.xz  # one encoder a pack: two would not fit in 64 MiB
case "${1:-}" in
datnet-es)  # gpu_check.sh datnet-es: the en-es encoder
    python -m spacy_lowner encoder build me5 "$work/me5-en-es-2l" --layers 2 --half \
        --corpus corpus/conll2003/train.spacy --corpus corpus/conll2002_es/train.spacy
    tar -C "$work" -cf - me5-en-es-2l | xz -T2 -6 >.gpu/me5-en-es-2l.tar.xz
    ;;
crosslingual)  # gpu_check.sh project crosslingual-weibo,...: the en-zh encoder
    [ -f corpus/conll2003/train.spacy ] || { echo "corpus/conll2003 missing: run 'spacy project run convert-conll' first" >&2; exit 1; }
    python -m spacy_lowner encoder build me5-zh "$work/me5-en-zh-2l" --layers 2 --half \
        --corpus corpus/conll2003/train.spacy --corpus corpus/weibo/train.spacy
    tar -C "$work" -cf - me5-en-zh-2l | xz -T2 -6 >.gpu/me5-en-zh-2l.tar.xz
    ;;
advpicker-es | advpicker-nl)  # gpu_check.sh advpicker: one target language's encoder
    lang=${1#advpicker-}
    [ -f corpus/conll2002_$lang/train.spacy ] || { echo "corpus/conll2002_$lang missing: run 'spacy project run convert-conll' first" >&2; exit 1; }
    python -m spacy_lowner encoder build me5 "$work/me5-conll-$lang-6l" --layers 6 --half \
        --corpus corpus/conll2003/train.spacy --corpus corpus/conll2002_$lang/train.spacy
    tar -C "$work" -cf - me5-conll-$lang-6l | xz -T2 -6 >.gpu/me5-conll-$lang-6l.tar.xz
    ;;
*)
    python -m spacy_lowner encoder build me5-zh "$work/me5-zh-12l" --layers 12 --half
    tar -C "$work" -cf - me5-zh-12l | xz -T2 -6 >.gpu/me5-zh-12l.tar.xz
    ;;
esac
rm -rf .gpu/data .gpu/corpus .gpu/spacy_lowner.egg-info
mkdir -p .gpu/data .gpu/corpus/weibo
cp -r "${LOWNER_SHARED_DATA:-../shared/data}/weibo" .gpu/data/
cp corpus/weibo/{train,dev,test}.spacy .gpu/corpus/weibo/
for name in conll2003 wnut17 conll2002_es conll2002_nl; do  # gpu_check.sh datnet-*, advpicker: `spacy project run convert-conll` writes them
    if [ -d corpus/$name ]; then mkdir -p .gpu/corpus/$name && cp corpus/$name/{train,dev,test}.spacy .gpu/corpus/$name/; fi
done
if [ -d corpus/cluener ]; then  # gpu_check.sh project kl-phase-cluener: `spacy project run convert-cluener`
    mkdir -p .gpu/corpus/cluener && cp corpus/cluener/{train,dev,test,unlabeled}.spacy .gpu/corpus/cluener/
fi
cp -r spacy_lowner.egg-info .gpu/
du -sh .gpu
# what the device tool carries: 64 MiB at most
[ "$(du -sm .gpu | cut -f1)" -le 64 ] || { echo ".gpu is over the device tool's 64 MiB: it would not travel" >&2; exit 1; }
