import numpy
import pytest
import spacy
from spacy.training import Example
from spacy.util import registry


def make(**settings):
    return registry.resolve({"optimizer": {"@optimizers": "spacy_lowner.layerwise_adam.v1", **settings}})["optimizer"]


def test_the_scale_follows_the_layer_in_the_parameter_name():
    optimizer = make(learn_rate=0.001, num_layers=4, layer_decay=0.5, head_factor=10.0)
    assert optimizer.lr_scale_of("encoder.layer.3.output.dense.weight") == 1.0
    assert optimizer.lr_scale_of("encoder.layer.1.attention.self.query.bias") == 0.25
    assert optimizer.lr_scale_of("embeddings.word_embeddings.weight") == 0.5**4
    assert optimizer.lr_scale_of("emission.weight") == 10.0  # the tagger head
    assert optimizer.lr_scale_of("layer_logits") == 10.0  # a layer mix
    with pytest.raises(ValueError, match="num_layers"):
        optimizer.lr_scale_of("encoder.layer.4.output.dense.weight")


def test_an_update_moves_each_parameter_by_its_scale():
    optimizer = make(learn_rate=0.01, num_layers=2, layer_decay=0.5, head_factor=4.0, L2=0.0, grad_clip=0.0)
    moved = {}
    for name in ("encoder.layer.1.x", "encoder.layer.0.x", "embeddings.x", "emission.weight"):
        weights, gradient = numpy.ones(3, dtype="f"), numpy.full(3, 0.5, dtype="f")
        new, _ = optimizer((7, name), weights.copy(), gradient)
        moved[name] = float(1.0 - new[0])
    top = moved["encoder.layer.1.x"]
    assert top > 0
    assert moved["encoder.layer.0.x"] == pytest.approx(top * 0.5, rel=1e-4)
    assert moved["embeddings.x"] == pytest.approx(top * 0.25, rel=1e-4)
    assert moved["emission.weight"] == pytest.approx(top * 4.0, rel=1e-4)


@pytest.mark.parametrize("bad", [{"num_layers": 0}, {"num_layers": 2, "layer_decay": 1.5}, {"num_layers": 2, "head_factor": 0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError, match="layerwise_adam"):
        make(**bad)


def test_training_a_transformer_pipeline_reaches_its_layers_by_name(tiny_encoder, weibo_docs):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("transformer", config={"model": {"@architectures": "spacy-transformers.TransformerModel.v3", "name": str(tiny_encoder), "tokenizer_config": {"use_fast": True}}})
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0, "pooling": {"@layers": "reduce_mean.v1"}}}})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]]
    nlp.initialize(lambda: examples)
    optimizer = make(learn_rate=0.001, num_layers=1, layer_decay=0.5, head_factor=10.0)
    for _ in range(2):  # spacy-transformers steps the transformer from the second update on
        nlp.update(examples, sgd=optimizer)
    names = [name for _, name in optimizer.nr_update]
    assert any(name.startswith("encoder.layer.0.") for name in names)
    assert any(name.startswith("embeddings.") for name in names)
    head = [name for name in names if optimizer.lr_scale_of(name) == 10.0]
    assert "emission.weight" in head and not any("encoder.layer" in name for name in head)


def test_frozen_layers_and_the_embeddings_do_not_move():
    optimizer = make(learn_rate=0.01, num_layers=3, layer_decay=1.0, frozen_layers=2, L2=0.01)
    for name, frozen in [("embeddings.x", True), ("encoder.layer.0.x", True), ("encoder.layer.1.x", True), ("encoder.layer.2.x", False), ("emission.weight", False)]:
        weights = numpy.ones(3, dtype="f")
        new, _ = optimizer((7, name), weights.copy(), numpy.full(3, 0.5, dtype="f"))
        assert numpy.array_equal(new, weights) is frozen, name  # weight decay included
    with pytest.raises(ValueError, match=r"frozen_layers must be in \[0, num_layers = 3\]"):
        make(num_layers=3, frozen_layers=4)
