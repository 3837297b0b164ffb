"""The GPU path, run for real where a CUDA GPU is (scripts/gpu_check.sh); skipped elsewhere."""
import pytest
import spacy
import torch
from spacy.cli.train import train
from spacy.tokens import DocBin

from spacy_lowner.corpora.docs import tokens_only
from spacy_lowner.training.sampling import sample_labeled

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.fixture(scope="module")
def docbins(tmp_path_factory, weibo_docs):
    _, train_docs, dev_docs = weibo_docs
    folder = tmp_path_factory.mktemp("gpu_docbins")
    split = sample_labeled(train_docs, count=30, seed=0)
    DocBin(docs=[train_docs[i] for i in split.labeled]).to_disk(folder / "labeled.spacy")
    DocBin(docs=[tokens_only(train_docs[i]) for i in split.unlabeled]).to_disk(folder / "unlabeled.spacy")
    DocBin(docs=dev_docs).to_disk(folder / "dev.spacy")
    return folder


def entities(nlp, texts):
    return [[(e.start, e.end, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]


@pytest.mark.parametrize("config", ["weibo_trf.cfg", "weibo_trf_ssgan.cfg", "weibo_cnn_ssgan.cfg"])
def test_config_trains_on_the_gpu_and_the_pipeline_reloads(tmp_path, docbins, tiny_encoder, weibo_docs, config):
    from pathlib import Path

    configs = Path(__file__).resolve().parents[1] / "configs"
    overrides = {
        "paths.train": str(docbins / "labeled.spacy"), "paths.unlabeled": str(docbins / "unlabeled.spacy"),
        "paths.dev": str(docbins / "dev.spacy"), "paths.encoder": str(tiny_encoder),
        "training.max_steps": 30, "training.eval_frequency": 10,
    }
    train(configs / config, tmp_path / "out", use_gpu=0, overrides=overrides)
    texts = [doc.text for doc in weibo_docs[2]]
    spacy.require_gpu(0)
    try:
        on_gpu = spacy.load(tmp_path / "out" / "model-last")
        assert on_gpu.get_pipe("lowner_ner").head.device.type == "cuda"
        gpu_entities = entities(on_gpu, texts)
    finally:
        spacy.require_cpu()
    on_cpu = spacy.load(tmp_path / "out" / "model-last")
    cpu_entities = entities(on_cpu, texts)
    agree = sum(g == c for g, c in zip(gpu_entities, cpu_entities)) / len(texts)
    assert agree > 0.9  # float differences may flip a borderline decision, not the whole output
