"""Load a module of deploy/ (a folder of scripts, not a package) by path, once per process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def load_deploy_module(name: str) -> ModuleType:
    """deploy/<name>.py as a module (cached in sys.modules under a private name)."""
    qualified = f"_meta_capi_deploy_{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, DEPLOY / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]
