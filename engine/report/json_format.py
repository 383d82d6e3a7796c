"""The Decision as JSON: the machine contract of `govops check --format json`."""

from __future__ import annotations

import json
from collections.abc import Mapping

from engine.policy.decision import Decision
from engine.policy.metadata import PolicyMeta


def render_json(decision: Decision, metadata: Mapping[str, PolicyMeta], color: bool) -> str:
    return json.dumps(decision.as_json(), indent=2, sort_keys=True) + "\n"
