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
