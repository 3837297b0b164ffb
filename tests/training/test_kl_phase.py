import numpy
import pytest
import spacy
import torch
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_lowner.corpora.docs import tokens_only
from spacy_lowner.layers.losses import kl_divergence
from spacy_lowner.objectives import ObjectiveContext
from spacy_lowner.objectives.kl_confidence import make_kl_confidence
from spacy_lowner.objectives.kl_prior import make_kl_prior
from spacy_lowner.training.kl_phase import KLPhase, KLPhaseSettings, KLTerm, dev_scores, frozen_batch, kl_loss


TRANSFORMER = {"@architectures": "spacy-transformers.TransformerModel.v3", "tokenizer_config": {"use_fast": True}}
LISTENER = {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0, "pooling": {"@layers": "reduce_mean.v1"}}


def read_examples(nlp, path):
    return [Example(tokens_only(doc, nlp.vocab), doc) for doc in DocBin().from_disk(path).get_docs(nlp.vocab)]


@pytest.fixture
def nlp(trained_pipeline):
    return spacy.load(trained_pipeline)


@pytest.fixture
def data(nlp, low_resource_docbins):
    """(labeled, unlabeled, dev) examples: 20 labeled and 40 unlabeled WeiboNER sentences, 32 dev."""
    return tuple(read_examples(nlp, low_resource_docbins / f"{name}.spacy") for name in ("labeled", "unlabeled", "dev"))


def thinc_weights(model):
    return {(node.id, name): node.get_param(name).copy() for node in model.walk() for name in node.param_names}


def torch_weights(module):
    return {name: param.detach().clone() for name, param in module.named_parameters()}


def changed(before, after):
    return sorted(key for key in before if not numpy.array_equal(numpy.asarray(before[key]), numpy.asarray(after[key])))


def head_gradients(nlp, term, examples):
    """The gradient of the term on the examples at each head weight (a fresh batch: a batch keeps its head pass)."""
    head = nlp.get_pipe("lowner_ner").head
    head.zero_grad()
    term(frozen_batch(nlp, "lowner_ner", examples), head)[""].backward()
    return {name: param.grad.clone() for name, param in head.named_parameters() if param.grad is not None}


def test_kl_loss_reductions_on_hand_made_distributions():
    probs = torch.tensor([[[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.0, 0.0, 0.0]], [[0.5, 0.25, 0.25], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    tokens = torch.tensor([[True, True, False], [True, False, False]])
    prior = torch.tensor([0.6, 0.3, 0.1])
    mean = torch.tensor([1.3, 1.25, 0.45]) / 3
    # the authors': one KL per batch; the objectives' scale: times the tokens per doc (3 / 2)
    assert kl_loss("prior", probs, tokens, prior) == pytest.approx(float(kl_divergence(prior, mean)))
    assert kl_loss("prior", probs, tokens, prior, reduction="doc_mean") == pytest.approx(1.5 * float(kl_divergence(prior, mean)))
    # the authors': a sum over the tokens; the objectives': over 2 docs
    total = kl_loss("confidence", probs, tokens)
    assert total > 0
    assert kl_loss("confidence", probs, tokens, reduction="doc_mean") == pytest.approx(float(total) / 2)
    assert kl_loss("confidence", probs, tokens, stop_gradient=True) == pytest.approx(float(total))


def test_doc_mean_with_a_stopped_gradient_is_the_objectives_term(nlp, data):
    labeled, unlabeled, _ = data
    tagger = nlp.get_pipe("lowner_ner")
    head = tagger.head
    head.eval()  # no dropout: both see the same distributions
    batch = frozen_batch(nlp, "lowner_ner", unlabeled[:8])
    context = ObjectiveContext("lowner_ner", head, tagger.scheme, lambda: labeled)
    pairs = [
        (make_kl_confidence(), KLTerm("confidence", stop_gradient=True, reduction="doc_mean")),
        (make_kl_prior(), KLTerm("prior", reduction="doc_mean")),
    ]
    for objective, term in pairs:
        objective.initialize(context)
        term.initialize(context)
        assert term(batch, head)[""].item() == pytest.approx(objective(batch, head)[""].item(), rel=1e-5)


def test_the_frozen_batch_is_what_prediction_sees(nlp, data):
    tagger = nlp.get_pipe("lowner_ner")
    examples = data[1][:6]
    batch = frozen_batch(nlp, "lowner_ner", examples)
    tagger.head.eval()
    with torch.no_grad():
        marginals = batch.marginals(tagger.head)
    _, expected = tagger.predict_with_marginals([tokens_only(eg.predicted) for eg in examples])
    for i, rows in enumerate(expected):
        numpy.testing.assert_allclose(marginals[i, : len(rows)].numpy(), rows, atol=1e-6)


@pytest.mark.parametrize("term", ["prior", "confidence"])
def test_the_kl_term_reaches_the_head_weights(nlp, data, term):
    labeled, unlabeled, _ = data
    phase = KLPhase(nlp, labeled, unlabeled, KLPhaseSettings(term=term))
    kl_term = phase.kl_runner.objectives[f"kl_{term}"]
    gradients = head_gradients(nlp, kl_term, unlabeled[:8])
    for name in ("emission.weight", "emission.bias", "crf.transitions"):
        assert float(gradients[name].abs().sum()) > 0, name


def test_the_stopped_gradient_changes_the_gradient_not_the_loss(nlp, data):
    examples = data[1][:8]
    head = nlp.get_pipe("lowner_ner").head
    head.eval()  # no dropout: both see the same distributions
    free, stopped = KLTerm("confidence"), KLTerm("confidence", stop_gradient=True)
    batch = frozen_batch(nlp, "lowner_ner", examples)
    assert free(batch, head)[""].item() == pytest.approx(stopped(batch, head)[""].item())
    through, held = head_gradients(nlp, free, examples), head_gradients(nlp, stopped, examples)
    assert not torch.allclose(through["emission.weight"], held["emission.weight"], rtol=1e-3)


@pytest.mark.parametrize("freeze", [True, False])
def test_frozen_kl_steps_change_only_the_head(nlp, data, freeze):
    labeled, unlabeled, _ = data
    tagger = nlp.get_pipe("lowner_ner")
    tok2vec = tagger.model.get_ref("tok2vec")
    encoder_before, head_before = thinc_weights(tok2vec), torch_weights(tagger.head)
    phase = KLPhase(nlp, labeled, unlabeled, KLPhaseSettings(freeze_encoder=freeze))
    for start in (0, 8):
        assert phase.kl_step(unlabeled[start : start + 8]) > 0
    assert changed(head_before, torch_weights(tagger.head))
    # frozen: not one of the tok2vec's weights moved; training it (the control case): they move
    assert bool(changed(encoder_before, thinc_weights(tok2vec))) is not freeze


def test_a_frozen_transformer_stays_as_it_was(tiny_encoder, weibo_docs, tmp_path):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("transformer", config={"model": {**TRANSFORMER, "name": str(tiny_encoder)}})
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": LISTENER}})
    labeled = [Example(tokens_only(doc, vocab), doc) for doc in train_docs[:8]]
    nlp.initialize(lambda: labeled)
    nlp.to_disk(tmp_path / "model")
    nlp = spacy.load(tmp_path / "model")
    tagger = nlp.get_pipe("lowner_ner")
    unlabeled = [Example(tokens_only(doc, vocab), tokens_only(doc, vocab)) for doc in train_docs[8:16]]
    # the listener reads the transformer's output: what prediction sees, not zeros
    batch = frozen_batch(nlp, "lowner_ner", unlabeled)
    tagger.head.eval()
    with torch.no_grad():
        marginals = batch.marginals(tagger.head)
    _, expected = tagger.predict_with_marginals(list(nlp.pipe((eg.predicted for eg in unlabeled), disable=["lowner_ner"])))
    numpy.testing.assert_allclose(marginals[0, : len(expected[0])].numpy(), expected[0], atol=1e-5)
    transformer = nlp.get_pipe("transformer").model
    encoder_before, head_before = thinc_weights(transformer), torch_weights(tagger.head)
    torch_encoder = [shim._model for node in transformer.walk() for shim in node.shims][0]
    torch_before = torch_weights(torch_encoder)
    phase = KLPhase(nlp, labeled, unlabeled, KLPhaseSettings(batch_size=4))
    phase.kl_step(unlabeled[:4])
    phase.supervised_step(labeled[:4])
    assert changed(head_before, torch_weights(tagger.head))
    assert not changed(torch_before, torch_weights(torch_encoder))
    assert not changed(encoder_before, thinc_weights(transformer))


def record_batches(phase):
    """The texts of every labeled batch the phase's supervised steps get."""
    batches = []
    step = phase.supervised_step

    def recording(examples):
        batches.append([eg.reference.text for eg in examples])
        return step(examples)

    phase.supervised_step = recording
    return batches


def test_the_control_takes_exactly_the_supervised_steps_of_the_kl_run(trained_pipeline, data, tmp_path):
    labeled, unlabeled, dev = data
    runs = {}
    for kl_steps in (1, 0):
        nlp = spacy.load(trained_pipeline)
        phase = KLPhase(nlp, labeled, unlabeled, KLPhaseSettings(pairs=3, kl_steps=kl_steps, batch_size=8, eval_every=3))
        batches = record_batches(phase)
        result = phase.run(dev, tmp_path / str(kl_steps))
        runs[kl_steps] = (result, batches, nlp.get_pipe("lowner_ner").step)
    (kl_run, kl_batches, kl_optimizer_steps), (control, control_batches, control_optimizer_steps) = runs[1], runs[0]
    assert (kl_run.kl_steps, kl_run.supervised_steps, kl_optimizer_steps) == (3, 3, 6)
    assert (control.kl_steps, control.supervised_steps, control_optimizer_steps) == (0, 3, 3)
    assert control_batches == kl_batches and len({len(batch) for batch in kl_batches}) > 1  # 20 docs: 8, 8, 4
    assert control.curve[-1].kl_loss is None and kl_run.curve[-1].kl_loss > 0


def test_the_paper_pair_counts_and_the_checkpoints(nlp, data, tmp_path):
    labeled, unlabeled, dev = data
    assert KLPhaseSettings(term="prior").n_pairs == 40 and KLPhaseSettings(term="confidence").n_pairs == 80
    phase = KLPhase(nlp, labeled, unlabeled, KLPhaseSettings(pairs=5, batch_size=8, eval_every=2, kl_learn_rate=0.01))
    result = phase.run(dev, tmp_path / "run")
    assert [point.pair for point in result.curve] == [0, 2, 4, 5]
    assert result.best.score == max(point.score for point in result.curve)
    for name, point in (("model-best", result.best), ("model-last", result.curve[-1])):
        saved = spacy.load(tmp_path / "run" / name)
        assert saved.meta["performance"]["ents_f"] == pytest.approx(point.score)
        scores = dev_scores(saved, dev)
        assert scores == pytest.approx(point.scores)
        assert 0 <= scores["tokens_macro_f"] <= 1 and 0 <= scores["tokens_acc_no_o"] <= 1


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"term": "entropy"}, "the KL term must be one of prior, confidence"),
        ({"reduction": "mean"}, "the reduction must be one of sum, doc_mean"),
        ({"term": "prior", "stop_gradient": True}, "stop_gradient applies to the confidence KL only"),
        ({"pairs": 0}, "pairs must be at least 1"),
        ({"kl_steps": -1}, "kl_steps must be 0 (the control) or more"),
        ({"kl_learn_rate": 0.0}, "kl_learn_rate must be above 0"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        KLPhaseSettings(**settings)


def test_labeled_and_unlabeled_docs_must_be_what_they_are_said_to_be(nlp, data):
    labeled, unlabeled, _ = data
    with pytest.raises(ValueError, match="20 of the unlabeled docs have entity annotation"):
        KLPhase(nlp, labeled, labeled, KLPhaseSettings())
    with pytest.raises(ValueError, match="40 of the labeled docs have no annotation"):
        KLPhase(nlp, unlabeled, unlabeled, KLPhaseSettings())
