import copy
import warnings
from dataclasses import replace

import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_lowner.errors import TrainingDivergedError
from spacy_lowner.model.batch import training_batch
from spacy_lowner.objectives.side_optimizer import MAX_FAILED_STEPS
from spacy_lowner.objectives.ssgan import (
    FAKE_LOGIT,
    fake_log_probs,
    make_ssgan,
    unsupervised_weight,
)


def make_pipeline(vocab, tok2vec, generator="self_attention", hidden_width=16):
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe(
        "lowner_ner",
        config={
            "model": {
                "@architectures": "spacy_lowner.TokenTagger.v1",
                "hidden_width": hidden_width,
                "dropout": 0.1,
                "tok2vec": tok2vec,
            },
            "objectives": {
                "supervised": {"@lowner_objectives": "supervised"},
                "ssgan": {
                    "@lowner_objectives": "ssgan",
                    "generator": generator,
                    "noise_width": 8,
                    "generator_width": 16,
                    "attention_heads": 2,
                    "generator_learning_rate": 0.01,
                },
            },
        },
    )
    return nlp


def unlabeled(nlp, doc):
    """The same words with no entity annotation at all."""
    return Example(nlp.make_doc(doc.text), Doc(nlp.vocab, words=[t.text for t in doc]))


@pytest.fixture
def mixed_examples(weibo_docs):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    labeled = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:4]]
    return labeled + [unlabeled(nlp, doc) for doc in train_docs[4:16]]


@pytest.fixture
def initialized(weibo_docs, mixed_examples, small_cnn):
    """An initialized pipeline with both objectives, and its optimizer."""

    def make(**kwargs):
        fix_random_seed(0)
        nlp = make_pipeline(weibo_docs[0], small_cnn, **kwargs)
        return nlp, nlp.initialize(lambda: mixed_examples)

    return make


def batch_for(ner, examples):
    docs = [eg.predicted for eg in examples]
    tokvecs, _ = ner.model.get_ref("tok2vec").begin_update(docs)
    return training_batch(examples, tokvecs, ner.scheme)


def parameters(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def thinc_parameters(model):
    return {
        (node, name): node.get_param(name).copy()
        for node in model.walk()
        for name in node.param_names
        if node.has_param(name)
    }


def changed(before, module):
    return {name for name, p in module.named_parameters() if not torch.equal(before[name], p.detach())}


@pytest.mark.parametrize(
    "n_labeled,batch_size,beta,expected",
    [(16, 64, 2.0, 0.0625), (16, 64, 1.0, 0.25), (16, 64, 3.0, 0.015625), (64, 64, 2.0, 1.0), (0, 64, 2.0, 0.0)],
)
def test_unsupervised_weight_follows_eta_schedule(n_labeled, batch_size, beta, expected):
    assert unsupervised_weight(n_labeled, batch_size, beta) == pytest.approx(expected)


def test_fewer_labeled_docs_weigh_the_unsupervised_terms_less(initialized, mixed_examples):
    nlp, _ = initialized()
    ner = nlp.get_pipe("lowner_ner")
    ssgan = ner.objectives["ssgan"]
    torch.manual_seed(0)
    all_labeled = batch_for(ner, mixed_examples)
    all_labeled.labeled[:] = True
    terms_full = ssgan(all_labeled, ner.head)
    # 4 of 16 labeled: eta = (4/16)^2 = 1/16 of the all-labeled weight, on the same vectors
    # (dropout and noise aside, the unweighted terms are of the same size).
    quarter = batch_for(ner, mixed_examples)
    terms_quarter = ssgan(quarter, ner.head)
    ratio = terms_quarter["real"].item() / terms_full["real"].item()
    assert 1 / 32 < ratio < 1 / 8


@pytest.mark.parametrize("generator", ["self_attention", "lstm"])
def test_generator_step_changes_neither_encoder_nor_discriminator(initialized, mixed_examples, generator):
    nlp, _ = initialized(generator=generator)
    ner = nlp.get_pipe("lowner_ner")
    ssgan = ner.objectives["ssgan"]
    head, encoder = ner.head, ner.model.get_ref("tok2vec")
    head_before = parameters(head)
    encoder_before = thinc_parameters(encoder)
    generator_before = parameters(ssgan.generator)
    terms = ssgan(batch_for(ner, mixed_examples), head)
    assert set(terms) == {"real", "fake"}
    assert not changed(generator_before, ssgan.generator)  # stepped only after the batch is accepted
    ssgan.batch_accepted()
    ssgan.after_step()
    assert changed(generator_before, ssgan.generator) == set(generator_before)
    assert not changed(head_before, head)
    assert all(p.grad is None for p in head.parameters())
    assert encoder_before
    for (node, name), value in encoder_before.items():
        assert (node.get_param(name) == value).all()
        assert not node.has_grad(name) or not node.get_grad(name).any()


def test_generator_gradient_across_the_detached_fakes_equals_the_direct_one(initialized, mixed_examples, monkeypatch):
    nlp, _ = initialized()
    ner = nlp.get_pipe("lowner_ner")
    ner.head.eval()
    ssgan = ner.objectives["ssgan"]
    ssgan.generator.eval()  # no dropout: both ways see the same function
    batch = batch_for(ner, mixed_examples)
    mask = batch.mask
    fakes = ssgan.generator(torch.randn(*mask.shape, ssgan.noise_width), mask)
    params = list(ssgan.generator.parameters())

    def generator_loss(vectors):
        return -fake_log_probs(ner.head, ner.head.features(vectors))[1][mask].mean()

    direct = torch.autograd.grad(generator_loss(fakes), params, retain_graph=True)
    assert all(bool(grad.any()) for grad in direct)
    stepped = []
    monkeypatch.setattr(ssgan.generator_updates.optimizer, "step", lambda: stepped.extend(p.grad.clone() for p in params))
    ssgan.generator_updates.grad_clip = float("inf")  # compare the raw gradients
    fake_input = fakes.detach().requires_grad_()
    ssgan._generator_gradients(fakes, fake_input, generator_loss(fake_input))
    ssgan.batch_accepted()
    ssgan.after_step()
    assert len(stepped) == len(params)
    for got, want in zip(stepped, direct):
        torch.testing.assert_close(got, want)


def test_update_trains_discriminator_but_never_hands_generator_to_spacy(initialized, mixed_examples):
    nlp, optimizer = initialized()
    ner = nlp.get_pipe("lowner_ner")
    ssgan = ner.objectives["ssgan"]
    # the generator is not part of the saved, spaCy-optimised model
    generator_ids = {id(p) for p in ssgan.generator.parameters()}
    assert not generator_ids & {id(p) for p in ner.head.parameters()}
    fake_logit_before = parameters(ner.head.training_module(FAKE_LOGIT))
    losses = nlp.update(mixed_examples, sgd=optimizer, losses={})
    assert {"lowner_ner_supervised", "lowner_ner_ssgan_real", "lowner_ner_ssgan_fake", "lowner_ner_ssgan_g"} <= set(losses)
    assert changed(fake_logit_before, ner.head.training_module(FAKE_LOGIT))
    assert all(p.grad is None for p in ssgan.generator.parameters())


def test_one_update_runs_the_discriminator_once_on_real_and_once_on_fake_tokens(initialized, mixed_examples):
    nlp, optimizer = initialized()
    ner = nlp.get_pipe("lowner_ner")
    widths = []
    ner.head.hidden.register_forward_hook(lambda module, inputs, output: widths.append(inputs[0].shape[0]))
    nlp.update(mixed_examples, sgd=optimizer)
    # the supervised and ssgan terms share the pass over all 16 real docs; one pass over the fakes
    assert widths == [16, 16]


def test_padding_does_not_reach_the_losses(initialized, mixed_examples):
    nlp, _ = initialized()
    ner = nlp.get_pipe("lowner_ner")
    ner.head.eval()  # no dropout, so only the noise differs between calls
    ssgan = ner.objectives["ssgan"]
    ssgan.generator_updates.optimizer.param_groups[0]["lr"] = 0.0
    batch = batch_for(ner, mixed_examples)
    assert not batch.mask.all()
    torch.manual_seed(1)
    clean = ssgan(batch, ner.head)
    torch.manual_seed(1)
    noisy = ssgan(replace(batch, features=batch.features.masked_fill(~batch.mask.unsqueeze(-1), 1e3)), ner.head)
    for key in clean:
        assert clean[key].item() == pytest.approx(noisy[key].item(), rel=1e-5)


def test_empty_doc_in_batch_gives_finite_losses(initialized, mixed_examples):
    nlp, optimizer = initialized()
    empty = Example(nlp.make_doc(""), Doc(nlp.vocab, words=[]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses = nlp.update(mixed_examples[:3] + [empty] + mixed_examples[5:8], sgd=optimizer, losses={})
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values())


def test_non_finite_batch_never_reaches_the_generator(initialized, mixed_examples, monkeypatch):
    nlp, optimizer = initialized()
    ner = nlp.get_pipe("lowner_ner")
    ssgan = ner.objectives["ssgan"]
    before = parameters(ssgan.generator)
    compute_terms = type(ssgan).__call__

    def poisoned(self, batch, head):
        terms = compute_terms(self, batch, head)
        return {**terms, "real": terms["real"] * float("nan")}

    monkeypatch.setattr(type(ssgan), "__call__", poisoned)
    with pytest.warns(UserWarning, match="non-finite loss"):
        nlp.update(mixed_examples, sgd=optimizer, losses={})
    assert not changed(before, ssgan.generator)
    assert all(p.grad is None for p in ssgan.generator.parameters())


def test_generator_step_that_breaks_its_weights_is_undone(initialized, mixed_examples, monkeypatch):
    nlp, optimizer = initialized()
    ner = nlp.get_pipe("lowner_ner")
    ssgan = ner.objectives["ssgan"]
    before = parameters(ssgan.generator)
    params = list(ssgan.generator.parameters())
    monkeypatch.setattr(ssgan.generator_updates.optimizer, "step", lambda: params[0].data.fill_(float("nan")))
    for attempt in range(MAX_FAILED_STEPS - 1):
        with pytest.warns(UserWarning, match=f"ssgan's generator: skipped a step that made its weights non-finite \\({attempt + 1} in a row"):
            nlp.update(mixed_examples, sgd=optimizer, losses={})
        assert not changed(before, ssgan.generator)
    with pytest.raises(TrainingDivergedError, match="generator_learning_rate"):
        nlp.update(mixed_examples, sgd=optimizer, losses={})


def test_generator_gradient_is_clipped(initialized, mixed_examples, monkeypatch):
    nlp, _ = initialized()
    ner = nlp.get_pipe("lowner_ner")
    ssgan = ner.objectives["ssgan"]
    ssgan.generator_updates.grad_clip = 1e-3
    norms = []
    params = list(ssgan.generator.parameters())
    monkeypatch.setattr(
        ssgan.generator_updates.optimizer, "step", lambda: norms.append(float(torch.cat([p.grad.flatten() for p in params]).norm()))
    )
    ssgan(batch_for(ner, mixed_examples), ner.head)
    ssgan.batch_accepted()
    ssgan.after_step()
    assert norms[0] == pytest.approx(1e-3, rel=1e-3)


def test_prediction_ignores_the_fake_class(initialized, weibo_docs, mixed_examples, small_cnn):
    nlp, optimizer = initialized()
    for _ in range(3):
        nlp.update(mixed_examples, sgd=optimizer)
    docs = [eg.predicted for eg in mixed_examples]
    ner = nlp.get_pipe("lowner_ner")
    before = [ids.tolist() for ids in ner.predict(docs)]
    with torch.no_grad():
        ner.head.training_module(FAKE_LOGIT).bias.fill_(1e4)  # every token "fake"
    assert [ids.tolist() for ids in ner.predict(docs)] == before
    saved = copy.deepcopy(nlp.to_bytes())
    reloaded = make_pipeline(weibo_docs[0], small_cnn).from_bytes(saved)
    assert [ids.tolist() for ids in reloaded.get_pipe("lowner_ner").predict(docs)] == before


def test_bad_generator_settings_are_rejected():
    with pytest.raises(ValueError, match="unknown generator"):
        make_ssgan(generator="cnn")
    with pytest.raises(ValueError, match="must divide"):
        make_ssgan(generator_width=10, attention_heads=4)
