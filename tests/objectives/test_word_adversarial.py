"""Word-level adversarial alignment (objectives/word_adversarial.py): the orthogonal map of the
source language's token vectors, the word discriminator and the map's flipped-label term."""
import math

import numpy
import pytest
import spacy
import torch
from confection import ConfigValidationError
from spacy.tokens import Doc
from spacy.training import Example
from torch.nn import functional as F

from spacy_lowner.layers.domain_map import make_domain_map
from spacy_lowner.model.batch import training_batch
from spacy_lowner.model.channels import set_domain
from spacy_lowner.model.head import TaggerHead
from spacy_lowner.model.tags import TagScheme
from spacy_lowner.objectives.base import ObjectiveContext
from spacy_lowner.objectives.word_adversarial import class_balanced_bce, make_word_adversarial, smoothed_labels
from tests.crosslingual import MAP, bridged_corpus, cross_lingual_pipeline, trained


@pytest.fixture(scope="module")
def corpus(shared_data):
    return bridged_corpus(shared_data)


def source_map(ner) -> torch.Tensor:
    return ner.head.stack_modules["map"].maps["source"]


def batch_of(ner, examples):
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in examples])
    return training_batch(examples, tokvecs, ner.scheme, ner.domain_schemes)


def test_the_map_stays_orthogonal_after_training_steps(corpus, small_cnn):
    nlp = cross_lingual_pipeline(small_cnn)
    examples = list(corpus(nlp))
    ner = trained(nlp, examples)
    weight = source_map(ner).detach()
    assert not torch.allclose(weight, torch.eye(len(weight)), atol=1e-3)  # the adversary moved it
    torch.testing.assert_close(weight.T @ weight, torch.eye(len(weight)), atol=1e-5, rtol=0)
    # the bridge left one label set: English trains WeiboNER's projection and CRF
    assert not ner.domain_schemes and "PER.NAM" in ner.labels and "PER.NOM" in ner.labels


def test_the_map_changes_english_vectors_and_leaves_chinese_alone_in_training_and_prediction(corpus, small_cnn):
    nlp = cross_lingual_pipeline(small_cnn)
    examples = list(corpus(nlp))
    ner = trained(nlp, examples)
    head = ner.head
    head.eval()
    outputs = batch_of(ner, examples).head_pass(head).stack_outputs
    english = [i for i, eg in enumerate(examples) if eg.reference.user_data["lowner_domain"] == "source"]
    chinese = [i for i, eg in enumerate(examples) if eg.reference.user_data["lowner_domain"] == "target"]
    assert len(english) == len(chinese) == 16
    assert not torch.allclose(outputs["map"][english], outputs["input"][english], atol=1e-4)
    assert torch.equal(outputs["map"][chinese], outputs["input"][chinese])
    # At prediction: Chinese text (no domain: the default, "target") is tagged exactly as by the
    # same head without the map (the identity); an English doc of domain "source" is not.
    texts = [eg.reference.text for i, eg in enumerate(examples) if i in chinese]
    chinese_docs = [nlp.make_doc(text) for text in texts]
    english_docs = [set_domain(Doc(nlp.vocab, words=[t.text for t in examples[i].reference]), "source") for i in english]
    with_map = [ner.predict_with_marginals(docs) for docs in (chinese_docs, english_docs)]
    ents = [[(e.text, e.label_) for e in nlp(text).ents] for text in texts]
    with torch.no_grad():
        source_map(ner).copy_(torch.eye(len(source_map(ner))))
    without_chinese, without_english = (ner.predict_with_marginals(docs) for docs in (chinese_docs, english_docs))
    assert all(numpy.array_equal(a, b) for a, b in zip(with_map[0][1], without_chinese[1]))
    assert [[(e.text, e.label_) for e in nlp(text).ents] for text in texts] == ents
    assert not all(numpy.allclose(a, b, atol=1e-6) for a, b in zip(with_map[1][1], without_english[1]))


def test_smoothed_labels_and_their_minimum():
    is_target = torch.tensor([True, False, True, False])
    assert smoothed_labels(is_target, 0.1).tolist() == pytest.approx([0.9, 0.1, 0.9, 0.1])
    assert smoothed_labels(is_target, 0.0).tolist() == [1.0, 0.0, 1.0, 0.0]
    # D's loss is lowest where it says 0.9 for a target token and 0.1 for a source one, not 1 and
    # 0: there it is the labels' entropy and its gradient vanishes
    labels = smoothed_labels(is_target, 0.1)
    logits = torch.log(labels / (1 - labels)).requires_grad_()
    loss = class_balanced_bce(logits, labels, is_target)
    assert float(loss.detach()) == pytest.approx(-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)), abs=1e-6)
    (grad,) = torch.autograd.grad(loss, logits)
    assert float(grad.abs().max()) < 1e-6
    # the classes weigh the same whatever their token counts
    three_targets = torch.tensor([True, True, True, False])
    loss = class_balanced_bce(torch.zeros(4), smoothed_labels(three_targets, 0.0), three_targets)
    assert float(loss) == pytest.approx(math.log(2))


def handmade(width=6, **settings):
    """A head with only the source's map, the objective on it, and a batch maker: each batch
    holds 4 source and 4 target docs of 5 tokens, the source's vectors shifted by +2 and the
    target's by -2 on the first dimension (separable), the rest noise."""
    torch.manual_seed(0)
    head = TaggerHead(hidden_width=0, dropout=0.0, modules={"map": make_domain_map(domains=["source"], orthogonal=True)})
    scheme = TagScheme(("PER",), "BIO")
    head.build(n_in=width, scheme=scheme.to_dict(), decoder="crf", default_domain="target")
    objective = make_word_adversarial(hidden_width=16, discriminator_learning_rate=0.01, discriminator_dropout=0.0, **settings)
    objective.name = "word_adversarial"
    objective.initialize(ObjectiveContext("lowner_ner", head, scheme, lambda: []))
    nlp = spacy.blank("en")
    rng = numpy.random.default_rng(0)

    def batch():
        examples, tokvecs = [], []
        for domain, shift in [("source", 2.0), ("target", -2.0)] * 4:
            doc = set_domain(Doc(nlp.vocab, words=["w"] * 5), domain)
            examples.append(Example(Doc(nlp.vocab, words=["w"] * 5), doc))
            vectors = rng.normal(size=(5, width)).astype("float32")
            vectors[:, 0] += shift
            tokvecs.append(vectors)
        return training_batch(examples, tokvecs, scheme)

    return head, objective, batch


def test_the_discriminators_loss_falls_on_separable_vectors():
    head, objective, batch = handmade()
    losses = []
    for _ in range(40):
        objective(batch(), head)
        objective.batch_accepted()
        objective.after_step()
        losses.append(objective.report()["discriminator"])
    assert losses[0] > 0.6  # a coin at the start (log 2 = 0.69)
    # down to near the smoothed labels' entropy, 0.325: it tells the languages apart
    assert sum(losses[-5:]) / 5 < 0.4
    # a batch whose loss the runner refuses leaves D as it was
    before = [p.detach().clone() for p in objective.discriminator.parameters()]
    objective(batch(), head)
    objective.after_step()
    assert all(torch.equal(a, b) for a, b in zip(before, objective.discriminator.parameters()))


def test_the_maps_gradient_is_the_flipped_terms_and_fools_the_discriminator():
    head, objective, batch = handmade()
    for _ in range(40):  # a discriminator that tells the languages apart
        objective(batch(), head)
        objective.batch_accepted()
        objective.after_step()
    weight = head.stack[0].maps["source"]
    weight.grad = None  # what the component's optimizer step does; there is none here
    current = batch()
    term = objective(current, head)[""]
    # the term by hand: D (fixed) on the mapped vectors, the labels flipped, on the platform's scale
    is_target = torch.tensor([d == "target" for d in current.domains])[:, None].expand_as(current.mask)
    mapped = head.stack_outputs(current.features, current.domains, current.mask)["map"]
    logits = objective.discriminator(mapped).squeeze(-1)
    by_hand = F.binary_cross_entropy_with_logits(logits, 1 - smoothed_labels(is_target, 0.1), reduction="sum") / len(current.mask)
    (expected,) = torch.autograd.grad(by_hand, weight)
    term.backward()
    assert all(leaf.grad is None for leaf in current.leaves)  # the map alone: the encoder gets nothing
    objective.batch_accepted()
    torch.testing.assert_close(weight.grad, expected)
    # a step against it makes the mapped English vectors look Chinese to D
    def p_target(map_weight):
        source = current.features[~is_target[:, 0]] @ map_weight.T
        return float(objective.discriminator(source).sigmoid().mean())

    with torch.no_grad():
        assert p_target(weight - 0.1 * weight.grad) > p_target(weight) + 0.05


@pytest.mark.parametrize("ner_moves_map", [False, True])
def test_whether_the_ner_loss_moves_the_map(corpus, small_cnn, ner_moves_map):
    nlp = cross_lingual_pipeline(small_cnn, ner_moves_map=ner_moves_map)
    examples = list(corpus(nlp))
    ner = trained(nlp, examples, steps=1)
    weight = source_map(ner)
    terms = ner.runner.loss(batch_of(ner, examples), ner.head, step=1)
    adversarial, supervised = (
        torch.autograd.grad(terms[key], weight, retain_graph=True)[0] for key in ("word_adversarial", "supervised")
    )
    assert float(supervised.abs().max()) > 0  # the NER loss does reach the map...
    torch.stack(list(terms.values())).sum().backward()
    ner.runner.batch_accepted()
    # ...and is kept only with ner_moves_map
    torch.testing.assert_close(weight.grad, adversarial + supervised if ner_moves_map else adversarial)


def test_a_batch_without_source_docs_trains_d_and_gives_the_map_nothing():
    head, objective, batch = handmade()
    full = batch()
    chinese = [i for i, domain in enumerate(full.domains) if domain == "target"]
    target_only = training_batch([full.examples[i] for i in chinese], [full.leaves[i].detach().numpy() for i in chinese], full.scheme)
    assert objective(target_only, head) == {}
    objective.batch_accepted()
    assert objective.discriminator_updates.has_update  # D's gradients, stepped after spaCy's step
    assert head.stack[0].maps["source"].grad is None


def test_moves_encoder_lets_the_term_reach_the_encoder():
    head, objective, batch = handmade(moves_encoder=True)
    current = batch()
    objective(current, head)[""].backward()
    assert all(leaf.grad is not None and float(leaf.grad.abs().max()) > 0 for leaf in current.leaves)


@pytest.mark.parametrize(
    "modules,settings,message",
    [
        ({}, {}, r"objectives.word_adversarial.reads\s+the lowner_ner head has no module 'map' \(its modules: none\)"),
        ({"map": MAP}, {"reads": "aligned"}, r"reads\s+the lowner_ner head has no module 'aligned' \(its modules: map\)"),
        ({"map": MAP}, {"source": "en", "targets": ["zh"]}, r"source\s+the module 'map' maps the docs of source, not the source domain 'en'"),
    ],
)
def test_a_head_without_the_map_is_refused_at_initialisation(corpus, small_cnn, modules, settings, message):
    nlp = cross_lingual_pipeline(small_cnn, modules=modules, **settings)
    examples = list(corpus(nlp))
    with pytest.raises(ConfigValidationError, match=message):
        nlp.initialize(lambda: examples)


def test_bad_settings_are_refused_in_the_config(small_cnn):
    with pytest.raises(ConfigValidationError, match=r"smoothing\s+at .*: 0.5 is not a finite number >= 0 and < 0.5"):
        cross_lingual_pipeline(small_cnn, smoothing=0.5)
    with pytest.raises(ValueError, match="targets .* besides the source 'source'"):
        make_word_adversarial(targets=["source"])
