"""What a training objective is, and what the component promises it.

The component (`lowner_ner`) owns one batch at a time. For each batch it:
1. runs the tok2vec once and pads its output (`TaggerBatch`);
2. calls every objective, which returns its loss terms (tensors on the platform's scale,
   layers/losses.py) and may compute things on the side (a generator's gradients);
3. sums all terms into one loss; if it is not finite the batch is skipped, else it is
   backpropagated once through the head and once through the tok2vec, and every objective's
   `batch_accepted` is called;
4. after the optimizer step (`finish_update`), checks the weights and calls `after_step`.

An objective learns its config key (`name`: its terms are reported as
`<component>_<name>_<term>`) and the number of optimizer steps taken (`step`; with
`context.max_steps`, the training progress). It names the channels it reads (`needs`), which
the component checks on the training data at initialisation. It reaches the head only
through the head's public API (model/head.py).
"""
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Optional, Set, Tuple

import torch
from spacy.training import Example

from ..model.batch import TaggerBatch
from ..model.channels import doc_domain
from ..model.head import TaggerHead
from ..model.tags import TagScheme


@dataclass
class ObjectiveContext:
    """What an objective learns at initialisation."""

    component: str
    head: TaggerHead
    scheme: TagScheme
    get_examples: Callable[[], Iterable[Example]]
    # [training] max_steps of the run (0: unknown or unlimited)
    max_steps: int = 0

    def training_domains(self) -> Set[Optional[str]]:
        """The domains of the training docs (None for a doc without one)."""
        return {doc_domain(eg.reference) for eg in self.get_examples()}


class Objective:
    """A named group of loss terms computed on one batch."""

    # The channels (channels.py) this objective reads from a batch.
    needs: Tuple[str, ...] = ()

    def __init__(self) -> None:
        self.name = ""  # the config key, set by the component
        self.step = 0  # optimizer steps taken so far, set by the component before each batch

    def initialize(self, context: ObjectiveContext) -> None:
        """Called once the head is built: add training modules or a token transform here."""

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        """The loss terms of this batch by term name ("" for a single term, reported under the
        objective's own name); an empty dict when the batch has nothing for this objective."""
        raise NotImplementedError

    def batch_accepted(self) -> None:
        """The summed loss of the last batch was finite and has been backpropagated. A batch
        with a non-finite loss is skipped and this is not called: keep what `__call__`
        computed on the side (a side player's gradients) here, not before."""

    def after_step(self) -> None:
        """The optimizer has just stepped the component's weights: step side optimizers,
        update teachers, re-project weights here."""

    def prediction_state(self) -> Optional[Dict[str, torch.Tensor]]:
        """Head weights to predict and save with instead of the trained ones (a teacher's), or
        None. At most one objective of a component may give them."""
        return None

    def report(self) -> Dict[str, float]:
        """Figures of the last batch that are not part of the summed loss (e.g. the loss of a
        generator with its own optimizer), by term name as in `__call__`."""
        return {}


def term_key(objective: str, term: str) -> str:
    """The reported name of an objective's term: `ssgan` + `real` -> `ssgan_real`."""
    return f"{objective}_{term}" if term else objective
