"""The objectives of one component, run on one batch at a time (objectives/base.py says what
an objective promises): their loss terms summed into one loss, the guard against a diverged
run, the hooks after each step, and the weights prediction uses.

The component (pipe.py) owns the spaCy side (the tok2vec pass and its backprop, the
optimizer, saving); this owns everything between the padded batch and the summed loss.
"""
import warnings
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

import torch
from confection import ConfigValidationError

from ..errors import TrainingDivergedError, setting_error
from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..objectives import Objective
from ..objectives.base import ObjectiveContext, term_key
from ..registry import lowner_objectives

# Batches in a row with a non-finite loss after which training stops: one can be a fluke,
# several mean the weights have diverged and nothing later will train.
MAX_NON_FINITE_BATCHES = 3


class ObjectiveRunner:
    def __init__(self, component: str, objectives: Optional[Dict[str, Any]]):
        if not objectives:
            raise ValueError(f"{component}: configure at least one objective, e.g. 'spacy_lowner.supervised.v1'")
        for key, objective in objectives.items():
            if not isinstance(objective, Objective):
                raise ValueError(
                    f"{component}: objectives.{key} is not an objective; give it a block with "
                    f'@lowner_objectives = "<name>" (registered: {sorted(lowner_objectives.get_all())})'
                )
            objective.name = key
        self.component = component
        self.objectives: Dict[str, Objective] = objectives
        self.non_finite_batches = 0  # in a row; see loss()

    def initialize(self, context: ObjectiveContext) -> None:
        """Initialise each objective. What an objective refuses there (a head without the
        module it reads, domains the corpora lack) is a setting of the user's config: it is
        raised as a setting error naming the objective's block, which `spacy train` prints as
        one block instead of a traceback."""
        for key, objective in self.objectives.items():
            try:
                objective.initialize(context)
            except ConfigValidationError:
                raise
            except ValueError as err:
                raise setting_error(self.component, f"components.{self.component}.objectives.{key}", str(err)) from None

    def loss(self, batch: TaggerBatch, head: TaggerHead, step: int) -> Dict[str, torch.Tensor]:
        """Every objective's terms on this batch, by reported name (`<key>_<term>`); empty when
        no objective has anything for the batch, or when their sum is not finite: such a batch
        is skipped with a warning, and training stops when it happens again and again (the
        weights have diverged, and every later batch would be skipped too)."""
        terms: Dict[str, torch.Tensor] = {}
        for key, objective in self.objectives.items():
            objective.step = step
            for term, value in objective(batch, head).items():
                self._add_term(terms, term_key(key, term), value)
        if terms and not torch.isfinite(torch.stack(list(terms.values())).sum()):
            self._skip_non_finite(terms)
            return {}
        if terms:
            self.non_finite_batches = 0
        return terms

    def batch_accepted(self) -> None:
        for objective in self.objectives.values():
            objective.batch_accepted()

    def after_step(self) -> None:
        for objective in self.objectives.values():
            objective.after_step()

    def report(self, terms: Dict[str, torch.Tensor]) -> Dict[str, float]:
        """The batch's terms as numbers, with what objectives report beside the loss."""
        reported = {key: float(value.detach()) for key, value in terms.items()}
        for key, objective in self.objectives.items():
            for term, value in objective.report().items():
                self._add_term(reported, term_key(key, term), value)
        return reported

    @contextmanager
    def prediction_weights(self, head: TaggerHead) -> Iterator[None]:
        """Swap in the head weights an objective wants prediction and saving to use (a mean
        teacher's) for the duration, then restore the trained ones."""
        states = [(key, o.prediction_state()) for key, o in self.objectives.items()]
        states = [(key, state) for key, state in states if state is not None]
        if len(states) > 1:
            raise ValueError(f"{self.component}: objectives {[key for key, _ in states]} both give prediction weights")
        if not states:
            yield
            return
        trained = {key: value.detach().clone() for key, value in head.state_dict().items()}
        head.load_state_dict(states[0][1], strict=False)
        try:
            yield
        finally:
            head.load_state_dict(trained)

    def _add_term(self, terms: Dict[str, Any], key: str, value: Any) -> None:
        if key in terms:
            raise ValueError(
                f"{self.component}: two objectives report a term named '{key}'; rename one of their "
                "config keys (the term names are <key>_<term>)"
            )
        terms[key] = value

    def _skip_non_finite(self, terms: Dict[str, torch.Tensor]) -> None:
        self.non_finite_batches += 1
        values = ", ".join(f"{key} {float(value.detach()):.3g}" for key, value in terms.items())
        if self.non_finite_batches >= MAX_NON_FINITE_BATCHES:
            raise TrainingDivergedError(
                f"{self.component}: training diverged: {self.non_finite_batches} batches in a row had a "
                f"non-finite loss ({values}). Lower the learning rate ([training.optimizer]) and train again."
            )
        warnings.warn(f"{self.component}: skipped a batch with a non-finite loss ({values})")
