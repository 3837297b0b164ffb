"""The tagging head: token vectors -> tag scores -> a tag sequence the scheme allows.

Objectives use the head only through its public methods and properties (sizes, `features`,
`tag_scores`, `nll`, `marginals`, `decode`, `add_training_module`, `keep_module`,
`install_transform`), so that the head's insides can change without touching them.

TokenTagger.v3 heads hold a stack of head modules (layers/head_module.py) between the token
vectors and the hidden layer, and may hold one tag projection and decoder per label set: docs
of a domain whose corpus has other entity types than the default domain's are scored and
decoded with their domain's own (`label_set`: that domain's name; None: the default set).
"""
import hashlib
import io
import pickle
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
from torch import nn

from ..layers.crf import CRF, apply_constraints, viterbi_decode
from ..layers.head_module import HeadModuleBuilder
from ..layers.losses import token_cross_entropy
from ..layers.transforms import TokenTransform, build_transform
from ..registry import lowner_kept_modules
from .tags import TagScheme

DECODERS = ("crf", "softmax")
# The name of the head's input (the tok2vec's output) among its stack outputs.
INPUT = "input"


class TaggerHead(nn.Module):
    """Emission scores from token vectors, plus the decoder.

    Its sizes (input width, tags) are only known when the pipeline is initialised, so the
    module is created empty and `build()` makes the layers; `build_config` records the
    arguments so that a saved pipeline can rebuild it before loading the weights.

    decoder "crf": a linear-chain CRF with transitions restricted to the tag scheme.
    decoder "softmax": independent token scores, decoded by Viterbi over log-probabilities
    with the same restrictions, so neither decoder can emit an invalid sequence.

    modules: builders of the head modules (TokenTagger.v3) by their config block's name, that
    map the token vectors, in order, before the hidden layer; saved with the head and used at
    prediction.
    transform_slot: whether a learned token transform may be installed (TokenTagger.v2);
    it is saved with the head and applied at prediction.
    Modules that objectives add live in `training_modules` (for training only, not saved) or
    `kept_modules` (saved with the pipeline for a later command, not used at prediction).
    """

    def __init__(
        self,
        hidden_width: int = 0,
        dropout: float = 0.1,
        transform_slot: bool = False,
        modules: Mapping[str, HeadModuleBuilder] = {},  # noqa: B006  (never mutated)
    ):
        super().__init__()
        self.hidden_width = hidden_width
        self.dropout_rate = dropout
        self.transform_slot = transform_slot
        self.module_names = list(modules)
        self.module_builders = list(modules.values())
        self.build_config: Optional[Dict[str, Any]] = None
        self.stack = nn.ModuleList()
        self.training_modules = nn.ModuleDict()
        self.kept_modules = nn.ModuleDict()
        self.kept_configs: Dict[str, Dict[str, Any]] = {}
        self.domain_emissions = nn.ModuleDict()
        self.domain_decoders = nn.ModuleDict()
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
    def stack_width(self) -> int:
        """Width of the head modules' output: the hidden layer's input."""
        return self.stack[-1].output_width if len(self.stack) else self.input_width

    @property
    def feature_width(self) -> int:
        """Width of `features()`: the hidden layer, or its input if there is none."""
        return self.hidden_width or self.stack_width

    @property
    def n_tags(self) -> int:
        """Tags of the default label set."""
        return self.emission.out_features

    @property
    def decoder(self) -> str:
        return self._built("decoder")

    @property
    def default_domain(self) -> str:
        """The domain of docs that carry none (prediction's docs): "" unless the component names one."""
        return self._built("default_domain") if "default_domain" in (self.build_config or {}) else ""

    @property
    def device(self) -> torch.device:
        return self.emission.weight.device

    def _built(self, key: str) -> Any:
        if self.build_config is None:
            raise ValueError("the lowner_ner head is not built yet: initialize the pipeline first")
        return self.build_config[key]

    def build(
        self,
        n_in: int,
        scheme: Dict[str, Any],
        decoder: str,
        domain_schemes: Optional[Dict[str, Dict[str, Any]]] = None,
        default_domain: Optional[str] = None,
    ) -> None:
        """Make the layers for token vectors of width n_in and the tags of `scheme` (the
        default label set); `domain_schemes` gives the domains whose docs have a label set of
        their own; `default_domain` is the domain of docs that carry none."""
        if decoder not in DECODERS:
            raise ValueError(f"Unknown decoder '{decoder}': use one of {', '.join(DECODERS)}")
        width = n_in
        for builder in self.module_builders:
            self.stack.append(builder(width))
            width = self.stack[-1].output_width
        self.input_dropout = nn.Dropout(self.dropout_rate)
        if self.hidden_width:
            self.hidden = nn.Sequential(
                nn.Linear(width, self.hidden_width), nn.LeakyReLU(0.2), nn.Dropout(self.dropout_rate)
            )
            width = self.hidden_width
        else:
            self.hidden = nn.Identity()
        tag_scheme = TagScheme.from_dict(scheme)
        self.emission = nn.Linear(width, len(tag_scheme.tags))
        if decoder == "crf":
            self.crf: Optional[CRF] = _build_decoder(tag_scheme, decoder)
        else:
            self.crf = None
            # The default label set's constraint scores stay buffers of the head itself, where
            # pipelines saved before label sets per domain have them.
            for name, scores in _build_decoder(tag_scheme, decoder).named_buffers():
                self.register_buffer(f"constraint_{name}", scores)
        for domain, domain_scheme in (domain_schemes or {}).items():
            tags = TagScheme.from_dict(domain_scheme)
            self.domain_emissions[domain] = nn.Linear(width, len(tags.tags))
            self.domain_decoders[domain] = _build_decoder(tags, decoder)
        self.build_config = {"n_in": n_in, "scheme": scheme, "decoder": decoder}
        # Only v3 settings are stored when given, so that v1/v2 heads save as they always did.
        if domain_schemes:
            self.build_config["domain_schemes"] = domain_schemes
        if default_domain:
            self.build_config["default_domain"] = default_domain

    # --- the forward pass ------------------------------------------------------------------

    def resolve_domains(self, domains: Optional[Sequence[Optional[str]]], n_docs: int) -> List[str]:
        """Each doc's domain, the default domain where it has none."""
        default = self.default_domain
        return [default if domain is None else domain for domain in (domains or [None] * n_docs)]

    def stack_outputs(
        self,
        vectors: torch.Tensor,
        domains: Optional[Sequence[Optional[str]]] = None,
        mask: Optional[torch.Tensor] = None,
    ) -> Dict[str, torch.Tensor]:
        """The token vectors at each step of the head, in order: "input" (after the token
        transform and the input dropout), then each head module's output under its block name;
        the last is the hidden layer's input. An objective that reads a module's output (a
        discriminator on the shared BiLSTM, on the mapped vectors) takes it from here. `domains`
        (a domain or None per doc) selects what the token transform and the head modules do to
        each doc; `mask` (B, T) marks the real tokens (all, if not given)."""
        if self.token_transform is not None:
            rows = self.token_transform.applies_to(domains or [None] * len(vectors)).to(vectors.device)
            if bool(rows.any()):
                vectors = torch.where(rows[:, None, None], self.token_transform(vectors), vectors)
        outputs = {INPUT: self.input_dropout(vectors)}
        if len(self.stack):
            if mask is None:
                mask = torch.ones(vectors.shape[:2], dtype=torch.bool, device=vectors.device)
            resolved = self.resolve_domains(domains, len(vectors))
            for name, module in zip(self.module_names, self.stack):
                outputs[name] = module(last_output(outputs), mask, resolved)
        return outputs

    def width_at(self, name: str) -> int:
        """The width of `stack_outputs()[name]`: "input" (the encoder's output) or a head
        module's block name. Any other name is a ValueError naming the choices (an objective's
        `reads` setting)."""
        widths = {INPUT: self.input_width, **{key: module.output_width for key, module in self.stack_modules.items()}}
        if name not in widths:
            raise ValueError(
                f"reads = {name!r}, but the head has no such module (it has: {', '.join(widths)}); compose a head "
                "part (configs/parts/head_bilstm.cfg) or read one of those"
            )
        return widths[name]

    @property
    def stack_modules(self) -> Dict[str, nn.Module]:
        """The head modules by their config block's name, in order."""
        return dict(zip(self.module_names, self.stack))

    def features(
        self,
        vectors: torch.Tensor,
        domains: Optional[Sequence[Optional[str]]] = None,
        mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """The last hidden layer before the tag scores (B, T, feature_width); arguments as
        `stack_outputs`."""
        return self.hidden(last_output(self.stack_outputs(vectors, domains, mask)))

    def tag_scores(self, features: torch.Tensor, label_set: Optional[str] = None) -> torch.Tensor:
        """Emission scores (B, T, n_tags of the label set) from `features()`."""
        return (self.emission if label_set is None else self.domain_emissions[label_set])(features)

    def forward(
        self,
        vectors: torch.Tensor,
        domains: Optional[Sequence[Optional[str]]] = None,
        mask: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        return self.tag_scores(self.features(vectors, domains, mask))

    def nll(
        self, scores: torch.Tensor, gold: torch.Tensor, mask: torch.Tensor, label_set: Optional[str] = None
    ) -> torch.Tensor:
        """(B,) negative log-likelihood of the gold tags (-1: unknown) per doc: the CRF's
        (unknown tags marginalised out), or the sum of the token cross-entropies."""
        crf = self._crf(label_set)
        if crf is not None:
            return -crf.log_likelihood(scores, gold, mask)
        return token_cross_entropy(scores, gold.masked_fill(~mask, -1)).sum(1)

    def marginals(self, scores: torch.Tensor, mask: torch.Tensor, label_set: Optional[str] = None) -> torch.Tensor:
        """(B, T, n_tags) probability of each tag per token, summing to 1 on real tokens and 0
        at padding: the CRF's marginals, or the softmax of the scores."""
        crf = self._crf(label_set)
        if crf is not None:
            return crf.marginals(scores, mask)
        return scores.softmax(-1) * mask.unsqueeze(-1)

    def decode(self, scores: torch.Tensor, mask: torch.Tensor, label_set: Optional[str] = None) -> torch.Tensor:
        """Best allowed tag ids (B, T); padding positions are 0."""
        crf = self._crf(label_set)
        if crf is not None:
            return crf.decode(scores, mask)
        owner = self if label_set is None else self.domain_decoders[label_set]
        prefix = "constraint_" if label_set is None else ""
        return viterbi_decode(
            scores.log_softmax(-1),
            mask,
            getattr(owner, f"{prefix}transitions"),
            getattr(owner, f"{prefix}start"),
            getattr(owner, f"{prefix}end"),
        )

    def _crf(self, label_set: Optional[str]) -> Optional[CRF]:
        if label_set is None:
            return self.crf
        decoder = self.domain_decoders[label_set]
        return decoder if isinstance(decoder, CRF) else None

    def after_step(self) -> None:
        """The optimizer has stepped the weights: let the head modules re-project theirs."""
        for module in self.stack:
            module.after_step()

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

    def keep_module(self, name: str, kind: str, **settings: Any) -> nn.Module:
        """Build a module of a registered `kind` (`@lowner_kept_modules`) and keep it with the
        pipeline: trained with the component's optimizer and saved, its settings with it, so
        that a later command can load and use it (AdvPicker's language discriminator, read by
        `pick`); prediction never uses it."""
        if name in self.kept_modules:
            raise ValueError(f"a kept module named {name!r} is already registered")
        self.kept_modules[name] = lowner_kept_modules.get(kind)(**settings).to(self.device)
        self.kept_configs[name] = {"kind": kind, **settings}
        return self.kept_modules[name]

    def kept_module(self, name: str) -> nn.Module:
        if name not in self.kept_modules:
            raise KeyError(
                f"this lowner_ner head keeps no module named {name!r} (it keeps: {', '.join(self.kept_modules) or 'none'}); "
                "train it with the objective that adds one"
            )
        return self.kept_modules[name]

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


class ConstraintScores(nn.Module):
    """The scheme's transition constraints as scores (0 allowed, a large negative otherwise):
    the softmax decoder's Viterbi uses them so that it cannot emit an invalid sequence either."""

    def __init__(self, scheme: TagScheme):
        super().__init__()
        self.register_buffer("transitions", _constraint_scores(scheme.allowed_transitions()))
        self.register_buffer("start", _constraint_scores(scheme.allowed_start()))
        self.register_buffer("end", _constraint_scores(scheme.allowed_end()))


def _build_decoder(scheme: TagScheme, decoder: str) -> nn.Module:
    """A CRF restricted to the scheme's transitions, or the softmax decoder's constraint scores."""
    if decoder == "crf":
        return CRF(scheme.allowed_transitions(), scheme.allowed_start(), scheme.allowed_end())
    return ConstraintScores(scheme)


def _constraint_scores(allowed: torch.Tensor) -> torch.Tensor:
    return apply_constraints(torch.zeros(allowed.shape), allowed)


def last_output(outputs: Dict[str, torch.Tensor]) -> torch.Tensor:
    """The last of `TaggerHead.stack_outputs`: the hidden layer's input."""
    return next(reversed(outputs.values()))


def serialize_head(head: TaggerHead) -> bytes:
    state = {
        key: value
        for key, value in head.state_dict().items()
        if not key.startswith("training_modules.")
    }
    saved = {
        "build_config": head.build_config,
        "transform": head.token_transform.config() if head.token_transform is not None else None,
        "kept": head.kept_configs,
        "state": state,
        "sha256": weights_digest(state),
    }
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    return buffer.getvalue()


def deserialize_head(head: TaggerHead, data: bytes, device: torch.device) -> TaggerHead:
    try:
        saved = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, KeyError, TypeError) as err:
        # Damaged bytes; torch's own message would suggest weights_only=False, which runs
        # whatever code a file holds.
        raise ValueError(f"the saved head cannot be read ({type(err).__name__}): the file is damaged") from None
    if not isinstance(saved, dict) or "build_config" not in saved:
        raise ValueError("the saved head is not a lowner_ner head: the file is damaged")
    if saved["build_config"] is not None:
        # Pipelines saved before the digest was stored have none to check.
        if "sha256" in saved and weights_digest(saved["state"]) != saved["sha256"]:
            raise ValueError("the saved weights do not match their checksum: the file is damaged")
        head.build(**saved["build_config"])
        if saved.get("transform") is not None:
            head.install_transform(build_transform(saved["transform"]))
        for name, settings in saved.get("kept", {}).items():
            head.keep_module(name, **settings)
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
