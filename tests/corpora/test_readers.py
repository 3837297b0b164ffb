import spacy
from spacy.util import registry

from spacy_lowner.corpora.readers import create_tagged_corpus


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
