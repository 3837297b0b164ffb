"""The tagging head: token vectors -> tag scores -> a tag sequence the scheme allows.

Objectives use the head only through its public methods and properties (sizes, `features`,
`tag_scores`, `nll`, `marginals`, `decode`, `add_training_module`, `install_transform`), so
that the head's insides can change without touching them.
"""
import hashlib
import io
from typing import Any, Dict, Optional, Sequence

import torch
from torch import nn

from ..layers.crf import CRF, apply_constraints, viterbi_decode
from ..layers.losses import token_cross_entropy
from ..layers.transforms import TokenTransform, build_transform
from .tags import TagScheme

DECODERS = ("crf", "softmax")


class TaggerHead(nn.Module):
    """Emission scores from token vectors, plus the decoder.

    Its sizes (input width, tags) are only known when the pipeline is initialised, so the
    module is created empty and `build()` makes the layers; `build_config` records the
    arguments so that a saved pipeline can rebuild it before loading the weights.

    decoder "crf": a linear-chain CRF with transitions restricted to the tag scheme.
    decoder "softmax": independent token scores, decoded by Viterbi over log-probabilities
    with the same restrictions, so neither decoder can emit an invalid sequence.

    transform_slot: whether a learned token transform may be installed (TokenTagger.v2);
    it is saved with the head and applied at prediction. Modules that objectives add for
    training only (discriminators, ...) live in `training_modules` and are not saved.
    """

    def __init__(self, hidden_width: int = 0, dropout: float = 0.1, transform_slot: bool = False):
        super().__init__()
        self.hidden_width = hidden_width
        self.dropout_rate = dropout
        self.transform_slot = transform_slot
        self.build_config: Optional[Dict[str, Any]] = None
        self.training_modules = nn.ModuleDict()
        self.token_transform: Optional[TokenTransform] = None

    # --- sizes -----------------------------------------------------------------------------

    @property
    def is_built(self) -> bool:
        return self.build_config is not None

    @property
    def input_width(self) -> int:
        """Width of the token vectors the head reads (the tok2vec's output)."""
        return self._built("n_in")

    @property
    def feature_width(self) -> int:
        """Width of `features()`: the hidden layer, or the input if there is none."""
        return self.hidden_width or self.input_width

    @property
    def n_tags(self) -> int:
        return self.emission.out_features

    @property
    def decoder(self) -> str:
        return self._built("decoder")

    @property
    def device(self) -> torch.device:
        return self.emission.weight.device

    def _built(self, key: str) -> Any:
        if self.build_config is None:
            raise ValueError("the lowner_ner head is not built yet: initialize the pipeline first")
        return self.build_config[key]

    def build(self, n_in: int, scheme: Dict[str, Any], decoder: str) -> None:
        if decoder not in DECODERS:
            raise ValueError(f"Unknown decoder '{decoder}': use one of {', '.join(DECODERS)}")
        tag_scheme = TagScheme.from_dict(scheme)
        n_tags = len(tag_scheme.tags)
        width = self.hidden_width or n_in
        self.input_dropout = nn.Dropout(self.dropout_rate)
        if self.hidden_width:
            self.hidden = nn.Sequential(
                nn.Linear(n_in, self.hidden_width), nn.LeakyReLU(0.2), nn.Dropout(self.dropout_rate)
            )
        else:
            self.hidden = nn.Identity()
        self.emission = nn.Linear(width, n_tags)
        allowed = tag_scheme.allowed_transitions()
        start, end = tag_scheme.allowed_start(), tag_scheme.allowed_end()
        if decoder == "crf":
            self.crf: Optional[CRF] = CRF(allowed, start, end)
        else:
            self.crf = None
            # Viterbi over log-probabilities with the CRF's constraint scores and no learned
            # transitions: the same decoder, so no invalid sequence either.
            self.register_buffer("constraint_transitions", _constraint_scores(allowed))
            self.register_buffer("constraint_start", _constraint_scores(start))
            self.register_buffer("constraint_end", _constraint_scores(end))
        self.build_config = {"n_in": n_in, "scheme": scheme, "decoder": decoder}

    # --- the forward pass ------------------------------------------------------------------

    def features(self, vectors: torch.Tensor, domains: Optional[Sequence[Optional[str]]] = None) -> torch.Tensor:
        """The last hidden layer before the tag scores (B, T, feature_width). `domains` (a
        domain or None per doc) selects the docs the token transform applies to."""
        if self.token_transform is not None:
            rows = self.token_transform.applies_to(domains or [None] * len(vectors)).to(vectors.device)
            if bool(rows.any()):
                vectors = torch.where(rows[:, None, None], self.token_transform(vectors), vectors)
        return self.hidden(self.input_dropout(vectors))

    def tag_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Emission scores (B, T, n_tags) from `features()`."""
        return self.emission(features)

    def forward(self, vectors: torch.Tensor, domains: Optional[Sequence[Optional[str]]] = None) -> torch.Tensor:
        return self.tag_scores(self.features(vectors, domains))

    def nll(self, scores: torch.Tensor, gold: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B,) negative log-likelihood of the gold tags (-1: unknown) per doc: the CRF's
        (unknown tags marginalised out), or the sum of the token cross-entropies."""
        if self.crf is not None:
            return -self.crf.log_likelihood(scores, gold, mask)
        return token_cross_entropy(scores, gold.masked_fill(~mask, -1)).sum(1)

    def marginals(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, n_tags) probability of each tag per token, summing to 1 on real tokens and 0
        at padding: the CRF's marginals, or the softmax of the scores."""
        if self.crf is not None:
            return self.crf.marginals(scores, mask)
        return scores.softmax(-1) * mask.unsqueeze(-1)

    def decode(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best allowed tag ids (B, T); padding positions are 0."""
        if self.crf is not None:
            return self.crf.decode(scores, mask)
        return viterbi_decode(
            scores.log_softmax(-1),
            mask,
            self.constraint_transitions,
            self.constraint_start,
            self.constraint_end,
        )

    # --- what objectives add -----------------------------------------------------------------

    def add_training_module(self, name: str, module: nn.Module) -> nn.Module:
        """Register a module an objective trains with the component's optimizer (it moves with
        the head and is updated with it) but that prediction never uses: it is not saved."""
        if name in self.training_modules:
            raise ValueError(f"a training module named {name!r} is already registered")
        self.training_modules[name] = module.to(self.device)
        return self.training_modules[name]

    def training_module(self, name: str) -> nn.Module:
        return self.training_modules[name]

    def install_transform(self, transform: TokenTransform) -> TokenTransform:
        """Put a learned token transform in the head's slot: trained with the component's
        optimizer, saved with the pipeline and applied at prediction."""
        if not self.transform_slot:
            raise ValueError(
                "this lowner_ner model has no slot for a token transform: "
                'use @architectures = "spacy_lowner.TokenTagger.v2"'
            )
        if self.token_transform is not None:
            raise ValueError("a token transform is installed already; the head holds one")
        if transform.width != self.input_width:
            raise ValueError(f"the token transform maps width {transform.width}, the tokens have {self.input_width}")
        self.token_transform = transform.to(self.device)
        return self.token_transform


def _constraint_scores(allowed: torch.Tensor) -> torch.Tensor:
    return apply_constraints(torch.zeros(allowed.shape), allowed)


def serialize_head(head: TaggerHead) -> bytes:
    state = {
        key: value
        for key, value in head.state_dict().items()
        if not key.startswith("training_modules.")
    }
    saved = {
        "build_config": head.build_config,
        "transform": head.token_transform.config() if head.token_transform is not None else None,
        "state": state,
        "sha256": weights_digest(state),
    }
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    return buffer.getvalue()


def deserialize_head(head: TaggerHead, data: bytes, device: torch.device) -> TaggerHead:
    saved = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    if saved["build_config"] is not None:
        # Pipelines saved before the digest was stored have none to check.
        if "sha256" in saved and weights_digest(saved["state"]) != saved["sha256"]:
            raise ValueError("the saved weights do not match their checksum: the file is damaged")
        head.build(**saved["build_config"])
        if saved.get("transform") is not None:
            head.install_transform(build_transform(saved["transform"]))
        missing, unexpected = head.load_state_dict(saved["state"], strict=False)
        missing = [key for key in missing if not key.startswith("training_modules.")]
        if missing or unexpected:
            raise ValueError(
                f"Saved lowner_ner head does not match its build config: "
                f"missing {missing}, unexpected {unexpected}"
            )
    return head.to(device)


def weights_digest(state: Dict[str, torch.Tensor]) -> str:
    """SHA-256 of the names and bytes of every tensor: torch.load reads a file whose weight
    bytes were zeroed or flipped without complaint, so the head checks its own."""
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode("utf8"))
        digest.update(state[key].detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
