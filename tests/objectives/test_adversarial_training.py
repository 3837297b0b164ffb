"""DATNet's adversarial training (AT) on WeiboNER docs over the small CNN: the perturbation
and the term's gradient."""
import pytest
import spacy
import torch
from thinc.api import ConfigValidationError

from spacy_lowner.model.batch import training_batch
from spacy_lowner.objectives.adversarial_training import loss_direction
from spacy_lowner.objectives.supervised import labeled_nll

AT = {"@lowner_objectives": "spacy_lowner.adversarial_training.v1", "epsilon": 2.0}


@pytest.fixture
def at_pipeline(objective_pipeline):
    """The pipeline in eval mode (no dropout, so that a pass can be repeated exactly) and a
    batch of 4 labeled and 2 unlabeled docs."""
    nlp, optimizer, labeled, unlabeled = objective_pipeline({"adversarial_training": AT})
    ner = nlp.get_pipe("lowner_ner")
    ner.head.eval()
    examples = labeled[:4] + unlabeled[:2]
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in examples])
    return ner, lambda: training_batch(examples, tokvecs, ner.scheme)


def test_the_perturbation_has_norm_epsilon_per_doc_and_points_along_the_gradient(at_pipeline):
    ner, make_batch = at_pipeline
    batch = make_batch()
    clean = labeled_nll(batch, batch.head_pass(ner.head))
    (grad,) = torch.autograd.grad(clean, batch.features, retain_graph=True)
    perturbation = 2.0 * loss_direction(clean, batch)
    for doc in range(4):
        assert perturbation[doc].norm().item() == pytest.approx(2.0, rel=1e-5)
        cosine = torch.nn.functional.cosine_similarity(perturbation[doc].flatten(), grad[doc].flatten(), dim=0)
        assert cosine.item() == pytest.approx(1.0, abs=1e-5)
    # unlabeled docs have no supervised loss, so nothing to perturb
    assert perturbation[4:].abs().sum() == 0
    # it raises the loss, and more than the opposite step or a random one of the same norm
    raised = labeled_nll(batch, batch.head_pass(ner.head, vectors=batch.features + perturbation))
    lowered = labeled_nll(batch, batch.head_pass(ner.head, vectors=batch.features - perturbation))
    torch.manual_seed(0)
    noise = torch.randn_like(perturbation) * batch.mask.unsqueeze(-1)
    noise = noise / noise.flatten(1).norm(dim=1).clamp(min=1e-12)[:, None, None]
    random = labeled_nll(batch, batch.head_pass(ner.head, vectors=batch.features + 2.0 * noise))
    assert raised > clean > lowered
    assert raised > random


def test_the_term_is_the_loss_at_the_perturbed_vectors_and_its_gradient_reaches_the_tok2vec(at_pipeline):
    ner, make_batch = at_pipeline
    objective = ner.objectives["adversarial_training"]
    batch = make_batch()
    term = objective(batch, ner.head)[""]
    # computing g accumulates no gradient into the head: only the summed loss's backward does
    assert all(param.grad is None for param in ner.head.parameters())
    term.backward()
    reached = torch.cat([leaf.grad for leaf in batch.leaves])
    # the same loss by hand, with the perturbation a constant (the code's stop_gradient)
    again = make_batch()
    perturbation = 2.0 * loss_direction(labeled_nll(again, again.head_pass(ner.head)), again).detach()
    expected = labeled_nll(again, again.head_pass(ner.head, vectors=again.features + perturbation))
    assert term.item() == pytest.approx(expected.item(), rel=1e-6)
    expected.backward()
    assert reached.abs().sum() > 0
    assert torch.allclose(reached, torch.cat([leaf.grad for leaf in again.leaves]), atol=1e-7, rtol=1e-4)


def test_epsilon_0_is_the_supervised_loss_and_unlabeled_batches_give_no_term(objective_pipeline):
    nlp, _, labeled, unlabeled = objective_pipeline({"adversarial_training": {**AT, "epsilon": 0.0}})
    ner = nlp.get_pipe("lowner_ner")
    ner.head.eval()
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in labeled[:3]])
    batch = training_batch(labeled[:3], tokvecs, ner.scheme)
    term = ner.objectives["adversarial_training"](batch, ner.head)[""]
    assert term.item() == pytest.approx(ner.objectives["supervised"](batch, ner.head)[""].item(), rel=1e-6)
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in unlabeled[:3]])
    assert ner.objectives["adversarial_training"](training_batch(unlabeled[:3], tokvecs, ner.scheme), ner.head) == {}


def test_a_negative_epsilon_is_a_config_error():
    objectives = {"supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1"}, "at": {**AT, "epsilon": -5.0}}
    with pytest.raises(ConfigValidationError, match=r"-> epsilon\s+at root: -5.0 is not a finite number >= 0"):
        spacy.blank("zh").add_pipe("lowner_ner", config={"objectives": objectives})
