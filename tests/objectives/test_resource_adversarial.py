"""DATNet's resource discriminator (GRAD) on a few dozen CoNLL-2003 (source) and WNUT-17
(target) sentences, over DATNet-F's and DATNet-P's heads."""
from itertools import islice

import pytest
import spacy
import torch
from spacy.training import Example
from thinc.api import ConfigValidationError, fix_random_seed
from torch.nn import functional as F

from spacy_lowner.corpora.convert import read_docs
from spacy_lowner.model.batch import training_batch
from spacy_lowner.model.channels import set_domain

BILSTM = {"@lowner_head_modules": "spacy_lowner.bilstm.v1", "width": 16}
DATNET_F = {"bilstm": BILSTM}
DATNET_P = {
    "resources": {
        "@lowner_head_modules": "spacy_lowner.shared_private.v1",
        "domains": ["source", "target"],
        "shared": BILSTM,
        "private": {**BILSTM, "width": 8},
    }
}
GRAD = {"@lowner_objectives": "spacy_lowner.resource_adversarial.v1"}
AT = {"@lowner_objectives": "spacy_lowner.adversarial_training.v1"}


@pytest.fixture(scope="module")
def two_corpora(shared_data):
    """24 CoNLL-2003 and 24 WNUT-17 training sentences with entities, and 10 WNUT-17 test
    sentences, each training doc tagged with its domain."""
    nlp = spacy.blank("en")
    conll = (d for d in read_docs("conll", shared_data / "conll2003" / "train.txt", nlp) if d.ents)
    wnut = (d for d in read_docs("conll", shared_data / "wnut17" / "wnut17train.conll", nlp) if d.ents)
    source = [set_domain(doc, "source") for doc in islice(conll, 24)]
    target = [set_domain(doc, "target") for doc in islice(wnut, 24)]
    test = list(islice(read_docs("conll", shared_data / "wnut17" / "emerging.test.annotated", nlp), 10))
    return nlp.vocab, source, target, test


def make_pipeline(vocab, small_cnn, modules, objectives, dropout=0.1):
    nlp = spacy.blank("en", vocab=vocab)
    model = {"@architectures": "spacy_lowner.TokenTagger.v3", "dropout": dropout, "modules": modules, "tok2vec": small_cnn}
    objectives = {"supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1"}, **objectives}
    nlp.add_pipe("lowner_ner", config={"model": model, "objectives": objectives, "default_domain": "target"})
    return nlp


def examples_of(nlp, docs):
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def initialized(two_corpora, small_cnn, modules, objectives, dropout=0.1):
    vocab, source, target, _ = two_corpora
    nlp = make_pipeline(vocab, small_cnn, modules, objectives, dropout)
    examples = examples_of(nlp, source) + examples_of(nlp, target)
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    return nlp, optimizer, examples


def batch_of(ner, examples):
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in examples])
    return training_batch(examples, tokvecs, ner.scheme, ner.domain_schemes)


def grad_term(ner, examples, strength):
    """The discriminator term on a fresh batch at reversal `strength` (no dropout), with its
    gradient at the tok2vec output and at the classifier's output layer."""
    objective = ner.objectives["resource_adversarial"]
    objective.reversal = strength
    ner.head.eval()
    ner.head.zero_grad()
    batch = batch_of(ner, examples)
    term = objective(batch, ner.head)[""]
    term.backward()
    classifier = ner.head.training_module(objective.module_name).output.weight.grad.clone()
    return term, torch.cat([leaf.grad for leaf in batch.leaves]), classifier


def test_gradient_reversal_flips_and_scales_the_encoder_gradient(two_corpora, small_cnn):
    nlp, _, examples = initialized(two_corpora, small_cnn, DATNET_F, {"resource_adversarial": GRAD})
    ner = nlp.get_pipe("lowner_ner")
    some = examples[:4] + examples[-4:]
    # strength -1 reverses the reversal: the plain gradient of the discriminator loss
    _, plain, classifier_plain = grad_term(ner, some, -1.0)
    _, reversed_07, classifier_07 = grad_term(ner, some, 0.7)
    _, reversed_14, _ = grad_term(ner, some, 1.4)
    assert plain.norm() > 0
    assert torch.allclose(reversed_07, -0.7 * plain, atol=1e-9, rtol=1e-5)
    assert torch.allclose(reversed_14, 2 * reversed_07, atol=1e-9, rtol=1e-5)
    # the classifier above the reversal learns the same whatever the strength
    assert torch.allclose(classifier_07, classifier_plain)


def test_equal_alphas_and_gamma_0_is_half_the_cross_entropy_of_the_classifier(two_corpora, small_cnn):
    plain = {**GRAD, "alpha": [0.5, 0.5], "gamma": 0.0}
    nlp, _, examples = initialized(two_corpora, small_cnn, DATNET_F, {"resource_adversarial": plain})
    ner = nlp.get_pipe("lowner_ner")
    ner.head.eval()
    objective = ner.objectives["resource_adversarial"]
    batch = batch_of(ner, examples[:5] + examples[-3:])
    term = objective(batch, ner.head)[""]
    logits = ner.head.training_module(objective.module_name)(batch.head_pass(ner.head).stack_outputs["bilstm"], batch.mask)
    resources = torch.tensor([0] * 5 + [1] * 3)
    assert term.item() == pytest.approx(0.5 * F.cross_entropy(logits, resources).item(), rel=1e-5)


def test_the_strength_follows_the_schedule(two_corpora, small_cnn):
    ramped = {**GRAD, "reversal": 0.7, "reversal_start": 10, "reversal_warmup": 4}
    nlp, _, _ = initialized(two_corpora, small_cnn, DATNET_F, {"resource_adversarial": ramped})
    objective = nlp.get_pipe("lowner_ner").objectives["resource_adversarial"]
    strengths = []
    for step in (0, 9, 10, 11, 13, 100):
        objective.step = step
        strengths.append(objective.strength())
    assert strengths == pytest.approx([0.0, 0.0, 0.175, 0.35, 0.7, 0.7])


def test_datnet_p_reads_shared_and_private_and_each_private_part_learns_from_its_own_docs(two_corpora, small_cnn):
    nlp, _, examples = initialized(two_corpora, small_cnn, DATNET_P, {"resource_adversarial": GRAD})
    ner = nlp.get_pipe("lowner_ner")
    objective = ner.objectives["resource_adversarial"]
    assert objective.reads == "resources"
    # the pooled vectors are the shared (16) and private (8) BiLSTMs' outputs concatenated
    assert ner.head.training_module(objective.module_name).output.in_features == 24
    ner.head.zero_grad()
    source_docs = [eg for eg in examples if eg.reference.user_data["lowner_domain"] == "source"][:6]
    objective(batch_of(ner, source_docs), ner.head)[""].backward()
    private = ner.head.stack[0].private
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in private["source"].parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in private["target"].parameters())


def test_a_head_without_the_module_it_reads_is_a_one_line_error(two_corpora, small_cnn):
    message = r"reads = 'shared', but the head has no such module \(it has: input, bilstm\)"
    with pytest.raises(ValueError, match=message):
        initialized(two_corpora, small_cnn, DATNET_F, {"resource_adversarial": {**GRAD, "reads": "shared"}})


def test_a_head_without_modules_must_name_the_input_it_reads(two_corpora, small_cnn):
    with pytest.raises(ValueError, match="head has no head module for the discriminator to read"):
        initialized(two_corpora, small_cnn, {}, {"resource_adversarial": GRAD})
    nlp, _, _ = initialized(two_corpora, small_cnn, {}, {"resource_adversarial": {**GRAD, "reads": "input"}})
    assert nlp.get_pipe("lowner_ner").objectives["resource_adversarial"].reads == "input"


def test_docs_without_domains_or_of_other_domains_are_a_one_line_error(two_corpora, small_cnn):
    vocab, source, target, _ = two_corpora
    nlp = make_pipeline(vocab, small_cnn, DATNET_F, {"resource_adversarial": GRAD})
    bare = [Example(nlp.make_doc(doc.text), spacy.tokens.Doc(vocab).from_bytes(doc.to_bytes())) for doc in target[:4]]
    for eg in bare:
        eg.reference.user_data.pop("lowner_domain")
    with pytest.raises(ValueError, match="objective 'resource_adversarial' needs the channel 'domain'"):
        nlp.initialize(lambda: examples_of(nlp, source[:4]) + bare)
    other = make_pipeline(vocab, small_cnn, DATNET_F, {"resource_adversarial": {**GRAD, "domains": ["source", "tweets"]}})
    with pytest.raises(ValueError, match="have domain\\(s\\) target, but its `domains` are source, tweets"):
        other.initialize(lambda: examples_of(other, source[:4] + target[:4]))


def test_an_alpha_per_domain_each_a_finite_number_at_least_0(two_corpora, small_cnn):
    vocab, _, _, _ = two_corpora
    with pytest.raises(ValueError, match="alpha has 3 values for 2 domains"):
        make_pipeline(vocab, small_cnn, DATNET_F, {"resource_adversarial": {**GRAD, "alpha": [0.2, 0.3, 0.5]}})
    with pytest.raises(ConfigValidationError, match=r"-> alpha\s+at 1: 'nan' is not a finite number >= 0"):
        make_pipeline(vocab, small_cnn, DATNET_F, {"resource_adversarial": {**GRAD, "alpha": [0.2, "nan"]}})
    with pytest.raises(ConfigValidationError, match=r"-> reversal\s+at root: -0.7 is not a finite number >= 0"):
        make_pipeline(vocab, small_cnn, DATNET_F, {"resource_adversarial": {**GRAD, "reversal": -0.7}})


def test_datnet_with_both_objectives_trains_saves_loads_and_tags(two_corpora, small_cnn, tmp_path):
    objectives = {"resource_adversarial": GRAD, "adversarial_training": AT}
    nlp, optimizer, examples = initialized(two_corpora, small_cnn, DATNET_F, objectives)
    ner = nlp.get_pipe("lowner_ner")
    classifier = ner.head.training_module(ner.objectives["resource_adversarial"].module_name)
    before = [p.detach().clone() for p in classifier.parameters()]
    per_epoch = []
    for _ in range(4):
        per_epoch.append([])
        for start in range(0, 24, 6):
            # mixed batches of both resources, as two_corpora.cfg's batcher gives them
            losses = nlp.update(examples[start : start + 6] + examples[24 + start : 30 + start], sgd=optimizer, losses={})
            assert all(torch.isfinite(torch.tensor(value)) for value in losses.values())
            assert losses["lowner_ner_resource_adversarial"] > 0 and losses["lowner_ner_adversarial_training"] > 0
            per_epoch[-1].append(losses["lowner_ner_supervised"])
    assert sum(per_epoch[-1]) < sum(per_epoch[0])
    assert not all(torch.equal(a, b) for a, b in zip(before, classifier.parameters()))
    _, _, _, test = two_corpora
    texts = [doc.text for doc in test]
    tagged = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "datnet")
    loaded = spacy.load(tmp_path / "datnet")
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in loaded.pipe(texts)] == tagged
    assert not any(key.startswith("training_modules.") for key in loaded.get_pipe("lowner_ner").head.state_dict())
    assert {e[2] for doc in tagged for e in doc} <= set(ner.labels)
