import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import ConfigValidationError

from spacy_lowner.model.batch import TaggerBatch
from spacy_lowner.model.channels import set_domain
from spacy_lowner.model.head import TaggerHead
from spacy_lowner.model.tags import TagScheme
from spacy_lowner.objectives import ObjectiveContext
from spacy_lowner.objectives.language_adversarial import make_language_adversarial
from tests.teachers import adversarial_pipeline

WIDTH = 8


def language_batch(n_docs: int = 6, n_tokens: int = 5, seed: int = 0):
    """Docs of domains source and target in turn whose token vectors the language separates
    (the first dimension +1 in the source, -1 in the target, noise elsewhere)."""
    vocab = spacy.blank("en").vocab
    examples = []
    for i in range(n_docs):
        doc = set_domain(Doc(vocab, words=["w"] * n_tokens), "source" if i % 2 == 0 else "target")
        examples.append(Example(Doc(vocab, words=["w"] * n_tokens), doc))
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(n_docs, n_tokens, WIDTH, generator=generator)
    features[:, :, 0] = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(n_docs)]).unsqueeze(1)
    scheme = TagScheme(("PER",), "BIO")
    mask = torch.ones(n_docs, n_tokens, dtype=torch.bool)
    return TaggerBatch(features=features.requires_grad_(), mask=mask, examples=examples, scheme=scheme), scheme


def objective_and_head(batch, scheme, **settings):
    head = TaggerHead(hidden_width=0)
    head.build(n_in=WIDTH, scheme=scheme.to_dict(), decoder="crf")
    objective = make_language_adversarial(hidden_width=16, **settings)
    objective.name = "language_adversarial"
    objective.initialize(ObjectiveContext("lowner_ner", head, scheme, lambda: batch.examples))
    return objective, head


def train_discriminator(objective, batch, head, steps: int):
    for _ in range(steps):
        objective(batch, head)
        objective.batch_accepted()
        objective.after_step()


def test_the_discriminator_learns_the_languages_with_its_own_optimizer():
    batch, scheme = language_batch()
    objective, head = objective_and_head(batch, scheme, discriminator_learning_rate=0.01)
    objective(batch, head)
    first = objective.discriminator_loss
    train_discriminator(objective, batch, head, 60)
    assert objective.report()["accuracy"] == 1.0
    assert objective.report()["discriminator"] < first / 4
    # its gradients live only between its own steps, never in the parameters for spaCy's optimizer
    assert all(param.grad is None for param in head.kept_module("language_adversarial_discriminator").parameters())
    assert objective.discriminator is head.kept_module("language_adversarial_discriminator")


def test_the_encoder_term_moves_the_token_vectors_to_confuse_the_discriminator():
    batch, scheme = language_batch()
    objective, head = objective_and_head(batch, scheme, discriminator_learning_rate=0.01, weight=1.0)
    train_discriminator(objective, batch, head, 60)
    is_source = torch.tensor([i % 2 == 0 for i in range(len(batch.mask))])

    def p_source(vectors):
        with torch.no_grad():
            return objective.source_probabilities(head, vectors, batch.mask)

    before = p_source(batch.features.detach())
    objective(batch, head)[""].backward()
    # the flipped labels' gradient, followed down a little way
    moved = batch.features.detach() - 0.5 * batch.features.grad / batch.features.grad.norm()
    after = p_source(moved)
    assert float(after[is_source].mean()) < float(before[is_source].mean())  # source looks less like source
    assert float(after[~is_source].mean()) > float(before[~is_source].mean())  # target more like it
    assert all(param.grad is None for param in head.kept_module("language_adversarial_discriminator").parameters())


def test_at_weight_0_only_the_discriminator_trains():
    batch, scheme = language_batch()
    objective, head = objective_and_head(batch, scheme, weight=0.0)
    assert objective(batch, head) == {}
    assert objective.discriminator_updates.has_batch


def test_the_discriminator_is_kept_with_the_pipeline_and_moved_only_by_its_own_optimizer(weibo_docs, small_cnn, tmp_path):
    nlp, examples, optimizer = adversarial_pipeline(weibo_docs, small_cnn)
    ner = nlp.get_pipe("lowner_ner")
    objective = ner.objectives["language_adversarial"]
    discriminator = ner.head.kept_module(objective.discriminator_name)

    def weights():
        return {name: param.detach().clone() for name, param in discriminator.named_parameters()}

    # Its own optimizer at rate 0: spaCy's optimizer (Adam with weight decay) leaves it alone too.
    objective.discriminator_updates.optimizer.param_groups[0]["lr"] = 0.0
    start = weights()
    nlp.update(examples[:10], sgd=optimizer)
    nlp.update(examples[10:20], sgd=optimizer)
    assert all(torch.equal(start[name], value) for name, value in weights().items())
    assert not any(name.startswith(f"kept_modules.{objective.discriminator_name}") for _, name in optimizer.nr_update)
    assert any(name == "emission.weight" for _, name in optimizer.nr_update)  # the head did train
    objective.discriminator_updates.optimizer.param_groups[0]["lr"] = 0.005
    nlp.update(examples[20:30], sgd=optimizer)
    trained = weights()
    assert not all(torch.equal(start[name], value) for name, value in trained.items())
    nlp.to_disk(tmp_path / "teacher")
    loaded = spacy.load(tmp_path / "teacher").get_pipe("lowner_ner")
    kept = loaded.head.kept_module(loaded.objectives["language_adversarial"].discriminator_name)
    assert all(torch.equal(trained[name], value.cpu()) for name, value in kept.state_dict().items())


def test_settings_are_checked_before_training(weibo_docs, small_cnn):
    config = {"objectives": {"language_adversarial": {"@lowner_objectives": "spacy_lowner.language_adversarial.v1", "weight": -1}}}
    with pytest.raises(ConfigValidationError, match="weight"):
        spacy.blank("zh").add_pipe("lowner_ner", config=config)
    with pytest.raises(ValueError, match="source_domain and target_domain are both 'es'"):
        make_language_adversarial(source_domain="es", target_domain="es")
    batch, scheme = language_batch()
    with pytest.raises(ValueError, match=r"target_domain = 'es', but no training doc has that domain \(they have: source, target\)"):
        objective_and_head(batch, scheme, target_domain="es")
    with pytest.raises(ValueError, match=r"reads = 'bilstm', but the head has no such module \(it has: input\)"):
        objective_and_head(batch, scheme, reads="bilstm")
