"""Build step beside pyproject.toml: compiles the classifier's hot modules with mypyc (docs/classifier.md,
"Keeping it fast"). Everything else about the package is in pyproject.toml.

The modules of monitor/classify/_native.py's COMPILED become C extensions beside their sources (in place for
`pip install -e .`), in one group whose shared library is monitor/classify/_compiled__mypyc; a SHA-256 of each
compiled source is written beside them (_compiled.sha256), which the package checks at import so that a source
edited after the build runs as Python (with a warning) instead of being shadowed by its stale extension.

MONITOR_NO_COMPILE=1 at install skips the compilation: the package is then plain Python (the same results,
~1.5x slower). A C compiler that fails also leaves plain Python (the extensions are optional), with a warning.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
CLASSIFY = ROOT / "monitor" / "classify"


def _native() -> ModuleType:
    """monitor/classify/_native.py, read without importing the package."""
    spec = importlib.util.spec_from_file_location("_classify_native", CLASSIFY / "_native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


native = _native()


class BuildExt(build_ext):
    """build_ext that also writes the hashes of the compiled sources beside the extensions, once all are built."""

    def run(self) -> None:
        super().run()
        if not self.extensions:
            return
        outputs = [Path(self.get_ext_fullpath(ext.name)) for ext in self.extensions]
        target = outputs[0].parent
        hashes = target / native.HASHES
        if not all(path.is_file() for path in outputs):  # an optional extension failed: no whole build
            hashes.unlink(missing_ok=True)
            return
        lines = [
            f"{native.digest((CLASSIFY / f'{name}.py').read_bytes())}  {name}.py" for name in native.COMPILED
        ]
        hashes.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _extensions() -> list[Extension]:
    if os.environ.get("MONITOR_NO_COMPILE"):
        return []
    from mypyc.build import mypycify

    extensions = mypycify(
        [f"monitor/classify/{name}.py" for name in native.COMPILED],
        opt_level="3",
        group_name="monitor.classify._compiled",
    )
    for extension in extensions:
        extension.optional = True  # no compiler, or a failing one: install the plain Python package
    return list(extensions)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
