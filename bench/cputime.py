"""Where the cores went during a benchmark: CPU seconds by role (web server, PostgreSQL, the
benchmark process itself) and the whole machine's busy time, from /proc (Linux only).

A throughput on a shared 2-core machine says little about cost; CPU per event does. It also
bounds what any design can reach here: events/s ≤ cores / (CPU seconds per event).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        out = subprocess.run(["pgrep", "-P", str(current)], capture_output=True, text=True)
        todo.extend(int(child) for child in out.stdout.split())
    return found


def postmaster_pid(pgdata: Path) -> int:
    return int((Path(pgdata) / "postmaster.pid").read_text().splitlines()[0])


def _cpu_of(pid: int, reaped: bool = False) -> float:
    """User + system seconds of one live process (all its threads), with `reaped` also those
    of its children that have exited; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after "(comm)", which may hold spaces
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICKS


def _machine_busy() -> float:
    """Seconds the machine's cores were busy since boot (all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICKS


class CpuMeter:
    """CPU seconds each role used between `start()` and `stop()`.

    `roles` maps a name to a function returning that role's process tree (its root first);
    the trees are listed at start and again at stop, so processes started in between count
    from zero. A process that exits in between counts through its parent's reaped children
    (cutime) when its role is in `reaped`: PostgreSQL's backends are children of the postmaster,
    which reaps them at once. (Only the root's reaped children are read: a pgrep of this
    module, reaped by the benchmark process, must not count as the load generator's work.)
    """

    def __init__(self, roles: dict, reaped: tuple = ()):
        self.roles, self.reaped = roles, reaped
        self.used: dict[str, float] = {}

    def _read(self, name: str) -> dict[int, float]:
        pids = self.roles[name]()
        return {
            pid: _cpu_of(pid, reaped=name in self.reaped and i == 0) for i, pid in enumerate(pids)
        }

    def start(self) -> None:
        self._before = {name: self._read(name) for name in self.roles}
        self._busy_before = _machine_busy()

    def stop(self) -> dict[str, float]:
        for name in self.roles:
            before = self._before[name]
            self.used[name] = sum(
                cpu - before.get(pid, 0.0) for pid, cpu in self._read(name).items()
            )
        self.used["machine"] = _machine_busy() - self._busy_before
        return self.used
