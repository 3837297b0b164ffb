"""The tagging head: token vectors -> tag scores -> a tag sequence the scheme allows."""
import hashlib
import io
from typing import Any, Dict, Optional

import torch
from torch import nn

from ..tags import TagScheme
from .crf import CRF, apply_constraints, viterbi_decode

DECODERS = ("crf", "softmax")


class TaggerHead(nn.Module):
    """Emission scores from token vectors, plus the decoder.

    Its sizes (input width, tags) are only known when the pipeline is initialised, so the
    module is created empty and `build()` makes the layers; `build_config` records the
    arguments so that a saved pipeline can rebuild it before loading the weights.

    decoder "crf": a linear-chain CRF with transitions restricted to the tag scheme.
    decoder "softmax": independent token scores, decoded by Viterbi over log-probabilities
    with the same restrictions, so neither decoder can emit an invalid sequence.
    """

    def __init__(self, hidden_width: int = 0, dropout: float = 0.1):
        super().__init__()
        self.hidden_width = hidden_width
        self.dropout_rate = dropout
        self.build_config: Optional[Dict[str, Any]] = None
        # Modules that objectives add for training (discriminators, ...). They are not
        # saved with the pipeline: prediction never uses them.
        self.objective_modules = nn.ModuleDict()

    @property
    def is_built(self) -> bool:
        return self.build_config is not None

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

    def features(self, vectors: torch.Tensor) -> torch.Tensor:
        """The last hidden layer before the tag scores (B, T, width)."""
        return self.hidden(self.input_dropout(vectors))

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """Emission scores (B, T, n_tags)."""
        return self.emission(self.features(vectors))

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


def _constraint_scores(allowed: torch.Tensor) -> torch.Tensor:
    return apply_constraints(torch.zeros(allowed.shape), allowed)


def serialize_head(head: TaggerHead) -> bytes:
    state = {
        key: value
        for key, value in head.state_dict().items()
        if not key.startswith("objective_modules.")
    }
    buffer = io.BytesIO()
    torch.save({"build_config": head.build_config, "state": state, "sha256": weights_digest(state)}, buffer)
    return buffer.getvalue()


def deserialize_head(head: TaggerHead, data: bytes, device: torch.device) -> TaggerHead:
    saved = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    if saved["build_config"] is not None:
        # Pipelines saved before the digest was stored have none to check.
        if "sha256" in saved and weights_digest(saved["state"]) != saved["sha256"]:
            raise ValueError("the saved weights do not match their checksum: the file is damaged")
        head.build(**saved["build_config"])
        missing, unexpected = head.load_state_dict(saved["state"], strict=False)
        missing = [key for key in missing if not key.startswith("objective_modules.")]
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
