"""The contract every registered objective keeps with the component (objectives/base.py)."""
import copy

import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed
from torch import nn

from spacy_lowner.model.batch import training_batch
from spacy_lowner.model.channels import set_domain, set_teacher
from spacy_lowner.objectives import Objective
from spacy_lowner.registry import lowner_objectives

# The objectives this package ships (every module of spacy_lowner/objectives registers one).
REGISTERED = sorted(
    name for name, factory in lowner_objectives.get_all().items() if factory.__module__.startswith("spacy_lowner.objectives.")
)
CANARY = "contract_canary"


class CanaryObjective(Objective):
    """Owns a training module and a side parameter that no other objective may touch."""

    def initialize(self, context):
        context.head.add_training_module(CANARY, nn.Linear(context.head.feature_width, 1))
        self.side = nn.Parameter(torch.ones(3))

    def __call__(self, batch, head):
        return {"": 0.0 * head.training_module(CANARY)(batch.hidden(head)).sum()}


@lowner_objectives(CANARY)
def make_canary() -> CanaryObjective:
    return CanaryObjective()


def with_channels(eg: Example, tags) -> Example:
    """Give an example every channel an objective may ask for."""
    set_domain(eg.reference, "target")
    uniform = [[1.0 / len(tags)] * len(tags) for _ in eg.reference]
    set_teacher(eg.reference, tags, uniform)
    return eg


@pytest.fixture
def pipeline(weibo_docs, small_cnn):
    def make(name):
        vocab, train_docs, _ = weibo_docs
        nlp = spacy.blank("zh", vocab=vocab)
        objectives = {"supervised": {"@lowner_objectives": "supervised"}}
        if name != "supervised":
            objectives[name] = {"@lowner_objectives": name}
        objectives["canary"] = {"@lowner_objectives": CANARY}
        model = {"@architectures": "spacy_lowner.TokenTagger.v2", "hidden_width": 16, "dropout": 0.1, "tok2vec": small_cnn}
        nlp.add_pipe("lowner_ner", config={"model": model, "objectives": objectives})
        # copies: the channels are set on the references, which the session fixture shares
        labeled = [Example(nlp.make_doc(doc.text), doc.copy()) for doc in train_docs[:6]]
        unlabeled = [Example(nlp.make_doc(doc.text), Doc(vocab, words=[t.text for t in doc])) for doc in train_docs[6:12]]
        empty = Example(nlp.make_doc(""), Doc(vocab, words=[]))
        fix_random_seed(0)
        nlp.initialize(lambda: labeled)
        tags = nlp.get_pipe("lowner_ner").scheme.tags
        batch = [with_channels(eg, tags) for eg in labeled[:3] + unlabeled[:3] + [empty] + labeled[3:] + unlabeled[3:]]
        return nlp, batch

    return make


def parameters(module: nn.Module) -> dict:
    return {name: value.detach().clone() for name, value in module.named_parameters()}


@pytest.mark.parametrize("name", REGISTERED)
def test_finite_terms_on_a_mixed_batch_with_an_empty_doc(pipeline, name):
    nlp, batch = pipeline(name)
    ner = nlp.get_pipe("lowner_ner")
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in batch])
    terms = ner.objectives[name](training_batch(batch, tokvecs, ner.scheme), ner.head)
    assert terms, f"{name} gave no term on a batch with labeled and unlabeled docs"
    assert all(torch.isfinite(value) and value.dim() == 0 for value in terms.values())
    losses = nlp.update(batch, sgd=nlp.create_optimizer(), losses={})
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values())


@pytest.mark.parametrize("name", REGISTERED)
def test_training_modules_never_change_predictions_and_are_not_saved(pipeline, name):
    nlp, batch = pipeline(name)
    optimizer = nlp.create_optimizer()
    for _ in range(2):
        nlp.update(batch, sgd=optimizer)
    ner = nlp.get_pipe("lowner_ner")
    docs = [nlp.make_doc(eg.reference.text) for eg in batch]
    before = [ids.tolist() for ids in ner.predict(docs)]
    with torch.no_grad():
        for param in ner.head.training_modules.parameters():
            param.normal_(std=100.0)
    assert [ids.tolist() for ids in ner.predict(docs)] == before
    reloaded = spacy.blank("zh", vocab=nlp.vocab)
    config = {key: value for key, value in copy.deepcopy(nlp.config["components"]["lowner_ner"]).items() if key != "factory"}
    reloaded.add_pipe("lowner_ner", config=config)
    reloaded.from_bytes(nlp.to_bytes())
    reloaded_ner = reloaded.get_pipe("lowner_ner")
    assert [ids.tolist() for ids in reloaded_ner.predict(docs)] == before
    assert not any(key.startswith("training_modules.") for key in reloaded_ner.head.state_dict())


@pytest.mark.parametrize("name", REGISTERED)
def test_an_objective_touches_no_parameter_of_another(pipeline, name):
    nlp, batch = pipeline(name)
    ner = nlp.get_pipe("lowner_ner")
    canary = ner.objectives["canary"]
    owned = {**parameters(ner.head.training_module(CANARY)), "side": canary.side.detach().clone()}
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in batch])
    terms = ner.objectives[name](training_batch(batch, tokvecs, ner.scheme), ner.head)
    torch.stack(list(terms.values())).sum().backward()
    ner.objectives[name].batch_accepted()
    ner.objectives[name].after_step()
    after = {**parameters(ner.head.training_module(CANARY)), "side": canary.side.detach()}
    for key, value in owned.items():
        assert torch.equal(value, after[key]), key
    assert all(p.grad is None for p in ner.head.training_module(CANARY).parameters())
    assert canary.side.grad is None


def test_every_shipped_objective_is_covered():
    assert {"supervised", "ssgan"} <= set(REGISTERED)
