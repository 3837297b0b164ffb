"""Stopping a real process at a chosen point, for the tests of outputs written all or nothing.

The child runs a script in which a monkeypatched step calls `pause()`: it prints READY and
sleeps, and the test sends it a signal then. What the test checks is what a user finds on disk
after Ctrl-C or `kill` at that moment.
"""
import os
import signal
import subprocess
import sys
import textwrap
from typing import Optional, Tuple

READY = "READY"

PRELUDE = f'''
import signal
import time

# A test run started under nohup or as a background job ignores SIGHUP or SIGINT, and the child
# would inherit that: give it the handlers a process started from a terminal has.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGHUP, signal.SIG_DFL)


def pause(seconds: float = 60.0) -> None:
    """The point under test: the parent sends its signal now."""
    print("{READY}", flush=True)
    time.sleep(seconds)
'''


def stop_at_pause(script: str, signum: int = signal.SIGTERM, cwd: Optional[str] = None) -> Tuple[int, str]:
    """Run PRELUDE + `script` in a new Python process, send it `signum` once it pauses, and
    return its exit code (negative: killed by that signal) and all it printed (stdout and
    stderr together: one pipe, so that neither can fill up unread)."""
    child = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    printed = []
    for line in child.stdout:
        if line.strip() == READY:
            break
        printed.append(line)
    else:
        child.wait(timeout=60)
        raise AssertionError(f"the child ended (exit {child.returncode}) before its pause:\n{''.join(printed)}")
    child.send_signal(signum)
    rest, _ = child.communicate(timeout=120)
    return child.returncode, "".join(printed) + rest
