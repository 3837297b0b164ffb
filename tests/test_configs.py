"""Every shipped config validates: the pipeline builds and the [training] block resolves;
the overrides project.yml passes to a config apply to it."""
import shlex
from pathlib import Path

import pytest
from spacy.cli._util import _parse_override
from spacy.schemas import ConfigSchemaTraining
from spacy.util import load_config, load_model_from_config, registry
from weasel.util import load_project_config

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO_ROOT / "configs").rglob("*.cfg"))


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


def sweep_commands():
    """(command name, configs, overrides) of every project command that passes `-o` overrides."""
    project = load_project_config(REPO_ROOT)
    for command in project["commands"]:
        for line in command.get("script", []):
            args = shlex.split(line)
            configs = [args[i + 1].split("=", 1)[1] for i, arg in enumerate(args) if arg == "-s"]
            overrides = dict(args[i + 1].split("=", 1) for i, arg in enumerate(args) if arg == "-o")
            if overrides:
                yield command["name"], configs, overrides


SWEEPS = list(sweep_commands())


@pytest.mark.parametrize("name,configs,overrides", SWEEPS, ids=[name for name, _, _ in SWEEPS])
def test_project_overrides_apply_to_their_configs(name, configs, overrides):
    assert configs
    for config in configs:
        load_config(REPO_ROOT / config, overrides={key: _parse_override(value) for key, value in overrides.items()})
