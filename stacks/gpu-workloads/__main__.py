"""Entry point when the Pulumi engine runs this directory: read the StackSpec from config.

govops sets `govops:spec` (the StackSpec as canonical JSON); the program itself is program.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pulumi

sys.path.insert(0, str(Path(__file__).resolve().parent))

from program import program


def _spec(doc: dict[str, Any]) -> SimpleNamespace:
    workloads = [SimpleNamespace(**w) for w in doc["workloads"]]
    operator = SimpleNamespace(**doc["gpu_operator"]) if doc.get("gpu_operator") else None
    spec = SimpleNamespace(**{**doc, "workloads": workloads, "gpu_operator": operator})
    spec.tier = dict(spec.labels).get("tier")
    return spec


program(_spec(json.loads(pulumi.Config("govops").require("spec"))))
