import json
import math
from collections import Counter
from importlib import metadata

import pytest
import spacy
from confection import Config, ConfigValidationError
from spacy.tokens import DocBin
from spacy.training import Example
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


# spacy_lowner.MultiCorpus.v1 ------------------------------------------------------------


def first_docs(shared_data, path, n, lang="en"):
    from itertools import islice

    from spacy_lowner.corpora.convert import read_docs

    return list(islice(read_docs("conll", shared_data / path, spacy.blank(lang)), n))


@pytest.fixture(scope="module")
def two_corpora(shared_data, tmp_path_factory):
    """DocBins of the first 50 CoNLL-2003 train sentences (source), the first 20 WNUT-17 train
    sentences (target) and the first 10 WNUT-17 dev sentences (the target's dev set); and the
    first 20 train and 10 dev sentences of CoNLL-2002 Spanish (a target with CoNLL-2003's types)."""
    folder = tmp_path_factory.mktemp("two_corpora")
    for name, path, n in [
        ("source", "conll2003/train.txt", 50),
        ("target", "wnut17/wnut17train.conll", 20),
        ("dev", "wnut17/emerging.dev.conll", 10),
        ("es_train", "conll2002_es/esp.train", 20),
        ("es_dev", "conll2002_es/esp.testa", 10),
    ]:
        DocBin(docs=first_docs(shared_data, path, n)).to_disk(folder / f"{name}.spacy")
    return folder


def domains_of(examples):
    from spacy_lowner.model.channels import doc_domain

    return Counter(doc_domain(eg.reference) for eg in examples)


def test_multi_corpus_gives_each_doc_its_domain_and_strips_unlabeled_corpora(shared_data, two_corpora):
    from spacy_lowner.model.channels import doc_domain
    from spacy_lowner.training.readers import create_multi_corpus

    corpus = create_multi_corpus(
        {
            "source": {"path": two_corpora / "source.spacy"},
            "target": {"path": shared_data / "wnut17" / "wnut17train.conll", "format": "conll", "limit": 20},
            # a labeled corpus read as unlabeled text: its entities must not reach training
            "es": {"path": shared_data / "conll2002_es" / "esp.testa", "format": "conll", "labeled": False, "limit": 15},
        }
    )
    examples = list(corpus(spacy.blank("en")))
    assert domains_of(examples) == {"source": 50, "target": 20, "es": 15}
    by_domain = {name: [eg for eg in examples if doc_domain(eg.reference) == name] for name in ("source", "target", "es")}
    for eg in examples:
        assert words(eg.predicted) == words(eg.reference)
        assert not eg.predicted.has_annotation("ENT_IOB")
        assert doc_domain(eg.predicted) == doc_domain(eg.reference)  # a model predicting by domain sees it
    for name, path, n in [("source", "conll2003/train.txt", 50), ("target", "wnut17/wnut17train.conll", 20)]:
        gold = first_docs(shared_data, path, n)
        assert all(eg.reference.has_annotation("ENT_IOB") for eg in by_domain[name])
        assert sorted((eg.reference.text, str(eg.reference.ents)) for eg in by_domain[name]) == sorted(
            (doc.text, str(doc.ents)) for doc in gold
        )
    spanish = first_docs(shared_data, "conll2002_es/esp.testa", 15, lang="es")
    assert sum(len(doc.ents) for doc in spanish) > 0
    assert sorted(eg.reference.text for eg in by_domain["es"]) == sorted(doc.text for doc in spanish)
    assert not any(eg.reference.has_annotation("ENT_IOB") or eg.reference.ents for eg in by_domain["es"])


def test_multi_corpus_shuffles_each_pass_reproducibly_and_keeps_file_order_without_shuffle(two_corpora):
    from spacy_lowner.training.readers import create_multi_corpus

    blocks = {"source": {"path": two_corpora / "source.spacy"}, "target": {"path": two_corpora / "target.spacy"}}
    nlp = spacy.blank("en")
    corpus = create_multi_corpus(blocks, seed=3)
    first, second = ([eg.reference.text for eg in corpus(nlp)] for _ in range(2))
    assert first != second and sorted(first) == sorted(second)
    again = create_multi_corpus(blocks, seed=3)
    assert [eg.reference.text for eg in again(nlp)] == first
    assert [eg.reference.text for eg in again(nlp)] == second
    # streamed training initializes on the first examples: both corpora are among them
    assert set(domains_of(list(corpus(nlp))[:20])) == {"source", "target"}
    in_order = create_multi_corpus(blocks, shuffle=False)
    source = [doc.text for doc in DocBin().from_disk(two_corpora / "source.spacy").get_docs(nlp.vocab)]
    target = [doc.text for doc in DocBin().from_disk(two_corpora / "target.spacy").get_docs(nlp.vocab)]
    assert [eg.reference.text for eg in in_order(nlp)] == source + target


def test_multi_corpus_limit_repeat_and_max_length(two_corpora):
    from spacy_lowner.model.channels import doc_domain
    from spacy_lowner.training.readers import create_multi_corpus

    nlp = spacy.blank("en")
    source = list(DocBin().from_disk(two_corpora / "source.spacy").get_docs(nlp.vocab))
    short = [doc.text for doc in source if len(doc) <= 10]
    assert 5 < len(short) < 50
    corpus = create_multi_corpus(
        {"source": {"path": two_corpora / "source.spacy", "limit": 5, "repeat": 3}, "target": {"path": two_corpora / "target.spacy"}},
        shuffle=False,
        max_length=10,
    )
    examples = list(corpus(nlp))
    # limit counts the docs max_length keeps; each of them three times
    assert [eg.reference.text for eg in examples if doc_domain(eg.reference) == "source"] == short[:5] * 3
    assert max(len(eg.reference) for eg in examples) <= 10


@pytest.mark.parametrize(
    "block,setting,message",
    [
        ({"path": "missing.spacy"}, "corpora.target.path", "missing.spacy does not exist"),
        ({"path": None}, "corpora.target.path", "the corpus file is not set"),
        ({"path": "target.spacy", "domain": "x"}, "corpora.target.domain", "unknown setting; a corpus takes path, labeled"),
        ({"path": "target.spacy", "labeled": "yes"}, "corpora.target.labeled", "must be true or false"),
        ({"path": "target.spacy", "format": "iob"}, "corpora.target.format", "unknown format 'iob'"),
        ({"path": "target.spacy", "format": "conll"}, "corpora.target.format", "is a DocBin, which takes no format"),
        ({"path": "raw.conll"}, "corpora.target.format", r"raw.conll: give its format \(weibo, conll"),
        ({"path": "raw.txt"}, "corpora.target.labeled", "raw.txt is read as unlabeled text; set labeled = false"),
        ({"path": "raw.conll", "format": "jsonl"}, "corpora.target.labeled", "is read as unlabeled text"),
        ({"path": "plain.spacy"}, "corpora.target.path", "doc 1 of .*plain.spacy has no entity annotation; set labeled = false"),
        ({"path": "raw.txt", "labeled": False, "limit": -1}, "corpora.target.limit", "must be an integer >= 0, got -1"),
        ({"path": "target.spacy", "repeat": 0}, "corpora.target.repeat", "must be an integer >= 1, got 0"),
        ({"path": "target.spacy", "repeat": True}, "corpora.target.repeat", "must be an integer >= 1, got True"),
    ],
)
def test_multi_corpus_settings_are_checked_before_training(shared_data, two_corpora, tmp_path, block, setting, message):
    from spacy_lowner.training.readers import create_multi_corpus

    (tmp_path / "raw.txt").write_text("some text\n", encoding="utf8")
    (tmp_path / "raw.conll").write_text("Madrid B-LOC\n", encoding="utf8")
    (tmp_path / "target.spacy").write_bytes((two_corpora / "target.spacy").read_bytes())
    DocBin(docs=[tokens_only(doc) for doc in first_docs(shared_data, "wnut17/emerging.dev.conll", 3)]).to_disk(tmp_path / "plain.spacy")
    if block["path"] is not None:
        block = {**block, "path": tmp_path / block["path"]}
    with pytest.raises(ConfigValidationError, match=message) as error:
        create_multi_corpus({"source": {"path": two_corpora / "source.spacy"}, "target": block})
    assert str(error.value).splitlines()[-1].startswith(setting)


def test_multi_corpus_needs_corpora_and_each_must_give_docs(two_corpora, tmp_path):
    from spacy_lowner.training.readers import create_multi_corpus

    with pytest.raises(ConfigValidationError, match="no corpus given"):
        create_multi_corpus({})
    with pytest.raises(ConfigValidationError, match="must be >= 0"):
        create_multi_corpus({"target": {"path": two_corpora / "target.spacy"}}, max_length=-1)
    # Text without a line of text is found when the reader is created...
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n", encoding="utf8")
    with pytest.raises(ConfigValidationError, match=r"corpora.raw.path\t.*blank.txt holds no text"):
        create_multi_corpus({"target": {"path": two_corpora / "target.spacy"}, "raw": {"path": blank, "labeled": False}})
    # ...a corpus file's bad line when it is read (spaCy's initialize), as a setting error naming
    # the block and the line.
    broken = tmp_path / "broken.conll"
    broken.write_text("Madrid B-LOC\nes X-LOC\n", encoding="utf8")
    corpus = create_multi_corpus({"target": {"path": broken, "format": "conll"}})
    with pytest.raises(ConfigValidationError, match=r"corpora.target.path\t.*broken.conll:2: "):
        list(corpus(spacy.blank("en")))


def test_multi_corpus_from_a_training_config(two_corpora):
    from spacy_lowner.training.readers import create_multi_corpus

    entry_points = {ep.name: ep.value for ep in metadata.entry_points(group="spacy_readers")}
    assert entry_points["spacy_lowner.MultiCorpus.v1"] == "spacy_lowner.training.readers:create_multi_corpus"
    assert registry.readers.get("spacy_lowner.MultiCorpus.v1") is create_multi_corpus
    config = Config().from_str(
        f"""
        [paths]
        source = "{two_corpora / 'source.spacy'}"
        train = "{two_corpora / 'target.spacy'}"

        [corpora]

        [corpora.train]
        @readers = "spacy_lowner.MultiCorpus.v1"
        seed = 0

        [corpora.train.corpora]

        [corpora.train.corpora.source]
        path = ${{paths.source}}
        labeled = true
        limit = 30

        [corpora.train.corpora.target]
        path = ${{paths.train}}
        labeled = true
        """
    )
    train = registry.resolve(config["corpora"])["train"]
    assert domains_of(train(spacy.blank("en"))) == {"source": 30, "target": 20}


def test_tagged_corpus_puts_the_domain_on_the_predicted_doc_too(shared_data):
    from spacy_lowner.model.channels import doc_domain

    corpus = create_tagged_corpus(shared_data / "wnut17" / "emerging.dev.conll", "conll", limit=3, domain="target")
    assert [(doc_domain(eg.reference), doc_domain(eg.predicted)) for eg in corpus(spacy.blank("en"))] == [("target", "target")] * 3


def test_two_corpora_training_run_and_its_dev_set_of_one_domain(two_corpora, tmp_path):
    """`spacy train` of configs/conll_en_cnn.cfg composed with configs/parts/two_corpora.cfg (a tiny
    CNN, 5 steps) on 50 CoNLL-2003 English sentences (source) and 20 CoNLL-2002 Spanish ones
    (target), chosen on 10 Spanish dev sentences. The two have the same entity types, so one
    label set serves both (WNUT-17's types differ: label sets per domain)."""
    from pathlib import Path

    from spacy.cli.train import train
    from spacy.training import Example
    from spacy.util import load_config

    from spacy_lowner.model.channels import doc_domain
    from spacy_lowner.model.scoring import count_entities, score_entities
    from spacy_lowner.training.compose import compose

    root = Path(__file__).resolve().parents[2]
    config = tmp_path / "config.cfg"
    config.write_text(compose(root / "configs" / "conll_en_cnn.cfg", [root / "configs" / "parts" / "two_corpora.cfg"]), encoding="utf8")
    overrides = {
        "paths.source": str(two_corpora / "source.spacy"),
        "paths.train": str(two_corpora / "es_train.spacy"),
        "paths.dev": str(two_corpora / "es_dev.spacy"),
        "components.tok2vec.model.embed.width": 32,
        "components.tok2vec.model.embed.rows": [500, 100, 200, 200],
        "components.tok2vec.model.encode.width": 32,
        "components.tok2vec.model.encode.depth": 1,
        "training.batcher.size": 200,
        "training.max_steps": 5,
        "training.eval_frequency": 5,
    }
    train(config, tmp_path / "output", overrides=overrides)
    nlp = spacy.load(tmp_path / "output" / "model-last")
    assert set(nlp.get_pipe("lowner_ner").labels) == {"PER", "ORG", "LOC", "MISC"}
    assert "ents_f" in nlp.meta["performance"]

    # The dev reader: the target's dev docs only, domain "target" on the predicted docs too, file order.
    dev_reader = registry.resolve(load_config(config, overrides=overrides).interpolate()["corpora"])["dev"]
    dev = list(dev_reader(nlp))
    gold = list(DocBin().from_disk(two_corpora / "es_dev.spacy").get_docs(nlp.vocab))
    assert [eg.reference.text for eg in dev] == [doc.text for doc in gold]
    assert {(doc_domain(eg.reference), doc_domain(eg.predicted)) for eg in dev} == {("target", "target")}
    # What is scored: the gold entities of the Spanish dev docs, nothing else.
    predicted = [Example(doc, eg.reference) for doc, eg in zip(nlp.pipe(eg.predicted.copy() for eg in dev), dev)]
    gold_counts = {label: prf.tp + prf.fn for label, prf in count_entities(predicted).items() if prf.tp + prf.fn}
    assert gold_counts == Counter(ent.label_ for doc in gold for ent in doc.ents)
    assert nlp.evaluate(dev)["ents_f"] == score_entities(predicted)["ents_f"] is not None


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("bad.txt", "我们在北京\n".encode("utf8") + b"\xe9t\xe9\n", r"bad.txt:2: not valid UTF-8 \(byte b'\\xe9' at column 1\)"),
        ("bad.txt", "我们\n".encode("utf8") * 5000 + b"\x00\x00\n", "bad.txt:5001: NUL byte at column 1"),
        ("bad.jsonl", '{"text": "北京"}\n\n{"text": 3}\n'.encode("utf8"), 'bad.jsonl:3: expected a JSON object with a string "text"'),
    ],
)
def test_a_bad_unlabeled_line_stops_the_reader_before_training(mixed_files, name, content, message):
    # Past its first line: the file used to be read only up to its first text here, and the bad
    # line raised from inside `spacy train`; now it is a setting error when the reader is made.
    (mixed_files / name).write_bytes(content)
    with pytest.raises(ConfigValidationError, match=message):
        create_mixed_corpus(mixed_files / "labeled.spacy", mixed_files / name)


def test_multi_corpus_finds_a_bad_line_of_unlabeled_text_when_it_is_created(tmp_path):
    from spacy_lowner.training.readers import create_multi_corpus

    raw = tmp_path / "raw.txt"
    raw.write_bytes("一行\n".encode("utf8") + b"\xe9\n")
    with pytest.raises(ConfigValidationError, match=r"raw.txt:2: not valid UTF-8"):
        create_multi_corpus(corpora={"target": {"path": raw, "labeled": False}})


# The label bridge: a MultiCorpus block's `labels` -------------------------------------------

CONLL_TO_WEIBO = {"PER": "PER.NAM", "ORG": "ORG.NAM", "LOC": "GPE.NAM", "MISC": ""}


def test_the_label_bridge_maps_types_and_drops_misc_to_unknown_tags(two_corpora):
    from spacy_lowner.training.readers import create_multi_corpus

    nlp = spacy.blank("en")
    gold = list(DocBin().from_disk(two_corpora / "source.spacy").get_docs(nlp.vocab))
    corpus = create_multi_corpus({"source": {"path": two_corpora / "source.spacy", "labels": CONLL_TO_WEIBO}}, shuffle=False)
    bridged = [eg.reference for eg in corpus(nlp)]
    assert [doc.text for doc in bridged] == [doc.text for doc in gold]
    renamed = {"PER": "PER.NAM", "ORG": "ORG.NAM", "LOC": "GPE.NAM"}
    for before, after in zip(gold, bridged):
        kept = [(e.start, e.end, renamed[e.label_]) for e in before.ents if e.label_ != "MISC"]
        assert [(e.start, e.end, e.label_) for e in after.ents] == kept
        misc = {i for e in before.ents if e.label_ == "MISC" for i in range(e.start, e.end)}
        # MISC's tokens are neither O nor a type (missing: the CRF sums over them); the rest as before
        assert [i for i, token in enumerate(after) if token.ent_iob_ == ""] == sorted(misc)
        assert all(after[i].ent_iob_ == "O" for i, token in enumerate(before) if token.ent_iob_ == "O")
        assert after.has_annotation("ENT_IOB")
    assert sum(e.label_ == "MISC" for doc in gold for e in doc.ents) > 5  # the 50 sentences have some to drop
    aligned = Example(tokens_only(bridged[0]), bridged[0]).get_aligned_ner()
    assert [tag for tag, token in zip(aligned, gold[0]) if token.ent_type_ == "MISC"] == [None, None]  # "German", "British"


def test_the_label_bridge_refuses_an_unknown_type_naming_the_file(two_corpora):
    from spacy_lowner.training.readers import create_multi_corpus

    corpus = create_multi_corpus({"source": {"path": two_corpora / "source.spacy", "labels": {"PER": "PER.NAM", "ORG": "ORG.NAM", "MISC": ""}}})
    with pytest.raises(ConfigValidationError) as error:
        list(corpus(spacy.blank("en")))
    assert str(error.value).splitlines()[-1] == (
        f"corpora.source.labels\t{two_corpora / 'source.spacy'}: doc 3: entity type 'LOC' is not in the label bridge "
        '(PER, ORG, MISC); add it to the block, renamed to a type or to "" to drop it'
    )


@pytest.mark.parametrize(
    "block,message",
    [
        ({"labels": {"PER": 1}}, r'corpora.source.labels\tmust be a block of TYPE = "NEW_TYPE" \(or "" to drop it\), got'),
        ({"labels": "conll"}, "corpora.source.labels\tmust be a block of TYPE"),
        ({"labels": {"PER": "PER.NAM"}, "labeled": False}, r"corpora.source.labels\trenames entity types, but the corpus is unlabeled"),
    ],
)
def test_the_label_bridge_is_checked_before_training(two_corpora, block, message):
    from spacy_lowner.training.readers import create_multi_corpus

    with pytest.raises(ConfigValidationError, match=message):
        create_multi_corpus({"source": {"path": two_corpora / "source.spacy", **block}})


def test_the_partial_config_holds_this_bridge():
    from pathlib import Path

    from spacy_lowner.training.compose import compose

    configs = Path(__file__).resolve().parents[2] / "configs"
    text = compose(configs / "weibo_cnn.cfg", [configs / "parts" / name for name in ("two_corpora.cfg", "label_bridge_conll_weibo.cfg")])
    assert Config().from_str(text, interpolate=False)["corpora"]["train"]["corpora"]["source"]["labels"] == CONLL_TO_WEIBO
