"""A built pipeline wheel installed into a folder of its own, and Python run with that folder on
its path: what a user who pip-installs the package and calls `spacy.load(name)` gets."""
import os
import subprocess
import sys
from pathlib import Path


def install_wheel(wheel: Path, site: Path) -> None:
    # --no-deps: the requirements (spacy, spacy-lowner) are installed here already.
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--disable-pip-version-check"]
    subprocess.run(pip + ["--target", str(site), str(wheel)], check=True, capture_output=True)


def run_with(site: Path, code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -c code args` with site first on the path (cwd: away from the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=cwd, capture_output=True, text=True)
