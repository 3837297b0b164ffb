"""Every shipped config validates: the pipeline builds and the [training] block resolves;
the overrides project.yml passes to a config apply to it."""
import shlex
from pathlib import Path

import pytest
from spacy.schemas import ConfigSchemaTraining
from spacy.util import load_config, load_model_from_config, registry
from weasel.util import load_project_config

from bench.systems import parse_systems, parse_value

REPO_ROOT = Path(__file__).resolve().parents[1]
# Full configs; configs/parts and configs/objectives hold partials for `config compose`.
CONFIGS = sorted(p for p in (REPO_ROOT / "configs").rglob("*.cfg") if p.parent.name not in ("parts", "objectives"))


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
    """(command name, {system: config}, common overrides, {system: own overrides}) of every
    project command that runs `python -m bench` with overrides."""
    project = load_project_config(REPO_ROOT)
    for command in project["commands"]:
        for line in command.get("script", []):
            args = shlex.split(line)
            if args[:3] != ["python", "-m", "bench"]:
                continue
            options = lambda flag: [args[i + 1] for i, arg in enumerate(args) if arg == flag]  # noqa: E731
            configs = {"run": args[4]} if args[3] == "gradients" else dict(spec.split("=", 1) for spec in options("-s"))
            own = {name: {} for name in configs}
            for item in options("--set"):
                name, _, pair = item.partition(":")
                key, _, value = pair.partition("=")
                own[name][key] = value
            yield command["name"], configs, dict(pair.split("=", 1) for pair in options("-o")), own


SWEEPS = list(sweep_commands())


@pytest.mark.parametrize("name,configs,overrides,own", SWEEPS, ids=[name for name, *_ in SWEEPS])
def test_project_overrides_apply_to_their_configs(name, configs, overrides, own, tmp_path):
    assert configs
    for system, spec in configs.items():
        values = {key: parse_value(value) for key, value in {**overrides, **own[system]}.items()}
        path = parse_systems([f"{system}={REPO_ROOT / spec.replace('+', '+' + str(REPO_ROOT) + '/')}"])[system].config_file(tmp_path)
        config = load_config(path, overrides=values)
        load_model_from_config(config, auto_fill=True, validate=True)
        registry.resolve(config.interpolate()["training"], schema=ConfigSchemaTraining)
