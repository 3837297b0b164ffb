"""The contract every registered objective keeps with the component (objectives/base.py)."""
import copy

import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed
from torch import nn

from spacy_lowner.layers.grad_reverse import reverse_gradient
from spacy_lowner.model.batch import training_batch
from spacy_lowner.model.channels import set_domain, set_teacher
from spacy_lowner.model.tags import TagScheme
from spacy_lowner.objectives import UNVERSIONED, Objective
from spacy_lowner.registry import lowner_objectives

# The objectives this package ships (every module of spacy_lowner/objectives registers one).
REGISTERED = sorted(
    name
    for name, factory in lowner_objectives.get_all().items()
    if factory.__module__.startswith("spacy_lowner.objectives.") and name.startswith("spacy_lowner.")
)
CANARY = "contract_canary"
DOMAIN_PROBE = "contract_domain_probe"
# Every objective under test: the shipped ones and one that needs the `domain` channel.
UNDER_TEST = REGISTERED + [DOMAIN_PROBE]
# The head modules an objective reads with its default settings: its pipeline's head has them.
HEAD_MODULES = {
    "spacy_lowner.word_adversarial.v1": {"map": {"@lowner_head_modules": "spacy_lowner.domain_map.v1", "domains": ["source"]}},
    "spacy_lowner.resource_adversarial.v1": {"bilstm": {"@lowner_head_modules": "spacy_lowner.bilstm.v1", "width": 8}},
}


def config_key(name: str) -> str:
    """The objective's key in the component config: "spacy_lowner.ssgan.v1" -> "ssgan"."""
    return name.split(".")[1] if name.startswith("spacy_lowner.") else name


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


class DomainProbeObjective(Objective):
    """An objective that needs the `domain` channel: a linear domain classifier on the head's
    features, behind gradient reversal, as a domain-adversarial objective would be."""

    needs = ("domain",)

    def initialize(self, context):
        context.head.add_training_module("domain_probe", nn.Linear(context.head.feature_width, 2))

    def __call__(self, batch, head):
        pooled = doc_mean(batch.hidden(head), batch.mask)
        logits = head.training_module("domain_probe")(reverse_gradient(pooled, 1.0))
        return {"": nn.functional.cross_entropy(logits, batch.domain_ids(["source", "target"]))}


@lowner_objectives(DOMAIN_PROBE)
def make_domain_probe() -> DomainProbeObjective:
    return DomainProbeObjective()


def doc_mean(vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (vectors * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


def with_channels(eg: Example, domain: str, tags) -> Example:
    """Give an example every channel an objective may ask for."""
    set_domain(eg.reference, domain)
    uniform = [[1.0 / len(tags)] * len(tags) for _ in eg.reference]
    set_teacher(eg.reference, tags, uniform)
    return eg


def weibo_tags(train_docs) -> list:
    """The BIO tags of the docs' entity types, as the component will derive them."""
    labels = sorted({ent.label_ for doc in train_docs for ent in doc.ents})
    return TagScheme(tuple(labels), "BIO").tags


@pytest.fixture
def pipeline(weibo_docs, small_cnn):
    def make(name):
        vocab, train_docs, _ = weibo_docs
        nlp = spacy.blank("zh", vocab=vocab)
        objectives = {"supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1"}}
        objectives[config_key(name)] = {"@lowner_objectives": name}
        objectives["canary"] = {"@lowner_objectives": CANARY}
        model = {"@architectures": "spacy_lowner.TokenTagger.v2", "hidden_width": 16, "dropout": 0.1, "tok2vec": small_cnn}
        if name in HEAD_MODULES:
            model.update({"@architectures": "spacy_lowner.TokenTagger.v3", "modules": HEAD_MODULES[name]})
        nlp.add_pipe("lowner_ner", config={"model": model, "objectives": objectives})
        # copies: the channels are set on the references, which the session fixture shares
        labeled = [Example(nlp.make_doc(doc.text), doc.copy()) for doc in train_docs[:6]]
        unlabeled = [Example(nlp.make_doc(doc.text), Doc(vocab, words=[t.text for t in doc])) for doc in train_docs[6:12]]
        empty = Example(nlp.make_doc(""), Doc(vocab, words=[]))
        # The channels first, then the pipeline: initialisation checks that the training data
        # gives every channel an objective needs.
        tags = weibo_tags(train_docs[:6])
        batch = labeled[:3] + unlabeled[:3] + [empty] + labeled[3:] + unlabeled[3:]
        batch = [with_channels(eg, "target" if eg in labeled else "source", tags) for eg in batch]
        fix_random_seed(0)
        nlp.initialize(lambda: batch)
        assert nlp.get_pipe("lowner_ner").scheme.tags == tags
        return nlp, batch

    return make


def parameters(module: nn.Module) -> dict:
    return {name: value.detach().clone() for name, value in module.named_parameters()}


@pytest.mark.parametrize("name", UNDER_TEST)
def test_finite_terms_on_a_mixed_batch_with_an_empty_doc(pipeline, name):
    nlp, batch = pipeline(name)
    ner = nlp.get_pipe("lowner_ner")
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in batch])
    terms = ner.objectives[config_key(name)](training_batch(batch, tokvecs, ner.scheme), ner.head)
    assert terms, f"{name} gave no term on a batch with labeled and unlabeled docs"
    assert all(torch.isfinite(value) and value.dim() == 0 for value in terms.values())
    losses = nlp.update(batch, sgd=nlp.create_optimizer(), losses={})
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values())


@pytest.mark.parametrize("name", UNDER_TEST)
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


@pytest.mark.parametrize("name", UNDER_TEST)
def test_an_objective_touches_no_parameter_of_another(pipeline, name):
    nlp, batch = pipeline(name)
    ner = nlp.get_pipe("lowner_ner")
    canary = ner.objectives["canary"]
    owned = {**parameters(ner.head.training_module(CANARY)), "side": canary.side.detach().clone()}
    tokvecs = ner.model.get_ref("tok2vec").predict([eg.predicted for eg in batch])
    terms = ner.objectives[config_key(name)](training_batch(batch, tokvecs, ner.scheme), ner.head)
    torch.stack(list(terms.values())).sum().backward()
    ner.objectives[config_key(name)].batch_accepted()
    ner.objectives[config_key(name)].after_step()
    after = {**parameters(ner.head.training_module(CANARY)), "side": canary.side.detach()}
    for key, value in owned.items():
        assert torch.equal(value, after[key]), key
    assert all(p.grad is None for p in ner.head.training_module(CANARY).parameters())
    assert canary.side.grad is None


def test_every_shipped_objective_is_covered():
    assert {"spacy_lowner.supervised.v1", "spacy_lowner.ssgan.v1"} <= set(REGISTERED)


@pytest.mark.parametrize("old", UNVERSIONED)
def test_unversioned_names_still_resolve(old):
    assert lowner_objectives.get(old) is lowner_objectives.get(f"spacy_lowner.{old}.v1")
