import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example

TRANSFORMER = {
    "model": {
        "@architectures": "spacy-transformers.TransformerModel.v3",
        "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 32, "stride": 24},
        "tokenizer_config": {"use_fast": True},
        "transformer_config": {},
        "mixed_precision": False,
        "grad_scaler_config": {},
    },
}
LISTENER = {
    "@architectures": "spacy_lowner.TokenTagger.v1",
    "hidden_width": 0,
    "dropout": 0.1,
    "tok2vec": {
        "@architectures": "spacy-transformers.TransformerListener.v1",
        "grad_factor": 1.0,
        "upstream": "*",
        "pooling": {"@layers": "reduce_mean.v1"},
    },
}


def test_transformer_listener_handles_docs_longer_than_the_window(tiny_encoder, weibo_docs):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    config = {"model": {**TRANSFORMER["model"], "name": str(tiny_encoder)}}
    nlp.add_pipe("transformer", config=config)
    nlp.add_pipe("lowner_ner", config={"model": LISTENER})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:16]]
    optimizer = nlp.initialize(lambda: examples)
    assert nlp.get_pipe("lowner_ner").head.emission.in_features == 384
    # One long doc (several windows of 32 pieces) in a training batch and in prediction.
    long_text = "".join(doc.text for doc in train_docs[:24])
    losses = nlp.update(examples[:4] + [Example(nlp.make_doc(long_text), nlp.make_doc(long_text))], sgd=optimizer)
    assert losses["lowner_ner"] > 0
    doc = nlp(long_text)
    assert len(doc) == len(long_text) > 600
    assert all(0 <= ent.start < ent.end <= len(doc) for ent in doc.ents)


def test_transformer_path_handles_empty_and_whitespace_docs(tiny_encoder, weibo_docs):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("transformer", config={"model": {**TRANSFORMER["model"], "name": str(tiny_encoder)}})
    nlp.add_pipe("lowner_ner", config={"model": LISTENER})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]]
    optimizer = nlp.initialize(lambda: examples)
    assert nlp("").ents == ()
    assert [len(doc) for doc in nlp.pipe(["", "我们", ""])] == [0, 2, 0]
    assert nlp("   ").ents == ()
    empty = Example(nlp.make_doc(""), nlp.make_doc(""))
    blank = Example.from_dict(nlp.make_doc("  "), {"entities": []})
    losses = nlp.update([empty, examples[0], blank, examples[1]], sgd=optimizer)
    assert losses["lowner_ner"] > 0
    assert nlp.update([empty], sgd=optimizer)["lowner_ner"] == 0.0


def test_a_v1_pipeline_still_loads(tmp_path, weibo_docs, small_cnn):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    model = {"@architectures": "spacy_lowner.TokenTagger.v1", "hidden_width": 0, "dropout": 0.1, "tok2vec": small_cnn}
    nlp.add_pipe("lowner_ner", config={"model": model})
    nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]])
    nlp.to_disk(tmp_path / "v1")
    loaded = spacy.load(tmp_path / "v1")
    assert loaded.config["components"]["lowner_ner"]["model"]["@architectures"] == "spacy_lowner.TokenTagger.v1"
    texts = [doc.text for doc in train_docs[:4]]
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in loaded.pipe(texts)] == [
        [(e.start, e.end, e.label_) for e in d.ents] for d in nlp.pipe(texts)
    ]


def test_a_v2_transform_is_used_at_prediction_by_domain(tmp_path, weibo_docs, small_cnn):
    from spacy_lowner.layers.transforms import LinearTransform
    from spacy_lowner.model.channels import set_domain

    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    model = {"@architectures": "spacy_lowner.TokenTagger.v2", "hidden_width": 0, "dropout": 0.1, "tok2vec": small_cnn}
    nlp.add_pipe("lowner_ner", config={"model": model})
    nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]])
    head = nlp.get_pipe("lowner_ner").head
    transform = head.install_transform(LinearTransform(head.input_width, domains=["source"]))
    with torch.no_grad():
        transform.linear.weight.copy_(-torch.eye(head.input_width))  # flips every vector
        head.emission.bias.zero_()
    head.eval()
    tok2vec = nlp.get_pipe("lowner_ner").model.get_ref("tok2vec")
    text = train_docs[0].text
    vectors = torch.tensor(tok2vec.predict([nlp.make_doc(text)])[0])[None]
    # no bias and no hidden layer: flipped vectors give negated scores
    torch.testing.assert_close(head(vectors, ["source"]), -head(vectors, [None]), rtol=1e-5, atol=1e-5)
    nlp.to_disk(tmp_path / "v2")
    loaded = spacy.load(tmp_path / "v2")
    assert loaded.get_pipe("lowner_ner").head.token_transform.config() == transform.config()
    docs = [nlp.make_doc(text), set_domain(nlp.make_doc(text), "source")]
    plain_ids, source_ids = [ids.tolist() for ids in nlp.get_pipe("lowner_ner").predict(docs)]
    assert plain_ids != source_ids  # the transform is applied at prediction, to its domain only
    assert [ids.tolist() for ids in loaded.get_pipe("lowner_ner").predict(docs)] == [plain_ids, source_ids]


@pytest.mark.parametrize("config", ["weibo_cnn.cfg", "weibo_trf.cfg"])
def test_the_shipped_configs_take_empty_and_whitespace_docs(config, tiny_encoder, weibo_docs):
    from pathlib import Path

    from spacy.util import load_config, load_model_from_config

    path = Path(__file__).resolve().parents[2] / "configs" / config
    config = load_config(path, overrides={"paths.encoder": str(tiny_encoder)}, interpolate=True)
    nlp = load_model_from_config(config, auto_fill=True)
    _, train_docs, _ = weibo_docs
    examples = [Example(nlp.make_doc(doc.text), Doc(nlp.vocab).from_bytes(doc.to_bytes())) for doc in train_docs[:8]]
    optimizer = nlp.initialize(lambda: examples)
    empty = Example(nlp.make_doc(""), nlp.make_doc(""))
    blank = Example.from_dict(nlp.make_doc("   "), {"entities": []})
    losses = nlp.update([empty, blank] + examples[:3], sgd=optimizer)
    assert losses["lowner_ner"] > 0
    assert nlp("").ents == () and nlp("   ").ents == ()
    assert [len(doc) for doc in nlp.pipe(["", "我们", "  "])] == [0, 2, 1]
