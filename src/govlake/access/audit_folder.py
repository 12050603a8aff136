"""The fold process (审计归并进程): folds the host's audit journals into the chain, so that no
serving worker's interpreter does (docs/adr/0008-audit-journal.md).

Why a process: a fold parses, hashes and inserts every record of its interval while holding the
interpreter; in a serving worker's thread that time came out of the requests' (a request whose
event loop waits for the interpreter behind a fold waits up to the switch interval).

One per host and access store, the process holding `folder.lock` (flock) for life. Every serving
process checks that lock every FOLDER_CHECK_S (its journal's watch thread): when it is free no
folder is alive, and the process that takes it starts one, handing it the locked descriptor (so
there is never a moment without the lock and two starters never race). The folder dies with the
server: it exits when the process that started it is gone (its stdin, a pipe from that process,
reaches EOF), when that process stops it (SIGTERM, at the end of the fold it is in), and ignores
the terminal's Ctrl-C (the server stops it). A folder that crashes is replaced by whichever
serving process checks next. It folds every FOLD_S, or at once when a reader pokes it
(`poke`: a byte into the FIFO `fold.wake`), and leaves nothing to fold at exit that the next
folder, a reader or the stopping server would not fold: each record is folded exactly once
whoever folds (govlake.access.audit_fold).
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from govlake.access.audit_fold import fold, journal_dir, lock_held

FOLDER_CHECK_S = 0.5        # a serving process looks for a live folder this often
READY_TIMEOUT_S = 60.0      # a new folder has this long to say it runs (imports on a busy host)
LOCK, WAKE = "folder.lock", "fold.wake"

log = logging.getLogger(__name__)


def alive(d: Path) -> bool:
    """Whether a folder holds the lock of this journal directory."""
    return lock_held(d / LOCK)


def start_if_none(store, every: float) -> subprocess.Popen | None:
    """A new folder when none is alive (this process then holds the lock and hands it over); None
    when one is."""
    d = journal_dir(store)
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        code = "from govlake.access.audit_folder import main; main()"
        # the child shares the locked descriptor: the lock is held from here on by the folder alone
        return subprocess.Popen([sys.executable, "-c", code, str(store.path), repr(float(every)), str(fd)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(fd,))
    finally:
        os.close(fd)


def wait_ready(proc: subprocess.Popen, timeout: float = READY_TIMEOUT_S) -> bool:
    """True once the folder said it runs; False when it exited or said nothing within timeout."""
    deadline = time.monotonic() + timeout
    out = proc.stdout
    while time.monotonic() < deadline:
        r, _, _ = select.select([out], [], [], min(0.5, max(0.0, deadline - time.monotonic())))
        if r:
            line = os.read(out.fileno(), 64)
            return line.startswith(b"ready")
        if proc.poll() is not None:
            return False
    return False


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Stop a folder this process started (it ends the fold it is in first)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for f in (proc.stdin, proc.stdout):
        if f is not None:
            f.close()


def poke(store) -> bool:
    """Ask the folder to fold now (a reader waiting for it); False when no folder listens."""
    try:
        fd = os.open(journal_dir(store) / WAKE, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no FIFO yet, or nobody reading it (ENXIO): no folder
        return False
    try:
        os.write(fd, b"x")
    except OSError as e:
        if e.errno != errno.EAGAIN:  # a full FIFO has a wake-up pending already
            return False
    finally:
        os.close(fd)
    return True


def _wake_fifo(d: Path) -> int:
    path = d / WAKE
    try:
        os.mkfifo(path, 0o600)
    except FileExistsError:
        pass
    # read and write: the FIFO always has a writer (itself), so it never reads as EOF between pokes
    return os.open(path, os.O_RDWR | os.O_NONBLOCK)


def main() -> None:
    """The folder process: `python -c "...main()" <access db> <fold interval s> <lock fd>`."""
    store_path, every, _lock_fd = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])  # the fd: kept open for life
    logging.basicConfig(level=logging.WARNING, format="govlake audit folder %(process)d: %(levelname)s %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the server stops us
    state = {"folding": False, "stop": False}

    def on_term(*_):
        if state["folding"]:
            state["stop"] = True  # the fold in progress ends first (its transaction is whole either way)
        else:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    parent = os.getppid()
    store = SimpleNamespace(path=Path(store_path), settings=None)
    wake = _wake_fifo(journal_dir(store))
    try:
        os.write(1, b"ready\n")
    except OSError:
        pass
    while True:
        r, _, _ = select.select([0, wake], [], [], every)
        if 0 in r and not os.read(0, 4096):
            return  # the process that started us is gone
        if wake in r:
            try:
                while os.read(wake, 4096):
                    pass
            except BlockingIOError:
                pass
        if os.getppid() != parent:
            return
        state["folding"] = True
        try:
            fold(store, wait=False)
        except Exception:  # the next round retries: the offsets say what is folded
            log.exception("folding the audit journals failed")
        finally:
            state["folding"] = False
        if state["stop"]:
            return
