import pytest
import torch
from torch import nn

from spacy_lowner.errors import TrainingDivergedError
from spacy_lowner.objectives.side_optimizer import MAX_FAILED_STEPS, SideOptimizer


def module_and_updates(optimizer=torch.optim.SGD, grad_clip=None):
    torch.manual_seed(0)
    module = nn.Linear(3, 1)
    updates = SideOptimizer(optimizer(module.parameters(), lr=1.0), "the test's module", "its_learning_rate", grad_clip)
    return module, updates


def loss_of(module, scale=1.0):
    return scale * module(torch.ones(2, 3)).sum()


def weights(module):
    return [p.detach().clone() for p in module.parameters()]


def test_accepted_batches_are_summed_and_stepped_once_a_discarded_one_never():
    module, updates = module_and_updates()
    start = weights(module)
    assert updates.hold_loss(loss_of(module))
    updates.accept()
    assert updates.hold_loss(loss_of(module, 100.0))
    updates.discard()  # e.g. a batch the component skipped
    assert updates.hold_loss(loss_of(module, 2.0))
    updates.accept()
    # held outside .grad until the step: spaCy's optimizer steps whatever has one
    assert all(p.grad is None for p in module.parameters())
    assert updates.step()
    # d/dW of (1 + 2) * sum over 2 rows of W.x + b, with x = 1: 6 per weight, 6 for the bias
    for before, after in zip(start, weights(module)):
        torch.testing.assert_close(after, before - 6.0)
    assert all(p.grad is None for p in module.parameters())
    assert not updates.has_update and not updates.step()  # nothing left to step


def test_the_gradient_reaches_the_module_only_and_an_unused_parameter_gets_none():
    module, updates = module_and_updates(torch.optim.AdamW)
    inputs = torch.ones(2, 3, requires_grad=True)
    updates.hold_loss((inputs @ module.weight.T).sum())  # the bias takes no part
    assert inputs.grad is None
    updates.accept()
    bias = module.bias.detach().clone()
    assert updates.step()
    assert torch.equal(module.bias, bias)  # no gradient: AdamW neither moves nor decays it


def test_a_non_finite_loss_is_not_held():
    module, updates = module_and_updates()
    assert not updates.hold_loss(loss_of(module, float("nan")))
    updates.accept()
    assert not updates.has_update


def test_a_step_that_breaks_the_weights_is_undone_with_the_optimizer_state():
    module, updates = module_and_updates(torch.optim.Adam)
    updates.hold_loss(loss_of(module))
    updates.accept()
    updates.step()  # Adam now has moments
    start, moments = weights(module), [s["exp_avg"].clone() for s in updates.optimizer.state.values()]
    real_step = updates.optimizer.step
    updates.optimizer.step = lambda: (real_step(), module.weight.data.fill_(float("inf")))
    updates.hold_loss(loss_of(module))
    updates.accept()
    with pytest.warns(UserWarning, match=r"the test's module: skipped a step that made its weights non-finite \(1 in a row\)"):
        assert not updates.step()
    assert all(torch.equal(a, b) for a, b in zip(start, weights(module)))
    assert all(torch.equal(a, s["exp_avg"]) for a, s in zip(moments, updates.optimizer.state.values()))
    assert all(p.grad is None for p in module.parameters())
    updates.optimizer.step = real_step
    updates.hold_loss(loss_of(module))
    updates.accept()
    assert updates.step() and updates.failed_steps == 0  # it trains on


def test_a_non_finite_gradient_is_never_stepped_and_failures_in_a_row_stop_training():
    module, updates = module_and_updates(torch.optim.Adam)
    start = weights(module)
    for attempt in range(1, MAX_FAILED_STEPS + 1):
        updates.hold([torch.full_like(p, float("nan")) for p in module.parameters()])
        updates.accept()
        if attempt < MAX_FAILED_STEPS:
            with pytest.warns(UserWarning, match=rf"non-finite gradient norm \(nan\) \({attempt} in a row\)"):
                updates.step()
        else:
            with pytest.raises(TrainingDivergedError, match="3 steps in a row .* Lower its_learning_rate"):
                updates.step()
    assert all(torch.equal(a, b) for a, b in zip(start, weights(module)))
    assert not updates.optimizer.state  # Adam never saw the gradient


def test_the_gradient_norm_is_clipped():
    module, updates = module_and_updates(grad_clip=0.5)
    start = weights(module)
    updates.hold([torch.full_like(p, 10.0) for p in module.parameters()])
    updates.accept()
    assert updates.step()
    moved = torch.cat([(b - a).flatten() for a, b in zip(start, weights(module))])
    assert float(moved.norm()) == pytest.approx(0.5)  # SGD at lr 1 moves by the clipped gradient


def test_one_gradient_per_parameter():
    _, updates = module_and_updates()
    with pytest.raises(ValueError, match="1 gradients for 2 parameters"):
        updates.hold([torch.zeros(1, 3)])
