"""Package a small lowner_ner pipeline, install the wheel, load it by its exact name."""
import shutil
import signal
import zipfile
from pathlib import Path

import pytest
import spacy
from spacy.training import Example
from typer.testing import CliRunner

from spacy_lowner.cli import app
from spacy_lowner.tools.packaging import PackagingError, package_pipeline
from tests.stopping import stop_at_pause
from tests.wheels import install_wheel, run_with

NAME = "lowner_test_pkg"
TRAIN = [
    ("我住在北京。", [(3, 5, "GPE.NAM")]),
    ("北京今天下雨", [(0, 2, "GPE.NAM")]),
    ("张三去了上海", [(0, 2, "PER.NAM"), (4, 6, "GPE.NAM")]),
    ("李四在北京工作", [(0, 2, "PER.NAM"), (3, 5, "GPE.NAM")]),
    ("今天天气很好", []),
]


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    nlp = spacy.blank("zh")
    nlp.add_pipe("lowner_ner")
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in TRAIN]
    nlp.initialize(lambda: examples)
    path = tmp_path_factory.mktemp("pipeline")
    nlp.to_disk(path)
    return path


def test_wheel_installs_and_loads_by_exact_name(pipeline_dir, tmp_path):
    wheel = package_pipeline(pipeline_dir, tmp_path / "out", NAME)
    assert wheel.parent == tmp_path / "out" / f"{NAME}-0.0.0" / "dist"
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"{NAME}-0.0.0.dist-info/METADATA").decode("utf8")
    # From get_third_party_dependencies: the lowner_ner factory lives in spacy-lowner.
    assert "Requires-Dist: spacy-lowner" in metadata and f"Name: {NAME}\n" in metadata
    # what the build left in the folder is what `package` writes: --force replaces it
    assert package_pipeline(pipeline_dir, tmp_path / "out", NAME, force=True) == wheel
    site = tmp_path / "site"
    install_wheel(wheel, site)
    check = (
        "import spacy\n"
        f"nlp = spacy.load('{NAME}')\n"
        "assert nlp.pipe_names == ['lowner_ner'], nlp.pipe_names\n"
        f"assert nlp.meta['name'] == '{NAME}', nlp.meta['name']\n"
        "assert set(nlp.get_pipe('lowner_ner').labels) == {'GPE.NAM', 'PER.NAM'}\n"
        "nlp('我住在北京。')\n"
    )
    result = run_with(site, check, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["zh-lowner", "1lowner", "lowner weibo", "class", "北京ner"])
def test_bad_name_is_rejected(pipeline_dir, tmp_path, name):
    with pytest.raises(PackagingError, match="not a valid Python module name"):
        package_pipeline(pipeline_dir, tmp_path, name)
    assert not any(tmp_path.iterdir())


def test_cli_reports_errors_without_traceback(pipeline_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["package", str(pipeline_dir), str(tmp_path), "--name", "zh-lowner"])
    # A SystemExit, not an exception with a traceback.
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "not a valid Python module name" in " ".join(result.output.split())  # wasabi wraps
    result = runner.invoke(app, ["package", str(tmp_path), str(tmp_path / "out"), "--name", NAME])
    assert result.exit_code == 1
    assert "not a saved pipeline (no config.cfg or meta.json)" in " ".join(result.output.split())


def test_existing_output_needs_force(pipeline_dir, tmp_path):
    (tmp_path / f"{NAME}-0.0.0").mkdir()
    with pytest.raises(PackagingError, match="already exists"):
        package_pipeline(pipeline_dir, tmp_path, NAME)


def test_input_inside_the_folder_it_would_replace_is_refused(pipeline_dir, tmp_path):
    out = tmp_path / "out"
    inner = out / f"{NAME}-0.0.0" / "model"
    shutil.copytree(pipeline_dir, inner)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    runner = CliRunner()
    result = runner.invoke(app, ["package", str(inner), str(out), "--name", NAME, "--force"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "contains the input" in " ".join(result.output.split())
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    with pytest.raises(PackagingError, match="is inside the input"):
        package_pipeline(inner, inner / "packages", NAME)


def _old_package(parent: Path) -> Path:
    """A package folder as `package` leaves it (the files that matter here)."""
    old = parent / f"{NAME}-0.0.0"
    (old / "dist").mkdir(parents=True)
    (old / "setup.py").write_text("# old package", encoding="utf8")
    (old / "dist" / f"{NAME}-0.0.0-py3-none-any.whl").write_bytes(b"old wheel")
    return old


def _listing(folder: Path) -> list:
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*"))


def test_failed_build_leaves_the_old_package(pipeline_dir, tmp_path, monkeypatch):
    from spacy_lowner.tools import packaging

    _old_package(tmp_path)
    before = _listing(tmp_path)

    def broken_build(main_path):
        raise PackagingError("Building the wheel failed")

    monkeypatch.setattr(packaging, "build_wheel", broken_build)
    with pytest.raises(PackagingError, match="Building the wheel failed"):
        package_pipeline(pipeline_dir, tmp_path, NAME, force=True)
    assert _listing(tmp_path) == before


def test_force_replaces_only_a_package_folder(pipeline_dir, tmp_path):
    mine = tmp_path / f"{NAME}-0.0.0"
    mine.mkdir()
    (mine / "notes.md").write_text("my notes", encoding="utf8")
    runner = CliRunner()
    result = runner.invoke(app, ["package", str(pipeline_dir), str(tmp_path), "--name", NAME, "--force"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "is not a folder package wrote (it has no setup.py)" in " ".join(result.output.split())
    (mine / "setup.py").write_text("# a package someone keeps notes in", encoding="utf8")
    result = runner.invoke(app, ["package", str(pipeline_dir), str(tmp_path), "--name", NAME, "--force"])
    assert result.exit_code == 1
    assert "holds notes.md, which package does not write" in " ".join(result.output.split())
    assert sorted(p.name for p in mine.iterdir()) == ["notes.md", "setup.py"]


def test_a_signal_during_the_build_leaves_the_old_package_and_no_temporary_folder(pipeline_dir, tmp_path):
    _old_package(tmp_path / "packages")
    before = _listing(tmp_path / "packages")
    script = f"""
    from spacy_lowner.cli import app
    from spacy_lowner.tools import packaging

    def slow_build(main_path):
        (main_path / "dist").mkdir()
        pause()

    packaging.build_wheel = slow_build
    app(["package", {str(pipeline_dir)!r}, "packages", "--name", "{NAME}", "--force"])
    """
    code, printed = stop_at_pause(script, cwd=tmp_path)
    assert code == -signal.SIGTERM, printed
    assert _listing(tmp_path / "packages") == before  # no hidden .{NAME}-0.0.0.*.tmp folder
