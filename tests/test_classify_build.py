"""The mypyc build of the classifier's hot modules (setup.py, monitor/classify/_native.py): in use after an
install, never shadowing an edited source, and giving the same results as the plain Python sources."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import monitor.classify
from monitor.classify import _native, classify

PACKAGE = Path(monitor.classify.__file__).resolve().parent
BUILT = _native._problem(PACKAGE) is None
SKIP_REASON = "no mypyc build beside the sources (MONITOR_NO_COMPILE=1 or no C compiler at install)"
ITEMS = [
    ("Pakistan recalls ambassador from Tehran", "Islamabad said the strike violated its sovereignty."),
    (
        "Iran, Pakistan agree to return envoys",
        "The foreign ministers spoke by phone. They agreed to de-escalate.",
    ),
    ("Russian drone attack kills one in Kharkiv, Ukraine says", ""),
    ("India beat Pakistan by six wickets", "Kohli hit an unbeaten century. The series is level."),
    ("Leaders of Armenia and Azerbaijan sign deal at White House peace summit", "İstanbul talks go on."),
]
SCRIPT = """
import importlib, json, sys, warnings
warnings.simplefilter("always")
import monitor.classify as mc
from monitor.classify import _native
print(json.dumps({
    "compiled": mc.compiled,
    "loaders": {
        n: type(importlib.import_module("monitor.classify." + n).__loader__).__name__ for n in _native.COMPILED
    },
    "results": [repr(mc.classify(t, s)) for t, s in json.loads(sys.argv[1])],
}))
"""


def _run(path: Path | None = None, **env: str) -> tuple[dict[str, object], str]:
    environment = {k: v for k, v in os.environ.items() if k != _native.PURE_ENV} | env
    if path is not None:
        environment["PYTHONPATH"] = str(path)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(ITEMS)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=path or PACKAGE.parents[1],
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result, out.stderr


@pytest.mark.skipif(
    bool(os.environ.get("MONITOR_NO_COMPILE") or os.environ.get(_native.PURE_ENV)),
    reason="a pure-Python install or run was asked for",
)
def test_the_compiled_modules_are_in_use_after_an_install() -> None:
    # `make install-test` builds them: CI must measure and test what ships
    assert BUILT, f"no usable mypyc build beside {PACKAGE}: {_native._problem(PACKAGE)!r}"
    assert monitor.classify.compiled
    for name in _native.COMPILED:
        module = importlib.import_module(f"monitor.classify.{name}")
        assert isinstance(module.__loader__, importlib.machinery.ExtensionFileLoader), name


@pytest.mark.skipif(not BUILT, reason=SKIP_REASON)
def test_the_sources_give_the_same_results_as_the_compiled_modules() -> None:
    compiled, _ = _run()
    pure, stderr = _run(**{_native.PURE_ENV: "1"})
    assert compiled["compiled"] is True and pure["compiled"] is False
    assert set(pure["loaders"].values()) == {"SourceFileLoader"}  # type: ignore[union-attr]
    assert pure["results"] == compiled["results"] == [repr(classify(t, s)) for t, s in ITEMS]
    assert "RuntimeWarning" not in stderr  # asked for: no warning


def _copy(tmp_path: Path) -> Path:
    """The installed package with its build, in a scratch directory first on the path."""
    shutil.copytree(PACKAGE.parent, tmp_path / "monitor", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.skipif(not BUILT, reason=SKIP_REASON)
def test_an_untouched_copy_of_the_build_runs_compiled(tmp_path: Path) -> None:
    result, stderr = _run(_copy(tmp_path))
    assert result["compiled"] is True, stderr
    assert set(result["loaders"].values()) == {"ExtensionFileLoader"}  # type: ignore[union-attr]


@pytest.mark.skipif(not BUILT, reason=SKIP_REASON)
def test_an_edited_source_is_never_shadowed_by_its_stale_build(tmp_path: Path) -> None:
    # the editable-install trap: the .so beside events.py would be imported instead of the edited events.py
    root = _copy(tmp_path)
    events = root / "monitor" / "classify" / "events.py"
    source = events.read_text(encoding="utf-8")
    assert "HEADLINE_WEIGHT: Final = 1.0" in source
    events.write_text(source.replace("HEADLINE_WEIGHT: Final = 1.0", "HEADLINE_WEIGHT: Final = 0.0"), "utf-8")
    result, stderr = _run(root)
    assert result["compiled"] is False
    assert set(result["loaders"].values()) == {"SourceFileLoader"}  # all of them, not only events
    assert "RuntimeWarning" in stderr and "edited since the build: events.py" in stderr
    assert result["results"] != [repr(classify(t, s)) for t, s in ITEMS]  # the edit is what runs


@pytest.mark.skipif(not BUILT, reason=SKIP_REASON)
def test_a_partial_build_runs_the_sources_with_a_warning(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    for path in (root / "monitor" / "classify").glob("pairs.*"):
        if path.suffix != ".py":
            path.unlink()
    result, stderr = _run(root)
    assert result["compiled"] is False
    assert "a partial build (no extension for pairs)" in stderr
