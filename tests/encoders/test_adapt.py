import json

import pytest
import torch
from transformers import AutoModel, AutoTokenizer
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.encoders.adapt import adapt_encoder


@pytest.fixture(scope="module")
def adapted(tiny_encoder, tmp_path_factory):
    corpus = tiny_encoder.parent / "weibo-train-60.txt"
    output = tmp_path_factory.mktemp("adapt") / "me5-1l-adapted"
    record = adapt_encoder(tiny_encoder, output, [corpus], steps=6, head_steps=4, batch_size=4)
    return output, record


def test_the_adapted_folder_loads_offline_and_tokenises_as_the_original(tiny_encoder, adapted):
    output, record = adapted
    texts = ["我们在北京见到了周杰伦", "2017年5月，李明在上海复旦大学发表了演讲。", "Hello world"]
    original, new = AutoTokenizer.from_pretrained(str(tiny_encoder)), AutoTokenizer.from_pretrained(str(output))
    assert [original(t)["input_ids"] for t in texts] == [new(t)["input_ids"] for t in texts]
    before, after = AutoModel.from_pretrained(str(tiny_encoder)), AutoModel.from_pretrained(str(output))
    assert type(after) is type(before)
    changed = [name for name, p in after.state_dict().items() if not torch.equal(p, before.state_dict()[name])]
    assert any(name.startswith("encoder.layer.0") for name in changed)
    provenance = json.loads((output / "lowner_encoder.json").read_text())
    assert provenance["adapted"]["steps"] == 6 and provenance["request"]["name"] == "me5"
    assert record["first_loss"] > 0 and record["sequences"] == 60  # the 60 short sentences, one chunk each


def test_a_spacy_pipeline_takes_the_adapted_folder(adapted, weibo_docs):
    import spacy
    from spacy.training import Example

    output, _ = adapted
    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh", vocab=vocab)
    nlp.add_pipe("transformer", config={"model": {"@architectures": "spacy-transformers.TransformerModel.v3", "name": str(output), "tokenizer_config": {"use_fast": True}}})
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0, "pooling": {"@layers": "reduce_mean.v1"}}}})
    nlp.initialize(lambda: [Example(nlp.make_doc(d.text), d) for d in train_docs[:4]])
    assert len(nlp("我们在北京")) == 5


def test_bad_requests_are_refused(tiny_encoder, adapted, tmp_path):
    output, _ = adapted
    corpus = tiny_encoder.parent / "weibo-train-60.txt"
    result = CliRunner().invoke(app, ["encoder", "adapt", str(tiny_encoder), str(output), "-c", str(corpus)])
    assert result.exit_code == 1 and "exists" in result.output
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf8")
    with pytest.raises(ValueError, match="no text"):
        adapt_encoder(tiny_encoder, tmp_path / "x", [empty], steps=1, head_steps=0)
    assert not (tmp_path / "x").exists()
