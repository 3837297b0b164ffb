"""Composing configs from a base and partials (spacy_lowner/training/compose.py, `config compose`)."""
from pathlib import Path

import pytest
from spacy.util import load_config
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.training.compose import ComposeError, compose, recipe_of

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSED = sorted(p for p in (REPO_ROOT / "configs").glob("*.cfg") if recipe_of(p.read_text(encoding="utf8")))

BASE = """# A base.

[paths]
train = null

[nlp]
lang = "en"
pipeline = []

[components]

[corpora]

[corpora.train]
# spaCy's reader
@readers = "spacy.Corpus.v1"
path = ${paths.train}
limit = 0

[training]
# how long
max_steps = 100
# how often
eval_frequency = 10
"""


def parse(text):
    from spacy_lowner.training.compose import parse_config_text

    return parse_config_text(text)


def test_shipped_configs_are_their_compositions():
    assert {p.name for p in COMPOSED} >= {"weibo_cnn_ssgan.cfg", "weibo_trf_ssgan.cfg", "weibo_cnn_mixed.cfg", "weibo_trf_mixed.cfg"}
    for path in COMPOSED:
        base, *parts = recipe_of(path.read_text(encoding="utf8"))
        text = compose(REPO_ROOT / base, [REPO_ROOT / part for part in parts]).replace(str(REPO_ROOT) + "/", "")
        assert text == path.read_text(encoding="utf8"), f"{path.name} is out of date: compose it again"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    return path


def test_settings_merge_blocks_are_added_and_a_new_function_replaces_its_block(tmp_path, monkeypatch):
    monkeypatch.setattr("spacy_lowner.training.compose.validate", lambda text: None)
    base = write(tmp_path, "base.cfg", BASE)
    part = write(
        tmp_path,
        "part.cfg",
        """# A part.

[training]
# longer
max_steps = 500
patience = 50

[corpora.train]
@readers = "spacy_lowner.MixedCorpus.v1"
path = ${paths.train}

[corpora.train.extra]
x = 1

[corpora.dev]
@readers = "spacy.Corpus.v1"
""",
    )
    config = parse(compose(base, [part]))
    assert [b.name for b in config.blocks] == ["paths", "nlp", "components", "corpora", "corpora.train", "corpora.train.extra", "corpora.dev", "training"]
    training = config.block("training")
    assert [(s.key, s.value) for s in training.settings] == [("max_steps", "500"), ("eval_frequency", "10"), ("patience", "50")]
    assert training.setting("max_steps").comments == ["# longer"]
    assert training.setting("eval_frequency").comments == ["# how often"]
    # a new @readers: the old block's arguments (limit) and comments go
    assert [s.key for s in config.block("corpora.train").settings] == ["@readers", "path"]
    assert config.preamble[-3:] == ["# A base.", "", "# A part."]


def test_parts_that_disagree_are_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr("spacy_lowner.training.compose.validate", lambda text: None)
    base = write(tmp_path, "base.cfg", BASE)
    first = write(tmp_path, "a.cfg", "[training]\nmax_steps = 500\n")
    same = write(tmp_path, "b.cfg", "[training]\nmax_steps = 500\n")
    other = write(tmp_path, "c.cfg", "[training]\nmax_steps = 700\n")
    compose(base, [first, same])
    with pytest.raises(ComposeError, match=r"c.cfg sets \[training\] max_steps = 700, but .*a.cfg set it to 500"):
        compose(base, [first, other])


def test_the_result_must_be_a_valid_config(tmp_path):
    broken = write(tmp_path, "broken.cfg", '[components.lowner_ner.objectives.x]\n@lowner_objectives = "no-such-objective"\n')
    with pytest.raises(ComposeError, match="not valid"):
        compose(REPO_ROOT / "configs" / "weibo_cnn.cfg", [broken])


def test_cli_writes_a_config_that_takes_command_line_overrides(tmp_path):
    output = tmp_path / "cnn_ssgan.cfg"
    configs = REPO_ROOT / "configs"
    args = ["config", "compose", str(configs / "weibo_cnn.cfg"), str(configs / "parts" / "mixed_batches.cfg"), str(configs / "objectives" / "ssgan.cfg"), "-o", str(output)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = load_config(output, overrides={"components.lowner_ner.objectives.ssgan.beta": 0.5})
    assert config["components"]["lowner_ner"]["objectives"]["ssgan"]["beta"] == 0.5
    result = CliRunner().invoke(app, ["config", "compose", str(output), "-o", str(output)])
    assert result.exit_code == 1 and "is the input" in result.output


@pytest.mark.parametrize(
    "content,message",
    [
        ('[paths]\ntrain = "caf\xe9"\n'.encode("latin-1"), r":2: not valid UTF-8 \(byte b'\\xe9' at column 13\)"),
        (b"\x7fELF\x02\x01\x01\x00\x00", ":1: NUL byte at column 8: this is not a text file"),
        (b"[paths]\nhello world\n", ":2: cannot read config line 'hello world'"),
    ],
)
def test_a_file_that_is_not_a_config_is_one_line_naming_it(tmp_path, content, message):
    bad = tmp_path / "bad.cfg"
    bad.write_bytes(content)
    base = REPO_ROOT / "configs" / "weibo_cnn.cfg"
    for args in ([bad], [base, bad]):
        with pytest.raises(ComposeError, match=f"^{bad}{message}"):
            compose(args[0], args[1:])
    result = CliRunner().invoke(app, ["config", "compose", str(base), str(bad), "-o", str(tmp_path / "out.cfg")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert f"{bad}{message.split(' ')[0]}" in line
    assert not (tmp_path / "out.cfg").exists()


def test_a_byte_order_mark_is_not_part_of_the_config(tmp_path, monkeypatch):
    monkeypatch.setattr("spacy_lowner.training.compose.validate", lambda text: None)
    plain, marked = write(tmp_path, "plain.cfg", BASE), tmp_path / "marked.cfg"
    marked.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf8"))
    part = tmp_path / "part.cfg"
    part.write_bytes(b"\xef\xbb\xbf[training]\nmax_steps = 500\n")
    composed = compose(marked, [part])
    assert "\ufeff" not in composed
    assert composed == compose(plain, [part]).replace(str(plain), str(marked))
    assert parse(composed).block("training").setting("max_steps").value == "500"
