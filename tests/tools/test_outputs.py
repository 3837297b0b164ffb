import os
import signal
import stat
from pathlib import Path

import pytest

from spacy_lowner.tools import outputs
from spacy_lowner.tools.outputs import (
    OutputError,
    check_folder_output,
    check_outputs,
    check_replaceable,
    edited_copy,
    folder_in_place,
    new_folder,
    write_files,
)
from tests.stopping import stop_at_pause


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "x.txt"
    path.write_text("corpus\n", encoding="utf8")
    return path


def test_an_output_may_not_be_an_input_in_any_spelling(tmp_path, source):
    (tmp_path / "link.txt").symlink_to(source)
    os.link(source, tmp_path / "hard.txt")
    for output in (source, tmp_path / "in" / ".." / "in" / "x.txt", tmp_path / "link.txt", tmp_path / "hard.txt"):
        with pytest.raises(OutputError, match="is the input"):
            check_outputs([output], [source])
    check_outputs([tmp_path / "in" / "y.txt"], [source])


def test_a_folder_output_may_not_hold_or_lie_inside_an_input(tmp_path, source):
    with pytest.raises(OutputError, match="contains the input"):
        check_outputs([tmp_path / "in"], [source])
    with pytest.raises(OutputError, match="contains the input"):
        check_outputs([tmp_path], [tmp_path / "in"])
    with pytest.raises(OutputError, match="is inside the input"):
        check_outputs([tmp_path / "in" / "out"], [tmp_path / "in"])


def test_outputs_must_differ_and_have_a_folder_to_go_to(tmp_path, source):
    with pytest.raises(OutputError, match="same file"):
        check_outputs([tmp_path / "a.txt", tmp_path / "." / "a.txt"], [source])
    with pytest.raises(OutputError, match=f"{source} is a file, not a folder"):
        check_outputs([source / "deeper" / "out.txt"], [])


def test_write_files_writes_all_or_nothing(tmp_path, monkeypatch):
    first, second = tmp_path / "a.txt", tmp_path / "sub" / "b.txt"
    first.write_bytes(b"old a")
    real_replace = os.replace

    def fail_on_second(src, dst):
        if str(dst) == str(second):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", fail_on_second)
    with pytest.raises(OSError, match="disk full"):
        write_files({first: b"new a", second: b"new b"})
    assert first.read_bytes() == b"old a"
    assert not second.exists()
    # no temporary or backup files left behind
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "sub"]
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    write_files({first: b"new a", second: b"new b"})
    assert (first.read_bytes(), second.read_bytes()) == (b"new a", b"new b")


def test_a_single_file_is_never_missing_while_it_is_replaced(tmp_path, monkeypatch):
    # another process (a second sweep into one folder) may read or write it at any moment
    path = tmp_path / "results.json"
    path.write_bytes(b"old")
    real_replace = os.replace
    seen = []

    def check_then_replace(src, dst):
        seen.append((Path(dst).name, path.read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", check_then_replace)
    write_files({path: b"new"})
    assert seen == [("results.json", b"old")]
    assert path.read_bytes() == b"new"


def test_write_files_survives_another_writer_moving_a_file_aside(tmp_path, monkeypatch):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_bytes(b"old a")
    second.write_bytes(b"old b")
    real_replace = os.replace

    def other_writer_first(src, dst):
        if str(src) == str(second) and Path(dst).suffix == ".bak":
            real_replace(second, tmp_path / ".b.txt.other.bak")  # the other process's backup
        real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", other_writer_first)
    write_files({first: b"new a", second: b"new b"})
    assert (first.read_bytes(), second.read_bytes()) == (b"new a", b"new b")
    assert not list(tmp_path.glob(f".*.{os.getpid()}.bak"))


def test_write_files_refuses_a_folder_as_a_file(tmp_path):
    (tmp_path / "out.spacy").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        write_files({tmp_path / "a.spacy": b"a", tmp_path / "out.spacy": b"b"})
    assert not (tmp_path / "a.spacy").exists()


def test_new_files_and_folders_get_the_usual_permissions(tmp_path):
    # tempfile makes private files (0600) and folders (0700); outputs are opened up as open() would
    umask = os.umask(0o022)
    try:
        write_files({tmp_path / "a.txt": b"a"})
        assert _mode(tmp_path / "a.txt") == 0o644
        source = tmp_path / "source"
        source.mkdir(mode=0o700)
        (source / "w.bin").write_bytes(b"")
        os.chmod(source / "w.bin", 0o600)
        with edited_copy(source, tmp_path / "copy") as folder:
            assert _mode(folder.parent) == 0o700  # the building folder beside the output is private
        assert _mode(tmp_path / "copy") == 0o755 and _mode(tmp_path / "copy" / "w.bin") == 0o644
    finally:
        os.umask(umask)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_replaced_output_keeps_its_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        private, shared = tmp_path / "private.txt", tmp_path / "shared.txt"
        private.write_bytes(b"old")
        os.chmod(private, 0o600)
        shared.write_bytes(b"old")
        os.chmod(shared, 0o664)
        write_files({private: b"new", shared: b"new"})
        assert (_mode(private), _mode(shared)) == (0o600, 0o664)
        folder = tmp_path / "model"
        folder.mkdir(mode=0o700)
        (folder / "weights").write_bytes(b"old")
        os.chmod(folder / "weights", 0o640)
        with new_folder(folder) as new:
            (new / "weights").write_bytes(b"new")
            (new / "sub").mkdir()
            (new / "sub" / "added").write_bytes(b"new")
        assert (folder / "weights").read_bytes() == b"new"
        assert (_mode(folder), _mode(folder / "weights")) == (0o700, 0o640)
        assert (_mode(folder / "sub"), _mode(folder / "sub" / "added")) == (0o755, 0o644)  # new: the usual
    finally:
        os.umask(umask)


def test_a_folder_output_may_not_be_a_file(tmp_path, source):
    with pytest.raises(OutputError, match="is a file; give a folder name"):
        check_folder_output(source)
    check_folder_output(tmp_path / "in")
    check_folder_output(tmp_path / "new")


def test_only_a_folder_the_command_wrote_is_replaceable(tmp_path, source):
    names, marker = ("config.json", "model.*", "round[0-9]*"), "config.json"
    check_replaceable(tmp_path / "missing", "build", names, marker)
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty", "build", names, marker)
    built = tmp_path / "built"
    built.mkdir()
    for name in ("config.json", "model.safetensors", "round12"):
        (built / name).write_text("x")
    check_replaceable(built, "build", names, marker)
    with pytest.raises(OutputError, match=f"{source} is a file, not a folder build writes"):
        check_replaceable(source, "build", names, marker)
    with pytest.raises(OutputError, match=r"is not a folder build wrote \(it has no config.json\)"):
        check_replaceable(tmp_path / "in", "build", names, marker)
    for name in ("notes.md", "roundabout", "a", "b"):
        (built / name).write_text("mine")
    with pytest.raises(OutputError, match="holds a, b, notes.md and 1 more, which build does not write"):
        check_replaceable(built, "build", names, marker)


def test_new_folder_leaves_the_old_output_on_an_error(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="failed"):
        with new_folder(output) as folder:
            (folder / "new.txt").write_text("new")
            raise RuntimeError("failed")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing half built left beside it
    assert [p.name for p in output.iterdir()] == ["old.txt"]


def test_a_file_output_is_replaced_by_a_folder_without_a_trace(tmp_path):
    output = tmp_path / "out"
    output.write_text("old file")
    with new_folder(output) as folder:
        (folder / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # not kept as a hidden .out.old-PID
    assert (output / "new.txt").read_text() == "new"


def test_folder_in_place_is_written_where_it_stays_and_replaces_the_old_one_at_the_end(tmp_path):
    output = tmp_path / "training"
    output.mkdir(mode=0o750)
    (output / "model-best").mkdir()
    (output / "model-best" / "old.txt").write_text("old")
    with folder_in_place(output) as folder:
        assert folder == output and not any(output.iterdir())
        (output / "model-best").mkdir()
        (output / "model-best" / "config.cfg").write_text(f"train = {output / 'data'}")
    assert [p.name for p in tmp_path.iterdir()] == ["training"]
    assert [p.name for p in (output / "model-best").iterdir()] == ["config.cfg"]
    assert _mode(output) == 0o750
    with pytest.raises(KeyboardInterrupt):
        with folder_in_place(output):
            (output / "teacher").mkdir()
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["training"]
    assert [p.name for p in output.iterdir()] == ["model-best"]
    assert (output / "model-best" / "config.cfg").is_file()


# Real processes stopped at a chosen point: what is on disk afterwards. outputs.py needs only
# the standard library, so the child loads it alone: it starts in a blink, not after spaCy.
LOAD_OUTPUTS = f"""
import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("outputs", {outputs.__file__!r})
outputs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(outputs)
"""

WRITE_TWO = LOAD_OUTPUTS + """
real_replace, real_mkstemp = outputs.os.replace, outputs.tempfile.mkstemp
stop_at = {stop_at!r}

def replace(src, dst):
    real_replace(src, dst)
    if stop_at == "between renames" and Path(dst).name == "a.txt":
        pause(0)
        while not outputs._guard.pending:  # the signal has come and is held: rename on
            time.sleep(0.01)

def mkstemp(**kwargs):
    if stop_at == "while staging" and kwargs["prefix"].startswith(".b.txt"):
        pause()
    return real_mkstemp(**kwargs)

outputs.os.replace, outputs.tempfile.mkstemp = replace, mkstemp
outputs.write_files({{Path("a.txt"): b"new a", Path("b.txt"): b"new b"}})
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_while_files_are_written_leaves_the_old_ones_and_no_temporary_file(tmp_path, signum):
    (tmp_path / "a.txt").write_bytes(b"old a")
    (tmp_path / "b.txt").write_bytes(b"old b")
    code, printed = stop_at_pause(WRITE_TWO.format(stop_at="while staging"), signum, cwd=tmp_path)
    assert code == -signum, printed  # then ended as the signal ends it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_bytes() == b"old a" and (tmp_path / "b.txt").read_bytes() == b"old b"


def test_a_signal_between_the_renames_waits_for_the_last_one(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"old a")
    (tmp_path / "b.txt").write_bytes(b"old b")
    code, printed = stop_at_pause(WRITE_TWO.format(stop_at="between renames"), cwd=tmp_path)
    assert code == -signal.SIGTERM, printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no .bak, no .tmp
    assert (tmp_path / "a.txt").read_bytes() == b"new a" and (tmp_path / "b.txt").read_bytes() == b"new b"


def test_a_signal_while_a_folder_is_built_leaves_the_old_one_and_no_temporary_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    script = LOAD_OUTPUTS + """
with outputs.new_folder(Path("out")) as folder:
    (folder / "new.txt").write_text("new")
    pause()
"""
    code, printed = stop_at_pause(script, cwd=tmp_path)
    assert code == -signal.SIGTERM, printed
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.txt"]


def test_a_signal_while_a_folder_is_written_in_place_puts_the_old_one_back(tmp_path):
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "model-best").mkdir()
    script = LOAD_OUTPUTS + """
with outputs.folder_in_place(Path("training")) as folder:
    (folder / "teacher").mkdir()
    pause()
"""
    code, printed = stop_at_pause(script, signal.SIGINT, cwd=tmp_path)
    assert code == -signal.SIGINT and "KeyboardInterrupt" in printed, printed  # as Ctrl-C ends Python
    assert [p.name for p in tmp_path.iterdir()] == ["training"]
    assert [p.name for p in (tmp_path / "training").iterdir()] == ["model-best"]
