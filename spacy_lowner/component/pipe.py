"""The trainable NER component `lowner_ner`."""
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import torch
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.training.iob_utils import biluo_tags_to_spans
from spacy.vocab import Vocab
from thinc.api import Config, ConfigValidationError, Model, Optimizer, get_torch_default_device, set_dropout_rate
from thinc.types import Floats2d, Ints1d

from ..errors import ModelLoadError, TrainingDivergedError, setting_error
from ..model.architectures import check_loaded, head_module, predict_with_marginals
from ..model.batch import training_batch
from ..model.channels import missing_channel
from ..model.head import DECODERS, TaggerHead
from ..model.label_sets import find_label_sets
from ..model.tags import SCHEMES, TagScheme
from ..objectives import Objective
from ..objectives.base import ObjectiveContext
from .averaging import warn_if_averages_miss_torch
from .integrity import check_cfg_file, check_cfg_matches_head, verify_checksums, write_checksums
from .runner import ObjectiveRunner

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy_lowner.TokenTagger.v3"
hidden_width = 0
dropout = 0.1

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]

# What reading a damaged model file raises (thinc's msgpack and its model structure; the head
# turns torch.load's errors into a ValueError), turned into a ModelLoadError naming the file.
LOAD_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError, IndexError)


@Language.factory(
    "lowner_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={
        "model": DEFAULT_MODEL,
        "scheme": "BIO",
        "decoder": "crf",
        "objectives": {"supervised": {"@lowner_objectives": "spacy_lowner.supervised.v1", "weight": 1.0}},
        "default_domain": None,
        "scorer": {"@scorers": "spacy_lowner.entity_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_lowner_ner(
    nlp: Language,
    name: str,
    model: Model,
    scheme: str,
    decoder: str,
    # Typed Any because confection 1.3 type-checks a dict of promises before resolving them;
    # the component's ObjectiveRunner checks that every value is an Objective.
    objectives: Dict[str, Any],
    default_domain: Optional[str],
    scorer: Optional[Callable],
) -> "LowNERTagger":
    """A token-tagging NER component for low-resource training.

    model: a `spacy_lowner.TokenTagger.v3` (v1 and v2 load) over any tok2vec.
    scheme: "BIO" or "BIOES", the tags derived from the entity labels.
    decoder: "crf" (a CRF restricted to valid tag transitions) or "softmax"
        (token scores decoded by Viterbi under the same restrictions).
    objectives: the training objectives by name; all their losses are summed each step.
    default_domain: the domain of docs that carry none (every doc at prediction): its entity
        types are the component's labels, and head modules treat its docs as its own. Needed
        when the training corpora of several domains have different entity types.
    scorer: entity-level P/R/F, overall and per type.
    """
    _check_objective_weights(name, objectives)
    return LowNERTagger(
        nlp.vocab,
        model,
        name,
        scheme=scheme,
        decoder=decoder,
        objectives=objectives,
        default_domain=default_domain,
        scorer=scorer,
    )


def _check_objective_weights(name: str, objectives: Dict[str, Any]) -> None:
    """Refuse a config whose objectives all have weight 0: spaCy would run every step and save
    an untrained model. A config error, so that `spacy train` shows it in its validation block
    (each weight's own range is checked by its objective's typed arguments; an objective
    without a weight, such as ssgan, counts as training)."""
    weights = {key: getattr(objective, "weight", None) for key, objective in objectives.items()}
    if weights and all(weight == 0 for weight in weights.values()):
        raise ConfigValidationError(
            title=f"Config validation error for {name}",
            errors=[
                {
                    "loc": ["components", name, "objectives"],
                    "msg": f"every objective has weight 0 ({', '.join(weights)}), so nothing would train; give one a weight > 0",
                }
            ],
        )


def gradient_norm(term: torch.Tensor, features: torch.Tensor) -> float:
    """The norm of d term / d features; 0 for a term that does not reach them."""
    (grad,) = torch.autograd.grad(term, features, retain_graph=True, allow_unused=True)
    return 0.0 if grad is None else float(grad.norm())


def _max_steps(nlp: Optional[Language]) -> int:
    """[training] max_steps of the pipeline's config; 0 if there is none or it is not a number
    (a variable spaCy has not interpolated yet)."""
    value = nlp.config.get("training", {}).get("max_steps", 0) if nlp is not None else 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def without_edge_whitespace(spans: Iterable[Span]) -> List[Span]:
    """The spans with whitespace tokens cut from both ends; spans of whitespace alone dropped.
    A tagger can put a tag on a whitespace token (there is none in the training data to say
    otherwise), and an entity "   " or " 北京" is never what a user wants."""
    kept = []
    for span in spans:
        start, end, doc = span.start, span.end, span.doc
        while start < end and doc[start].is_space:
            start += 1
        while end > start and doc[end - 1].is_space:
            end -= 1
        if start < end:
            kept.append(span if (start, end) == (span.start, span.end) else Span(doc, start, end, span.label))
    return kept


class LowNERTagger(TrainablePipe):
    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "lowner_ner",
        *,
        scheme: str = "BIO",
        decoder: str = "crf",
        objectives: Optional[Dict[str, Objective]] = None,
        default_domain: Optional[str] = None,
        scorer: Optional[Callable] = None,
    ):
        if scheme not in SCHEMES:
            raise ValueError(f"{name}: unknown scheme '{scheme}', use one of {SCHEMES}")
        if decoder not in DECODERS:
            raise ValueError(f"{name}: unknown decoder '{decoder}', use one of {DECODERS}")
        self.runner = ObjectiveRunner(name, objectives)
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        # domain_labels: the entity types of the domains whose training corpus has other types
        # than the default domain's (label sets per domain), found at initialisation.
        self.cfg: Dict = {"labels": [], "scheme": scheme, "decoder": decoder}
        if default_domain:
            self.cfg["default_domain"] = default_domain
        # TagSchemes by (labels, scheme): built once, not on every batch, and again only when
        # the labels change (add_label, from_disk).
        self._schemes: Dict[tuple, TagScheme] = {}
        self.step = 0  # optimizer steps taken (finish_update calls)
        # Diagnostics: when True, update() stores in term_gradients the norm of each term's
        # gradient at the tok2vec output (the encoder), to check which terms reach it.
        self.measure_term_gradients = False
        self.term_gradients: Dict[str, float] = {}

    @property
    def labels(self) -> tuple:
        return tuple(self.cfg["labels"])

    @property
    def objectives(self) -> Dict[str, Objective]:
        return self.runner.objectives

    @property
    def default_domain(self) -> Optional[str]:
        return self.cfg.get("default_domain")

    @property
    def domain_schemes(self) -> Dict[str, TagScheme]:
        """The tag schemes of the domains with entity types of their own."""
        return {domain: self._tag_scheme(labels) for domain, labels in self.cfg.get("domain_labels", {}).items()}

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    @property
    def scheme(self) -> TagScheme:
        """The default label set's tag scheme: the component's labels."""
        return self._tag_scheme(self.labels)

    def _tag_scheme(self, labels) -> TagScheme:
        key = (tuple(labels), self.cfg["scheme"])
        if key not in self._schemes:
            self._schemes[key] = TagScheme(*key)
        return self._schemes[key]

    @property
    def head(self) -> TaggerHead:
        return head_module(self.model)

    def add_label(self, label: str) -> int:
        """Add an entity type before the component is initialised (1 if it is new). A trained
        component refuses a new type: its head has no weights for the new tags, and the labels
        are kept sorted, so the tag ids of the labels after it would move and their entities
        change type."""
        if label in self.cfg["labels"]:
            return 0
        if self.head.is_built:
            raise ValueError(
                f"{self.name}: cannot add the label {label!r} to a trained component (its head has no weights "
                f"for it); put it in the training data or [initialize.components.{self.name}.labels] and train again"
            )
        self.cfg["labels"] = sorted(self.cfg["labels"] + [label])
        return 1

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """Collect the labels (or take them from `[initialize.components.<name>.labels]`,
        needed when the training corpus is streamed), size the head and the objectives."""
        validate_get_examples(get_examples, "LowNERTagger.initialize")
        labels, domain_labels = find_label_sets(get_examples(), self.default_domain, labels, self.name)
        if domain_labels:
            self.cfg["domain_labels"] = domain_labels
        # Not through add_label: initialising builds the head anew, for these labels.
        self.cfg["labels"] = sorted(set(self.cfg["labels"]) | set(labels))
        if not self.labels:
            raise ValueError(
                f"{self.name}: no entity labels found in the training data; "
                f"give them in [initialize.components.{self.name}.labels]"
            )
        self._check_channels(get_examples)
        if nlp is not None:
            _check_init_tok2vec(nlp)
            warn_if_averages_miss_torch(nlp)
        doc_sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)
        width = max(vectors.shape[1] for vectors in self.model.get_ref("tok2vec").predict(doc_sample))
        head = self.head
        head.build(
            n_in=int(width),
            scheme=self.scheme.to_dict(),
            decoder=self.cfg["decoder"],
            domain_schemes={domain: scheme.to_dict() for domain, scheme in self.domain_schemes.items()},
            default_domain=self.default_domain,
        )
        head.to(get_torch_default_device())
        self.runner.initialize(ObjectiveContext(self.name, head, self.scheme, get_examples, max_steps=_max_steps(nlp)))

    def _check_channels(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        needed = {(key, channel) for key, objective in self.objectives.items() for channel in objective.needs}
        if not needed:
            return
        examples = list(get_examples())
        for key, channel in sorted(needed):
            problem = missing_channel(channel, examples, self.scheme.tags)
            if problem:
                raise setting_error(
                    self.name, f"components.{self.name}.objectives.{key}",
                    f"{self.name}: objective '{key}' needs the channel '{channel}', but {problem}",
                )

    def predict(self, docs: Iterable[Doc]) -> List[Ints1d]:
        with self.runner.prediction_weights(self.head):
            return self.model.predict(list(docs))

    def predict_with_marginals(self, docs: Iterable[Doc]) -> Tuple[List[Ints1d], List[Floats2d]]:
        """What `predict` gives, and from the same pass each doc's (n_tokens, n_tags)
        probability of every tag per token, the tags in `scheme.tags` order. The docs must have
        been through the pipeline's components before this one (a listener reads their output)."""
        with self.runner.prediction_weights(self.head):
            return predict_with_marginals(self.model, list(docs))

    def to_bytes(self, *, exclude=tuple()) -> bytes:
        with self.runner.prediction_weights(self.head):
            return super().to_bytes(exclude=exclude)

    def to_disk(self, path, *, exclude=tuple()) -> None:
        with self.runner.prediction_weights(self.head):
            super().to_disk(path, exclude=exclude)
        if "model" not in exclude:
            write_checksums(Path(path))

    def set_annotations(self, docs: Iterable[Doc], tag_ids: List[Ints1d]) -> None:
        scheme = self.scheme
        for doc, ids in zip(docs, tag_ids):
            doc.ents = without_edge_whitespace(biluo_tags_to_spans(doc, scheme.to_biluo(ids.tolist())))

    def from_disk(self, path, *, exclude=tuple()) -> "LowNERTagger":
        """Load the component saved in `path`, refusing (ModelLoadError, naming the file) a
        missing or unreadable cfg, a weight file that fails its checksum or cannot be read,
        and a cfg whose labels, scheme or decoder are not those the saved head was built with."""
        path = Path(path)
        if "cfg" not in exclude:
            check_cfg_file(path / "cfg", self.name)
        if "model" not in exclude:
            verify_checksums(path, self.name)
        try:
            super().from_disk(path, exclude=exclude)
            check_loaded(self.model)
        except LOAD_ERRORS as err:
            raise ModelLoadError(f"{path / 'model'}: cannot load the {self.name} component: {err}") from err
        check_cfg_matches_head(self.cfg, self.head, str(path / "cfg"))
        return self

    def from_bytes(self, bytes_data, *, exclude=tuple()) -> "LowNERTagger":
        try:
            super().from_bytes(bytes_data, exclude=exclude)
            check_loaded(self.model)
        except LOAD_ERRORS as err:
            raise ModelLoadError(f"cannot load the {self.name} component from bytes: {err}") from err
        check_cfg_matches_head(self.cfg, self.head, f"the {self.name} component's cfg in the bytes")
        return self

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Sum every objective's loss terms into one loss, backpropagate it once through the
        head and once through the tok2vec, then let the optimizer step."""
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "LowNERTagger.update")
        docs = [eg.predicted for eg in examples]
        if not any(len(doc) for doc in docs):
            return losses
        set_dropout_rate(self.model, drop)
        tokvecs, backprop_tokvecs = self.model.get_ref("tok2vec").begin_update(docs)
        batch = training_batch(examples, tokvecs, self.scheme, self.domain_schemes)
        head = self.head
        head.train()
        terms = self.runner.loss(batch, head, self.step)
        if not terms:
            return losses
        if self.measure_term_gradients:
            self.term_gradients = {key: gradient_norm(value, batch.features) for key, value in terms.items()}
        total = torch.stack(list(terms.values())).sum()
        total.backward()
        backprop_tokvecs(batch.input_gradients())
        self.runner.batch_accepted()
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += float(total.detach())
        for key, value in self.runner.report(terms).items():
            losses[f"{self.name}_{key}"] = losses.get(f"{self.name}_{key}", 0.0) + value
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        """Step the weights, check them, then let the head modules and the objectives act on
        the new weights (re-projections, side optimizers, teachers)."""
        super().finish_update(sgd)
        self.step += 1
        head = self.head
        broken = [name for name, param in head.named_parameters() if not bool(torch.isfinite(param).all())]
        if broken:
            raise TrainingDivergedError(
                f"{self.name}: training diverged: the optimizer step made {', '.join(broken)} non-finite. "
                "Lower the learning rate ([training.optimizer]) and train again."
            )
        head.after_step()
        self.runner.after_step()


def _check_init_tok2vec(nlp: Language) -> None:
    """spaCy loads `[initialize] init_tok2vec` only when the config has a [pretraining] block
    (it says where the weights go) and ignores it without a word otherwise: a run that was
    meant to start from pretrained weights would silently start from random ones."""
    config = nlp.config.interpolate()
    if config["initialize"].get("init_tok2vec") and not config.get("pretraining"):
        raise ValueError(
            f"[initialize] init_tok2vec is {config['initialize']['init_tok2vec']}, but the config has no "
            "[pretraining] block, so spaCy would not load the weights; train with the config you "
            "pretrained with (e.g. configs/weibo_cnn_pretrain.cfg) or compose configs/parts/pretrain_cnn.cfg into it"
        )
