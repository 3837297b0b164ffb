import warnings
from pathlib import Path

import numpy
import spacy
from spacy.training import Example
from spacy.util import registry
from thinc.api import Adam, PyTorchShim, torch2xp

from spacy_lowner.component.averaging import torch_shims, use_averaged_params

REPO_ROOT = Path(__file__).resolve().parents[2]


def transformer_pipeline(tiny_encoder, vocab):
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("transformer", config={"model": {"@architectures": "spacy-transformers.TransformerModel.v3", "name": str(tiny_encoder), "tokenizer_config": {"use_fast": True}}})
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0, "pooling": {"@layers": "reduce_mean.v1"}}}})
    return nlp


def weights(shim: PyTorchShim) -> dict:
    return {name: torch2xp(weight.detach()).copy() for name, weight in shim._model.named_parameters()}


def trained_with_averages(tiny_encoder, weibo_docs, fix: bool):
    """A few updates with averages on; the torch weights before, inside and after
    `nlp.use_params(optimizer.averages)`."""
    vocab, train_docs, _ = weibo_docs
    nlp = transformer_pipeline(tiny_encoder, vocab)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]]
    nlp.initialize(lambda: examples)
    if fix:
        registry.callbacks.get("spacy_lowner.average_torch_weights.v1")()(nlp)
    optimizer = Adam(0.001, use_averages=True)
    for _ in range(4):  # spacy-transformers steps the transformer from the second update on
        nlp.update(examples, sgd=optimizer)
    shims = list(torch_shims(nlp))
    live = [weights(shim) for shim in shims]
    with nlp.use_params(optimizer.averages):
        averaged = [weights(shim) for shim in shims]
    return optimizer, shims, live, averaged, [weights(shim) for shim in shims]


def test_every_torch_shim_is_found_once(tiny_encoder, weibo_docs):
    nlp = transformer_pipeline(tiny_encoder, weibo_docs[0])
    nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc) for doc in weibo_docs[1][:4]])
    modules = sorted(type(shim._model).__name__ for shim in torch_shims(nlp))
    assert len(modules) == 2  # the transformer and the tagger head
    assert any("Bert" in name or "Roberta" in name for name in modules)


def test_averaged_weights_reach_the_torch_layers_and_are_put_back(tiny_encoder, weibo_docs):
    optimizer, shims, live, averaged, after = trained_with_averages(tiny_encoder, weibo_docs, fix=True)
    for shim, live_w, averaged_w, after_w in zip(shims, live, averaged, after):
        moved = [name for name in live_w if not numpy.array_equal(live_w[name], averaged_w[name])]
        # every parameter the optimizer updated now holds its average ...
        updated = {name for key, name in optimizer.averages if key == shim.id}
        assert updated and set(moved) == updated
        for name in updated:
            numpy.testing.assert_allclose(averaged_w[name], optimizer.averages[(shim.id, name)], rtol=1e-6)
        # ... and the live weights come back afterwards
        for name in live_w:
            numpy.testing.assert_array_equal(after_w[name], live_w[name])


def test_without_the_callback_thinc_leaves_torch_layers_unaveraged(tiny_encoder, weibo_docs):
    # The bug the callback works around: if this starts failing, thinc has fixed it upstream and
    # spacy_lowner.average_torch_weights.v1 can go.
    optimizer, shims, live, averaged, _ = trained_with_averages(tiny_encoder, weibo_docs, fix=False)
    assert any((shim.id, name) in optimizer.averages for shim, live_w in zip(shims, live) for name in live_w)
    for live_w, averaged_w in zip(live, averaged):
        for name in live_w:
            numpy.testing.assert_array_equal(averaged_w[name], live_w[name])


def test_the_partial_config_installs_the_callback(tiny_encoder, low_resource_docbins):
    from spacy.training.initialize import init_nlp
    from thinc.api import Config

    from spacy_lowner.training.compose import compose

    text = compose(REPO_ROOT / "configs" / "weibo_trf.cfg", [REPO_ROOT / "configs" / "parts" / "averaged_weights.cfg"])
    config = Config().from_str(text, overrides={
        "paths.encoder": str(tiny_encoder),
        "paths.train": str(low_resource_docbins / "labeled.spacy"),
        "paths.dev": str(low_resource_docbins / "dev.spacy"),
    })
    assert config["training"]["optimizer"]["use_averages"] is True
    nlp = init_nlp(config)
    shims = list(torch_shims(nlp))
    assert len(shims) == 2
    assert all(shim.use_params.__func__ is use_averaged_params for shim in shims)


def test_averages_without_the_callback_are_a_warning(weibo_docs, small_cnn):
    vocab, train_docs, _ = weibo_docs
    examples = lambda: [Example(doc.copy(), doc) for doc in train_docs[:8]]  # noqa: E731
    for after_init, warned in ((None, True), ({"@callbacks": "spacy_lowner.average_torch_weights.v1"}, False)):
        nlp = spacy.blank("zh", vocab=vocab, config={
            "training": {"optimizer": {"@optimizers": "Adam.v1", "use_averages": True}},
            "initialize": {"after_init": after_init},
        })
        nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": small_cnn}})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            nlp.initialize(examples)
        assert any("use_averages" in str(w.message) for w in caught) == warned
