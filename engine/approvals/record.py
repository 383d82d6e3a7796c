"""What `govops approve` appends to the ledger: an `approval` entry recording the waiver's
approved content (`waiver.json`), signed by the approver's own key or identity.

The ledger rather than the governed repo: an approval then has a place in the one append-only,
anchored, timestamped history auditors already verify, and no commit to the repo (which anyone
who can merge controls) can add, move or re-date one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from engine.ledger.entry import APPROVAL, Draft
from engine.policy.waivers import content_digest

WAIVER_FILE = "waiver.json"


def approval_draft(content: Mapping[str, Any], revision: str) -> Draft:
    """An approval of the waiver `content` (engine.policy.waivers.approved_content), as
    reviewed at commit `revision`."""
    return Draft(type=APPROVAL, revision=revision,
                 files={WAIVER_FILE: bytes(rfc8785.dumps(dict(content)))},
                 details={"waiver": content["name"], "digest": content_digest(content),
                          "policy": content.get("policy"), "expires": content.get("expires")})


def approved_waiver(files: Mapping[str, bytes]) -> dict[str, Any]:
    """The content an approval entry approves; ValueError when it holds none."""
    data = files.get(WAIVER_FILE)
    if data is None:
        raise ValueError(f"records no {WAIVER_FILE}")
    try:
        content = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{WAIVER_FILE} is not JSON") from None
    if not isinstance(content, dict) or not isinstance(content.get("name"), str):
        raise ValueError(f"{WAIVER_FILE} does not name a waiver")
    return content
