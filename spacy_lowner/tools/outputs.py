"""Writing a command's outputs without losing data: never over one of its inputs, and all of
them or none.

Every command that writes files goes through here: `check_outputs` before any work (an output
that is, or resolves to, or contains, or lies inside one of the inputs is refused, as is an
output whose folder cannot exist), then `write_files` for files, which are written beside their
destinations and moved into place together, or `replace_folder` for a folder built aside
(`edited_copy` builds one from a copy of another folder).
"""
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, List, Mapping, Union

PathLike = Union[str, Path]


class OutputError(ValueError):
    """An output that would overwrite an input, or that cannot be written where it was asked."""


def check_outputs(outputs: Iterable[PathLike], inputs: Iterable[PathLike]) -> None:
    """Refuse outputs that would destroy an input or cannot be written.

    An output may not be an input (also through `..`, symbolic or hard links), contain one
    (a folder output that holds an input) or lie inside one (an input folder), and no two
    outputs may be the same. An output must not be an existing folder unless it is meant to
    be one, and its parent must be a folder (or not exist yet, below a folder).
    """
    outputs = [Path(p) for p in outputs]
    inputs = [Path(p) for p in inputs]
    for i, output in enumerate(outputs):
        for other in outputs[:i]:
            if _same(output, other):
                raise OutputError(f"Two outputs are the same file: {other} and {output}")
        for source in inputs:
            if _same(output, source):
                raise OutputError(f"The output {output} is the input {source}: it would be overwritten")
            if _inside(source, output):
                raise OutputError(f"The output {output} contains the input {source}: it would be deleted")
            if _inside(output, source):
                raise OutputError(f"The output {output} is inside the input {source}")
        _check_parent(output)


def check_file_output(path: PathLike) -> None:
    """A file output must not be an existing folder."""
    if Path(path).is_dir():
        raise OutputError(f"The output {path} is a folder; give a file name")


def write_files(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: each is written to a temporary file beside its destination,
    then all are moved into place; if a move fails, the files already replaced get their old
    contents back. New files get the permissions `open()` would give them."""
    for path in files:
        check_file_output(path)
        _check_parent(path)
    staged: List[tuple] = []  # (temporary file, destination)
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((Path(tmp), path))
            with os.fdopen(fd, "wb") as file_:
                file_.write(data)
            apply_default_mode(Path(tmp))
        _replace_all(staged)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def _replace_all(staged: List[tuple]) -> None:
    if len(staged) == 1:
        # One rename onto the destination is atomic: nothing to restore, and the file never
        # goes missing for a reader or for another process writing it too (two sweeps
        # writing one output folder).
        os.replace(*staged[0])
        return
    backups: List[tuple] = []  # (backup, destination) of the files replaced so far
    try:
        for tmp, path in staged:
            backup = path.with_name(f".{path.name}.{os.getpid()}.bak")
            try:
                os.replace(path, backup)
            except FileNotFoundError:  # new, or just moved aside by another writer
                backup = None
            backups.append((backup, path))
            os.replace(tmp, path)
    except BaseException:
        for backup, path in reversed(backups):
            if backup is not None:
                os.replace(backup, path)
            else:
                path.unlink(missing_ok=True)
        raise
    for backup, _ in backups:
        if backup is not None:
            backup.unlink(missing_ok=True)


def replace_folder(built: Path, output: Path) -> None:
    """Rename the finished folder `built` to `output`; a previous `output` is moved aside first
    and deleted only after the rename succeeded."""
    old = None
    if output.exists():
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        output.rename(old)
    try:
        built.rename(output)
    except OSError:
        if old is not None:
            old.rename(output)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def edited_copy(source: Path, output: Path) -> Iterator[Path]:
    """A copy of the folder `source`, made beside `output`, for the block to change. When the
    block ends without an error the copy gets the default permissions and replaces `output`
    (`replace_folder`); it is removed whatever happens."""
    output.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        folder = building / "folder"
        shutil.copytree(source, folder)
        yield folder
        apply_default_mode(folder)
        replace_folder(folder, output)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def apply_default_mode(path: Path) -> None:
    """Give a file or a folder tree made by `tempfile` (private: 0600 / 0700) the permissions
    `open()` and `mkdir()` would have given it under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.chmod(item, (0o777 if item.is_dir() else 0o666) & ~umask)


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:  # one of them does not exist
        return False


def _inside(item: Path, folder: Path) -> bool:
    return folder.resolve() in item.resolve().parents


def _check_parent(path: Path) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"Cannot write {path}: {parent} is a file, not a folder")
            return
