"""A separate venv with MIT's official `ofa` package, for side-by-side benchmarks.

Its import name `ofa` clashes with ours, so it lives in its own venv (``bench/.venv-official-ofa``,
git-ignored) and runs in a subprocess. It imports torchvision at module load, and PyPI's torchvision
does not load next to the CPU torch wheel, so a stub ``torchvision`` package (empty modules whose
attributes raise only when used) goes on that subprocess's path: the benchmarked code paths never
touch torchvision. No code of the official package is copied here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

OFFICIAL_VERSION = "0.1.0.post202307202001"
BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-official-ofa"
STUB = BENCH / ".torchvision-stub"

_STUB_MODULE = textwrap.dedent('''
    """Stub torchvision for benchmarks: every torchvision.* name imports; any use raises."""
    import importlib.abc, importlib.machinery, sys, types

    class _Unusable:
        """Placeholder: can be subclassed at import time, raises when used."""

        def __init__(self, *args, **kwargs):
            raise RuntimeError(f"torchvision stub: the benchmark must not use {type(self).__qualname__}")

    class _Stub(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return type(name, (_Unusable,), {"__qualname__": f"{self.__name__}.{name}"})

    class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            if name.startswith("torchvision."):
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            module = _Stub(spec.name)
            module.__path__ = []
            return module

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, _Finder())
    __path__ = []
''')


def ensure_venv() -> Path:
    """Create the official-OFA venv once (torch 2.13.0 CPU + ofa); returns its python."""
    python = VENV / "bin" / "python"
    if not (VENV / ".ready").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0", f"ofa=={OFFICIAL_VERSION}",
                        "numpy", "tqdm", "pyyaml", "pillow", "gdown", "thop"], check=True)
        (VENV / ".ready").write_text(OFFICIAL_VERSION)
    path = STUB / "torchvision" / "__init__.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_STUB_MODULE)
    return python


def official_env(threads: int = 2) -> dict:
    """Environment for a process of the official venv: the torchvision stub on its path, thread caps."""
    return dict(os.environ, PYTHONPATH=str(STUB), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def run_official(script: str, timeout: float = 1800, threads: int = 2) -> dict:
    """Run ``script`` (Python source that prints one JSON object last) in the official venv."""
    python = ensure_venv()
    env = official_env(threads)
    proc = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(BENCH))
    if proc.returncode != 0:
        raise RuntimeError(f"official OFA run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
