"""Gradient reversal (Ganin & Lempitsky 2015): the identity going forward, the gradient times
-strength going back. A domain classifier behind it learns to tell domains apart while the
encoder below it is pushed to make them indistinguishable (DATNet's GRAD)."""
import torch


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs: torch.Tensor, strength: float) -> torch.Tensor:
        ctx.strength = strength
        return inputs.view_as(inputs)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.strength * grad, None


def reverse_gradient(inputs: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """`inputs` unchanged; their gradient is multiplied by -strength on the way back."""
    return _GradientReversal.apply(inputs, float(strength))
