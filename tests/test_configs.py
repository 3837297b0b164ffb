"""Every shipped config validates: the pipeline builds and the [training] block resolves;
the overrides project.yml passes to a config apply to it."""
import shlex
from dataclasses import asdict
from pathlib import Path

import pytest
from spacy.schemas import ConfigSchemaTraining
from spacy.util import load_config, load_model_from_config, registry
from weasel.util import load_project_config

from bench.advpicker import AdvPickerConfigs
from bench.systems import parse_systems, parse_value

REPO_ROOT = Path(__file__).resolve().parents[1]
# Full configs; configs/parts and configs/objectives hold partials for `config compose`.
CONFIGS = sorted(p for p in (REPO_ROOT / "configs").rglob("*.cfg") if p.parent.name not in ("parts", "objectives"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_validates(path):
    config = load_config(path)
    # every config takes the same paths, so one sweep can pass the same overrides to all
    assert {"train", "dev", "unlabeled", "encoder", "init_tok2vec"} <= set(config["paths"])
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
            if args[:3] != ["python", "-m", "bench"] or args[3] == "checkpoints":  # scores finished runs: no config
                continue
            options = lambda flag: [args[i + 1] for i, arg in enumerate(args) if arg == flag]  # noqa: E731
            if args[3] == "gradients":
                configs = {"run": args[4]}
            elif args[3] == "advpicker":  # its stages' configs are the driver's
                configs = {name: str(path) for name, path in asdict(AdvPickerConfigs()).items()}
            else:
                configs = dict(spec.split("=", 1) for spec in options("-s"))
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


def test_pretrained_tok2vec_weights_load_or_the_run_stops(tmp_path, weibo_docs):
    from spacy.training import Example

    vocab, train_docs, _ = weibo_docs
    overrides = {"components.tok2vec.model.encode.depth": 1, "components.tok2vec.model.embed.rows": [500, 50]}
    source = load_model_from_config(load_config(REPO_ROOT / "configs" / "weibo_cnn.cfg", overrides=overrides), auto_fill=True)
    source.initialize(lambda: [Example(source.make_doc(doc.text), doc) for doc in train_docs[:8]])
    weights = tmp_path / "tok2vec.bin"  # what `spacy pretrain` saves: the tok2vec layer's bytes
    weights.write_bytes(source.get_pipe("tok2vec").model.to_bytes())
    settings = {**overrides, "paths.init_tok2vec": str(weights)}

    pretrained = load_model_from_config(load_config(REPO_ROOT / "configs" / "weibo_cnn_pretrain.cfg", overrides=settings), auto_fill=True)
    pretrained.initialize(lambda: [Example(pretrained.make_doc(doc.text), doc) for doc in train_docs[:8]])
    assert pretrained.get_pipe("tok2vec").model.to_bytes() == weights.read_bytes()

    # spaCy alone would ignore init_tok2vec here (no [pretraining] block) and train from random weights
    plain = load_model_from_config(load_config(REPO_ROOT / "configs" / "weibo_cnn.cfg", overrides=settings), auto_fill=True)
    with pytest.raises(ValueError, match=r"no \[pretraining\] block"):
        plain.initialize(lambda: [Example(plain.make_doc(doc.text), doc) for doc in train_docs[:8]])
