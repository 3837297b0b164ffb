import math

import pytest
import torch

from spacy_lowner.objectives.kl_confidence import sharpened_target
from spacy_lowner.objectives.schedules import linear_ramp


def test_sharpened_target_on_hand_made_distributions():
    q = torch.tensor([[0.8, 0.2], [0.5, 0.5], [0.1, 0.9]])
    p = sharpened_target(q)
    f = q.sum(0)  # 1.4, 1.6
    expected = (q**2 / f) / (q**2 / f).sum(-1, keepdim=True)
    torch.testing.assert_close(p, expected)
    torch.testing.assert_close(p.sum(-1), torch.ones(3))
    assert p[0, 0] > q[0, 0] and p[2, 1] > q[2, 1]  # sharper
    # an even row stays even only if the tags are equally frequent; here tag 1 is more frequent
    assert p[1, 0] > p[1, 1]


def test_linear_ramp():
    assert [linear_ramp(s, start=2, warmup=4) for s in range(8)] == [0, 0, 0.25, 0.5, 0.75, 1, 1, 1]
    assert linear_ramp(0) == 1.0


@pytest.fixture
def make_nlp(objective_pipeline):
    return lambda objective: objective_pipeline({"kl": objective})


def test_kl_prior_is_the_kl_of_the_labeled_tag_frequencies_to_the_mean_prediction(make_nlp):
    nlp, optimizer, labeled, unlabeled = make_nlp({"@lowner_objectives": "kl_prior"})
    ner = nlp.get_pipe("lowner_ner")
    kl = ner.objectives["kl"]
    counts = torch.zeros(len(ner.scheme.tags))
    for eg in labeled:
        for tag in ner.scheme.from_biluo(eg.get_aligned_ner()):
            counts[tag] += 1
    torch.testing.assert_close(kl.prior, counts / counts.sum(), atol=1e-6, rtol=1e-4)
    from spacy_lowner.model.batch import training_batch

    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in unlabeled])
    batch = training_batch(unlabeled, tokvecs, ner.scheme)
    ner.head.eval()
    value = kl(batch, ner.head)[""]
    q = batch.marginals(ner.head)[batch.mask].mean(0)
    expected = (kl.prior * (kl.prior.clamp(min=1e-12).log() - q.log())).sum() * batch.mask.sum() / len(unlabeled)
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)


def test_kl_prior_from_the_config_and_its_schedule(make_nlp):
    nlp, optimizer, labeled, unlabeled = make_nlp(
        {"@lowner_objectives": "kl_prior", "prior": {"O": 3.0, "B-PER.NAM": 1.0}, "start_step": 2, "warmup_steps": 2}
    )
    ner = nlp.get_pipe("lowner_ner")
    prior = ner.objectives["kl"].prior
    assert prior[ner.scheme.tags.index("O")].item() == pytest.approx(0.75, abs=1e-6)
    seen = []
    for _ in range(4):
        seen.append(nlp.update(labeled[:2] + unlabeled[:2], sgd=optimizer).get("lowner_ner_kl", 0.0))
    assert seen[0] == seen[1] == 0.0 and 0 < seen[2] and seen[3] > 0


def test_kl_prior_rejects_unknown_tags(make_nlp):
    with pytest.raises(ValueError, match="not among"):
        make_nlp({"@lowner_objectives": "kl_prior", "prior": {"B-ANIMAL": 1.0}})


def test_kl_confidence_makes_the_unlabeled_predictions_surer(make_nlp):
    nlp, optimizer, labeled, unlabeled = make_nlp({"@lowner_objectives": "kl_confidence", "weight": 5.0})
    ner = nlp.get_pipe("lowner_ner")
    for _ in range(3):
        nlp.update(labeled, sgd=optimizer)

    def entropy():
        from spacy_lowner.model.batch import training_batch

        tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in unlabeled])
        batch = training_batch(unlabeled, tokvecs, ner.scheme)
        ner.head.eval()
        with torch.no_grad():
            probs = batch.marginals(ner.head)[batch.mask]
        return float(-(probs * probs.clamp(min=1e-12).log()).sum(-1).mean())

    before = entropy()
    for _ in range(10):
        nlp.update(unlabeled, sgd=optimizer)
    assert entropy() < before
    assert math.isfinite(before)
