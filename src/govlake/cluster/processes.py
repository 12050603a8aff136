"""Detached processes with a pid file and a log each, health waits, and stops that leave nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

from govlake.cluster.layout import Layout


class ComponentFailed(RuntimeError):
    """A component did not start or is not healthy; the message names it and its log (组件启动失败)."""

    def __init__(self, component: str, log: Path | None, reason: str):
        tail = ""
        if log is not None and log.exists():
            lines = log.read_text(errors="replace").splitlines()[-25:]
            tail = "\n  | " + "\n  | ".join(lines) if lines else ""
        where = f"; its log: {log}" if log is not None else ""
        super().__init__(f"cluster component {component!r} failed (组件启动失败): {reason}{where}{tail}")
        self.component = component


def pid_file(layout: Layout, name: str) -> Path:
    return layout.pids / f"{name}.pid"


def read_pid(layout: Layout, name: str) -> int | None:
    p = pid_file(layout, name)
    try:
        pid = int(p.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie of ours counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def start(layout: Layout, name: str, argv: list[str], env: dict[str, str] | None = None,
          cwd: Path | None = None) -> int:
    """Starts argv in its own session (so a stop reaches its children), output to <logs>/<name>.log.
    Returns the running pid if the component is already up."""
    pid = read_pid(layout, name)
    if pid is not None:
        return pid
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    log = layout.log(name)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)
    pid_file(layout, name).write_text(str(proc.pid))
    return proc.pid


def stop(layout: Layout, name: str, grace: float = 20.0) -> bool:
    """SIGTERM to the process group, SIGKILL after `grace` seconds. True if something was running."""
    p = pid_file(layout, name)
    pid = read_pid(layout, name)
    if pid is None:
        p.unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (alive(pid) or _group_alive(pid)):
        time.sleep(0.3)
    if alive(pid) or _group_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        time.sleep(0.5)
    p.unlink(missing_ok=True)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # only zombies left in the group count as gone
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def wait_healthy(layout: Layout, name: str, check: Callable[[], str | None], timeout: float,
                 log_name: str | None = None) -> None:
    """Polls check() (None when healthy, else what is wrong) until it passes; fails naming the
    component and its log when the process died or the time ran out."""
    deadline = time.monotonic() + timeout
    log = layout.log(log_name or name)
    problem = "not checked"
    while True:
        try:
            problem = check()
        except Exception as e:  # a refused connection while it starts
            problem = f"{type(e).__name__}: {e}"
        if problem is None:
            return
        if read_pid(layout, log_name or name) is None and pid_file(layout, log_name or name).exists():
            raise ComponentFailed(name, log, f"the process exited ({problem})")
        if time.monotonic() > deadline:
            raise ComponentFailed(name, log, f"not healthy after {timeout:.0f} s: {problem}")
        time.sleep(1.0)


def leftovers(root: Path, env_key: str, env_value: str) -> list[int]:
    """Processes of the cluster outside the process groups it started: Airflow's task supervisors
    put themselves in groups of their own, outlive the scheduler and rewrite their environment
    (setproctitle), so a process counts if its environment holds env_key=env_value or it holds a
    file under the cluster's state folder open (its task log)."""
    needle, prefix = f"{env_key}={env_value}".encode(), str(root) + "/"
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid() or not alive(int(d.name)):
            continue
        try:
            if needle in (d / "environ").read_bytes().split(b"\0"):
                found.append(int(d.name))
                continue
            for fd in (d / "fd").iterdir():
                if os.readlink(fd).startswith(prefix):
                    found.append(int(d.name))
                    break
        except OSError:
            continue
    return found


def stop_leftovers(root: Path, env_key: str, env_value: str, grace: float = 20.0) -> int:
    """SIGTERM, then SIGKILL, to each leftover and its process group, until none is left."""
    deadline = time.monotonic() + grace
    sig = signal.SIGTERM
    n = 0
    while pids := leftovers(root, env_key, env_value):
        n = max(n, len(pids))
        if time.monotonic() > deadline:
            sig = signal.SIGKILL
        for pid in pids:
            for target in ("group", "pid"):
                try:
                    os.killpg(os.getpgid(pid), sig) if target == "group" else os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
        if time.monotonic() > deadline + 10:
            break
        time.sleep(0.5)
    return n
