"""The optimizer of a module that an objective trains apart from spaCy's optimizer: ssgan's
generator, language_adversarial's and word_adversarial's discriminators.

A batch's gradients for the module wait until the component accepts the batch (a batch with a
non-finite loss is skipped: `ObjectiveRunner`), are summed over the accepted batches of an
update (spaCy's gradient accumulation), and are stepped after spaCy's optimizer has stepped
(`Objective.after_step`). They are held here, not in the parameters' `.grad`: spaCy's optimizer
steps every torch parameter of the model that has one, and a module kept with the head
(language_adversarial's discriminator) is such a parameter. A step that would break the
module's weights (a non-finite gradient norm, or non-finite weights after it) is undone and
reported, so that one bad batch does not turn the module into NaN for the rest of the run."""
from typing import List, Optional, Sequence

import torch


class SideOptimizer:
    """`optimizer` (over the module's parameters) fed with the accepted batches' gradients;
    `grad_clip`: their norm is clipped to it before each step (None: not clipped)."""

    def __init__(self, optimizer: torch.optim.Optimizer, grad_clip: Optional[float] = None):
        self.optimizer = optimizer
        self.grad_clip = grad_clip
        self.params: List[torch.Tensor] = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        self._batch: List[torch.Tensor] = []
        self._accepted: List[torch.Tensor] = []

    @property
    def has_batch(self) -> bool:
        """Whether this batch gave the module gradients (not yet accepted)."""
        return bool(self._batch)

    @property
    def has_update(self) -> bool:
        """Whether accepted batches gave the module gradients that the next `step` applies."""
        return bool(self._accepted)

    def hold(self, grads: Sequence[Optional[torch.Tensor]]) -> None:
        """This batch's gradients, one per parameter in `params` (None: no gradient); they
        replace any earlier batch's that was not accepted."""
        if len(grads) != len(self.params):
            raise ValueError(f"{len(grads)} gradients for {len(self.params)} parameters")
        self._batch = [torch.zeros_like(p) if g is None else g.detach() for p, g in zip(self.params, grads)]

    def hold_loss(self, loss: torch.Tensor, retain_graph: bool = False) -> bool:
        """Hold the gradient of `loss` with respect to the module's parameters only (nothing
        else in the graph gets one); a non-finite loss is not held (False)."""
        self._batch = []
        if not torch.isfinite(loss):
            return False
        self.hold(torch.autograd.grad(loss, self.params, retain_graph=retain_graph, allow_unused=True))
        return True

    def discard(self) -> None:
        """Forget this batch's gradients (a new batch, or one the component skipped)."""
        self._batch = []

    def accept(self) -> None:
        """The component took this batch: its gradients join the update's."""
        if self._batch:
            self._accepted = (
                [total + grad for total, grad in zip(self._accepted, self._batch)] if self._accepted else self._batch
            )
        self._batch = []

    def step(self) -> Optional[str]:
        """Step the module with the accepted batches' gradients and forget them. Returns why
        the step was undone (None: it was taken, or there was nothing to step)."""
        if not self._accepted:
            return None
        for param, grad in zip(self.params, self._accepted):
            param.grad = grad
        self._accepted = []
        try:
            if self.grad_clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
                if not torch.isfinite(norm):
                    return f"had a non-finite gradient norm ({float(norm)})"
            before = [p.detach().clone() for p in self.params]
            self.optimizer.step()
            if all(bool(torch.isfinite(p).all()) for p in self.params):
                return None
            with torch.no_grad():
                for param, old in zip(self.params, before):
                    param.copy_(old)
            return "made its weights non-finite"
        finally:
            self.optimizer.zero_grad(set_to_none=True)
