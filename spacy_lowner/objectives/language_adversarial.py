"""AdvPicker's token-level language-adversarial training (Chen et al. 2021, "AdvPicker:
Effectively leveraging unlabeled data via adversarial discriminator for cross-lingual NER") as a
training objective, beside the `supervised` loss on the labeled source-language docs.

The language is the `domain` channel (spacy_lowner.MultiCorpus.v1 names each doc's corpus):
docs of `source_domain` (labeled English) and of `target_domain` (unlabeled target-language
text) share the batches; docs of any other domain are left out of both players' losses.

- Discriminator: an MLP (Linear - ReLU - Linear, 1 logit: P(source)) over each token's vector,
  trained with binary cross-entropy (source 1, target 0), the mean over the source tokens plus
  the mean over the target tokens, as the authors' code. It reads the encoder's output (the
  head's input `batch.features`, `reads = "input"`: the paper's reads mBERT's last layer) or a
  head module's output by its block name. It is kept with the pipeline (`TaggerHead.keep_module`,
  kind `spacy_lowner.mlp.v1`) so that `python -m spacy_lowner pick` can score target sentences.
- Its own optimizer (Adam at `discriminator_learning_rate`, the code's AdamW without weight
  decay; a `SideOptimizer`): its loss is computed on detached vectors, its gradient held until
  the batch is accepted and stepped after the component's optimizer has stepped; its parameters
  hold no `.grad` in between, so spaCy's optimizer never moves them.
- Encoder term: the same discriminator with FLIPPED labels (source 0, target 1; the code's
  generator update, not gradient reversal), through a copy of the discriminator's weights cut
  from the graph: its gradient reaches the token vectors (and through them the encoder) only.
  On the platform's scale (a sum over a doc's tokens, averaged over docs, per language) times
  `weight`.

The code steps the encoder with this term at 6e-7 against 6e-5 for the NER loss: two Adam
optimizers, so each update is about its learning rate whatever the size of its gradient. Here
one optimizer steps the summed gradient, so `weight` is the adversarial gradient's share of the
update: `weight = 0.01 * |g_ner| / |g_adv|` at the encoder output (`python -m bench gradients`)
gives the code's ratio; with gradients of equal norm that is 0.01, the default.
"""
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..layers.losses import doc_mean
from ..model.batch import TaggerBatch
from ..model.head import INPUT, TaggerHead
from ..registry import lowner_objectives
from ..settings import Fraction, NonNegativeFloat, PositiveInt
from .base import Objective, ObjectiveContext
from .side_optimizer import SideOptimizer

DISCRIMINATOR_KIND = "spacy_lowner.mlp.v1"


class LanguageAdversarialObjective(Objective):
    needs = ("domain",)

    def __init__(
        self,
        weight: float,
        source_domain: str,
        target_domain: str,
        reads: str,
        hidden_width: int,
        dropout: float,
        discriminator_learning_rate: float,
    ):
        super().__init__()
        if source_domain == target_domain:
            raise ValueError(f"language_adversarial: source_domain and target_domain are both {source_domain!r}")
        self.weight = weight
        self.source_domain = source_domain
        self.target_domain = target_domain
        self.reads = reads
        self.hidden_width = hidden_width
        self.dropout = dropout
        self.discriminator_learning_rate = discriminator_learning_rate
        self.discriminator: Optional[nn.Module] = None
        self.discriminator_updates: Optional[SideOptimizer] = None
        self.discriminator_loss = 0.0
        self.discriminator_accuracy = 0.0

    @property
    def discriminator_name(self) -> str:
        """The kept module's name in the head: the config key's, so that two such objectives
        in one component keep two discriminators."""
        return f"{self.name}_discriminator"

    def initialize(self, context: ObjectiveContext) -> None:
        _check_domains_present(context, (self.source_domain, self.target_domain))
        head = context.head
        self.discriminator = head.keep_module(
            self.discriminator_name,
            DISCRIMINATOR_KIND,
            input_width=head.width_at(self.reads),
            hidden_width=self.hidden_width,
            output_width=1,
            dropout=self.dropout,
        )
        self.discriminator_updates = SideOptimizer(
            torch.optim.Adam(self.discriminator.parameters(), lr=self.discriminator_learning_rate),
            f"{self.name}'s discriminator", "discriminator_learning_rate",
        )

    def source_probabilities(
        self, head: TaggerHead, vectors: torch.Tensor, mask: torch.Tensor, domains: Optional[List[Optional[str]]] = None
    ) -> torch.Tensor:
        """(B, T) the kept discriminator's P(source language) per token, from the tok2vec output
        `vectors` of a trained (or loaded) pipeline's docs; 0 at padding. `pick` scores with it."""
        inputs = vectors if self.reads == INPUT else head.stack_outputs(vectors, domains, mask)[self.reads]
        return torch.sigmoid(head.kept_module(self.discriminator_name)(inputs).squeeze(-1)) * mask

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        self.discriminator_updates.discard()
        source, target = batch.domain_tokens([self.source_domain]), batch.domain_tokens([self.target_domain])
        if not bool(source.any() or target.any()):
            return {}
        vectors = batch.features if self.reads == INPUT else batch.head_pass(head).stack_outputs[self.reads]
        is_source = source.float()
        self._discriminator_gradients(vectors.detach(), is_source, source, target)
        if self.weight == 0:
            return {}
        # The discriminator's weights cut from the graph: this term moves the encoder only.
        frozen = {name: param.detach() for name, param in self.discriminator.named_parameters()}
        logits = functional_call(self.discriminator, frozen, (vectors,)).squeeze(-1)
        flipped = F.binary_cross_entropy_with_logits(logits, 1.0 - is_source, reduction="none")
        return {"": self.weight * (doc_mean(flipped, source) + doc_mean(flipped, target))}

    def _discriminator_gradients(
        self, vectors: torch.Tensor, is_source: torch.Tensor, source: torch.Tensor, target: torch.Tensor
    ) -> None:
        """The discriminator's loss on (detached) token vectors and its gradient w.r.t. its own
        weights only, held until the batch is accepted."""
        logits = self.discriminator(vectors).squeeze(-1)
        losses = F.binary_cross_entropy_with_logits(logits, is_source, reduction="none")
        loss = token_mean(losses, source) + token_mean(losses, target)
        if not self.discriminator_updates.hold_loss(loss):
            return  # a broken batch must not reach the discriminator's optimizer
        tokens = source | target
        correct = ((logits > 0) == (is_source > 0.5)) & tokens
        self.discriminator_loss = float(loss.detach())
        self.discriminator_accuracy = float(correct.sum()) / max(int(tokens.sum()), 1)

    def batch_accepted(self) -> None:
        self.discriminator_updates.accept()

    def after_step(self) -> None:
        self.discriminator_updates.step()

    def report(self) -> Dict[str, float]:
        return {"discriminator": self.discriminator_loss, "accuracy": self.discriminator_accuracy}


def token_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of `values` (B, T) over the tokens in `mask`; 0 (with a gradient path) for none."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def _check_domains_present(context: ObjectiveContext, domains: Tuple[str, str]) -> None:
    """Refuse settings that name a domain no training doc has: the objective would never see
    one of the two languages and train nothing."""
    found = context.training_domains()
    for setting, domain in zip(("source_domain", "target_domain"), domains):
        if domain not in found:
            raise ValueError(
                f"language_adversarial: {setting} = {domain!r}, but no training doc has that domain "
                f"(they have: {', '.join(sorted(map(str, found)))}); name the reader's corpus blocks"
            )


@lowner_objectives("spacy_lowner.language_adversarial.v1")
def make_language_adversarial(
    weight: NonNegativeFloat = 0.01,
    source_domain: str = "source",
    target_domain: str = "target",
    reads: str = INPUT,
    hidden_width: PositiveInt = 500,
    dropout: Fraction = 0.0,
    discriminator_learning_rate: NonNegativeFloat = 0.005,
) -> LanguageAdversarialObjective:
    """AdvPicker's token-level language discriminator, kept with the pipeline for `pick`; use it
    beside the `supervised` objective, with the source and target languages as two domains.

    weight: the factor of the encoder's flipped-label term in the summed loss (its share of the
        encoder's update: the code's 6e-7 / 6e-5 is 0.01 when both gradients have equal norms).
    source_domain, target_domain: the domains (reader corpus names) of the two languages.
    reads: "input" (the tok2vec output, the paper's) or a head module's block name.
    hidden_width: the discriminator's hidden layer (500 in the paper).
    dropout: the discriminator's dropout (none in the code).
    discriminator_learning_rate: its own Adam's learning rate (5e-3 in the code's run script).
    """
    return LanguageAdversarialObjective(
        weight, source_domain, target_domain, reads, hidden_width, dropout, discriminator_learning_rate
    )
