"""Whether a trained pipeline's token vectors still tell two languages apart, as they reach its
head and after its source-language map (`python -m bench language-probe`).

The word-adversarial objective trains an orthogonal map so that a discriminator cannot tell
mapped English token vectors from Chinese ones. This measures what the map achieved, on docs
of both languages: how far it moved from the identity, a fresh linear probe's held-out
accuracy (a discriminator trained after the fact), the same probe on the vectors scaled to
unit length (what their directions alone tell), what their norms alone tell, and how close
the two languages' mean vectors are. A rotation keeps every norm, so what the norms separate
no orthogonal map can hide.
"""
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy
import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from spacy_lowner.model.channels import set_domain

# The linear probe: Adam on standardised vectors, full batch; 4/5 of the tokens train it.
PROBE_STEPS = 300
PROBE_LEARNING_RATE = 0.01
PROBE_TRAIN_SHARE = 0.8


@dataclass
class Separability:
    probe_accuracy: float  # a linear probe's accuracy on held-out tokens, balanced classes
    direction_accuracy: float  # the same probe on the vectors scaled to unit length
    norm_accuracy: float  # the best of the two directions of one threshold on the norm
    source_norm: float
    source_norm_std: float
    target_norm: float
    target_norm_std: float
    mean_cosine: float  # cosine of the two languages' mean vectors


@dataclass
class LanguageProbe:
    pipeline: str
    source_tokens: int
    target_tokens: int
    map_distance: Optional[float]  # |U - I|_F, None for a head without the map
    map_max_angle: Optional[float]  # the largest rotation angle of U, in degrees
    encoder_output: Separability
    mapped: Optional[Separability]  # the source's vectors through U


def token_vectors(nlp: Language, docs: List[Doc], component: str = "lowner_ner") -> numpy.ndarray:
    """Every token's vector as `component`'s head receives it (the tok2vec's output), docs
    run through the components before it."""
    for name, proc in nlp.pipeline:
        if name == component:
            break
        docs = list(proc.pipe(docs))
    model = nlp.get_pipe(component).model
    vectors = model.get_ref("tok2vec").predict(docs)
    return numpy.concatenate([model.ops.to_numpy(v) for v in vectors]).astype(numpy.float32)


def domain_map(nlp: Language, module: str, domain: str, component: str = "lowner_ner") -> Optional[numpy.ndarray]:
    """The map the head's `module` applies to `domain`'s docs, or None without that module."""
    mapping = nlp.get_pipe(component).head.stack_modules.get(module)
    if mapping is None:
        return None
    maps = mapping.maps
    if domain not in maps:
        raise ValueError(f"the head's module '{module}' maps the domains {sorted(maps)}, not '{domain}'")
    return maps[domain].detach().cpu().numpy()


def probe_accuracy(source: numpy.ndarray, target: numpy.ndarray, rng: numpy.random.Generator) -> float:
    """A linear probe (logistic regression on standardised vectors, full-batch Adam) trained on
    a share of the tokens of both sides, its accuracy on the rest."""
    features = torch.from_numpy(numpy.concatenate([source, target]))
    labels = torch.cat([torch.zeros(len(source)), torch.ones(len(target))])
    order = torch.from_numpy(rng.permutation(len(labels)))
    cut = int(PROBE_TRAIN_SHARE * len(labels))
    train, held_out = order[:cut], order[cut:]
    mean, std = features[train].mean(0), features[train].std(0) + 1e-6
    features = (features - mean) / std
    weight = torch.zeros(features.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=PROBE_LEARNING_RATE)
    for _ in range(PROBE_STEPS):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(features[train] @ weight + bias, labels[train]).backward()
        optimizer.step()
    with torch.no_grad():
        return float(((features[held_out] @ weight + bias > 0).float() == labels[held_out]).float().mean())


def unit_length(vectors: numpy.ndarray) -> numpy.ndarray:
    """The vectors scaled to norm 1, those of norm 0 left out (spacy-transformers gives a token
    that no word piece covers a zero vector: WeiboNER's broken characters)."""
    norms = numpy.linalg.norm(vectors, axis=1, keepdims=True)
    keep = norms[:, 0] > 0
    return vectors[keep] / norms[keep]


def separability(source: numpy.ndarray, target: numpy.ndarray, seed: int = 0) -> Separability:
    """How well the tokens of two languages are told apart, on as many of each (a random draw
    of the larger side)."""
    rng = numpy.random.default_rng(seed)
    n = min(len(source), len(target))
    source, target = source[rng.permutation(len(source))[:n]], target[rng.permutation(len(target))[:n]]
    source_norms, target_norms = numpy.linalg.norm(source, axis=1), numpy.linalg.norm(target, axis=1)
    threshold = (numpy.median(source_norms) + numpy.median(target_norms)) / 2
    below = numpy.mean(numpy.concatenate([source_norms < threshold, target_norms >= threshold]))
    source_mean, target_mean = source.mean(0), target.mean(0)
    return Separability(
        probe_accuracy=probe_accuracy(source, target, rng),
        direction_accuracy=probe_accuracy(unit_length(source), unit_length(target), rng),
        norm_accuracy=float(max(below, 1 - below)),
        source_norm=float(source_norms.mean()), source_norm_std=float(source_norms.std()),
        target_norm=float(target_norms.mean()), target_norm_std=float(target_norms.std()),
        mean_cosine=float(source_mean @ target_mean / numpy.linalg.norm(source_mean) / numpy.linalg.norm(target_mean)),
    )


def probe_languages(
    pipeline: Path, source: Path, target: Path, docs: int = 200, module: str = "map", source_domain: str = "source"
) -> LanguageProbe:
    """The probe of one pipeline on the first `docs` docs of each language's DocBin; the
    source's docs carry the source domain, as in training."""
    nlp = spacy.load(pipeline)
    source_docs = [set_domain(doc, source_domain) for doc in list(DocBin().from_disk(source).get_docs(nlp.vocab))[:docs]]
    target_docs = list(DocBin().from_disk(target).get_docs(nlp.vocab))[:docs]
    source_vectors, target_vectors = token_vectors(nlp, source_docs), token_vectors(nlp, target_docs)
    weight = domain_map(nlp, module, source_domain)
    distance = angle = mapped = None
    if weight is not None:
        distance = float(numpy.linalg.norm(weight - numpy.eye(len(weight))))
        angle = float(numpy.degrees(numpy.abs(numpy.angle(numpy.linalg.eigvals(weight.astype(numpy.float64))))).max())
        mapped = separability(source_vectors @ weight.T, target_vectors)
    return LanguageProbe(
        pipeline=str(pipeline), source_tokens=len(source_vectors), target_tokens=len(target_vectors),
        map_distance=distance, map_max_angle=angle,
        encoder_output=separability(source_vectors, target_vectors), mapped=mapped,
    )


def probe_table(probes: List[LanguageProbe]) -> str:
    """A row per pipeline and vectors: the map's movement, the probe, the norms, the means."""
    lines = [
        "| pipeline | vectors | ‖U − I‖ | max angle | linear probe | on unit vectors | norm threshold | norms source / target | cosine of means |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for probe in probes:
        moved = "-" if probe.map_distance is None else f"{probe.map_distance:.2f}"
        angle = "-" if probe.map_max_angle is None else f"{probe.map_max_angle:.0f}°"
        rows: Dict[str, Optional[Separability]] = {"encoder output": probe.encoder_output, "source mapped": probe.mapped}
        for vectors, sep in rows.items():
            if sep is None:
                continue
            lines.append(
                f"| {'/'.join(Path(probe.pipeline).parts[-2:])} | {vectors} | {moved} | {angle} | {100 * sep.probe_accuracy:.1f} | "
                f"{100 * sep.direction_accuracy:.1f} | "
                f"{100 * sep.norm_accuracy:.1f} | {sep.source_norm:.2f} ± {sep.source_norm_std:.2f} / "
                f"{sep.target_norm:.2f} ± {sep.target_norm_std:.2f} | {sep.mean_cosine:.3f} |"
            )
    return "\n".join(lines)


def probes_json(probes: List[LanguageProbe]) -> List[dict]:
    return [asdict(probe) for probe in probes]
