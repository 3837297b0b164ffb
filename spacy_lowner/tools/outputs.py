"""Writing a command's outputs without losing data: never over one of its inputs, never over
what the command did not write, and all of them or none, also when the command is stopped.

Every command that writes files goes through here: `check_outputs` before any work (an output
that is, or resolves to, or contains, or lies inside one of the inputs is refused, as is an
output whose folder cannot exist; `check_replaceable` refuses to replace a folder that holds
what the command does not write), then `write_files` for files, which are written beside their
destinations and moved into place together, or `new_folder` for a folder built aside
(`edited_copy` builds one from a copy of another folder), or `folder_in_place` for a folder
that must be written where it stays.

While they write, SIGINT, SIGTERM and SIGHUP unwind the writing first, so that its temporary
files and folders are removed, and are then delivered as they would have been; the renames that
put outputs in place are never split by one. A replaced output keeps its permissions.
"""
import fnmatch
import os
import shutil
import signal
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, List, Mapping, Optional, Sequence, Union

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


def check_folder_output(path: PathLike) -> None:
    """A folder output must not be an existing file."""
    if Path(path).exists() and not Path(path).is_dir():
        raise OutputError(f"The output {path} is a file; give a folder name")


def check_replaceable(output: PathLike, command: str, names: Sequence[str], marker: Optional[str] = None) -> None:
    """Refuse to replace an existing `output` unless it is a folder `command` wrote: every
    entry in it matches one of `names` (glob patterns) and, unless it is empty, it holds
    `marker`. Whatever else it held would be lost with it (a corpus, notes, another model)."""
    output = Path(output)
    if not output.exists():
        return
    if not output.is_dir():
        raise OutputError(f"{output} is a file, not a folder {command} writes: give another output or move it")
    entries = sorted(entry.name for entry in output.iterdir())
    if marker is not None and entries and marker not in entries:
        raise OutputError(f"{output} is not a folder {command} wrote (it has no {marker}): give another output or move it")
    foreign = [name for name in entries if not any(fnmatch.fnmatchcase(name, pattern) for pattern in names)]
    if foreign:
        listed = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(f"{output} holds {listed}, which {command} does not write: move it out or give another output")


def write_files(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: each is written to a temporary file beside its destination,
    then all are moved into place; if a move fails, the files already replaced get their old
    contents back. A signal while the files are written removes the temporary files; one
    during the moves waits for them to end. A replaced file keeps its permissions; new files
    get those `open()` would give them."""
    for path in files:
        check_file_output(path)
        _check_parent(path)
    with _cleaned_up_on_signals():
        staged: List[tuple] = []  # (temporary file, destination)
        try:
            for path, data in files.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
                staged.append((Path(tmp), path))
                with os.fdopen(fd, "wb") as file_:
                    file_.write(data)
                os.chmod(tmp, _mode(Path(tmp), path))
            with _uninterrupted():
                _replace_all(staged)
        finally:
            with _uninterrupted():
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


@contextmanager
def new_folder(output: Path) -> Iterator[Path]:
    """An empty folder beside `output` for the block to fill. When the block ends without an
    error the folder replaces `output` in one rename (`_replace_folder`), with the permissions
    of the old `output` and of the files in it that it replaces; on an error or a signal it is
    removed and an old `output` stays as it was."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with _cleaned_up_on_signals():
        building = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
        try:
            folder = building / output.name
            folder.mkdir()
            yield folder
            _give_modes(folder, output)
            with _uninterrupted():
                _replace_folder(folder, output)
        finally:
            with _uninterrupted():
                shutil.rmtree(building, ignore_errors=True)


@contextmanager
def edited_copy(source: Path, output: Path) -> Iterator[Path]:
    """A copy of the folder `source`, made beside `output`, for the block to change; it
    replaces `output` when the block ends without an error (`new_folder`)."""
    with new_folder(output) as folder:
        shutil.copytree(source, folder, dirs_exist_ok=True)
        yield folder


@contextmanager
def folder_in_place(output: Path) -> Iterator[Path]:
    """A new, empty `output` for the block to fill where it will stay: for writers whose files
    record their own paths (spaCy's training writes its corpus folder into each pipeline's
    config). An old `output` is moved aside (to a hidden `.NAME.old-PID` beside it) while the
    block runs and deleted when it succeeds, its permissions given to the new one; on an error
    or a signal the new folder is removed and the old one put back."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    old = _aside(output)
    with _cleaned_up_on_signals():
        try:
            with _uninterrupted():
                if os.path.lexists(output):
                    os.rename(output, old)
                output.mkdir()
            yield output
            _give_modes(output, old)
        except BaseException:
            with _uninterrupted():
                _remove(output)
                if os.path.lexists(old):
                    os.rename(old, output)
            raise
        with _uninterrupted():
            _remove(old)


def _replace_folder(built: Path, output: Path) -> None:
    """Rename the finished folder `built` to `output`; a previous `output` is moved aside first
    and deleted only after the rename succeeded."""
    old = _aside(output)
    if os.path.lexists(output):
        os.rename(output, old)
    try:
        built.rename(output)
    except OSError:
        if os.path.lexists(old):
            os.rename(old, output)
        raise
    _remove(old)


def _aside(output: Path) -> Path:
    """Where an old output waits while its replacement is put in place."""
    return output.with_name(f".{output.name}.old-{os.getpid()}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


def _give_modes(new: Path, old: Path) -> None:
    """Give the folder `new` and everything in it the permissions of what it replaces under
    `old` (the same relative path), or those `mkdir()` and `open()` give under the umask."""
    for item in [new, *new.rglob("*")]:
        if not item.is_symlink():  # chmod would follow it
            os.chmod(item, _mode(item, old / item.relative_to(new)))


def _mode(item: Path, replaced: Path) -> int:
    """The permissions of `replaced` if it is the same kind of thing as `item` (a file or a
    folder), else the default ones: `tempfile` makes private files (0600) and folders (0700)."""
    if replaced.exists() and replaced.is_dir() == item.is_dir():
        return stat.S_IMODE(replaced.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if item.is_dir() else 0o666) & ~umask


# The signals that stop a command (Ctrl-C, `kill`, a closed terminal), where the platform has them.
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class _Interrupted(BaseException):
    """A signal that came while outputs were written: raised where the writing is, so that
    its `finally` clauses remove the temporary files. A BaseException, as KeyboardInterrupt,
    so that `except Exception` (spaCy's training loop) lets it through."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _SignalGuard:
    """The handler of `_cleaned_up_on_signals`; inside `_uninterrupted` it keeps the signal
    for later instead of raising."""

    def __init__(self) -> None:
        self.holding = 0
        self.pending: Optional[int] = None

    def handle(self, signum: int, frame) -> None:
        if self.holding:
            self.pending = self.pending or signum
        else:
            raise _Interrupted(signum)


_guard: Optional[_SignalGuard] = None


@contextmanager
def _cleaned_up_on_signals() -> Iterator[None]:
    """While the block runs, SIGINT, SIGTERM and SIGHUP raise `_Interrupted` inside it; when it
    has unwound, the signal is delivered again as it would have been (the process ends as if
    killed by it, or KeyboardInterrupt). Only signals that would end the process are taken
    (not one a program handles itself or ignores, as under nohup), only on the main thread
    (the only one Python runs handlers on); an inner block runs under the outer one's guard."""
    global _guard
    if _guard is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    guard = _guard = _SignalGuard()
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    taken = [sig for sig, handler in previous.items() if handler in (signal.SIG_DFL, signal.default_int_handler)]
    for sig in taken:
        signal.signal(sig, guard.handle)
    signum = None
    try:
        yield
    except _Interrupted as interrupted:
        signum = interrupted.signum
    finally:
        _guard = None
        for sig in taken:
            signal.signal(sig, previous[sig])
        signum = signum or guard.pending  # or one held by a block that then failed
        if signum:
            signal.raise_signal(signum)
            # Still here: the signal is blocked in this thread (pthread_sigmask); end as it would.
            raise SystemExit(128 + signum)


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold the signals while the block runs (renames that must all happen, a cleanup) and
    act on one that came meanwhile when it ends."""
    guard = _guard
    if guard is None:
        yield
        return
    guard.holding += 1
    try:
        yield
    finally:
        guard.holding -= 1
    if not guard.holding and guard.pending:
        signum, guard.pending = guard.pending, None
        raise _Interrupted(signum)


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
