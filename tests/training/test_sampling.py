import random
import re

import pytest
import spacy

from spacy_lowner.corpora.convert import read_docs
from spacy_lowner.corpora.docs import make_doc
from spacy_lowner.training.sampling import CoverTooLargeError, labeled_size, sample_labeled

WEIBO_TYPES = ["GPE.NAM", "GPE.NOM", "LOC.NAM", "LOC.NOM", "ORG.NAM", "ORG.NOM", "PER.NAM", "PER.NOM"]


@pytest.fixture(scope="module")
def weibo_train(weibo_dir):
    """All 1350 WeiboNER train sentences."""
    return list(read_docs("weibo", weibo_dir / "weiboNER_2nd_conll.train", spacy.blank("zh")))


def labels_of(docs, indices):
    return {ent.label_ for i in indices for ent in docs[i].ents}


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 6, 7])
def test_one_percent_of_weibo_shows_every_type(weibo_train, seed):
    split = sample_labeled(weibo_train, ratio=0.01, seed=seed)
    assert len(split.labeled) == 14  # round(13.5)
    assert split.types == WEIBO_TYPES
    assert labels_of(weibo_train, split.labeled) == set(WEIBO_TYPES)
    assert set(split.cover) <= set(split.labeled)
    # GPE.NOM is in 8 of 1350 sentences: a plain random 1% sample nearly always misses it.
    plain = random.Random(seed).sample(range(len(weibo_train)), 14)
    assert labels_of(weibo_train, plain) != set(WEIBO_TYPES)


def test_cluener_dev_shows_every_type(shared_data):
    docs = list(read_docs("cluener", shared_data / "cluener" / "dev.json", spacy.blank("zh")))
    split = sample_labeled(docs, count=10, seed=3)
    assert len(split.types) == 10
    assert labels_of(docs, split.labeled) == set(split.types)


@pytest.mark.parametrize(
    "kwargs,size",
    [({"ratio": 0.01}, 14), ({"ratio": 0.05}, 68), ({"ratio": 0.0001}, 1), ({"ratio": 1}, 1350), ({"count": 37}, 37)],
)
def test_labeled_size(kwargs, size):
    assert labeled_size(1350, **kwargs) == size


@pytest.mark.parametrize("kwargs,size", [({"ratio": 0.05}, 68), ({"count": 37}, 37), ({"count": 1349}, 1349)])
def test_exact_size(weibo_train, kwargs, size):
    split = sample_labeled(weibo_train, seed=1, **kwargs)
    assert len(split.labeled) == size
    assert len(split.unlabeled) == len(weibo_train) - size


def test_disjoint_complete_and_in_input_order(weibo_train):
    split = sample_labeled(weibo_train, ratio=0.1, seed=2)
    assert split.labeled == sorted(split.labeled)
    assert split.unlabeled == sorted(split.unlabeled)
    assert not set(split.labeled) & set(split.unlabeled)
    assert sorted(split.labeled + split.unlabeled) == list(range(len(weibo_train)))


def test_deterministic_per_seed(weibo_train):
    first = sample_labeled(weibo_train, ratio=0.01, seed=7)
    assert sample_labeled(weibo_train, ratio=0.01, seed=7) == first
    others = {tuple(sample_labeled(weibo_train, ratio=0.01, seed=seed).labeled) for seed in range(5)}
    assert len(others) == 5


def test_too_small_for_the_cover(weibo_train):
    with pytest.raises(CoverTooLargeError) as info:
        sample_labeled(weibo_train, count=2, seed=0)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.n_types, err.n_docs, err.n_asked) == (8, 1350, 2)
    assert err.n_cover > 2
    message = str(err)
    assert "all 8 entity types" in message
    assert f"took {err.n_cover} of the 1350 sentences" in message
    assert f"count={err.n_cover} or ratio={err.min_ratio}" in message
    # The advice works: that ratio gives exactly the cover's size.
    assert len(sample_labeled(weibo_train, ratio=err.min_ratio, seed=0).labeled) == err.n_cover


def test_ratio_one_labels_everything(weibo_train):
    split = sample_labeled(weibo_train, ratio=1.0, seed=0)
    assert split.labeled == list(range(len(weibo_train)))
    assert split.unlabeled == []


def test_greedy_cover_takes_the_doc_with_every_type():
    vocab = spacy.blank("zh").vocab
    docs = [
        make_doc(vocab, list("张三"), ["B-PER", "I-PER"], spaced=False),
        make_doc(vocab, list("北京"), ["B-GPE", "I-GPE"], spaced=False),
        make_doc(vocab, list("你好"), ["O", "O"], spaced=False),
        make_doc(vocab, list("张北京"), ["B-PER", "B-GPE", "B-ORG"], spaced=False),
        make_doc(vocab, list("微软"), ["B-ORG", "I-ORG"], spaced=False),
    ]
    for seed in range(10):
        split = sample_labeled(docs, count=1, seed=seed)
        assert split.labeled == split.cover == [3]
        assert split.unlabeled == [0, 1, 2, 4]


def test_no_entities_at_all():
    vocab = spacy.blank("zh").vocab
    docs = [make_doc(vocab, list("你好"), ["O", "O"], spaced=False) for _ in range(4)]
    split = sample_labeled(docs, count=2, seed=0)
    assert (len(split.labeled), split.types, split.cover) == (2, [], [])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({}, "either a ratio or a count"),
        ({"ratio": 0.1, "count": 3}, "either a ratio or a count"),
        ({"ratio": 0.0}, "in (0, 1]"),
        ({"ratio": 1.5}, "in (0, 1]"),
        ({"ratio": float("nan")}, "in (0, 1]"),
        ({"count": 0}, "between 1 and 1350"),
        ({"count": 1351}, "between 1 and 1350"),
    ],
)
def test_bad_options(weibo_train, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        sample_labeled(weibo_train, **kwargs)
