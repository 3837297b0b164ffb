import pytest
import spacy
import torch

from spacy_lowner.objectives.schedules import sigmoid_ramp


@pytest.fixture
def setup(objective_pipeline):
    return lambda **settings: objective_pipeline({"mt": {"@lowner_objectives": "mean_teacher", **settings}})


def params(module):
    return {name: p.detach().clone() for name, p in module.named_parameters() if not name.startswith("training_modules.")}


def test_the_ema_update_rule(setup):
    nlp, optimizer, labeled, unlabeled = setup(ema_decay=0.9, rampup_steps=0)
    ner = nlp.get_pipe("lowner_ner")
    mt = ner.objectives["mt"]
    for step in range(4):
        teacher_before = params(mt.teacher)
        nlp.update(labeled + unlabeled, sgd=optimizer)
        student = params(ner.head)
        decay = min(1 - 1 / (step + 1), 0.9)  # 0, 0.5, 0.667, 0.75
        for name, value in params(mt.teacher).items():
            torch.testing.assert_close(value, decay * teacher_before[name] + (1 - decay) * student[name])
    assert mt.step == 3


def test_consistency_reaches_the_encoder_and_prediction_uses_the_teacher(setup, tmp_path):
    nlp, optimizer, labeled, unlabeled = setup(rampup_steps=0, ema_decay=0.99)
    ner = nlp.get_pipe("lowner_ner")
    ner.measure_term_gradients = True
    for _ in range(5):
        nlp.update(labeled + unlabeled, sgd=optimizer)
    assert ner.term_gradients["mt"] > 0
    teacher = ner.objectives["mt"].teacher
    docs = [nlp.make_doc(eg.reference.text) for eg in unlabeled]
    with_teacher = [ids.tolist() for ids in ner.predict(docs)]
    student = params(ner.head)
    ner.objectives["mt"].predict_with = "student"
    with_student = [ids.tolist() for ids in ner.predict(docs)]
    assert with_teacher != with_student  # after 5 steps of 0.99 EMA the two differ
    ner.objectives["mt"].predict_with = "teacher"
    assert all(torch.equal(student[k], v) for k, v in params(ner.head).items())  # swapped back
    nlp.to_disk(tmp_path / "model")
    reloaded = spacy.load(tmp_path / "model").get_pipe("lowner_ner")
    for name, value in params(reloaded.head).items():
        torch.testing.assert_close(value, dict(teacher.named_parameters())[name].detach())
    assert [ids.tolist() for ids in reloaded.predict(docs)] == with_teacher


def test_confidence_threshold_and_ramp(setup):
    nlp, optimizer, labeled, unlabeled = setup(confidence=1.0, rampup_steps=0)
    assert "lowner_ner_mt" not in nlp.update(labeled + unlabeled, sgd=optimizer)  # no token that sure
    assert sigmoid_ramp(0, 100) == pytest.approx(0.006737947) and sigmoid_ramp(100, 100) == 1.0
    with pytest.raises(ValueError, match="divergence"):
        setup(divergence="js")
