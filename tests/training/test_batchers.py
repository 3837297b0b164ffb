from collections import Counter
from importlib import metadata
from pathlib import Path

import pytest
import spacy
from confection import Config, ConfigValidationError
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from spacy_lowner.model.channels import doc_domain, set_domain
from spacy_lowner.training.batchers import configure_domain_sequence, configure_domain_share, configure_labeled_share


def examples(nlp, n, labeled, words=10):
    made = []
    for i in range(n):
        reference = Doc(nlp.vocab, words=[f"w{i}"] * words, ents=["O"] * words if labeled else None)
        made.append(Example(Doc(nlp.vocab, words=[f"w{i}"] * words), reference))
    return made


def test_every_batch_has_the_labeled_part_of_a_supervised_batch_plus_unlabeled_docs():
    nlp = spacy.blank("en")
    labeled, unlabeled = examples(nlp, 12, True), examples(nlp, 50, False)
    batcher = registry.batchers.get("spacy_lowner.labeled_share.v1")(size=40, unlabeled_per_labeled=0.5, tolerance=0.0)
    batches = list(batcher(unlabeled[:25] + labeled + unlabeled[25:]))
    # one pass over the labeled docs, batched by words exactly as spacy.batch_by_words.v1 would
    by_words = registry.batchers.get("spacy.batch_by_words.v1")(size=40, tolerance=0.0, discard_oversize=False)
    supervised = list(by_words(labeled))
    assert [[eg for eg in batch if eg.reference.has_annotation("ENT_IOB")] for batch in batches] == supervised
    for batch in batches:
        n_labeled = sum(eg.reference.has_annotation("ENT_IOB") for eg in batch)
        assert n_labeled and len(batch) - n_labeled == n_labeled // 2  # half as many unlabeled words
    seen = [eg for batch in batches for eg in batch if not eg.reference.has_annotation("ENT_IOB")]
    assert seen == unlabeled[: len(seen)]  # taken in turn


def test_no_unlabeled_docs_is_batch_by_words():
    nlp = spacy.blank("en")
    labeled = examples(nlp, 7, True)
    batcher = configure_labeled_share(size=30, unlabeled_per_labeled=1.0, tolerance=0.0)
    assert [len(batch) for batch in batcher(labeled)] == [3, 3, 1]


def test_unlabeled_docs_wrap_around_but_never_repeat_within_a_batch():
    nlp = spacy.blank("en")
    labeled, unlabeled = examples(nlp, 4, True), examples(nlp, 3, False)
    batcher = configure_labeled_share(size=40, unlabeled_per_labeled=2.0, tolerance=0.0)
    (batch,) = list(batcher(labeled + unlabeled))
    assert len(batch) == 4 + 3


# spacy_lowner.domain_share.v1 -----------------------------------------------------------


def conll_examples(shared_data, path, n, domain):
    """The first n sentences of a column file as examples whose reference has `domain`."""
    from spacy_lowner.training.readers import create_tagged_corpus

    return list(create_tagged_corpus(shared_data / path, "conll", limit=n, domain=domain)(spacy.blank("en")))


@pytest.fixture(scope="module")
def source_and_target(shared_data):
    """1000 CoNLL-2003 train sentences (source) and 1000 WNUT-17 train sentences (target),
    shuffled together as spaCy shuffles a training corpus."""
    import random

    source = conll_examples(shared_data, "conll2003/train.txt", 1000, "source")
    target = conll_examples(shared_data, "wnut17/wnut17train.conll", 1000, "target")
    examples = source + target
    random.Random(0).shuffle(examples)
    return examples


def words_by_domain(batches):
    counts = Counter()
    for batch in batches:
        for eg in batch:
            counts[doc_domain(eg.reference)] += len(eg)
    return counts


def of_domain(examples, domain):
    return [eg for eg in examples if doc_domain(eg.reference) == domain]


def test_mixed_batches_give_each_domain_its_share_and_one_pass_over_the_epoch_domain(source_and_target):
    batcher = configure_domain_share(size=200, shares={"source": 0.7, "target": 0.3}, epoch_domain="target", tolerance=0.0)
    batches = list(batcher(source_and_target))
    target = of_domain(source_and_target, "target")
    # the target batched alone by words at its share of the size, as spacy.batch_by_words.v1 would
    by_words = registry.batchers.get("spacy.batch_by_words.v1")(size=60, tolerance=0.0, discard_oversize=False)
    assert [of_domain(batch, "target") for batch in batches] == list(by_words(target))
    assert len(batches) > 250
    counts = words_by_domain(batches)
    assert abs(counts["source"] / sum(counts.values()) - 0.7) < 0.01
    for batch in batches:
        assert of_domain(batch, "source")
        assert len(set(map(id, batch))) == len(batch)  # no doc twice in a batch
    # the source docs taken in turn, started again when they run out
    seen = [eg for batch in batches for eg in of_domain(batch, "source")]
    source = of_domain(source_and_target, "source")
    assert len(seen) > len(source)
    assert seen == [source[i % len(source)] for i in range(len(seen))]


def test_single_domain_batches_hold_one_domain_each_in_proportion_to_the_shares(source_and_target):
    batcher = configure_domain_share(size=100, shares={"source": 2, "target": 1}, epoch_domain="target", mixed=False)
    batches = list(batcher(source_and_target))
    assert len(batches) > 300
    assert all(len({doc_domain(eg.reference) for eg in batch}) == 1 for batch in batches)
    counts = words_by_domain(batches)
    assert abs(counts["source"] / sum(counts.values()) - 2 / 3) < 0.01
    target = [eg for batch in batches for eg in of_domain(batch, "target")]
    assert target == of_domain(source_and_target, "target")  # each target doc once, in order
    # all along, the source is at most about one batch (size 100, tolerance 0.2) off its share
    batched = Counter()
    for batch in batches:
        batched.update(words_by_domain([batch]))
        assert abs(batched["source"] - 2 / 3 * sum(batched.values())) <= 120


def test_domain_share_from_a_config_with_a_size_schedule(source_and_target):
    from spacy_lowner.training.batchers import configure_domain_share as registered

    entry_points = {ep.name: ep.value for ep in metadata.entry_points(group="spacy_batchers")}
    assert entry_points["spacy_lowner.domain_share.v1"] == "spacy_lowner.training.batchers:configure_domain_share"
    assert registry.batchers.get("spacy_lowner.domain_share.v1") is registered
    config = Config().from_str(
        """
        [batcher]
        @batchers = "spacy_lowner.domain_share.v1"
        epoch_domain = "source"

        [batcher.shares]
        source = 0.5
        target = 0.5

        [batcher.size]
        @schedules = "compounding.v1"
        start = 100
        stop = 1000
        compound = 1.01
        """
    )
    batcher = registry.resolve(config)["batcher"]
    batches = list(batcher(source_and_target))
    sizes = [sum(len(eg) for eg in batch) for batch in batches]
    assert sizes[-1] > 3 * sizes[0]  # the batches grow with the schedule


def test_domain_share_errors(source_and_target):
    with pytest.raises(ConfigValidationError, match="shares.target\tmust be a number > 0, got 0"):
        configure_domain_share(size=100, shares={"source": 1, "target": 0}, epoch_domain="source")
    with pytest.raises(ConfigValidationError, match="epoch_domain\t'tgt' has no share; use one of source, target"):
        configure_domain_share(size=100, shares={"source": 1, "target": 1}, epoch_domain="tgt")
    with pytest.raises(ConfigValidationError, match="give a share per domain"):
        configure_domain_share(size=100, shares={}, epoch_domain="source")
    only_source = configure_domain_share(size=100, shares={"source": 1}, epoch_domain="source")
    with pytest.raises(ValueError, match="domain_share: training docs of domain 'target', which it was not given; it batches source"):
        list(only_source(source_and_target))
    three = configure_domain_share(size=100, shares={"source": 1, "target": 1, "es": 1}, epoch_domain="source")
    with pytest.raises(ValueError, match="domain_share: no training doc is of domain 'es'"):
        list(three(source_and_target))
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="a training doc has no domain; read the corpora with spacy_lowner.MultiCorpus.v1"):
        list(only_source(examples(nlp, 3, True)))


# spacy_lowner.domain_sequence.v1 --------------------------------------------------------


def sequential_batches(examples, batcher, steps, max_epochs=0):
    """The first `steps` (epoch, batch) pairs that spaCy's training loop would train on."""
    import itertools

    from spacy.training.loop import create_train_batches

    return list(itertools.islice(create_train_batches(spacy.blank("en"), lambda nlp: examples, batcher, max_epochs), steps))


def test_the_source_for_source_steps_then_the_target_only(source_and_target):
    batcher = configure_domain_sequence(size=100, source_steps=37, tolerance=0.0)
    batches = sequential_batches(source_and_target, batcher, 300)
    domains = [{doc_domain(eg.reference) for eg in batch} for _, batch in batches]
    assert domains == [{"source"}] * 37 + [{"target"}] * (300 - 37)  # the switch at step 37 exactly
    # the source's pass is cut at the switch (epoch 0); each later epoch is one pass over the target,
    # batched as spacy.batch_by_words.v1 batches the target alone
    by_words = registry.batchers.get("spacy.batch_by_words.v1")(size=100, tolerance=0.0, discard_oversize=False)
    epoch_1 = [batch for epoch, batch in batches if epoch == 1]
    target = [eg for batch in epoch_1 for eg in batch]
    assert sorted(map(id, target)) == sorted(map(id, of_domain(source_and_target, "target")))
    assert epoch_1 == list(by_words(of_domain(target, "target")))
    assert {epoch for epoch, _ in batches[:37]} == {0} and batches[-1][0] >= 2


def test_source_steps_longer_than_a_pass_over_the_source(source_and_target):
    """A small source is passed over several times (an epoch each) until its steps are spent."""
    source = of_domain(source_and_target, "source")[:30]
    examples = source + of_domain(source_and_target, "target")[:30]
    batcher = configure_domain_sequence(size=100, source_steps=20, tolerance=0.0)
    batches = sequential_batches(examples, batcher, 40)
    assert [doc_domain(batch[0].reference) for _, batch in batches] == ["source"] * 20 + ["target"] * 20
    assert all(len({doc_domain(eg.reference) for eg in batch}) == 1 for _, batch in batches)
    source_epochs = [epoch for epoch, batch in batches[:20]]
    assert source_epochs[-1] >= 3 and source_epochs == sorted(source_epochs)
    # with max_epochs, spaCy's loop counts the source's passes and the target's alike
    assert len(sequential_batches(examples, configure_domain_sequence(size=100, source_steps=20), 1000, max_epochs=2)) < 20


def test_no_source_steps_is_the_target_alone(source_and_target):
    batcher = configure_domain_sequence(size=100, source_steps=0)
    batches = sequential_batches(source_and_target, batcher, 50)
    assert all(doc_domain(eg.reference) == "target" for _, batch in batches for eg in batch)


def test_domain_sequence_from_a_composed_config(source_and_target):
    """configs/parts/sequential.cfg composed onto the CNN two-corpora base resolves to the
    registered batcher (entry point), with the steps overridden as `spacy train` would."""
    from spacy_lowner.training.batchers import configure_domain_sequence as registered
    from spacy_lowner.training.compose import compose

    entry_points = {ep.name: ep.value for ep in metadata.entry_points(group="spacy_batchers")}
    assert entry_points["spacy_lowner.domain_sequence.v1"] == "spacy_lowner.training.batchers:configure_domain_sequence"
    assert registry.batchers.get("spacy_lowner.domain_sequence.v1") is registered
    configs = Path(__file__).resolve().parents[2] / "configs"
    text = compose(configs / "conll_en_cnn_two_corpora.cfg", [configs / "parts" / "head_bilstm.cfg", configs / "parts" / "sequential.cfg"])
    config = Config().from_str(text, overrides={"training.batcher.source_steps": 5})
    assert config["training"]["patience"] == 0
    batcher = registry.resolve({"batcher": config["training"]["batcher"]})["batcher"]
    batches = sequential_batches(source_and_target, batcher, 10)
    assert [doc_domain(batch[0].reference) for _, batch in batches] == ["source"] * 5 + ["target"] * 5


def test_domain_sequence_errors(source_and_target):
    with pytest.raises(ConfigValidationError, match="source_steps\tmust be a whole number >= 0, got -1"):
        configure_domain_sequence(size=100, source_steps=-1)
    with pytest.raises(ConfigValidationError, match="target_domain\tmust differ from source_domain, both are 'source'"):
        configure_domain_sequence(size=100, source_steps=1, target_domain="source")
    to_spanish = configure_domain_sequence(size=100, source_steps=1, target_domain="es")
    with pytest.raises(ValueError, match="domain_sequence: training docs of domain 'target', which it was not given; it batches source, es"):
        list(to_spanish(source_and_target))
    batcher = configure_domain_sequence(size=100, source_steps=1)
    with pytest.raises(ValueError, match="no training doc is of domain 'target'"):
        list(batcher(of_domain(source_and_target, "source")))
    with pytest.raises(ValueError, match="a training doc has no domain; read the corpora with spacy_lowner.MultiCorpus.v1"):
        list(batcher(examples(spacy.blank("en"), 3, True)))
    long_docs = examples(spacy.blank("en"), 4, True, words=10)
    for i, eg in enumerate(long_docs):
        set_domain(eg.reference, "source" if i % 2 else "target")
    too_long = configure_domain_sequence(size=5, source_steps=1, discard_oversize=True)
    with pytest.raises(ValueError, match="every doc of domain 'source' is longer than the batch size"):
        list(too_long(long_docs))
