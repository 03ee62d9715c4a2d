"""Which build of the classifier's hot modules runs: the mypyc-compiled one or the plain Python sources.

`pip install` (and `make install`, `-e` included) compiles the modules of COMPILED with mypyc (setup.py) into
extension modules beside their sources, and records a SHA-256 of each compiled source in HASHES. Python would
import such an extension in place of its .py, so an edited .py would silently do nothing until rebuilt. So
the package's __init__ calls `choose()` before anything imports these modules, and the compiled build is used
only when every module of COMPILED has its extension and every source still has the recorded hash. Otherwise
all of them are loaded from their .py files (all or none: compiled modules call each other directly, so one
edited source among compiled ones would still be bypassed), with a RuntimeWarning when the build is stale or
partial, silently when there is no build at all (a platform without a C compiler, or MONITOR_NO_COMPILE=1 at
install). MONITOR_PURE_PYTHON=1 in the environment asks for the sources without a warning.

Stdlib only, and never compiled: setup.py reads COMPILED and `digest` from this file.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from typing import Final

PACKAGE: Final = "monitor.classify"
# In import order (each after the ones it imports), so that loading them from source never meets an extension.
COMPILED: Final = ("text", "record", "lexicon", "events", "model", "pairs", "actors", "classifier")
HASHES: Final = "_compiled.sha256"  # "<sha256>  <module>.py" lines, written by setup.py beside the extensions
SHARED: Final = "_compiled__mypyc"  # mypyc's shared library of the group (setup.py's group_name)
PURE_ENV: Final = "MONITOR_PURE_PYTHON"


def digest(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()


def _has_extension(directory: Path, name: str) -> bool:
    return any((directory / (name + suffix)).is_file() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _problem(directory: Path) -> str | None:
    """Why the compiled build cannot be used ("" when there is none at all), or None when it can."""
    present = [name for name in (*COMPILED, SHARED) if _has_extension(directory, name)]
    if not present:
        return ""
    if len(present) < len(COMPILED) + 1:
        return f"a partial build (no extension for {', '.join(sorted({*COMPILED, SHARED} - set(present)))})"
    try:
        lines = (directory / HASHES).read_text(encoding="utf-8").splitlines()
    except OSError:
        return f"no {HASHES} beside the extensions"
    recorded: dict[str, str] = {}
    for line in lines:
        value, _, name = line.partition("  ")
        recorded[name] = value
    stale = [
        name
        for name in COMPILED
        # (a source not shipped cannot have been edited: only its build runs)
        if (directory / f"{name}.py").is_file()
        and recorded.get(f"{name}.py") != digest((directory / f"{name}.py").read_bytes())
    ]
    if stale:
        return "edited since the build: " + ", ".join(f"{name}.py" for name in stale)
    return None


def choose() -> bool:
    """Load the plain sources of COMPILED unless the compiled build is whole and current; True if compiled."""
    directory = Path(__file__).resolve().parent
    forced = bool(os.environ.get(PURE_ENV))
    problem = _problem(directory)
    if problem is None and not forced:
        return True
    if problem == "" or any(f"{PACKAGE}.{name}" in sys.modules for name in COMPILED):
        return False  # no build (the ordinary import finds the sources), or a second call: nothing to do
    if problem:
        warnings.warn(
            f"monitor.classify: not using the mypyc-compiled modules, {problem}; running the Python sources "
            "(slower). Rebuild with `make install` (or `pip install -e .`).",
            RuntimeWarning,
            stacklevel=3,
        )
    package = sys.modules[PACKAGE]
    for name in COMPILED:
        spec = importlib.util.spec_from_file_location(f"{PACKAGE}.{name}", directory / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[spec.name]
            raise
        setattr(package, name, module)
    return False
