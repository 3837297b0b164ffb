"""The optimizer of a module that an objective trains apart from spaCy's optimizer: ssgan's
generator, language_adversarial's and word_adversarial's discriminators.

A batch's gradients for the module wait until the component accepts the batch (a batch with a
non-finite loss is skipped: `ObjectiveRunner`), are summed over the accepted batches of an
update (spaCy's gradient accumulation), and are stepped after spaCy's optimizer has stepped
(`Objective.after_step`). They are held here, not in the parameters' `.grad`: spaCy's optimizer
steps every torch parameter of the model that has one, and a module kept with the head
(language_adversarial's discriminator) is such a parameter.

A step with a non-finite gradient norm is skipped; a step that makes the module's weights
non-finite is undone, the optimizer's state (Adam's moments) with them. Either is warned about,
and MAX_FAILED_STEPS in a row stop training: one bad batch must not turn the module into NaN for
the rest of the run, and a module that cannot train any more must not pass unnoticed."""
import copy
import warnings
from typing import List, Optional, Sequence

import torch

from ..errors import TrainingDivergedError

# Steps in a row that may fail (non-finite gradient or weights) before training stops.
MAX_FAILED_STEPS = 3


class SideOptimizer:
    """`optimizer` (over the module's parameters) fed with the accepted batches' gradients.

    grad_clip: their norm is clipped to it before each step (None: not clipped).
    module: what the warnings and the error call the module ("ssgan's generator").
    learning_rate_setting: the setting the error tells the user to lower.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        module: str,
        learning_rate_setting: str,
        grad_clip: Optional[float] = None,
    ):
        self.optimizer = optimizer
        self.module = module
        self.learning_rate_setting = learning_rate_setting
        self.grad_clip = grad_clip
        self.params: List[torch.Tensor] = [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]
        self.failed_steps = 0  # in a row
        # One per parameter; None where the loss did not reach it (the optimizer then skips it).
        self._batch: List[Optional[torch.Tensor]] = []
        self._accepted: List[Optional[torch.Tensor]] = []

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
        self._batch = [None if g is None else g.detach() for g in grads]

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
            self._accepted = [_add(total, grad) for total, grad in zip(self._accepted, self._batch)] if self._accepted else self._batch
        self._batch = []

    def step(self) -> bool:
        """Step the module with the accepted batches' gradients and forget them; whether a step
        was taken (False: nothing to step, or the step failed: warned, or an error once
        MAX_FAILED_STEPS failed in a row)."""
        if not self._accepted:
            return False
        for param, grad in zip(self.params, self._accepted):
            param.grad = grad
        self._accepted = []
        try:
            failure = self._step()
        finally:
            self.optimizer.zero_grad(set_to_none=True)
        if failure is None:
            self.failed_steps = 0
            return True
        self.failed_steps += 1
        if self.failed_steps >= MAX_FAILED_STEPS:
            raise TrainingDivergedError(
                f"{self.module}: training diverged: {self.failed_steps} steps in a row {failure}. "
                f"Lower {self.learning_rate_setting} and train again."
            )
        # the count in the text: Python shows an identical warning from one place only once
        warnings.warn(f"{self.module}: skipped a step that {failure} ({self.failed_steps} in a row)")
        return False

    def _step(self) -> Optional[str]:
        """One step of the optimizer, or why it was not taken or was undone."""
        norm = torch.nn.utils.clip_grad_norm_(self.params, float("inf") if self.grad_clip is None else self.grad_clip)
        if not torch.isfinite(norm):
            return f"had a non-finite gradient norm ({float(norm)})"
        weights = [p.detach().clone() for p in self.params]
        state = copy.deepcopy(self.optimizer.state_dict())
        self.optimizer.step()
        if all(bool(torch.isfinite(p).all()) for p in self.params):
            return None
        with torch.no_grad():
            for param, old in zip(self.params, weights):
                param.copy_(old)
        self.optimizer.load_state_dict(state)
        return "made its weights non-finite"


def _add(total: Optional[torch.Tensor], grad: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    if total is None:
        return grad
    return total if grad is None else total + grad
