import pytest
import spacy
import torch
from spacy.training import Example
from transformers import AutoModel, AutoTokenizer
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.encoders.layer_mix import LayerMixBertModel, make_layer_mix_folder


@pytest.fixture(scope="module")
def mixed_encoder(tiny_encoder, tmp_path_factory):
    return make_layer_mix_folder(tiny_encoder, tmp_path_factory.mktemp("mix") / "me5-1l-mix")


def test_the_mix_starts_as_the_mean_of_all_layers(tiny_encoder, mixed_encoder):
    plain, mixed = AutoModel.from_pretrained(str(tiny_encoder)), AutoModel.from_pretrained(str(mixed_encoder))
    assert isinstance(mixed, LayerMixBertModel)
    weights = mixed.layer_weights().detach()
    assert weights.shape == (2,) and float(weights.sum()) == pytest.approx(1.0)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder))
    batch = tokenizer(["我们在北京见到了周杰伦"], return_tensors="pt")
    plain.eval(), mixed.eval()
    with torch.no_grad():
        hidden = plain(**batch, output_hidden_states=True).hidden_states
        torch.testing.assert_close(mixed(**batch).last_hidden_state, (hidden[0] + hidden[1]) / 2)


@pytest.mark.parametrize(
    "first,start,expected",
    [(1, "mean", lambda h: h[1]), (0, "last", lambda h: 0.1 * h[0] + 0.9 * h[1]), (1, "last", lambda h: h[1])],
)
def test_the_mix_leaves_out_the_embeddings_or_starts_from_the_last_layer(tiny_encoder, tmp_path, first, start, expected):
    mixed = AutoModel.from_pretrained(str(make_layer_mix_folder(tiny_encoder, tmp_path / "mix", first=first, start=start)))
    plain = AutoModel.from_pretrained(str(tiny_encoder))
    assert mixed.layer_weights().shape == (2 - first,)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder))
    batch = tokenizer(["我们在北京见到了周杰伦"], return_tensors="pt")
    plain.eval(), mixed.eval()
    with torch.no_grad():
        hidden = plain(**batch, output_hidden_states=True).hidden_states
        torch.testing.assert_close(mixed(**batch).last_hidden_state, expected(hidden))


def test_a_mix_folder_with_other_settings_or_bad_settings_is_refused(tiny_encoder, mixed_encoder, tmp_path):
    with pytest.raises(FileExistsError, match="other settings"):
        make_layer_mix_folder(tiny_encoder, mixed_encoder, start="last")
    with pytest.raises(ValueError, match="embeddings .0. or the first layer .1."):
        make_layer_mix_folder(tiny_encoder, tmp_path / "mix", first=2)
    with pytest.raises(ValueError, match="mean, last"):
        make_layer_mix_folder(tiny_encoder, tmp_path / "mix", start="first")
    with pytest.raises(ValueError, match="mixes from hidden state 0"):
        make_layer_mix_folder(mixed_encoder, tmp_path / "mix", first=1)
    assert not (tmp_path / "mix").exists()


def test_the_mix_weights_learn_and_sum_to_one(mixed_encoder):
    model = AutoModel.from_pretrained(str(mixed_encoder))
    tokenizer = AutoTokenizer.from_pretrained(str(mixed_encoder))
    batch = tokenizer(["我们在北京见到了周杰伦"], return_tensors="pt")
    model(**batch).last_hidden_state[..., 0].sum().backward()
    assert model.layer_logits.grad is not None and bool(model.layer_logits.grad.abs().sum() > 0)
    assert model.layer_scale.grad is not None
    # and the layers below the last still get a gradient through the mix
    assert model.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    with torch.no_grad():
        model.layer_logits.copy_(torch.tensor([0.3, -0.2]))
    assert float(model.layer_weights().detach().sum()) == pytest.approx(1.0)


def test_a_pipeline_trains_and_keeps_its_mix(mixed_encoder, weibo_docs, tmp_path):
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    model = {
        "@architectures": "spacy-transformers.TransformerModel.v3", "name": str(mixed_encoder),
        "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 64, "stride": 48},
        "tokenizer_config": {"use_fast": True},
    }
    nlp.add_pipe("transformer", config={"model": model})
    tagger = {
        "@architectures": "spacy_lowner.TokenTagger.v2",
        "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0, "pooling": {"@layers": "reduce_mean.v1"}},
    }
    nlp.add_pipe("lowner_ner", config={"model": tagger})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs[:8]]
    optimizer = nlp.initialize(lambda: examples)
    transformer = nlp.get_pipe("transformer").model.transformer
    before = transformer.layer_logits.detach().clone()
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    assert not torch.equal(before, transformer.layer_logits.detach())
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    torch.testing.assert_close(loaded.get_pipe("transformer").model.transformer.layer_logits, transformer.layer_logits)


def test_cli_reuses_a_mix_folder_and_refuses_anything_else(mixed_encoder, tiny_encoder, tmp_path):
    result = CliRunner().invoke(app, ["encoder", "mix", str(tiny_encoder), str(mixed_encoder)])
    assert result.exit_code == 0, result.output
    (tmp_path / "other").mkdir()
    result = CliRunner().invoke(app, ["encoder", "mix", str(tiny_encoder), str(tmp_path / "other")])
    assert result.exit_code == 1 and "is not a layer-mix encoder" in result.output


@pytest.mark.parametrize("rate", [float("nan"), -5.0, 0.0, float("inf")], ids=["nan", "negative", "zero", "inf"])
def test_a_mixing_rate_that_is_not_a_positive_number_is_refused(tiny_encoder, tmp_path, rate):
    with pytest.raises(ValueError, match=r"^the mixing rate \(--rate\): .* is not a finite number > 0$"):
        make_layer_mix_folder(tiny_encoder, tmp_path / "mix", rate=rate)
    result = CliRunner().invoke(app, ["encoder", "mix", str(tiny_encoder), str(tmp_path / "mix"), "--rate", str(rate)])
    assert result.exit_code == 1 and "the mixing rate (--rate)" in result.output, result.output
    assert not (tmp_path / "mix").exists()
