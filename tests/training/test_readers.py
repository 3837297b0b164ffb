import json
import math
from collections import Counter
from importlib import metadata

import pytest
import spacy
from confection import Config, ConfigValidationError
from spacy.tokens import DocBin
from spacy.util import registry

from spacy_lowner.corpora.docs import tokens_only
from spacy_lowner.training.readers import (
    create_mixed_corpus,
    create_tagged_corpus,
    labeled_repeats,
)


def words(doc):
    return [(token.text, token.whitespace_) for token in doc]


def test_registered_and_resolvable_from_a_config(weibo_dir):
    assert registry.readers.get("spacy_lowner.TaggedCorpus.v1") is create_tagged_corpus
    config = {
        "corpus": {
            "@readers": "spacy_lowner.TaggedCorpus.v1",
            "path": str(weibo_dir / "weiboNER_2nd_conll.dev"),
            "format": "weibo",
            "limit": 3,
        }
    }
    corpus = registry.resolve(config)["corpus"]
    examples = list(corpus(spacy.blank("zh")))
    assert len(examples) == 3
    for eg in examples:
        assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
        assert not eg.predicted.has_annotation("ENT_IOB")
        assert eg.reference.has_annotation("ENT_IOB")


def test_weibo_dev_entities_and_nam_only(weibo_dir):
    path = weibo_dir / "weiboNER_2nd_conll.dev"
    nlp = spacy.blank("zh")
    assert sum(len(eg.reference.ents) for eg in create_tagged_corpus(path, "weibo")(nlp)) == 389
    nam = list(create_tagged_corpus(path, "weibo", nam_only=True)(nlp))
    assert sum(len(eg.reference.ents) for eg in nam) == 26 + 6 + 47 + 90


def test_conll_keeps_word_tokenization(shared_data):
    corpus = create_tagged_corpus(shared_data / "conll2003" / "valid.txt", "conll", limit=2)
    examples = list(corpus(spacy.blank("en")))
    assert examples[0].reference.text == "CRICKET - LEICESTERSHIRE TAKE OVER AT TOP AFTER INNINGS VICTORY ."
    assert examples[0].predicted.text == examples[0].reference.text
    assert [ent.label_ for ent in examples[0].reference.ents] == ["ORG"]


def test_unlabeled_text(tmp_path):
    path = tmp_path / "raw.txt"
    path.write_text("北京欢迎你\n", encoding="utf8")
    (eg,) = create_tagged_corpus(path, "text")(spacy.blank("zh"))
    assert len(eg.predicted) == 5
    assert not eg.reference.has_annotation("ENT_IOB")


# spacy_lowner.MixedCorpus.v1 ------------------------------------------------------------


@pytest.fixture
def mixed_files(weibo_docs, tmp_path):
    """Labeled: the first 60 WeiboNER train sentences. Unlabeled: the 32 dev sentences, as a
    DocBin that still has their entities (the reader must drop them), as text and as JSON lines."""
    _, train, dev = weibo_docs
    labeled = tmp_path / "labeled.spacy"
    DocBin(docs=train).to_disk(labeled)
    DocBin(docs=dev).to_disk(tmp_path / "unlabeled.spacy")
    (tmp_path / "unlabeled.txt").write_text("".join(doc.text + "\n\n" for doc in dev), encoding="utf8")
    rows = "".join(json.dumps({"text": doc.text}, ensure_ascii=False) + "\n" for doc in dev)
    (tmp_path / "unlabeled.jsonl").write_text(rows, encoding="utf8")
    return tmp_path


def split_kinds(examples):
    labeled = [eg for eg in examples if eg.reference.has_annotation("ENT_IOB")]
    unlabeled = [eg for eg in examples if not eg.reference.has_annotation("ENT_IOB")]
    return labeled, unlabeled


@pytest.mark.parametrize("repeat,n_labeled", [(1, 60), (3, 180), ("auto", 60)])
def test_mixed_counts_and_kinds(mixed_files, weibo_docs, repeat, n_labeled):
    corpus = create_mixed_corpus(mixed_files / "labeled.spacy", mixed_files / "unlabeled.spacy", repeat_labeled=repeat)
    examples = list(corpus(spacy.blank("zh")))
    labeled, unlabeled = split_kinds(examples)
    assert (len(labeled), len(unlabeled)) == (n_labeled, 32)
    train_texts = Counter(doc.text for doc in weibo_docs[1])
    assert Counter(eg.reference.text for eg in labeled) == Counter({t: n * n_labeled // 60 for t, n in train_texts.items()})
    assert sum(len(eg.reference.ents) for eg in labeled) == n_labeled // 60 * sum(len(doc.ents) for doc in weibo_docs[1])
    assert sorted(eg.reference.text for eg in unlabeled) == sorted(doc.text for doc in weibo_docs[2])
    for eg in examples:
        assert words(eg.predicted) == words(eg.reference)
        assert not eg.predicted.has_annotation("ENT_IOB")
    for eg in unlabeled:
        assert not eg.reference.ents


def test_auto_repeat_follows_gan_bert(mixed_files, weibo_docs):
    labeled = mixed_files / "few.spacy"
    DocBin(docs=weibo_docs[1][:4]).to_disk(labeled)
    corpus = create_mixed_corpus(labeled, mixed_files / "unlabeled.txt", repeat_labeled="auto")
    examples = list(corpus(spacy.blank("zh")))
    # labeled fraction 4 / 36: int(log2(9)) = 3
    assert [len(kind) for kind in split_kinds(examples)] == [12, 32]


@pytest.mark.parametrize(
    "n_labeled,n_unlabeled,repeats", [(1, 7, 3), (3, 21, 3), (1, 6, 2), (1, 3, 2), (1, 2, 1), (100, 0, 1), (10, 90, 3), (10, 300, 4)]
)
def test_labeled_repeats_auto(n_labeled, n_unlabeled, repeats):
    fraction = n_labeled / (n_labeled + n_unlabeled)
    assert labeled_repeats("auto", n_labeled, n_unlabeled) == repeats == max(1, int(math.log2(1 / fraction)))
    assert labeled_repeats(2, n_labeled, n_unlabeled) == 2


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".spacy"])
def test_unlabeled_formats(mixed_files, weibo_docs, suffix):
    nlp = spacy.blank("zh")
    corpus = create_mixed_corpus(mixed_files / "labeled.spacy", mixed_files / f"unlabeled{suffix}")
    labeled, unlabeled = split_kinds(list(corpus(nlp)))
    assert len(labeled) == 60
    assert sorted(eg.reference.text for eg in unlabeled) == sorted(doc.text for doc in weibo_docs[2])
    # A DocBin keeps its tokenization (a WeiboNER token can be an emoji of 2 code points);
    # text is tokenized by the pipeline.
    dev = weibo_docs[2] if suffix == ".spacy" else [nlp.make_doc(doc.text) for doc in weibo_docs[2]]
    assert sorted(words(eg.reference) for eg in unlabeled) == sorted(words(doc) for doc in dev)
    assert not any(eg.reference.ents or eg.reference.spans for eg in unlabeled)


def test_unlabeled_per_labeled_draws_a_seeded_subset(mixed_files):
    def unlabeled_texts(ratio, seed):
        corpus = create_mixed_corpus(
            mixed_files / "labeled.spacy", mixed_files / "unlabeled.jsonl", unlabeled_per_labeled=ratio, seed=seed
        )
        return sorted(eg.reference.text for eg in split_kinds(list(corpus(spacy.blank("zh"))))[1])

    subset = unlabeled_texts(0.25, seed=1)
    assert len(subset) == 15  # round(0.25 * 60)
    assert len(set(subset)) == 15
    assert unlabeled_texts(0.25, seed=1) == subset
    assert unlabeled_texts(0.25, seed=2) != subset
    assert len(unlabeled_texts(2.0, seed=1)) == 32  # at most all of them
    assert len(unlabeled_texts(0, seed=1)) == 32  # 0: all of them


def test_labeled_and_unlabeled_are_interleaved(mixed_files):
    corpus = create_mixed_corpus(mixed_files / "labeled.spacy", mixed_files / "unlabeled.spacy", seed=3)
    nlp = spacy.blank("zh")
    first = [eg.reference.has_annotation("ENT_IOB") for eg in corpus(nlp)]
    # Not all labeled first: unlabeled examples turn up all along, in both halves.
    half = len(first) // 2
    assert set(first[:10]) == {True, False}
    assert 0 < first[:half].count(False) < half and 0 < first[half:].count(False) < half
    # Each pass is a new shuffle, and the sequence of passes is fixed by the seed.
    second = [eg.reference.text for eg in corpus(nlp)]
    again = create_mixed_corpus(mixed_files / "labeled.spacy", mixed_files / "unlabeled.spacy", seed=3)
    assert [eg.reference.has_annotation("ENT_IOB") for eg in again(nlp)] == first
    assert [eg.reference.text for eg in again(nlp)] == second
    assert [eg.reference.has_annotation("ENT_IOB") for eg in corpus(nlp)] != first


def test_without_unlabeled_it_is_the_labeled_file_in_order(mixed_files, weibo_docs):
    for unlabeled in (None, ""):
        corpus = create_mixed_corpus(mixed_files / "labeled.spacy", unlabeled, repeat_labeled=2)
        texts = [eg.reference.text for eg in corpus(spacy.blank("zh"))]
        assert texts == [doc.text for doc in weibo_docs[1]] * 2


def test_max_length_skips_long_docs(mixed_files, weibo_docs):
    corpus = create_mixed_corpus(mixed_files / "labeled.spacy", mixed_files / "unlabeled.spacy", max_length=30)
    labeled, unlabeled = split_kinds(list(corpus(spacy.blank("zh"))))
    assert len(labeled) == sum(len(doc) <= 30 for doc in weibo_docs[1]) == 26
    assert len(unlabeled) == sum(len(doc) <= 30 for doc in weibo_docs[2]) < 32
    assert max(len(eg.reference) for eg in labeled + unlabeled) <= 30


def test_mixed_corpus_errors(mixed_files, weibo_docs):
    labeled = mixed_files / "labeled.spacy"
    # Raised while the config is resolved, as spaCy's own config errors: `spacy train` prints one block.
    with pytest.raises(ConfigValidationError, match="missing.spacy does not exist"):
        create_mixed_corpus(mixed_files / "missing.spacy")
    with pytest.raises(ConfigValidationError, match="missing.txt does not exist"):
        create_mixed_corpus(labeled, mixed_files / "missing.txt")
    with pytest.raises(ConfigValidationError, match="is a folder, not a file"):
        create_mixed_corpus(labeled, mixed_files)
    (mixed_files / "raw.csv").write_text("a\n", encoding="utf8")
    with pytest.raises(ConfigValidationError, match="must be .spacy, .txt, .jsonl"):
        create_mixed_corpus(labeled, mixed_files / "raw.csv")
    for bad in ("often", "3", 0, -1, True, 1.5):
        with pytest.raises(ConfigValidationError, match="repeat_labeled must be an integer >= 1 or 'auto'"):
            create_mixed_corpus(labeled, repeat_labeled=bad)
    # A labeled file whose docs have no entity annotation is a mix-up, not silently unlabeled.
    plain = mixed_files / "plain.spacy"
    DocBin(docs=[tokens_only(doc) for doc in weibo_docs[2]]).to_disk(plain)
    with pytest.raises(ConfigValidationError, match="doc 1 of .*plain.spacy has no entity annotation"):
        create_mixed_corpus(plain, mixed_files / "unlabeled.txt")
    (mixed_files / "not-a-docbin.spacy").write_text("text\n", encoding="utf8")
    with pytest.raises(ConfigValidationError, match="not-a-docbin.spacy: "):
        create_mixed_corpus(mixed_files / "not-a-docbin.spacy")


@pytest.mark.parametrize("name,content", [("empty.txt", ""), ("blank.txt", "\n  \n"), ("empty.jsonl", "\n")])
def test_unlabeled_text_without_docs_is_an_error(mixed_files, name, content):
    (mixed_files / name).write_text(content, encoding="utf8")
    with pytest.raises(ConfigValidationError, match=f"{name} holds no text"):
        create_mixed_corpus(mixed_files / "labeled.spacy", mixed_files / name)


def test_tagged_corpus_checks_its_file_before_training(tmp_path):
    with pytest.raises(ConfigValidationError, match="missing.conll does not exist"):
        create_tagged_corpus(tmp_path / "missing.conll", "conll")
    with pytest.raises(ConfigValidationError, match="is a folder, not a file"):
        create_tagged_corpus(tmp_path, "conll")
    (tmp_path / "x.conll").write_text("a O\n", encoding="utf8")
    with pytest.raises(ConfigValidationError, match="unknown format 'iob'"):
        create_tagged_corpus(tmp_path / "x.conll", "iob")


def test_mixed_corpus_from_a_training_config(mixed_files):
    entry_points = {ep.name: ep.value for ep in metadata.entry_points(group="spacy_readers")}
    assert entry_points["spacy_lowner.MixedCorpus.v1"] == "spacy_lowner.training.readers:create_mixed_corpus"
    assert registry.readers.get("spacy_lowner.MixedCorpus.v1") is create_mixed_corpus
    config = Config().from_str(
        f"""
        [paths]
        train = "{mixed_files / 'labeled.spacy'}"
        unlabeled = "{mixed_files / 'unlabeled.txt'}"

        [corpora]

        [corpora.train]
        @readers = "spacy_lowner.MixedCorpus.v1"
        path = ${{paths.train}}
        unlabeled = ${{paths.unlabeled}}
        repeat_labeled = "auto"
        unlabeled_per_labeled = 0.5
        seed = 7
        """
    )
    train = registry.resolve(config["corpora"])["train"]
    labeled, unlabeled = split_kinds(list(train(spacy.blank("zh"))))
    assert (len(labeled), len(unlabeled)) == (60, 30)  # 60 / 90 labeled: log2(1.5) < 1


def test_readers_set_the_domain_channel(mixed_files, weibo_docs):
    from spacy_lowner.model.channels import doc_domain, set_domain

    corpus = create_mixed_corpus(mixed_files / "labeled.spacy", mixed_files / "unlabeled.txt", domain="source", unlabeled_domain="target")
    labeled, unlabeled = split_kinds(list(corpus(spacy.blank("zh"))))
    assert {doc_domain(eg.reference) for eg in labeled} == {"source"}
    assert {doc_domain(eg.reference) for eg in unlabeled} == {"target"}
    # a domain the DocBin's docs carry is kept when the reader sets none
    tagged = mixed_files / "tagged.spacy"
    DocBin(store_user_data=True, docs=[set_domain(tokens_only(doc), "es") for doc in weibo_docs[2]]).to_disk(tagged)
    _, unlabeled = split_kinds(list(create_mixed_corpus(mixed_files / "labeled.spacy", tagged)(spacy.blank("zh"))))
    assert {doc_domain(eg.reference) for eg in unlabeled} == {"es"}
    conll = mixed_files / "x.conll"
    conll.write_text("Madrid B-LOC\n", encoding="utf8")
    (eg,) = create_tagged_corpus(conll, "conll", domain="es")(spacy.blank("es"))
    assert doc_domain(eg.reference) == "es"
