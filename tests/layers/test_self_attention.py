"""The self-attention head module: masks, and position information that can be switched off."""
import pytest
import torch

from spacy_lowner.layers.self_attention import SelfAttention, make_self_attention


def test_padding_does_not_change_a_doc():
    torch.manual_seed(0)
    module = make_self_attention(heads=2)(8).eval()
    doc = torch.randn(1, 3, 8)
    alone = module(doc, torch.ones(1, 3, dtype=torch.bool), ["a"])
    padded = torch.cat([doc, torch.randn(1, 2, 8)], dim=1)
    mask = torch.tensor([[True, True, True, False, False]])
    output = module(padded, mask, ["a"])
    torch.testing.assert_close(output[:, :3], alone)
    assert torch.all(output[:, 3:] == 0) and output.shape == (1, 5, 8)


def test_without_positions_order_does_not_matter_and_with_them_it_does():
    torch.manual_seed(0)
    doc = torch.randn(1, 4, 8)
    order = torch.tensor([2, 0, 3, 1])
    mask = torch.ones(1, 4, dtype=torch.bool)
    for positions in (False, True):
        torch.manual_seed(0)
        module = SelfAttention(8, heads=2, positions=positions).eval()
        shuffled = module(doc[:, order], mask, ["a"])
        same = torch.allclose(shuffled, module(doc, mask, ["a"])[:, order], atol=1e-5)
        assert same is not positions


def test_an_empty_doc_is_finite():
    module = SelfAttention(4)
    output = module(torch.randn(2, 3, 4), torch.tensor([[True] * 3, [False] * 3]), ["a", "a"])
    assert torch.isfinite(output).all() and torch.all(output[1] == 0)


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="heads"):
        SelfAttention(6, heads=4)
