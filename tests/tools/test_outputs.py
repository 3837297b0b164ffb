import os
import stat
from pathlib import Path

import pytest

from spacy_lowner.tools import outputs
from spacy_lowner.tools.outputs import OutputError, apply_default_mode, check_outputs, write_files


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
    umask = os.umask(0o022)
    try:
        write_files({tmp_path / "a.txt": b"a"})
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
        private = tmp_path / "private"
        private.mkdir(mode=0o700)
        (private / "w.bin").write_bytes(b"")
        os.chmod(private / "w.bin", 0o600)
        apply_default_mode(private)
        assert stat.S_IMODE(private.stat().st_mode) == 0o755
        assert stat.S_IMODE((private / "w.bin").stat().st_mode) == 0o644
    finally:
        os.umask(umask)
