"""Package a trained pipeline as a wheel under an exact distribution and module name.

`spacy package` always prefixes the language (`lowner_weibo` becomes `zh_lowner_weibo`),
both in its setup.py template and in `spacy.util.load_model_from_init_py`. This module
reuses spaCy's meta, requirement and manifest helpers and replaces only those two places.
"""
import keyword
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Sequence

import srsly
from packaging.version import InvalidVersion, Version
from spacy.cli.package import (
    FILENAMES_DOCS,
    TEMPLATE_MANIFEST,
    TEMPLATE_SETUP,
    _is_permitted_package_name,
    get_meta,
)
from spacy.schemas import ModelMetaSchema, validate

from .outputs import OutputError, check_outputs, check_replaceable, new_folder

# The one expression in spaCy's setup.py template that adds the language prefix.
_PREFIXED_NAME = "str(meta['lang'] + '_' + meta['name'])"
if _PREFIXED_NAME not in TEMPLATE_SETUP:  # a newer spaCy changed its template: fail early
    raise ImportError(f"spacy.cli.package.TEMPLATE_SETUP no longer contains {_PREFIXED_NAME}")
TEMPLATE_SETUP_EXACT = TEMPLATE_SETUP.replace(_PREFIXED_NAME, "meta['name']")

# spaCy's TEMPLATE_INIT calls load_model_from_init_py, which looks for the data in
# "<lang>_<name>-<version>"; the data folder here is "<name>-<version>".
TEMPLATE_INIT_EXACT = """
from pathlib import Path

from spacy.util import get_model_meta, load_model_from_path

_META = get_model_meta(Path(__file__).parent)
__version__ = _META["version"]


def load(**overrides):
    data_path = Path(__file__).parent / f"{_META['name']}-{__version__}"
    return load_model_from_path(data_path, meta=_META, **overrides)
""".lstrip()


class PackagingError(ValueError):
    """Bad input to `package_pipeline`, or a failed wheel build."""


def package_pipeline(
    input_dir: Path,
    output_dir: Path,
    name: str,
    version: str = "0.0.0",
    requirements: Sequence[str] = (),
    force: bool = False,
) -> Path:
    """Build `<output_dir>/<name>-<version>/dist/<name>-<version>-py3-none-any.whl`.

    After `pip install` of the wheel, `spacy.load(name)` loads the pipeline.
    requirements: added to those of the pipeline's meta.json and those derived from its
        config (e.g. spacy-lowner, spacy-transformers).
    force: replace an existing `<output_dir>/<name>-<version>` folder that this function
        wrote (not one that holds the input or anything a package folder does not, nor one
        inside the input).
    """
    check_name(name)
    check_version(version)
    input_dir = Path(input_dir)
    check_pipeline_dir(input_dir)
    main_path = Path(output_dir) / f"{name}-{version}"
    try:
        check_outputs([main_path], [input_dir])
        if main_path.exists() and not force:
            raise PackagingError(f"{main_path} already exists; delete it or use force (--force)")
        check_replaceable(main_path, "package", package_files(name), marker="setup.py")
    except OutputError as err:
        raise PackagingError(str(err)) from None
    meta = build_meta(input_dir, name, version, requirements)
    # Built beside its destination and moved into place only once the wheel exists, so a
    # failure or a signal leaves an old package (force) as it was.
    with new_folder(main_path) as folder:
        write_package_dir(input_dir, folder, meta)
        wheel = build_wheel(folder)
    return main_path / "dist" / wheel.name


def package_files(name: str) -> List[str]:
    """What a package folder holds: `write_package_dir`'s files and what the wheel build adds."""
    return ["setup.py", "MANIFEST.in", "meta.json", *FILENAMES_DOCS, name, "dist", "build", f"{name}.egg-info"]


def check_name(name: str) -> None:
    """The name is both the distribution and the module `spacy.load` imports."""
    if not name.isidentifier() or keyword.iskeyword(name) or not _is_permitted_package_name(name):
        raise PackagingError(
            f"Package name '{name}' is not a valid Python module name: use ASCII letters, "
            "digits and underscores, not starting with a digit (lowercase recommended, "
            "e.g. 'lowner_weibo')"
        )


def check_version(version: str) -> None:
    try:
        Version(version)
    except InvalidVersion:
        raise PackagingError(f"Version '{version}' is not a valid PEP 440 version, e.g. '0.1.0'") from None


def check_pipeline_dir(input_dir: Path) -> None:
    missing = [f for f in ("config.cfg", "meta.json") if not (Path(input_dir) / f).is_file()]
    if missing:
        raise PackagingError(
            f"{input_dir} is not a saved pipeline (no {' or '.join(missing)}); "
            "give the folder nlp.to_disk or spacy train wrote, e.g. training/model-best"
        )


def build_meta(input_dir: Path, name: str, version: str, requirements: Sequence[str]) -> Dict[str, Any]:
    """spaCy's package meta (pipeline, labels, requirements from the config) under the exact name."""
    existing = srsly.read_json(Path(input_dir) / "meta.json")
    own = list(existing.get("requirements", []))
    existing["requirements"] = own + [req for req in requirements if req not in own]
    try:
        # get_meta loads the pipeline, so an unloadable one fails here, before any writing.
        meta = get_meta(input_dir, existing, require_parent=True)
    except (OSError, ValueError) as err:
        raise PackagingError(f"Can't load the pipeline in {input_dir}: {err}") from err
    meta["name"] = name
    meta["version"] = version
    errors = validate(ModelMetaSchema, meta)
    if errors:
        raise PackagingError(f"Invalid meta.json in {input_dir}: " + "; ".join(errors))
    return meta


def write_package_dir(input_dir: Path, main_path: Path, meta: Dict[str, Any]) -> None:
    """spaCy's layout: setup.py, MANIFEST.in, meta.json, <name>/__init__.py, <name>/<name>-<version>/."""
    name = meta["name"]
    package_path = main_path / name
    package_path.mkdir(parents=True)
    shutil.copytree(input_dir, package_path / f"{name}-{meta['version']}")
    for file_name in FILENAMES_DOCS:  # README.md, LICENSE: shown on the package's page
        if (input_dir / file_name).is_file():
            shutil.copy(input_dir / file_name, main_path)
    srsly.write_json(main_path / "meta.json", meta)
    (main_path / "setup.py").write_text(TEMPLATE_SETUP_EXACT, encoding="utf8")
    (main_path / "MANIFEST.in").write_text(TEMPLATE_MANIFEST, encoding="utf8")
    (package_path / "__init__.py").write_text(TEMPLATE_INIT_EXACT, encoding="utf8")


def build_wheel(main_path: Path) -> Path:
    """Build with the installed setuptools: no isolated build env, so no network."""
    dist = main_path / "dist"
    cmd = [
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--no-index", "--disable-pip-version-check", "-w", str(dist), str(main_path),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dist.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise PackagingError(
            f"Building the wheel failed ({' '.join(cmd)}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return wheels[0]
