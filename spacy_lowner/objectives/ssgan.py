"""Seq-GAN-BERT (semi-supervised GAN at the token level) as a training objective.

The tagging head is the discriminator: its hidden layer gives the features, its emission
scores are the k real classes, and this objective adds a (k+1)-th "fake" logit. A generator
maps Gaussian noise to fake token vectors shaped like the encoder output, using the real
batch's padding mask. Paper: Seq-GAN-BERT; losses as in its parent GAN-BERT (Croce et al.
2020), see DESIGN.md section 4.

- Discriminator (head + fake logit + encoder, updated by spaCy's optimizer):
  supervised (the `supervised` objective, on the k real classes only)
  + eta * (-log(1 - p_fake(real tokens)) - log p_fake(fake tokens)),
  eta = (n_labeled / batch size) ** beta. Both terms are on the platform's scale (a sum over a
  doc's tokens, averaged over docs), like the CRF's negative log-likelihood; GAN-BERT
  averages them over tokens, which made them ~55x weaker than the supervised loss here.
- Generator (its own torch optimizer, a `SideOptimizer` stepped after the component's
  optimizer step, with the gradients of the batches whose summed loss was finite):
  -log(1 - p_fake(fake tokens)) + || mean f(real tokens) - mean f(fake tokens) ||^2 (feature
  matching). Its gradient is taken with `torch.autograd.grad` w.r.t. the generator's
  parameters only, so the generator step never writes into the encoder or the discriminator.
The discriminator runs once per batch on the real tokens (the pass the `supervised`
objective shares, `TaggerBatch.hidden`) and once on the fakes; both players' terms use it.
At prediction the fake logit is not used: decoding goes through the head's decoder.
"""
from typing import Dict, Optional

import torch
from torch import nn
from torch.nn import functional as F

from ..layers.losses import doc_mean
from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import Fraction, NonNegativeFloat, PositiveFloat, PositiveInt
from .base import Objective, ObjectiveContext
from .side_optimizer import SideOptimizer

GENERATORS = ("self_attention", "lstm")
FAKE_LOGIT = "ssgan_fake_logit"


class SelfAttentionGenerator(nn.Module):
    """Multi-head self-attention over projected noise (Q = K = V = z W_z), then an output
    layer to the encoder width: each fake token depends on the whole fake sequence."""

    def __init__(self, noise_width: int, hidden_width: int, out_width: int, n_heads: int, dropout: float):
        super().__init__()
        self.project = nn.Linear(noise_width, hidden_width)
        # No dropout on the (T x T) attention map: on CPU it costs a third of the generator's
        # time. Dropout stays on the output layer, where GAN-BERT's generator has it.
        self.attention = nn.MultiheadAttention(hidden_width, n_heads, batch_first=True)
        self.output = nn.Sequential(nn.LeakyReLU(0.2), nn.Dropout(dropout), nn.Linear(hidden_width, out_width))

    def forward(self, noise: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        query = self.project(noise)
        padding = ~mask
        # A row with no tokens at all (an empty doc) would attend to nothing and give NaN.
        padding[~mask.any(dim=1)] = False
        attended, _ = self.attention(query, query, query, key_padding_mask=padding, need_weights=False)
        return self.output(attended)


class LSTMGenerator(nn.Module):
    """A bidirectional LSTM over projected noise, then an output layer to the encoder width."""

    def __init__(self, noise_width: int, hidden_width: int, out_width: int, dropout: float):
        super().__init__()
        self.project = nn.Linear(noise_width, hidden_width)
        self.lstm = nn.LSTM(hidden_width, hidden_width // 2, batch_first=True, bidirectional=True)
        self.output = nn.Sequential(nn.LeakyReLU(0.2), nn.Dropout(dropout), nn.Linear(2 * (hidden_width // 2), out_width))

    def forward(self, noise: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.project(noise))
        return self.output(hidden)


def unsupervised_weight(n_labeled: int, batch_size: int, beta: float) -> float:
    """Seq-GAN-BERT's eta = (n_labeled / B) ** beta: the fewer labeled docs in a batch, the
    less the unsupervised terms count (a batch without labeled docs gets 0)."""
    return (n_labeled / batch_size) ** beta if batch_size else 0.0


def fake_log_probs(head: TaggerHead, features: torch.Tensor):
    """log p(fake) and log(1 - p(fake)) per token from the discriminator's k + 1 logits."""
    real_logits = head.tag_scores(features)
    fake_logit = head.training_module(FAKE_LOGIT)(features)
    log_norm = torch.logsumexp(torch.cat([real_logits, fake_logit], dim=-1), dim=-1)
    return fake_logit.squeeze(-1) - log_norm, torch.logsumexp(real_logits, dim=-1) - log_norm


class SeqGanObjective(Objective):
    def __init__(
        self,
        generator: str,
        noise_width: int,
        generator_width: int,
        attention_heads: int,
        generator_dropout: float,
        generator_learning_rate: float,
        beta: float,
        generator_grad_clip: float = 1.0,
    ):
        super().__init__()
        if generator not in GENERATORS:
            raise ValueError(f"ssgan: unknown generator {generator!r}; use one of {GENERATORS}")
        if generator == "self_attention" and generator_width % attention_heads:
            raise ValueError(
                f"ssgan: attention_heads ({attention_heads}) must divide generator_width ({generator_width})"
            )
        self.generator_kind = generator
        self.noise_width = noise_width
        self.generator_width = generator_width
        self.attention_heads = attention_heads
        self.generator_dropout = generator_dropout
        self.generator_learning_rate = generator_learning_rate
        self.beta = beta
        self.generator: nn.Module = nn.Identity()
        self.generator_grad_clip = generator_grad_clip
        self.generator_updates: Optional[SideOptimizer] = None
        self.generator_loss = 0.0

    def initialize(self, context: ObjectiveContext) -> None:
        head = context.head
        # The fake logit belongs to the discriminator: it is updated with the head by spaCy's
        # optimizer, but is not saved with the pipeline.
        head.add_training_module(FAKE_LOGIT, nn.Linear(head.feature_width, 1))
        if self.generator_kind == "self_attention":
            generator: nn.Module = SelfAttentionGenerator(
                self.noise_width, self.generator_width, head.input_width, self.attention_heads, self.generator_dropout
            )
        else:
            generator = LSTMGenerator(self.noise_width, self.generator_width, head.input_width, self.generator_dropout)
        # Kept outside the head, so spaCy's optimizer never sees its parameters.
        self.generator = generator.to(head.device)
        self.generator_updates = SideOptimizer(
            torch.optim.AdamW(self.generator.parameters(), lr=self.generator_learning_rate),
            f"{self.name}'s generator", "generator_learning_rate", self.generator_grad_clip,
        )

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        self.generator_updates.discard()
        mask = batch.mask
        if not bool(mask.any()):
            return {}
        self.generator.train()
        real_features = batch.hidden(head)
        noise = torch.randn(*mask.shape, self.noise_width, device=mask.device)
        fakes = self.generator(noise, mask)
        # The discriminator sees the fakes once, through a leaf cut from the generator's
        # graph: its fake term then reaches the head only, and the generator's gradient is
        # carried across the cut by hand in _generator_gradients.
        fake_input = fakes.detach().requires_grad_()
        fake_features = head.features(fake_input)
        fake_log_p, fake_log_not_fake = fake_log_probs(head, fake_features)
        feature_matching = F.mse_loss(fake_features[mask].mean(0), real_features.detach()[mask].mean(0))
        self._generator_gradients(fakes, fake_input, -fake_log_not_fake[mask].mean() + feature_matching)
        _, real_log_not_fake = fake_log_probs(head, real_features)
        eta = unsupervised_weight(int(batch.labeled.sum()), len(mask), self.beta)
        return {"real": -eta * doc_mean(real_log_not_fake, mask), "fake": -eta * doc_mean(fake_log_p, mask)}

    def _generator_gradients(self, fakes: torch.Tensor, fake_input: torch.Tensor, loss: torch.Tensor) -> None:
        """Compute the generator's gradients for this batch, held until it is accepted."""
        if not torch.isfinite(loss):
            return  # the discriminator's terms are non-finite too: the batch is skipped
        # d loss / d fakes through the discriminator (its graph is kept for the
        # discriminator's own terms), then on into the generator's parameters only: the
        # head and the encoder get no gradient from this loss.
        (fake_grad,) = torch.autograd.grad(loss, fake_input, retain_graph=True)
        self.generator_updates.hold(
            torch.autograd.grad(fakes, self.generator_updates.params, grad_outputs=fake_grad, allow_unused=True)
        )
        self.generator_loss = float(loss.detach())

    def batch_accepted(self) -> None:
        self.generator_updates.accept()

    def after_step(self) -> None:
        """Step the generator with what the accepted batches gave it, clipped; a step that
        breaks its weights is undone, and too many in a row stop the run (SideOptimizer)."""
        self.generator_updates.step()

    def report(self) -> Dict[str, float]:
        return {"g": self.generator_loss}


@lowner_objectives("spacy_lowner.ssgan.v1")
def make_ssgan(
    generator: str = "self_attention",
    noise_width: PositiveInt = 100,
    generator_width: PositiveInt = 256,
    attention_heads: PositiveInt = 4,
    generator_dropout: Fraction = 0.1,
    generator_learning_rate: NonNegativeFloat = 1e-4,
    beta: NonNegativeFloat = 2.0,
    generator_grad_clip: PositiveFloat = 1.0,
) -> SeqGanObjective:
    """Seq-GAN-BERT's unsupervised terms; use it beside the `supervised` objective.

    generator: "self_attention" (the paper's) or "lstm".
    noise_width: size of the Gaussian noise per token (100 in GAN-BERT).
    generator_width: width of the projected noise and the attention / LSTM layer.
    attention_heads: heads of the self-attention generator (must divide generator_width).
    generator_learning_rate: the generator's own AdamW learning rate.
    generator_grad_clip: the generator's gradient norm is clipped to this before its step.
    beta: exponent of eta = (n_labeled / batch size) ** beta on the unsupervised
        discriminator terms (2 or 3 worked best in the paper, 1 worst).
    """
    return SeqGanObjective(
        generator=generator,
        noise_width=noise_width,
        generator_width=generator_width,
        attention_heads=attention_heads,
        generator_dropout=generator_dropout,
        generator_learning_rate=generator_learning_rate,
        beta=beta,
        generator_grad_clip=generator_grad_clip,
    )
