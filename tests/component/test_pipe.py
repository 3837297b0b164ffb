import shutil

import numpy
import pytest
import spacy
import srsly
import torch
from spacy.tokens import Doc
from spacy.training import Example
from thinc.api import fix_random_seed

from spacy_lowner.component.pipe import LowNERTagger
from spacy_lowner.component.runner import MAX_NON_FINITE_BATCHES
from spacy_lowner.errors import ModelLoadError, NonFiniteScoresError, TrainingDivergedError
from spacy_lowner.objectives import Objective
from spacy_lowner.registry import lowner_objectives


@pytest.fixture
def make_nlp(weibo_docs, small_cnn):
    # The pipelines share the examples' vocab: entity labels must be in one StringStore.
    def make(scheme="BIO", decoder="crf", hidden_width=0, objectives=None):
        nlp = spacy.blank("zh", vocab=weibo_docs[0])
        extra = {"objectives": {"supervised": {"@lowner_objectives": "supervised"}, **objectives}} if objectives else {}
        nlp.add_pipe(
            "lowner_ner",
            config={
                **extra,
                "scheme": scheme,
                "decoder": decoder,
                "model": {
                    "@architectures": "spacy_lowner.TokenTagger.v2",
                    "hidden_width": hidden_width,
                    "dropout": 0.1,
                    "tok2vec": small_cnn,
                },
            },
        )
        return nlp

    return make


def to_examples(nlp, docs):
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def train(nlp, examples, steps, batch_size=8):
    fix_random_seed(0)
    optimizer = nlp.initialize(lambda: examples)
    losses = {}
    for step in range(steps):
        start = (step * batch_size) % len(examples)
        nlp.update(examples[start : start + batch_size], sgd=optimizer, losses=losses)
    return losses


@pytest.fixture
def train_examples(weibo_docs):
    vocab, train_docs, _ = weibo_docs
    return to_examples(spacy.blank("zh", vocab=vocab), train_docs)



def test_initialize_collects_labels_and_sizes_head(make_nlp, weibo_docs, train_examples):
    nlp = make_nlp(scheme="BIOES")
    nlp.initialize(lambda: train_examples)
    ner = nlp.get_pipe("lowner_ner")
    expected = sorted({ent.label_ for doc in weibo_docs[1] for ent in doc.ents})
    assert list(ner.labels) == expected
    assert ner.head.emission.out_features == 1 + 4 * len(expected)
    assert ner.head.crf is not None


def test_update_reports_each_objective_and_moves_weights(make_nlp, train_examples):
    nlp = make_nlp()
    optimizer = nlp.initialize(lambda: train_examples)
    ner = nlp.get_pipe("lowner_ner")
    before = ner.head.crf.transitions.detach().clone()
    losses = nlp.update(train_examples[:8], sgd=optimizer)
    assert losses["lowner_ner"] > 0
    assert losses["lowner_ner"] == pytest.approx(losses["lowner_ner_supervised"])
    assert not torch.equal(before, ner.head.crf.transitions.detach())


def test_training_lowers_the_loss_and_finds_entities(make_nlp, train_examples):
    nlp = make_nlp()
    first = train(nlp, train_examples, 1)["lowner_ner"]
    last = {}
    optimizer = nlp.resume_training()
    for _ in range(15):
        last = {}
        for start in range(0, len(train_examples), 8):
            nlp.update(train_examples[start : start + 8], sgd=optimizer, losses=last)
    assert last["lowner_ner"] / 6 < first / 2
    scores = nlp.evaluate(train_examples)
    assert scores["ents_f"] > 0.5


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
@pytest.mark.parametrize("decoder", ["crf", "softmax"])
def test_predictions_never_break_the_scheme(make_nlp, train_examples, weibo_docs, scheme, decoder):
    nlp = make_nlp(scheme=scheme, decoder=decoder, hidden_width=16)
    train(nlp, train_examples, 6)
    ner = nlp.get_pipe("lowner_ner")
    allowed = ner.scheme.allowed_transitions().numpy()
    start, end = ner.scheme.allowed_start().numpy(), ner.scheme.allowed_end().numpy()
    docs = [nlp.make_doc(doc.text) for doc in weibo_docs[2]]
    for ids in ner.predict(docs):
        assert start[ids[0]] and end[ids[-1]]
        assert all(allowed[a, b] for a, b in zip(ids[:-1], ids[1:]))


def test_empty_docs_in_prediction_and_training(make_nlp, train_examples):
    nlp = make_nlp()
    optimizer = nlp.initialize(lambda: train_examples)
    assert nlp("").ents == ()
    docs = list(nlp.pipe(["", "我们在北京", ""]))
    assert [len(doc) for doc in docs] == [0, 5, 0]
    empty = Example(nlp.make_doc(""), nlp.make_doc(""))
    losses = nlp.update([empty], sgd=optimizer)
    assert losses["lowner_ner"] == 0.0
    blank = Example.from_dict(nlp.make_doc("   "), {"entities": []})
    losses = nlp.update([empty, blank] + train_examples[:4], sgd=optimizer)
    assert numpy.isfinite(losses["lowner_ner"]) and losses["lowner_ner"] > 0
    assert nlp("   ").ents == ()


def tag_everything(ner, label):
    """Make the head give B-label to the first token and I-label to the rest, whatever they are."""
    tags = ner.scheme.tags
    with torch.no_grad():
        ner.head.emission.weight.zero_()
        ner.head.emission.bias.fill_(-100.0)
        ner.head.emission.bias[tags.index(f"I-{label}")] = 10.0
        ner.head.emission.bias[tags.index(f"B-{label}")] = 9.0


def test_whitespace_is_never_an_entity(make_nlp, train_examples):
    nlp = make_nlp()
    nlp.initialize(lambda: train_examples)
    label = nlp.get_pipe("lowner_ner").labels[0]
    tag_everything(nlp.get_pipe("lowner_ner"), label)
    assert nlp("   ").ents == ()
    doc = nlp(" 北京  是 ")
    assert [(ent.text, ent.label_) for ent in doc.ents] == [("北京  是", label)]


def test_non_finite_loss_is_skipped_then_stops_training(make_nlp, train_examples, monkeypatch):
    nlp = make_nlp()
    optimizer = nlp.initialize(lambda: train_examples)
    ner = nlp.get_pipe("lowner_ner")
    supervised = ner.objectives["supervised"]
    monkeypatch.setattr(type(supervised), "__call__", lambda self, batch, head: {"supervised": torch.tensor(float("nan"))})
    before = ner.head.emission.weight.detach().clone()
    for _ in range(MAX_NON_FINITE_BATCHES - 1):
        with pytest.warns(UserWarning, match="non-finite loss"):
            nlp.update(train_examples[:4], sgd=optimizer)
    assert torch.equal(before, ner.head.emission.weight.detach())
    with pytest.raises(TrainingDivergedError, match="3 batches in a row.*learning rate"):
        nlp.update(train_examples[:4], sgd=optimizer)


def test_weights_made_non_finite_by_a_step_stop_training(make_nlp, train_examples):
    nlp = make_nlp()
    optimizer = nlp.initialize(lambda: train_examples)
    optimizer.learn_rate = float("nan")
    with pytest.raises(TrainingDivergedError, match="emission.weight.*non-finite"):
        nlp.update(train_examples[:4], sgd=optimizer)


def test_non_finite_scores_are_an_error_not_all_outside(make_nlp, train_examples):
    nlp = make_nlp()
    nlp.initialize(lambda: train_examples)
    with torch.no_grad():
        nlp.get_pipe("lowner_ner").head.emission.bias.fill_(float("nan"))
    with pytest.raises(NonFiniteScoresError, match="non-finite tag scores"):
        nlp("我们在北京")
    assert nlp("").ents == ()  # nothing to score


def test_unlabeled_docs_contribute_no_supervised_loss(make_nlp, train_examples):
    nlp = make_nlp()
    optimizer = nlp.initialize(lambda: train_examples)
    ner = nlp.get_pipe("lowner_ner")
    before = ner.head.emission.weight.detach().clone()
    unlabeled = [Example(nlp.make_doc(eg.text), nlp.make_doc(eg.text)) for eg in train_examples[:4]]
    assert not unlabeled[0].reference.has_annotation("ENT_IOB")
    losses = nlp.update(unlabeled, sgd=optimizer)
    assert losses["lowner_ner"] == 0.0
    assert torch.equal(before, ner.head.emission.weight.detach())


def test_tokens_with_missing_tags_are_marginalised(make_nlp, train_examples):
    nlp = make_nlp()
    nlp.initialize(lambda: train_examples)
    reference = train_examples[0].reference.copy()
    # ent_iob 0 = missing: such tokens may take any tag in the CRF likelihood
    partial = Doc(
        reference.vocab,
        words=[t.text for t in reference],
        ents=[t.ent_iob_ + ("-" + t.ent_type_ if t.ent_type_ else "") if i % 2 else "" for i, t in enumerate(reference)],
    )
    partial_eg = Example(nlp.make_doc(reference.text), partial)
    full_loss = nlp.get_pipe("lowner_ner").update([train_examples[0]])["lowner_ner"]
    partial_loss = nlp.get_pipe("lowner_ner").update([partial_eg])["lowner_ner"]
    assert 0 < partial_loss < full_loss


def test_pipe_in_batches_equals_one_by_one(make_nlp, train_examples, weibo_docs):
    nlp = make_nlp()
    train(nlp, train_examples, 10)
    texts = [doc.text for doc in weibo_docs[2]]
    batched = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts, batch_size=5)]
    single = [[(e.start, e.end, e.label_) for e in nlp(text).ents] for text in texts]
    assert batched == single


def test_serialization_round_trip(make_nlp, tmp_path, train_examples, weibo_docs):
    nlp = make_nlp(decoder="crf", hidden_width=16)
    train(nlp, train_examples, 10)
    texts = [doc.text for doc in weibo_docs[2]]
    expected = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]
    assert any(expected)
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.get_pipe("lowner_ner").labels == nlp.get_pipe("lowner_ner").labels
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in loaded.pipe(texts)] == expected
    from_bytes = make_nlp(decoder="crf", hidden_width=16).from_bytes(nlp.to_bytes())
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in from_bytes.pipe(texts)] == expected


def test_bad_settings_are_clear_errors(make_nlp):
    with pytest.raises(ValueError, match="unknown decoder 'hmm'"):
        make_nlp(decoder="hmm")
    with pytest.raises(ValueError, match="unknown scheme"):
        make_nlp(scheme="IOB1")
    nlp = spacy.blank("zh")
    with pytest.raises(Exception, match="not-registered"):
        nlp.add_pipe("lowner_ner", config={"objectives": {"x": {"@lowner_objectives": "not-registered"}}})


def test_initialize_without_entities_asks_for_labels(make_nlp):
    nlp = make_nlp()
    doc = nlp.make_doc("我们")
    with pytest.raises(ValueError, match="no entity labels"):
        nlp.initialize(lambda: [Example(doc, doc.copy())])
    ner = nlp.get_pipe("lowner_ner")
    ner.initialize(lambda: [Example(doc, doc.copy())], nlp=nlp, labels=["PER"])
    assert isinstance(ner, LowNERTagger)
    assert ner.labels == ("PER",)
    assert ner.scheme.tags == ["O", "B-PER", "I-PER"]


@pytest.fixture
def saved_pipeline(make_nlp, train_examples, tmp_path):
    nlp = make_nlp()
    nlp.initialize(lambda: train_examples)
    nlp.to_disk(tmp_path / "pipeline")
    return nlp, tmp_path / "pipeline"


def saved_before_checksums(path):
    """The pipeline at `path` as this package saved it before checksums.json existed."""
    for checksums in path.rglob("checksums.json"):
        checksums.unlink()


@pytest.mark.parametrize("damage", ["truncated", "emptied", "missing"])
@pytest.mark.parametrize("checksums", [True, False], ids=["checksummed", "saved-before-checksums"])
def test_a_damaged_model_file_names_the_file_and_the_component(saved_pipeline, damage, checksums):
    _, path = saved_pipeline
    if not checksums:
        saved_before_checksums(path)
    model_file = path / "lowner_ner" / "model"
    data = model_file.read_bytes()
    if damage == "missing":
        model_file.unlink()
    else:
        model_file.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    if not checksums:
        message = "cannot load the lowner_ner component"
    elif damage == "missing":
        message = "missing, though the lowner_ner component's .*checksums.json lists it"
    else:
        message = "damaged or changed since the pipeline was saved: its SHA-256 is not the one the lowner_ner component recorded"
    with pytest.raises(ModelLoadError, match=rf"^{model_file}: {message}"):
        spacy.load(path)


def test_zeroed_weights_fail_their_checksum(saved_pipeline):
    nlp, path = saved_pipeline
    model_file = path / "lowner_ner" / "model"
    data = model_file.read_bytes()
    weights = nlp.get_pipe("lowner_ner").head.emission.weight.detach().numpy().tobytes()
    start = data.index(weights)  # torch.save stores the tensor bytes as they are
    model_file.write_bytes(data[:start] + bytes(len(weights)) + data[start + len(weights) :])
    with pytest.raises(ModelLoadError, match=rf"^{model_file}: damaged or changed"):
        spacy.load(path)
    saved_before_checksums(path)  # the head's own digest still catches it
    with pytest.raises(ModelLoadError, match="do not match their checksum"):
        spacy.load(path)
    model_file.write_bytes(data)
    assert spacy.load(path).get_pipe("lowner_ner").labels == nlp.get_pipe("lowner_ner").labels


def entities(nlp, texts):
    return [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]


@pytest.fixture(scope="module")
def dev_texts(weibo_docs):
    return [doc.text for doc in weibo_docs[2]]


def test_a_trained_component_refuses_a_new_label(trained_pipeline, dev_texts, tmp_path):
    nlp = spacy.load(trained_pipeline)
    ner = nlp.get_pipe("lowner_ner")
    labels, expected = ner.labels, entities(nlp, dev_texts)
    assert any(expected)
    assert ner.add_label(labels[0]) == 0
    with pytest.raises(ValueError, match="cannot add the label 'NEWTYPE' to a trained component"):
        ner.add_label("NEWTYPE")
    assert ner.labels == labels and entities(nlp, dev_texts) == expected
    nlp.to_disk(tmp_path / "saved")
    assert entities(spacy.load(tmp_path / "saved"), dev_texts) == expected


def test_labels_can_be_added_before_training(make_nlp, train_examples):
    nlp = make_nlp()
    ner = nlp.get_pipe("lowner_ner")
    assert ner.add_label("ZZZ") == 1
    nlp.initialize(lambda: train_examples)
    assert "ZZZ" in ner.labels and "PER.NAM" in ner.labels
    assert ner.head.n_tags == 1 + 2 * len(ner.labels)


@pytest.fixture
def copied_pipeline(trained_pipeline, tmp_path):
    path = tmp_path / "pipeline"
    shutil.copytree(trained_pipeline, path)
    return path


def test_a_missing_cfg_is_a_load_error(copied_pipeline):
    cfg = copied_pipeline / "lowner_ner" / "cfg"
    cfg.unlink()
    with pytest.raises(ModelLoadError, match=rf"^{cfg}: missing: it holds the lowner_ner component's labels"):
        spacy.load(copied_pipeline)


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("scheme", "BIOES", "scheme 'BIOES', but the saved model was trained with 'BIO'"),
        ("decoder", "softmax", "decoder 'softmax', but the saved model was trained with 'crf'"),
        ("labels", ["GPE.NAM", "PER.NAM"], r"labels \['GPE.NAM', 'PER.NAM'\], but the saved model was trained with \['GPE.NAM'"),
        ("labels", "add", r"labels .*'NEWTYPE'.*, but the saved model was trained with"),
        ("default_domain", "news", "default domain 'news', but the saved model was trained with None"),
    ],
)
def test_a_cfg_that_does_not_fit_the_saved_head_is_a_load_error(copied_pipeline, dev_texts, key, value, message):
    cfg_path = copied_pipeline / "lowner_ner" / "cfg"
    cfg = srsly.read_json(cfg_path)
    assert cfg["scheme"] == "BIO" and cfg["decoder"] == "crf"
    cfg[key] = cfg["labels"] + ["NEWTYPE"] if value == "add" else value
    srsly.write_json(cfg_path, cfg)
    with pytest.raises(ModelLoadError, match=rf"^{cfg_path}: {message}"):
        spacy.load(copied_pipeline)


def test_a_cfg_that_does_not_fit_the_head_is_refused_from_bytes(trained_pipeline):
    nlp = spacy.load(trained_pipeline)
    ner = nlp.get_pipe("lowner_ner")
    data = srsly.msgpack_loads(ner.to_bytes())
    cfg = srsly.json_loads(data["cfg"])
    ner.from_bytes(srsly.msgpack_dumps(data))  # unchanged: loads
    data["cfg"] = srsly.json_dumps({**cfg, "scheme": "BIOES"})
    with pytest.raises(ModelLoadError, match="cfg in the bytes: scheme 'BIOES', but the saved model was trained with 'BIO'"):
        ner.from_bytes(srsly.msgpack_dumps(data))
    del data["cfg"]
    fresh = spacy.blank("zh").add_pipe("lowner_ner", config={"model": nlp.config["components"]["lowner_ner"]["model"]})
    with pytest.raises(ModelLoadError, match=r"cfg in the bytes: labels \[\], but the saved model was trained with \['GPE"):
        fresh.from_bytes(srsly.msgpack_dumps(data))


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def offsets(path, count, start=0.0):
    """`count` offsets spread over the file from `start` (a fraction of its size) to its end."""
    size = path.stat().st_size
    first = int(size * start)
    return sorted({first + (size - first - 1) * i // (count - 1) for i in range(count)})


@pytest.mark.parametrize("checksums", [True, False], ids=["checksummed", "saved-before-checksums"])
def test_a_flipped_byte_anywhere_in_the_model_file_is_a_load_error(listened_pipeline, dev_texts, checksums, tmp_path):
    """Every flip in a checksummed model file is refused; in one saved before checksums, the
    flips that torch or msgpack notice are a ModelLoadError too (never an unpickling error)."""
    source, expected = listened_pipeline
    outcomes = set()
    for offset in offsets(source / "lowner_ner" / "model", 30):
        path = tmp_path / str(offset)
        shutil.copytree(source, path)
        if not checksums:
            saved_before_checksums(path)
        flip_byte(path / "lowner_ner" / "model", offset)
        try:
            loaded = spacy.load(path)
        except ModelLoadError as err:
            assert str(err).startswith(str(path / "lowner_ner"))
            outcomes.add("refused")
        else:
            assert not checksums, f"a flip at {offset} loaded"
            outcomes.add("same" if entities(loaded, dev_texts) == expected else "changed")
        shutil.rmtree(path)
    assert outcomes == {"refused"} if checksums else "refused" in outcomes


def weight_offsets(model_file, model, count):
    """`count` offsets spread over the bytes of the model's weight arrays in its saved file
    (msgpack stores them as they are). A flip in the file's structure around them fails in
    spaCy's own tok2vec loader, before lowner_ner is loaded (README)."""
    data = model_file.read_bytes()
    spans = []
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name) and node.get_param(name).size:
                raw = node.get_param(name).tobytes()
                spans.extend(range(data.index(raw), data.index(raw) + len(raw)))
    return [spans[i * (len(spans) - 1) // (count - 1)] for i in range(count)]


def test_a_flipped_byte_in_the_weights_of_the_listened_tok2vec_is_a_load_error(listened_pipeline, tmp_path):
    source, _ = listened_pipeline
    tok2vec = spacy.load(source).get_pipe("tok2vec").model
    for offset in weight_offsets(source / "tok2vec" / "model", tok2vec, 30):
        path = tmp_path / str(offset)
        shutil.copytree(source, path)
        flip_byte(path / "tok2vec" / "model", offset)
        with pytest.raises(ModelLoadError, match=rf"^{path / 'tok2vec' / 'model'}: damaged or changed since"):
            spacy.load(path)
        shutil.rmtree(path)


@pytest.fixture(scope="module")
def listened_pipeline(weibo_docs, tmp_path_factory):
    """A pipeline whose lowner_ner listens to a small CNN tok2vec component, trained a little
    and saved; with its entities on the dev texts."""
    vocab, train_docs, dev_docs = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    embed = {"@architectures": "spacy.MultiHashEmbed.v2", "width": 32, "attrs": ["ORTH", "SHAPE"], "rows": [500, 50], "include_static_vectors": False}
    encode = {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 32, "depth": 1, "window_size": 1, "maxout_pieces": 2}
    nlp.add_pipe("tok2vec", config={"model": {"@architectures": "spacy.Tok2Vec.v2", "embed": embed, "encode": encode}})
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 32, "upstream": "*"}
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": listener}})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(4):
        for start in range(0, len(examples), 8):
            nlp.update(examples[start : start + 8], sgd=optimizer)
    path = tmp_path_factory.mktemp("listened") / "pipeline"
    nlp.to_disk(path)
    assert srsly.read_json(path / "lowner_ner" / "checksums.json")["sha256"].keys() == {"model", "../tok2vec/model"}
    return path, entities(nlp, [doc.text for doc in dev_docs])


class StepRecorder(Objective):
    """Records what the component tells it; its single term is 0."""

    needs = ("labeled",)

    def __init__(self, term=""):
        super().__init__()
        self.term = term
        self.seen = []

    def initialize(self, context):
        self.context = context

    def __call__(self, batch, head):
        self.seen.append((self.name, self.step))
        return {self.term: 0.0 * batch.hidden(head).sum()}


@lowner_objectives("test_step_recorder")
def make_step_recorder(term: str = "") -> StepRecorder:
    return StepRecorder(term)


@lowner_objectives("test_needs_domain")
def make_needs_domain() -> StepRecorder:
    recorder = StepRecorder()
    recorder.needs = ("domain",)
    return recorder


def test_objectives_learn_their_key_and_the_step(make_nlp, train_examples):
    nlp = make_nlp(objectives={"recorder": {"@lowner_objectives": "test_step_recorder", "term": "zero"}})
    optimizer = nlp.initialize(lambda: train_examples)
    recorder = nlp.get_pipe("lowner_ner").objectives["recorder"]
    assert recorder.context.component == "lowner_ner" and recorder.context.head is nlp.get_pipe("lowner_ner").head
    assert recorder.context.max_steps == nlp.config["training"]["max_steps"] > 0
    for _ in range(3):
        losses = nlp.update(train_examples[:4], sgd=optimizer)
    assert recorder.seen == [("recorder", 0), ("recorder", 1), ("recorder", 2)]
    assert "lowner_ner_recorder_zero" in losses


def test_two_objectives_with_the_same_term_name_are_an_error(make_nlp, train_examples):
    nlp = make_nlp(
        objectives={
            "a": {"@lowner_objectives": "test_step_recorder", "term": "b"},
            "a_b": {"@lowner_objectives": "test_step_recorder", "term": ""},
        }
    )
    optimizer = nlp.initialize(lambda: train_examples)
    with pytest.raises(ValueError, match="two objectives report a term named 'a_b'"):
        nlp.update(train_examples[:4], sgd=optimizer)


def test_a_channel_the_reader_does_not_give_stops_initialisation(make_nlp, train_examples):
    nlp = make_nlp(objectives={"adversary": {"@lowner_objectives": "test_needs_domain"}})
    with pytest.raises(ValueError, match="objective 'adversary' needs the channel 'domain'.*example 1 has no"):
        nlp.initialize(lambda: train_examples)
