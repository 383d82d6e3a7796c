"""The scripts under tools/ are run by `make`, not imported as a package: tests load one as a
module by its path to call its functions."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.repos import ROOT


def load_tool(name: str) -> ModuleType:
    """tools/<name>.py as module `name` (registered, so its dataclasses resolve their own
    module)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
