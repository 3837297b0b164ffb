from typing import Callable, Dict, Iterable

import torch
from spacy.training import Example

from ..batch import TaggerBatch
from ..layers.head import TaggerHead
from ..tags import TagScheme


class Objective:
    """A named group of loss terms computed on one batch.

    `lowner_ner.update()` calls every configured objective on the same padded batch and
    sums all terms into one loss, so the tok2vec is backpropagated once. Each term is also
    reported on its own under `<component>_<term>`.
    """

    def initialize(
        self, head: TaggerHead, scheme: TagScheme, get_examples: Callable[[], Iterable[Example]]
    ) -> None:
        """Called once the head is built: add modules to `head.objective_modules` here."""

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def batch_accepted(self) -> None:
        """The summed loss of the last batch was finite and has been backpropagated. A batch
        with a non-finite loss is skipped and this is not called: keep what `__call__`
        computed on the side (a side player's gradients) here, not before."""

    def after_step(self) -> None:
        """The optimizer has just stepped the component's weights: step side optimizers here."""

    def report(self) -> Dict[str, float]:
        """Figures of the last batch that are not part of the summed loss (e.g. the loss of a
        generator with its own optimizer); reported as `<component>_<key>`."""
        return {}
