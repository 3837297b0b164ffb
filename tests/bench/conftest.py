"""Fixtures of the benchmark harness's tests."""
from pathlib import Path
from typing import Dict

import pytest


@pytest.fixture(scope="session")
def weibo_corpus(tmp_path_factory, weibo_dir) -> Dict[str, Path]:
    """All of WeiboNER (1350 train, 270 dev, 270 test sentences) as DocBins, as
    `python -m spacy_lowner convert weibo` writes them."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_lowner.corpora.convert import read_docs

    nlp = spacy.blank("zh")
    folder = tmp_path_factory.mktemp("weibo_corpus")
    paths = {}
    for part in ("train", "dev", "test"):
        paths[part] = folder / f"{part}.spacy"
        DocBin(docs=read_docs("weibo", weibo_dir / f"weiboNER_2nd_conll.{part}", nlp)).to_disk(paths[part])
    return paths


@pytest.fixture
def claimed_elsewhere():
    """claimed_elsewhere(run_dir): a context in which another process holds run_dir's claim, as
    a sweep beside the test's would while it trains that run; the claim ends with the process."""
    import subprocess
    import sys
    from contextlib import contextmanager

    root = Path(__file__).parents[2]  # where `import bench` resolves

    @contextmanager
    def held(run_dir: Path):
        holder = (
            "import sys; from pathlib import Path; from bench.claims import claim\n"
            "with claim(Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.read()"
        )
        process = subprocess.Popen([sys.executable, "-c", holder, str(run_dir)], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout.readline().strip() == "held"
            yield process
        finally:
            process.kill()  # killed, not ended cleanly: the kernel still drops the claim
            process.wait()

    return held
