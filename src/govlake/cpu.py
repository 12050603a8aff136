"""CPU seconds of a process tree, read from /proc (Linux). Benchmarks on this shared machine
report CPU time beside wall time: the wall clock depends on the others' load, CPU time is what
the work itself cost (the Spark JVM and its Python workers are this process's descendants)."""

from __future__ import annotations

import os


def tree_cpu_seconds(include_self: bool = False) -> float:
    """User + system CPU seconds of this process's descendants, live or reaped, plus this
    process's own with include_self=True."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
            except OSError:  # the process ended while we listed
                continue
            stats[int(d)] = st
            children.setdefault(int(st[1]), []).append(int(d))
    me = os.getpid()
    own = stats.get(me, ["0"] * 15)
    total = sum(int(x) for x in own[13:15])  # children this process has already reaped
    if include_self:
        total += sum(int(x) for x in own[11:13])
    todo = list(children.get(me, []))
    while todo:
        pid = todo.pop()
        total += sum(int(x) for x in stats[pid][11:15])  # utime, stime, cutime, cstime
        todo += children.get(pid, [])
    return total / tick
