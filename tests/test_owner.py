"""Lease owners: telling a dead holder on this machine from a live one or one elsewhere, on the real /proc."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.owner import Owner, is_dead, this_process

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def owner_of(process: subprocess.Popen[bytes]) -> Owner:
    """What `this_process()` would have named `process` (a child on this machine, same namespace)."""
    me = this_process()
    stat = Path(f"/proc/{process.pid}/stat").read_text()
    start = stat[stat.rindex(")") + 2 :].split()[19]
    return dataclasses.replace(me, pid=process.pid, start=start)


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield process
    process.kill()
    process.wait()


def test_this_process_is_named_uniquely_and_reads_back() -> None:
    me = this_process()

    assert me.unique
    assert Owner.parse(str(me)) == me
    assert str(me).startswith(f"{me.host}:{me.pid} ")


def test_a_holder_that_was_killed_is_dead_and_a_running_one_is_not(child: subprocess.Popen[bytes]) -> None:
    me, holder = this_process(), owner_of(child)

    assert not is_dead(holder, me)
    child.kill()
    child.wait()
    assert is_dead(holder, me)


def test_a_reused_pid_does_not_keep_a_dead_holder_alive(child: subprocess.Popen[bytes]) -> None:
    earlier = dataclasses.replace(owner_of(child), start="1")  # same PID, started at another time

    assert is_dead(earlier, this_process())


@pytest.mark.parametrize("field", ["host", "boot", "namespace"])
def test_a_holder_on_another_machine_or_namespace_is_never_judged(
    child: subprocess.Popen[bytes], field: str
) -> None:
    holder = owner_of(child)
    child.kill()
    child.wait()
    elsewhere = dataclasses.replace(holder, **{field: "other"})

    assert is_dead(holder, this_process())  # the control: here, it is dead
    assert not is_dead(elsewhere, this_process())


def test_names_without_an_identity_are_never_judged_dead() -> None:
    me = this_process()

    assert Owner.parse("daemon-1") is None
    legacy = Owner.parse(f"{me.host}:999999")  # written by a version without the identity
    assert legacy is not None and not legacy.unique
    assert not is_dead(legacy, me)
    assert not is_dead(me, me)


def test_without_proc_the_name_is_host_and_pid_only(tmp_path: Path) -> None:
    me = this_process(proc=tmp_path)

    assert not me.unique and str(me) == f"{me.host}:{me.pid}"
