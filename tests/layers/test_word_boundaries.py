import sys

import pytest
import spacy
from spacy.tokens import Doc
from spacy.training import Example

from spacy_lowner.layers.word_boundaries import boundary_tags, load_segmenter, with_word_boundaries


def chars(text):
    nlp = spacy.blank("zh")
    return nlp.make_doc(text)


def offsets(*words):
    spans, position = [], 0
    for word in words:
        spans.append((position, position + len(word)))
        position += len(word)
    return spans


def test_tags_on_hand_made_segmentations():
    # 我们 / 在 / 北京市 / 见到 / 了
    assert boundary_tags(chars("我们在北京市见到了"), offsets("我们", "在", "北京市", "见到", "了")) == list("BESBMEBES")


def test_latin_digits_emoji_and_whitespace():
    vocab = spacy.blank("zh").vocab
    # spaCy's Chinese character tokenizer keeps the letters of a Latin word together in one
    # token only when told so; here the doc is built by hand: "iPhone", "12", " ", "😀", "好"
    doc = Doc(vocab, words=["iPhone", "1", "2", " ", "😀", "好"], spaces=[False] * 6)
    words = [(0, 6), (6, 8), (8, 9), (9, 10), (10, 11)]
    assert boundary_tags(doc, words) == ["S", "B", "E", "X", "S", "S"]
    # characters no word covers, and a token longer than its word
    assert boundary_tags(Doc(vocab, words=["a", "b"], spaces=[False, False]), [(0, 1)]) == ["S", "X"]
    assert boundary_tags(Doc(vocab, words=["abc"], spaces=[False]), [(0, 1), (1, 3)]) == ["S"]


def test_jieba_segments_and_caches():
    segment = load_segmenter("jieba")
    text = "我们在北京见到了周杰伦"
    words = segment(text)
    assert words[0] == (0, 2) and words[-1] == (8, 11)
    assert segment(text) is words
    assert boundary_tags(chars(text), words)[-3:] == ["B", "M", "E"]


def test_a_missing_segmenter_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jieba", None)
    with pytest.raises(ImportError, match=r"pip install 'spacy-lowner\[segment\]'"):
        load_segmenter("jieba")
    with pytest.raises(ValueError, match="unknown segmenter 'thulac'"):
        load_segmenter("thulac")


def test_the_layer_widens_any_tok2vec_and_trains(weibo_docs, small_cnn):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    tok2vec = {"@architectures": "spacy_lowner.WithWordBoundaries.v1", "tok2vec": small_cnn, "width": 8}
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": tok2vec}})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]]
    optimizer = nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("lowner_ner")
    assert ner.head.input_width == 32 + 8
    embed = ner.model.get_ref("tok2vec").layers[1].layers[1].layers[0]
    before = embed.get_param("E").copy()
    nlp.update(examples, sgd=optimizer)
    assert (embed.get_param("E") != before).any()
    assert nlp("").ents == () and len(nlp("我们在北京")) == 5


def test_unknown_segmenter_in_the_config():
    with pytest.raises(ValueError, match="unknown segmenter"):
        with_word_boundaries(None, segmenter="pkuseg")
