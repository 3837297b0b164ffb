import pytest
import torch
from torch import nn

from spacy_lowner.objectives.side_optimizer import SideOptimizer


def sgd_module(grad_clip=None):
    torch.manual_seed(0)
    module = nn.Linear(3, 1)
    return module, SideOptimizer(torch.optim.SGD(module.parameters(), lr=1.0), grad_clip)


def loss_of(module, scale=1.0):
    return scale * module(torch.ones(2, 3)).sum()


def weights(module):
    return [p.detach().clone() for p in module.parameters()]


def test_accepted_batches_are_summed_and_stepped_once_a_discarded_one_never():
    module, updates = sgd_module()
    start = weights(module)
    assert updates.hold_loss(loss_of(module))
    updates.accept()
    assert updates.hold_loss(loss_of(module, 100.0))
    updates.discard()  # e.g. a batch the component skipped
    assert updates.hold_loss(loss_of(module, 2.0))
    updates.accept()
    # held outside .grad until the step: spaCy's optimizer steps whatever has one
    assert all(p.grad is None for p in module.parameters())
    assert updates.step() is None
    # d/dW of (1 + 2) * sum over 2 rows of W.x + b, with x = 1: 6 per weight, 6 for the bias
    for before, after in zip(start, weights(module)):
        torch.testing.assert_close(after, before - 6.0)
    assert all(p.grad is None for p in module.parameters())
    assert not updates.has_update and updates.step() is None  # nothing left to step


def test_the_gradient_reaches_the_module_only():
    module, updates = sgd_module()
    inputs = torch.ones(2, 3, requires_grad=True)
    updates.hold_loss(module(inputs).sum())
    assert inputs.grad is None


def test_a_non_finite_loss_is_not_held():
    module, updates = sgd_module()
    assert not updates.hold_loss(loss_of(module, float("nan")))
    updates.accept()
    assert not updates.has_update


def test_a_step_that_breaks_the_weights_is_undone_and_reported():
    module, updates = sgd_module()
    start = weights(module)
    updates.hold([torch.full_like(p, float("inf")) for p in module.parameters()])
    updates.accept()
    assert updates.step() == "made its weights non-finite"
    assert all(torch.equal(a, b) for a, b in zip(start, weights(module)))
    assert all(p.grad is None for p in module.parameters())


def test_the_gradient_norm_is_clipped_and_a_non_finite_norm_skips_the_step():
    module, updates = sgd_module(grad_clip=0.5)
    start = weights(module)
    updates.hold([torch.full_like(p, 10.0) for p in module.parameters()])
    updates.accept()
    assert updates.step() is None
    moved = torch.cat([(b - a).flatten() for a, b in zip(start, weights(module))])
    assert float(moved.norm()) == pytest.approx(0.5)  # SGD at lr 1 moves by the clipped gradient
    start = weights(module)
    updates.hold([torch.full_like(p, float("nan")) for p in module.parameters()])
    updates.accept()
    assert updates.step().startswith("had a non-finite gradient norm")
    assert all(torch.equal(a, b) for a, b in zip(start, weights(module)))


def test_one_gradient_per_parameter():
    _, updates = sgd_module()
    with pytest.raises(ValueError, match="1 gradients for 2 parameters"):
        updates.hold([torch.zeros(1, 3)])
