import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import ConfigValidationError, Model

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


HEAD_STACKS = {
    "spacy_lowner.TokenTagger.v1": {},
    "spacy_lowner.TokenTagger.v2": {},
    "spacy_lowner.TokenTagger.v3": {
        "modules": {
            "bilstm": {"@lowner_head_modules": "spacy_lowner.bilstm.v1", "width": 16},
            "attention": {"@lowner_head_modules": "spacy_lowner.self_attention.v1", "heads": 2, "positions": True},
        }
    },
}


@pytest.mark.parametrize("architecture", sorted(HEAD_STACKS))
def test_a_trained_pipeline_saves_loads_and_predicts_identically(architecture, weibo_docs, small_cnn, tmp_path):
    """v1 and v2 pipelines (saved by the current code) keep loading; a v3 head's module stack
    is rebuilt from the config and its weights from the file."""
    from thinc.api import fix_random_seed

    vocab, train_docs, dev_docs = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    model = {"@architectures": architecture, "hidden_width": 8, "dropout": 0.1, "tok2vec": small_cnn, **HEAD_STACKS[architecture]}
    nlp.add_pipe("lowner_ner", config={"model": model})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:24]]
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(4):
        for start in range(0, len(examples), 8):
            nlp.update(examples[start : start + 8], sgd=optimizer)
    head = nlp.get_pipe("lowner_ner").head
    assert len(head.stack) == len(HEAD_STACKS[architecture].get("modules", {}))
    texts = [doc.text for doc in dev_docs[:12]]
    before = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in loaded.pipe(texts)] == before
    docs = [nlp.make_doc(text) for text in texts]
    scores = nlp.get_pipe("lowner_ner").predict_with_marginals(docs)[1]
    loaded_scores = loaded.get_pipe("lowner_ner").predict_with_marginals([loaded.make_doc(t) for t in texts])[1]
    for ours, theirs in zip(scores, loaded_scores):
        assert numpy.allclose(ours, theirs, atol=1e-6)


@pytest.mark.parametrize("architecture", ["spacy_lowner.TokenTagger.v1", "spacy_lowner.TokenTagger.v2", "spacy_lowner.TokenTagger.v3"])
@pytest.mark.parametrize(
    "setting,value,rule",
    [
        ("dropout", 1.5, "a finite number >= 0 and < 1"),
        ("dropout", "nan", "a finite number >= 0 and < 1"),
        ("hidden_width", -3, "an integer >= 0"),
    ],
)
def test_bad_head_settings_are_config_errors_naming_them(architecture, setting, value, rule, small_cnn):
    model = {"@architectures": architecture, "tok2vec": small_cnn, setting: value}
    with pytest.raises(ConfigValidationError, match=rf"model -> {setting}\s+at root: .* is not {rule}"):
        spacy.blank("zh").add_pipe("lowner_ner", config={"model": model})


def long_text(weibo_docs, n_docs=32):
    """The dev sentences end to end: one doc of about 1,600 characters."""
    return "".join(doc.text for doc in weibo_docs[2][:n_docs])


def record_lengths(monkeypatch, model, seen):
    """Make `model.predict` record the lengths of the docs it is given."""
    predict = Model.predict

    def recording(self, docs):
        if self is model:
            seen.extend(len(doc) for doc in docs)
        return predict(self, docs)

    monkeypatch.setattr(Model, "predict", recording)


def test_a_long_doc_is_tagged_a_window_at_a_time_with_the_same_entities(trained_pipeline, weibo_docs, monkeypatch):
    text = long_text(weibo_docs)
    whole = spacy.load(trained_pipeline)  # the default window is longer than the doc
    windowed = spacy.load(trained_pipeline, config={"components.lowner_ner.model.window": 64})
    assert windowed.get_pipe("lowner_ner").model.attrs["windows"].length == 64
    seen = []
    record_lengths(monkeypatch, windowed.get_pipe("lowner_ner").model.get_ref("tok2vec"), seen)
    expected = [(e.start, e.end, e.label_) for e in whole(text).ents]
    assert len(text) > 1000 and len(expected) > 5
    docs = list(windowed.pipe([text, "我们在北京", text]))
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs] == [expected, [], expected]
    # the short doc went through in one call, the long ones a window (64 + 2 x 64 context) at a time
    assert max(seen) == 64 + 2 * 64 and sorted(seen)[0] == len("我们在北京")
    # Marginals too, a window at a time; on 300 tokens, where the CRF's float32
    # forward-backward over the whole doc is still accurate to about 1e-3 (layers/crf.py).
    ner, whole_ner = windowed.get_pipe("lowner_ner"), whole.get_pipe("lowner_ner")
    paths, marginals = ner.predict_with_marginals([windowed.make_doc(text[:300])])
    whole_paths, whole_marginals = whole_ner.predict_with_marginals([whole.make_doc(text[:300])])
    assert paths[0].tolist() == whole_paths[0].tolist()
    numpy.testing.assert_allclose(marginals[0], whole_marginals[0], atol=1e-2)


def test_the_window_is_the_configs_not_the_saved_pipelines(trained_pipeline, tmp_path):
    nlp = spacy.load(trained_pipeline, config={"components.lowner_ner.model.window": 64})
    nlp.to_disk(tmp_path / "saved")
    reloaded = spacy.load(tmp_path / "saved", config={"components.lowner_ner.model.window": 500})
    assert reloaded.get_pipe("lowner_ner").model.attrs["windows"].length == 500
    assert spacy.load(tmp_path / "saved").get_pipe("lowner_ner").model.attrs["windows"].length == 64


def test_windows_need_their_context_to_give_the_whole_docs_vectors(trained_pipeline, weibo_docs):
    from spacy_lowner.model.architectures import Windows, predict_in_windows

    nlp = spacy.load(trained_pipeline)
    tok2vec = nlp.get_pipe("lowner_ner").model.get_ref("tok2vec")
    doc = nlp.make_doc(long_text(weibo_docs))
    whole = tok2vec.predict([doc])[0]
    numpy.testing.assert_allclose(predict_in_windows(tok2vec.predict, [doc], Windows(100))[0], whole, atol=1e-6)
    assert not numpy.allclose(predict_in_windows(tok2vec.predict, [doc], Windows(100, context=0))[0], whole, atol=1e-3)


def tok2vec_component(architecture):
    embed = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 32, "attrs": ["ORTH", "SHAPE"], "rows": [500, 50], "include_static_vectors": False}
    encode = {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 32, "depth": 2, "window_size": 1, "maxout_pieces": 2}
    return {"model": {"@architectures": architecture, "embed": embed, "encode": encode}}


def test_the_windowed_tok2vec_is_spacys_tok2vec_predicting_in_windows(weibo_docs, tmp_path, monkeypatch):
    from spacy_lowner.model import architectures

    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("tok2vec", config=tok2vec_component("spacy.Tok2Vec.v2"))
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 32, "upstream": "*"}
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": listener}})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs]
    optimizer = nlp.initialize(lambda: examples)
    for start in range(0, len(examples), 8):
        nlp.update(examples[start : start + 8], sgd=optimizer)
    nlp.to_disk(tmp_path / "plain")
    # the same layers and weights: a pipeline saved with spaCy's tok2vec loads into the windowed one
    windowed = spacy.load(
        tmp_path / "plain",
        config={"components.tok2vec.model.@architectures": "spacy_lowner.WindowedTok2Vec.v1", "components.tok2vec.model.window": 64},
    )
    plain_tok2vec, tok2vec = nlp.get_pipe("tok2vec").model, windowed.get_pipe("tok2vec").model
    assert tok2vec.to_bytes() == plain_tok2vec.to_bytes()
    text = long_text(weibo_docs)
    seen = []
    chain_forward = architectures.chain_forward
    recording = lambda model, docs, is_train: seen.extend(len(doc) for doc in docs) or chain_forward(model, docs, is_train)  # noqa: E731
    monkeypatch.setattr(architectures, "chain_forward", recording)
    numpy.testing.assert_allclose(tok2vec.predict([windowed.make_doc(text)])[0], plain_tok2vec.predict([nlp.make_doc(text)])[0], atol=1e-6)
    expected = [(e.start, e.end, e.label_) for e in nlp(text).ents]
    assert [(e.start, e.end, e.label_) for e in windowed(text).ents] == expected
    assert len(text) > 1000 and max(seen) == 64 + 2 * 64
    # training goes through spaCy's forward pass untouched
    losses = windowed.update(examples[:8], sgd=windowed.resume_training())
    assert losses["tok2vec"] > 0


def test_a_long_doc_takes_memory_bounded_by_the_window(trained_pipeline, weibo_docs):
    """numpy's allocations (the CNN tok2vec's) traced while a 20,000-token doc is tagged: in
    windows of 256 tokens the peak is a fraction of the whole doc's."""
    import tracemalloc

    text = (long_text(weibo_docs) * 13)[:20000]
    peaks = {}
    for window in (256, 100000):
        nlp = spacy.load(trained_pipeline, config={"components.lowner_ner.model.window": window})
        doc = nlp.make_doc(text)
        tracemalloc.start()
        nlp.get_pipe("lowner_ner")(doc)
        peaks[window] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks[256] < peaks[100000] / 4, peaks
