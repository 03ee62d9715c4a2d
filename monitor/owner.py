"""Who holds a feed lease or a delivery claim, named so that a later process can tell a dead holder.

An owner reads "host:pid boot/namespace/start": the host name and PID for people, then what makes the
process unique on its machine for this module: the kernel's boot id, the inode of its PID namespace and
its start time in clock ticks after boot (/proc). A PID is reused and two containers may share a host
name and a PID, but not a boot id, a PID namespace and a start time.

A holder is known dead only when its host, boot and namespace are ours and its PID is gone or now
belongs to a process started at another time. Anything else (another machine, another container, a
system without /proc, an owner written by an older version) is left to its lease's expiry.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Owner:
    host: str
    pid: int
    boot: str = ""  # /proc/sys/kernel/random/boot_id
    namespace: str = ""  # inode of the PID namespace
    start: str = ""  # field 22 of /proc/<pid>/stat

    def __str__(self) -> str:
        name = f"{self.host}:{self.pid}"
        return f"{name} {self.boot}/{self.namespace}/{self.start}" if self.unique else name

    @property
    def unique(self) -> bool:
        return bool(self.boot and self.namespace and self.start)

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner written as `str(owner)`; None for anything else (a name given by hand, say)."""
        name, _, identity = text.partition(" ")
        host, _, pid = name.rpartition(":")
        if not host or not pid.isdigit():
            return None
        parts = identity.split("/") if identity else ["", "", ""]
        if len(parts) != 3:
            return None
        return cls(host, int(pid), *parts)


def this_process(proc: Path = PROC) -> Owner:
    """The owner name of the calling process (host and PID only where /proc cannot tell more)."""
    host, pid = socket.gethostname(), os.getpid()
    try:
        boot = (proc / "sys/kernel/random/boot_id").read_text().strip()
        namespace = str((proc / "self/ns/pid").stat().st_ino)
        self_pid, start = _pid_and_start(proc / "self/stat")
    except (OSError, ValueError, IndexError):
        return Owner(host, pid)
    if self_pid != pid:  # /proc is another PID namespace's: its PIDs are not ours
        return Owner(host, pid)
    return Owner(host, pid, boot, namespace, start)


def is_dead(holder: Owner, me: Owner, proc: Path = PROC) -> bool:
    """True only when `holder` ran on this machine, in this PID namespace, and no longer runs."""
    if not (holder.unique and me.unique) or holder == me:
        return False
    if (holder.host, holder.boot, holder.namespace) != (me.host, me.boot, me.namespace):
        return False
    try:
        _, start = _pid_and_start(proc / str(holder.pid) / "stat")
    except FileNotFoundError:
        return True
    except (OSError, ValueError, IndexError):
        return False  # cannot tell (permissions, say): wait for the lease to expire
    return start != holder.start


def dead_holders(names: Iterable[str | None], me: Owner, proc: Path = PROC) -> list[str]:
    """The holder names among `names` (as stored in lease and claim columns) that `is_dead` judges dead."""
    return sorted(
        {n for n in names if n and (holder := Owner.parse(n)) is not None and is_dead(holder, me, proc)}
    )


def _pid_and_start(stat: Path) -> tuple[int, str]:
    """PID and start time from a /proc/<pid>/stat line; the command name may hold spaces and parentheses."""
    text = stat.read_text()
    pid = int(text.split(" ", 1)[0])
    fields = text[text.rindex(")") + 2 :].split()  # from field 3 (state) on
    return pid, fields[22 - 3]
