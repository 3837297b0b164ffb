"""Word-level adversarial alignment of a source language's token vectors to a target language's
(Wang et al. 2023, "Cross-Lingual Named Entity Recognition Based on Attention and Adversarial
Training", section 3.3; the same game as MUSE, Conneau et al. 2018), as a training objective.

The head holds a map for the source domain's docs (`spacy_lowner.domain_map.v1`, kept
orthogonal by the SVD projection after every optimizer step); this objective reads the token
vectors after it (`stack_outputs[reads]`) and plays two players:

- a word discriminator D (an MLP with its own optimizer, outside the head: never saved) tells
  mapped source tokens from target tokens, by binary cross-entropy against the smoothed labels
  y = delta (1 - 2 eps) + eps (delta = 1 for a target token): the paper's eq. 4-5. It trains
  on the batch's vectors cut from the graph, so its loss moves nothing but D;
- the map is trained against a frozen copy of D with the labels flipped, 1 - y (eq. 6): the
  term this objective returns. Its gradient reaches the map's weights only, unless
  `moves_encoder` lets it reach the modules below the map and the encoder too.

Each batch gives both players their gradient from the same state; the component's optimizer
steps the map, then `after_step` steps D: the paper's alternation, one step each per batch.
With `ner_moves_map = false` (the default) the map's gradient is this objective's term alone:
the summed loss of the other objectives (the NER loss) reaches every other weight but not the
map, so the map stays the adversary's alignment and cannot become an English-only adapter.
"""
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..errors import setting_error
from ..layers.losses import doc_mean
from ..layers.mlp import MLP
from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import Fraction, NonNegativeFloat, PositiveInt, finite_float
from .base import Objective, ObjectiveContext
from .side_optimizer import SideOptimizer

# eps of the smoothed labels: below 0.5, where the two classes' labels would cross.
Smoothing = finite_float(ge=0, lt=0.5)


def smoothed_labels(is_target: torch.Tensor, smoothing: float) -> torch.Tensor:
    """y = delta (1 - 2 eps) + eps per token, delta = 1 for a target token and 0 for a mapped
    source token: the discriminator's target probability that a token is the target's."""
    return is_target.float() * (1.0 - 2.0 * smoothing) + smoothing


def class_balanced_bce(logits: torch.Tensor, labels: torch.Tensor, is_target: torch.Tensor) -> torch.Tensor:
    """The mean binary cross-entropy of each class's tokens, averaged over the classes present:
    a batch with ten times more target tokens does not teach D to answer "target"."""
    losses = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    means = [losses[rows].mean() for rows in (is_target, ~is_target) if bool(rows.any())]
    return torch.stack(means).mean()


class WordAdversarialObjective(Objective):
    needs = ("domain",)

    def __init__(
        self,
        weight: float,
        smoothing: float,
        reads: str,
        source: str,
        targets: Sequence[str],
        hidden_width: int,
        discriminator_dropout: float,
        discriminator_learning_rate: float,
        ner_moves_map: bool,
        moves_encoder: bool,
    ):
        super().__init__()
        if not targets or source in targets:
            raise ValueError(
                f"word_adversarial: targets {list(targets)} must name one or more domains besides the source {source!r}"
            )
        self.weight = weight
        self.smoothing = smoothing
        self.reads = reads
        self.source = source
        self.targets = list(targets)
        self.hidden_width = hidden_width
        self.discriminator_dropout = discriminator_dropout
        self.discriminator_learning_rate = discriminator_learning_rate
        self.ner_moves_map = ner_moves_map
        self.moves_encoder = moves_encoder
        self.discriminator: nn.Module = nn.Identity()
        self.discriminator_updates: Optional[SideOptimizer] = None
        self.map: nn.Module = nn.Identity()
        self.discriminator_loss = 0.0
        self._map_grads: List[tuple] = []  # (map parameter, the grad it must have once accepted)

    def initialize(self, context: ObjectiveContext) -> None:
        head = context.head
        self.map = self._map_module(head, context.component)
        # Kept outside the head, so that spaCy's optimizer never sees it and it is not saved.
        discriminator = MLP(self.map.output_width, self.hidden_width, 1, self.discriminator_dropout)
        self.discriminator = discriminator.to(head.device)
        self.discriminator_updates = SideOptimizer(
            torch.optim.Adam(self.discriminator.parameters(), lr=self.discriminator_learning_rate),
            f"{self.name}'s discriminator", "discriminator_learning_rate",
        )

    def _map_module(self, head: TaggerHead, component: str) -> nn.Module:
        """The head module named `reads`, checked: it exists, maps the source domain's docs and
        has weights to train."""
        modules = head.stack_modules
        setting = f"components.{component}.objectives.{self.name}.reads"
        if self.reads not in modules:
            raise setting_error(
                self.name,
                setting,
                f"the {component} head has no module {self.reads!r} (its modules: {', '.join(modules) or 'none'}); "
                f"add a spacy_lowner.domain_map.v1 block [components.{component}.model.modules.{self.reads}] for the "
                "source domain (configs/parts/head_map_attention.cfg), or name the map in `reads`",
            )
        module = modules[self.reads]
        mapped = getattr(module, "domains", None)
        if mapped is not None and self.source not in mapped:
            raise setting_error(
                self.name,
                f"components.{component}.objectives.{self.name}.source",
                f"the module {self.reads!r} maps the docs of {', '.join(mapped)}, not the source domain {self.source!r}; "
                "give the map the source's domain, or the objective the map's",
            )
        if not any(p.requires_grad for p in module.parameters()):
            raise setting_error(self.name, setting, f"the module {self.reads!r} has no weights for the adversary to train")
        return module

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        self.discriminator_updates.discard()
        self._map_grads = []
        domains = head.resolve_domains(batch.domains, len(batch.mask))
        is_target = batch.domain_tokens(self.targets, head.default_domain)
        tokens = is_target | batch.domain_tokens([self.source], head.default_domain)
        if not bool(tokens.any()):
            return {}
        self.discriminator.train()
        mapped = self._mapped(batch, head, domains)
        labels = smoothed_labels(is_target, self.smoothing)
        self._discriminator_gradients(mapped.detach()[tokens], labels[tokens], is_target[tokens])
        # The map's player: the same tokens through D with its weights held fixed, the labels flipped.
        frozen = {name: param.detach() for name, param in self.discriminator.named_parameters()}
        logits = functional_call(self.discriminator, frozen, (mapped,)).squeeze(-1)
        flipped = F.binary_cross_entropy_with_logits(logits, 1.0 - labels, reduction="none")
        term = self.weight * doc_mean(flipped, tokens)
        if not term.requires_grad:
            # No doc of the source (and the encoder out of reach): nothing for the map to
            # learn; D still learns from the target's tokens.
            return {}
        if not self.ner_moves_map:
            self._keep_map_gradient(term)
        return {"": term}

    def _mapped(self, batch: TaggerBatch, head: TaggerHead, domains: Sequence[str]) -> torch.Tensor:
        """The token vectors after the map, from the shared pass's input to the map: cut from
        the graph below it, so that the term moves the map alone, unless `moves_encoder`."""
        outputs = batch.head_pass(head).stack_outputs
        names = list(outputs)
        below = outputs[names[names.index(self.reads) - 1]]
        return self.map(below if self.moves_encoder else below.detach(), batch.mask, domains)

    def _discriminator_gradients(self, vectors: torch.Tensor, labels: torch.Tensor, is_target: torch.Tensor) -> None:
        """D's loss and gradients on this batch, held until the batch is accepted."""
        logits = self.discriminator(vectors).squeeze(-1)
        loss = class_balanced_bce(logits, labels, is_target)
        self.discriminator_updates.hold_loss(loss)
        self.discriminator_loss = float(loss.detach())

    def _keep_map_gradient(self, term: torch.Tensor) -> None:
        """What each map weight's gradient must be once the batch is accepted: what it held
        before this batch (accumulated batches) plus this term's, whatever the summed loss adds."""
        params = [p for p in self.map.parameters() if p.requires_grad]
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        for param, grad in zip(params, grads):
            before = torch.zeros_like(param) if param.grad is None else param.grad.detach().clone()
            self._map_grads.append((param, before if grad is None else before + grad))

    def batch_accepted(self) -> None:
        self.discriminator_updates.accept()
        for param, grad in self._map_grads:
            param.grad = grad
        self._map_grads = []

    def after_step(self) -> None:
        """D's step, with what the accepted batches gave it (the map has just had its own)."""
        self.discriminator_updates.step()

    def report(self) -> Dict[str, float]:
        return {"discriminator": self.discriminator_loss}


@lowner_objectives("spacy_lowner.word_adversarial.v1")
def make_word_adversarial(
    weight: NonNegativeFloat = 1.0,
    smoothing: Smoothing = 0.1,
    reads: str = "map",
    source: str = "source",
    targets: List[str] = ["target"],  # noqa: B006  (confection needs a literal default; never mutated)
    hidden_width: PositiveInt = 512,
    discriminator_dropout: Fraction = 0.1,
    discriminator_learning_rate: NonNegativeFloat = 0.001,
    ner_moves_map: bool = False,
    moves_encoder: bool = False,
) -> WordAdversarialObjective:
    """The cross-lingual paper's word discriminator and its flipped-label term for the map.

    weight: factor of the map's term (the flipped-label cross-entropy) in the summed loss.
    smoothing: eps of the labels y = delta (1 - 2 eps) + eps (the paper gives no value; 0.1 is
        MUSE's).
    reads: the head module whose output D reads: the map of the source domain's docs.
    source: the domain (a reader's `domain`, a MultiCorpus block's name) of the mapped language.
    targets: the domains of the language it is mapped into: the labeled target corpus, and its
        unlabeled text if a corpus block of its own brings it.
    hidden_width, discriminator_dropout: D's one hidden layer (ReLU) and the dropout after it.
    discriminator_learning_rate: D's own Adam learning rate.
    ner_moves_map: whether the other objectives' loss (the NER loss) may move the map too.
    moves_encoder: whether the map's term also reaches the modules below the map and the
        encoder (the paper's "shared feature extractor"); by default it moves the map alone.
    """
    return WordAdversarialObjective(
        weight=weight,
        smoothing=smoothing,
        reads=reads,
        source=source,
        targets=targets,
        hidden_width=hidden_width,
        discriminator_dropout=discriminator_dropout,
        discriminator_learning_rate=discriminator_learning_rate,
        ner_moves_map=ner_moves_map,
        moves_encoder=moves_encoder,
    )
