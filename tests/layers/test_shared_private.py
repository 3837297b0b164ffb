"""Shared plus private modules per domain (DATNet-P): widths, and private modules that learn
from their own domain's docs only."""
import pytest
import torch

from spacy_lowner.layers.bilstm import make_bilstm
from spacy_lowner.layers.shared_private import make_shared_private


def build():
    torch.manual_seed(0)
    return make_shared_private(shared=make_bilstm(width=6), private=make_bilstm(width=4), domains=["source", "target"])(5)


def test_the_output_is_the_shared_then_the_own_private_module():
    module = build().eval()
    vectors = torch.randn(2, 3, 5)
    mask = torch.ones(2, 3, dtype=torch.bool)
    output = module(vectors, mask, ["source", "target"])
    assert module.output_width == 10 and output.shape == (2, 3, 10)
    torch.testing.assert_close(output[..., :6], module.shared(vectors, mask, ["source", "target"]))
    torch.testing.assert_close(output[1:, :, 6:], module.private["target"](vectors[1:], mask[1:], ["target"]))


def test_a_private_module_gets_no_gradient_from_another_domains_docs():
    module = build()
    vectors = torch.randn(3, 4, 5, requires_grad=True)
    module(vectors, torch.ones(3, 4, dtype=torch.bool), ["source"] * 3).pow(2).sum().backward()
    assert all(p.grad is None for p in module.private["target"].parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.private["source"].parameters())
    assert all(p.grad is not None for p in module.shared.parameters())


def test_a_doc_of_an_unknown_domain_is_an_error():
    with pytest.raises(ValueError, match="domain.*other"):
        build()(torch.randn(1, 2, 5), torch.ones(1, 2, dtype=torch.bool), ["other"])
