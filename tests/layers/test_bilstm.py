"""The BiLSTM head module: shapes, and padding that never reaches a shorter doc."""
import pytest
import torch

from spacy_lowner.layers.bilstm import BiLSTM, make_bilstm


def test_output_width_and_zero_padding():
    torch.manual_seed(0)
    module = make_bilstm(width=10)(6)
    vectors = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    output = module(vectors, mask, ["a", "a"])
    assert module.output_width == 10 and output.shape == (2, 5, 10)
    assert torch.all(output[1, 3:] == 0)


def test_a_doc_reads_the_same_whatever_the_padding_after_it():
    torch.manual_seed(0)
    module = BiLSTM(4, width=6).eval()
    doc = torch.randn(1, 3, 4)
    alone = module(doc, torch.ones(1, 3, dtype=torch.bool), ["a"])
    padded = torch.cat([doc, 100 * torch.randn(1, 4, 4)], dim=1)  # garbage where the padding is
    mask = torch.tensor([[True] * 3 + [False] * 4])
    torch.testing.assert_close(module(padded, mask, ["a"])[:, :3], alone)


def test_an_empty_doc_gives_zeros():
    module = BiLSTM(4, width=4)
    output = module(torch.randn(2, 3, 4), torch.tensor([[True] * 3, [False] * 3]), ["a", "a"])
    assert torch.all(output[1] == 0) and torch.isfinite(output).all()


@pytest.mark.parametrize("settings", [{"width": 5}, {"depth": 0}, {"dropout": 1.0}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError, match="spacy_lowner.bilstm.v1"):
        BiLSTM(4, **settings)
