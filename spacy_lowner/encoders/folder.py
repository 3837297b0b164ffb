"""An encoder folder on disk: the files whose presence marks a finished build, the provenance
record (what was asked for and what it was built from) and the JSON writer the builders share."""
import hashlib
import json
from pathlib import Path
from typing import Callable, Dict

PROVENANCE = "lowner_encoder.json"
# Written last inside the temporary folder: their presence means the build finished.
COMPLETE_FILES = ("config.json", "model.safetensors", "tokenizer.json", PROVENANCE)

# Where the builders report progress (the CLI prints it to stderr).
Log = Callable[[str], None]


def is_complete(folder: Path) -> bool:
    return all((Path(folder) / f).is_file() for f in COMPLETE_FILES)


def read_provenance(folder: Path) -> Dict:
    return json.loads((Path(folder) / PROVENANCE).read_text(encoding="utf8"))


def write_json(path: Path, data: Dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf8")


def describe_file(path: Path) -> Dict:
    """A corpus file as the provenance records it, so a rebuild can tell if it changed."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": digest}


def package_version(distribution: str) -> str:
    """The installed version of the package the weights came from, for the provenance."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
