import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoTokenizer
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.encoders import build_encoder, read_provenance
from spacy_lowner.encoders.cut import cut_encoder
from spacy_lowner.encoders.layer_mix import make_layer_mix_folder


@pytest.fixture(scope="module")
def two_layers(tiny_encoder, tmp_path_factory):
    """The tiny encoder's request with 2 layers: cut to 1 it should be the tiny encoder."""
    corpus = tiny_encoder.parent / "weibo-train-60.txt"
    return build_encoder("me5", tmp_path_factory.mktemp("two") / "me5-2layers", layers=2, corpora=[corpus])


def hidden(folder, text="我们在北京见到了周杰伦"):
    model = AutoModel.from_pretrained(str(folder)).eval()
    batch = AutoTokenizer.from_pretrained(str(folder))([text], return_tensors="pt")
    with torch.no_grad():
        return model(**batch).last_hidden_state


def test_a_cut_folder_is_the_folder_built_with_fewer_layers(two_layers, tiny_encoder, tmp_path):
    cut = cut_encoder(two_layers, tmp_path / "cut", layers=1)
    torch.testing.assert_close(hidden(cut), hidden(tiny_encoder))
    assert not torch.allclose(hidden(two_layers), hidden(tiny_encoder))
    assert json.loads((cut / "config.json").read_text())["num_hidden_layers"] == 1
    assert (cut / "tokenizer.json").read_bytes() == (two_layers / "tokenizer.json").read_bytes()
    assert read_provenance(cut)["request"] == read_provenance(tiny_encoder)["request"]
    # `encoder build` with the same request takes the cut folder as its own
    assert build_encoder("me5", cut, layers=1, corpora=[tiny_encoder.parent / "weibo-train-60.txt"]) == cut


@pytest.mark.parametrize("first,logits,kept", [(0, [0.1, 0.2, 0.3], [0.1, 0.2]), (1, [0.2, 0.3], [0.2])])
def test_a_layer_mix_loses_the_weights_of_the_layers_cut(two_layers, tmp_path, first, logits, kept):
    mix = make_layer_mix_folder(two_layers, tmp_path / "mix", first=first)
    weights = load_file(str(mix / "model.safetensors"))
    weights["layer_logits"] = torch.tensor(logits)
    weights["layer_scale"] = torch.tensor([2.0])
    save_file(weights, str(mix / "model.safetensors"), metadata={"format": "pt"})
    model = AutoModel.from_pretrained(str(cut_encoder(mix, tmp_path / "cut", layers=1)))
    torch.testing.assert_close(model.layer_logits.detach(), torch.tensor(kept))
    assert float(model.layer_scale.detach()) == 2.0


@pytest.mark.parametrize("layers", [0, 2, 5])
def test_a_layer_count_outside_the_source_is_refused(two_layers, tmp_path, layers):
    with pytest.raises(ValueError, match="has 2 layers: keep between 1 and 1"):
        cut_encoder(two_layers, tmp_path / "cut", layers=layers)
    assert not (tmp_path / "cut").exists()


def test_the_command_refuses_what_it_cannot_cut(two_layers, tmp_path):
    (tmp_path / "taken").mkdir()
    runner = CliRunner()
    taken = runner.invoke(app, ["encoder", "cut", str(two_layers), str(tmp_path / "taken"), "--layers", "1"])
    assert taken.exit_code == 1 and "exists" in taken.output
    inside = runner.invoke(app, ["encoder", "cut", str(two_layers), str(two_layers / "cut"), "--layers", "1"])
    assert inside.exit_code == 1 and not (two_layers / "cut").exists()
    other = tmp_path / "roberta"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "roberta", "num_hidden_layers": 2}))
    (other / "model.safetensors").write_bytes(b"")
    refused = runner.invoke(app, ["encoder", "cut", str(other), str(tmp_path / "cut"), "--layers", "1"])
    assert refused.exit_code == 1 and "BERT-type" in refused.output
    done = runner.invoke(app, ["encoder", "cut", str(two_layers), str(tmp_path / "cut"), "--layers", "1"])
    assert done.exit_code == 0, done.output
