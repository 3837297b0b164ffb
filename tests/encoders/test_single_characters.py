import json

import pytest
import spacy
from transformers import AutoTokenizer
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.encoders import read_provenance
from spacy_lowner.encoders.cjk import is_cjk
from spacy_lowner.encoders.single_characters import make_single_character_folder


@pytest.fixture(scope="module")
def single_chars(tiny_encoder, tmp_path_factory):
    return make_single_character_folder(tiny_encoder, tmp_path_factory.mktemp("single") / "encoder")


@pytest.fixture(scope="module")
def texts(weibo_docs):
    return [doc.text for doc in weibo_docs[1]] + ["我们在北京见到了周杰伦, iPhone 12 😀 好 ２０１２年"]


def other_pieces(pieces):
    """The pieces without CJK characters, less a lone word-start mark: where the vocabulary has
    no "▁" + character piece, the source gives the mark a piece of its own."""
    return [piece for piece in pieces if piece != "▁" and not any(is_cjk(c) for c in piece)]


def test_every_cjk_character_is_a_piece_and_the_rest_is_tokenized_as_before(tiny_encoder, single_chars, texts):
    source, split = AutoTokenizer.from_pretrained(str(tiny_encoder)), AutoTokenizer.from_pretrained(str(single_chars))
    merged = 0
    for text in texts:
        before, after = source.tokenize(text), split.tokenize(text)
        assert "".join(after) == "".join(before)  # the same text, cut finer
        assert split.unk_token not in after
        assert all(len(piece.lstrip("▁")) == 1 for piece in after if any(is_cjk(c) for c in piece))
        assert other_pieces(after) == other_pieces(before)
        merged += sum(len(piece.lstrip("▁")) > 1 for piece in before if any(is_cjk(c) for c in piece))
    assert merged > 50  # the source does merge characters: the test would see a tokenizer that did nothing
    # a text's first piece is still marked as a word start, and only the first
    assert split.tokenize("我们在北京")[:2] == ["▁我", "们"]


def test_each_character_token_reads_a_piece_of_its_own_in_spacy_transformers(tiny_encoder, single_chars):
    def shared_pieces(folder):
        nlp = spacy.blank("zh")  # one token per character
        model = {"@architectures": "spacy-transformers.TransformerModel.v3", "name": str(folder), "tokenizer_config": {"use_fast": True}}
        nlp.add_pipe("transformer", config={"model": model})
        nlp.initialize()
        pieces = nlp("我们在北京见到了周杰伦")._.trf_data.align.data.ravel().tolist()
        return len(pieces) - len(set(pieces))

    assert shared_pieces(tiny_encoder) > 0
    assert shared_pieces(single_chars) == 0


def test_the_copy_keeps_the_weights_and_records_what_it_is(tiny_encoder, single_chars):
    assert (single_chars / "model.safetensors").read_bytes() == (tiny_encoder / "model.safetensors").read_bytes()
    assert read_provenance(single_chars)["single_characters"] is True
    assert read_provenance(single_chars)["request"]["single_characters"] is True  # `encoder build` will not reuse it


def test_bad_sources_give_clear_errors(tiny_encoder, single_chars, tmp_path):
    with pytest.raises(ValueError, match="a piece of its own already"):
        make_single_character_folder(single_chars, tmp_path / "twice")
    with pytest.raises(FileExistsError, match="exists; give a new folder"):
        make_single_character_folder(tiny_encoder, single_chars)
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "tokenizer.json").write_text(json.dumps({"pre_tokenizer": {"type": "BertPreTokenizer"}}))
    run = CliRunner().invoke(app, ["encoder", "single-chars", str(bert), str(tmp_path / "out")])
    assert run.exit_code == 1
    assert "tokenizer.json: its pre-tokenizer is 'BertPreTokenizer'" in run.output
    assert not (tmp_path / "out").exists()
