"""A run folder claimed by the process that trains it, so that sweeps into one folder run side
by side (the same command started twice on a 2-core machine, or split by seed) and never train
the same run at once: the second finds the claim, leaves the run to the first, and goes on to
the next.

The claim is an exclusive flock on .RUN.claim beside the run's folder (not in it: kl-phase
writes its folder whole, and refuses one that exists), held while the run trains. The kernel
drops it when its process ends, however it ends, so a sweep killed midway leaves no stale
claim: the next sweep trains that run again from the start, as it would without claims."""
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows: no flock; sweeps there run one at a time, as before claims
    fcntl = None  # type: ignore[assignment]


class RunClaimedError(RuntimeError):
    """Another live process is training this run."""


@contextmanager
def claim(run_dir: Path) -> Iterator[None]:
    """Hold run_dir's claim while the block runs; raise RunClaimedError if another process
    holds it."""
    if fcntl is None:
        yield
        return
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with run_dir.with_name(f".{run_dir.name}.claim").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise RunClaimedError(f"{run_dir} is being trained by another process (pid {handle.read().strip() or '?'})") from None
        # who holds it, for the message above; the lock itself is what counts
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
