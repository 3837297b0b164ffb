"""What a saved `lowner_ner` must match before it predicts: the SHA-256 checksums of the weight
files it predicts with, and a cfg that gives the tags its head was built with.

torch and msgpack read most damaged weight files without complaint (a flipped byte in a float
is another float), so a saved component writes `checksums.json` beside its model file and
checks it before loading. It covers the component's own `model` file (the head and an inline
tok2vec) and the `model` files of the components before it in the pipeline it is saved in
(the tok2vec or transformer a listener reads), written by the same `nlp.to_disk` just before
it. Paths are relative to the component's folder, so the pipeline folder can move.

A pipeline saved before checksums.json existed loads with the head's own digest only
(model/head.py).
"""
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List

import srsly
from thinc.api import Config

from ..errors import ModelLoadError
from ..model.head import TaggerHead

CHECKSUMS_FILE = "checksums.json"
_CHUNK = 1 << 20


def write_checksums(folder: Path) -> None:
    """Write the checksums of the model files the component saved in `folder` predicts with."""
    checksums = {name: file_digest(folder / name) for name in covered_files(folder)}
    (folder / CHECKSUMS_FILE).write_text(json.dumps({"sha256": checksums}, indent=2), encoding="utf8")


def verify_checksums(folder: Path, component: str) -> None:
    """Refuse, naming the file, a model file that is missing or whose bytes are not those
    `checksums.json` recorded; nothing to check for a folder saved without one."""
    path = folder / CHECKSUMS_FILE
    if not path.is_file():
        return
    try:
        recorded: Dict[str, str] = json.loads(path.read_text(encoding="utf8"))["sha256"]
    except (ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(f"{path}: not a checksum file ({err}); copy or save the pipeline again") from err
    for name, expected in recorded.items():
        file = Path(os.path.normpath(folder / name))
        if not file.is_file():
            raise ModelLoadError(f"{file}: missing, though the {component} component's {path} lists it; copy or save the pipeline again")
        if file_digest(file) != expected:
            raise ModelLoadError(
                f"{file}: damaged or changed since the pipeline was saved: its SHA-256 is not the one the {component} "
                f"component recorded in {path}; copy or save the pipeline again"
            )


def covered_files(folder: Path) -> List[str]:
    """The files to cover, relative to `folder`: its `model`, then the model files of the
    components before it in the pipeline of `folder`'s parent (none when the component was
    saved on its own)."""
    files = list(_model_files(folder, folder / "model"))
    for component in _components_before(folder):
        files.extend(_model_files(folder, folder.parent / component / "model"))
    return files


def _components_before(folder: Path) -> List[str]:
    config_path = folder.parent / "config.cfg"
    if not config_path.is_file():
        return []
    pipeline = Config().from_disk(config_path, interpolate=False).get("nlp", {}).get("pipeline", [])
    return list(pipeline[: pipeline.index(folder.name)]) if folder.name in pipeline else []


def _model_files(folder: Path, model: Path) -> Iterator[str]:
    """A component's model: a file, or a folder of files."""
    paths = [model] if model.is_file() else sorted(p for p in model.rglob("*") if p.is_file())
    for path in paths:
        yield Path(os.path.relpath(path, folder)).as_posix()


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks (a transformer's weights are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_cfg_file(path: Path, component: str) -> None:
    """spaCy loads a component whose cfg is missing with the labels of its config (none), so
    that every entity the head predicts fails or vanishes: the cfg must be there and readable."""
    if not path.is_file():
        raise ModelLoadError(
            f"{path}: missing: it holds the {component} component's labels and tag scheme; copy or save the pipeline again"
        )
    try:
        srsly.read_json(path)
    except ValueError as err:
        raise ModelLoadError(f"{path}: not JSON ({err}); restore it or save the pipeline again") from err


def check_cfg_matches_head(cfg: Dict[str, Any], head: TaggerHead, source: str) -> None:
    """The saved head's tag ids index the tags cfg's labels and scheme make: refuse a cfg
    (edited, lost or from another pipeline) that gives other tags, another decoder or other
    label sets than the head was built with, which would relabel entities silently."""
    if not head.is_built:
        return
    built = head.build_config
    pairs = {
        "labels": (sorted(set(cfg.get("labels", []))), built["scheme"]["labels"]),
        "scheme": (cfg.get("scheme"), built["scheme"]["scheme"]),
        "decoder": (cfg.get("decoder"), built["decoder"]),
        "labels per domain": (
            {domain: sorted(set(labels)) for domain, labels in cfg.get("domain_labels", {}).items()},
            {domain: scheme["labels"] for domain, scheme in (built.get("domain_schemes") or {}).items()},
        ),
        "default domain": (cfg.get("default_domain") or None, built.get("default_domain") or None),
    }
    for what, (in_cfg, in_model) in pairs.items():
        if in_cfg != in_model:
            raise ModelLoadError(
                f"{source}: {what} {in_cfg!r}, but the saved model was trained with {in_model!r}; "
                "restore the file or save the pipeline again"
            )
