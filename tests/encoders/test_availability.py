import time
from pathlib import Path

import pytest
import spacy
from confection import ConfigValidationError

from spacy_lowner.encoders.availability import encoder_problem, make_check_encoders

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_an_existing_folder_is_fine(tiny_encoder):
    assert encoder_problem(str(tiny_encoder)) == ""


def test_a_missing_folder_fails_at_once_with_the_build_command(tmp_path, offline):
    start = time.perf_counter()
    problem = encoder_problem("assets/encoders/me5-zh-2")
    assert time.perf_counter() - start < 1.0
    assert "assets/encoders/me5-zh-2 is not a folder here" in problem
    assert "python -m spacy_lowner encoder build me5-zh assets/encoders/me5-zh-2" in problem
    (tmp_path / "weights.bin").write_bytes(b"")
    assert "is a file" in encoder_problem(str(tmp_path / "weights.bin"))


def test_the_callback_stops_initialisation_before_the_hub_is_tried(tmp_path, offline):
    nlp = spacy.blank("zh")
    model = {"@architectures": "spacy-transformers.TransformerModel.v3", "name": str(tmp_path / "me5-zh-2")}
    nlp.add_pipe("transformer", config={"model": model})
    with pytest.raises(ConfigValidationError, match="is not a folder here") as error:
        make_check_encoders()(nlp)
    assert "components -> transformer -> model -> name" in str(error.value)


def test_the_shipped_transformer_configs_run_the_check():
    for name in ("weibo_trf.cfg", "weibo_trf_ssgan.cfg", "baselines/weibo_trf_spacy_ner.cfg"):
        config = spacy.util.load_config(CONFIGS / name, interpolate=False)
        assert config["initialize"]["before_init"] == {"@callbacks": "spacy_lowner.check_encoders.v1"}
    assert spacy.registry.callbacks.get("spacy_lowner.check_encoders.v1") is make_check_encoders
