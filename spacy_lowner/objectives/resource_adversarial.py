"""DATNet's Generalized Resource-Adversarial Discriminator (GRAD; Zhou et al. 2019) as a
training objective.

Per doc, the output of one head module (`reads`: DATNet-F's shared BiLSTM, or DATNet-P's
`shared_private` module, whose output is the concatenation of the shared and the private
BiLSTM as the P discriminator of the authors' code reads it) passes through gradient
reversal, is pooled over time by self-attention and classified into its resource (the doc's
`domain` channel): the pooling belongs to the discriminator, as in the authors' code. The classifier is trained with the focal loss, one alpha per resource:

    -alpha[d] (1 - p_d)^gamma log p_d     for a doc of resource d,

the paper's eq. 1 with alpha[source] = alpha, alpha[target] = 1 - alpha. Equal alphas and
gamma = 0 is the plain adversarial discriminator of the paper's ablation (AD).

One optimizer trains both players: the pooling and the classifier are training modules of the
head (updated by the component's optimizer, never saved), and the reversal hands the modules
below them the classifier's gradient times -strength, so that one backward pass moves the
classifier towards telling the resources apart and the encoder towards hiding them. The
strength is `reversal` (0.7 in the authors' code, constant from the first step), optionally
ramped up from `reversal_start` over `reversal_warmup` steps.

Scale: the loss is one value per doc, averaged over the docs that have tokens, as the CRF's
negative log-likelihood of a doc is averaged over the labeled docs (layers/losses.py); the
paper's loss sums both over the sentences, so `weight = 1` is its eq. 2.
"""
from typing import Dict, List, Optional

import torch
from torch import nn

from ..layers.grad_reverse import reverse_gradient
from ..layers.losses import focal_loss
from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import NonNegativeFloat, NonNegativeInt
from .base import Objective, ObjectiveContext
from .schedules import linear_ramp


class AttentionPooling(nn.Module):
    """One vector per doc: its token vectors h_t weighted by softmax_t(v . tanh(W h_t)), the
    additive self-attention of DATNet's `self_attention` (W without bias, v drawn with std
    0.01); padding gets no weight. Every row must have at least one token."""

    def __init__(self, width: int):
        super().__init__()
        self.project = nn.Linear(width, width, bias=False)
        self.score = nn.Linear(width, 1, bias=False)
        nn.init.normal_(self.score.weight, std=0.01)

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(torch.tanh(self.project(vectors))).squeeze(-1)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return (weights.unsqueeze(-1) * vectors).sum(1)


class ResourceClassifier(nn.Module):
    """Attention pooling, then a linear layer to one logit per resource."""

    def __init__(self, width: int, n_resources: int):
        super().__init__()
        self.pool = AttentionPooling(width)
        self.output = nn.Linear(width, n_resources)

    def forward(self, vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.pool(vectors, mask))


class ResourceAdversarialObjective(Objective):
    needs = ("domain",)

    def __init__(
        self,
        weight: float,
        domains: List[str],
        alpha: List[float],
        gamma: float,
        reversal: float,
        reversal_start: int,
        reversal_warmup: int,
        reads: Optional[str],
    ):
        super().__init__()
        if len(domains) < 2 or len(set(domains)) != len(domains):
            raise ValueError(f"resource_adversarial: domains must name two or more different domains, got {domains}")
        if len(alpha) != len(domains):
            raise ValueError(
                f"resource_adversarial: alpha has {len(alpha)} values for {len(domains)} domains ({', '.join(domains)}); "
                "give one per domain, in the same order"
            )
        self.weight = weight
        self.domains = list(domains)
        self.alpha = torch.tensor(alpha, dtype=torch.float32)
        self.gamma = gamma
        self.reversal = reversal
        self.reversal_start = reversal_start
        self.reversal_warmup = reversal_warmup
        self.reads_setting = reads
        self.reads = reads or ""  # the module read, once the head is known (initialize)

    @property
    def module_name(self) -> str:
        """The training module's name: the config key's, so that two instances never clash."""
        return f"{self.name}_classifier"

    def initialize(self, context: ObjectiveContext) -> None:
        head = context.head
        if not self.reads_setting and not head.module_names:
            raise ValueError(
                f"{self.name}: the {context.component} head has no head module for the discriminator to read "
                "(DATNet's shared BiLSTM); compose a head part (configs/parts/head_bilstm.cfg), or set "
                'reads = "input" to read the tok2vec output'
            )
        self.reads = self.reads_setting or head.module_names[-1]
        width = head.width_at(self.reads)
        self._check_domains(context)
        head.add_training_module(self.module_name, ResourceClassifier(width, len(self.domains)))
        self.alpha = self.alpha.to(head.device)

    def _check_domains(self, context: ObjectiveContext) -> None:
        """The training docs' domains must be among `domains`, and at least two of them there."""
        found = context.training_domains()
        unknown = sorted(str(name) for name in found - set(self.domains))
        if unknown:
            raise ValueError(
                f"{self.name}: the training docs have domain(s) {', '.join(unknown)}, but its `domains` are "
                f"{', '.join(self.domains)}; list every domain of the training corpora in `domains`"
            )
        if len(found) < 2:
            raise ValueError(
                f"{self.name}: every training doc has domain {', '.join(map(str, found))}: the discriminator needs "
                f"docs of two of {', '.join(self.domains)} (compose configs/parts/two_corpora.cfg)"
            )

    def strength(self) -> float:
        """The gradient reversal's strength at this step."""
        return self.reversal * linear_ramp(self.step, self.reversal_start, self.reversal_warmup)

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        docs = batch.mask.any(1)  # an empty doc has nothing to pool
        if not bool(docs.any()):
            return {}
        vectors = reverse_gradient(batch.head_pass(head).stack_outputs[self.reads][docs], self.strength())
        logits = head.training_module(self.module_name)(vectors, batch.mask[docs])
        resources = batch.domain_ids(self.domains)[docs]
        losses = focal_loss(logits.log_softmax(-1), resources, self.alpha, self.gamma)
        return {"": self.weight * losses.mean()}


@lowner_objectives("spacy_lowner.resource_adversarial.v1")
def make_resource_adversarial(
    weight: NonNegativeFloat = 1.0,
    domains: List[str] = ["source", "target"],  # noqa: B006  (confection needs a literal default)
    alpha: List[NonNegativeFloat] = [0.25, 0.75],  # noqa: B006
    gamma: NonNegativeFloat = 2.0,
    reversal: NonNegativeFloat = 0.7,
    reversal_start: NonNegativeInt = 0,
    reversal_warmup: NonNegativeInt = 0,
    reads: Optional[str] = None,
) -> ResourceAdversarialObjective:
    """DATNet's resource discriminator behind gradient reversal (GRAD); use it beside the
    `supervised` objective, on training docs that carry a `domain` (MultiCorpus.v1).

    weight: the discriminator loss's factor in the summed loss (1 in the paper).
    domains: the resources the classifier tells apart, in the order of alpha.
    alpha: each resource's weight in the focal loss (the paper's alpha for the source, 1 - alpha
        for the target: [0.25, 0.75]); equal alphas and gamma 0 are the plain discriminator.
    gamma: the focal loss's exponent (2 in the paper).
    reversal: the gradient reversal's strength, the factor of the gradient the modules below
        the discriminator get, negated (0.7 in the authors' code).
    reversal_start, reversal_warmup: the strength is 0 before step reversal_start, then rises
        linearly to `reversal` over reversal_warmup steps (0, 0: from the first step, as DATNet).
    reads: the head module whose output is pooled (its block name, or "input" for the tok2vec
        output); null: the last module of the head's stack, which must have one.
    """
    return ResourceAdversarialObjective(
        weight=weight,
        domains=domains,
        alpha=alpha,
        gamma=gamma,
        reversal=reversal,
        reversal_start=reversal_start,
        reversal_warmup=reversal_warmup,
        reads=reads,
    )
