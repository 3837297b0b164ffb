"""Every shipped config validates: the pipeline builds and the [training] block resolves."""
from pathlib import Path

import pytest
from spacy.schemas import ConfigSchemaTraining
from spacy.util import load_config, load_model_from_config, registry

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.cfg"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_validates(path):
    config = load_config(path)
    # every config takes the same paths, so one sweep can pass the same overrides to all
    assert {"train", "dev", "unlabeled", "encoder"} <= set(config["paths"])
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names[-1] in ("lowner_ner", "ner")
    training = registry.resolve(nlp.config.interpolate()["training"], schema=ConfigSchemaTraining)
    assert training["max_steps"] > 0
    if "ssgan" in path.name:
        ner = nlp.get_pipe("lowner_ner")
        assert set(ner.objectives) == {"supervised", "ssgan"}
        assert nlp.config["corpora"]["train"]["@readers"] == "spacy_lowner.MixedCorpus.v1"
