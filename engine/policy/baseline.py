"""Differential results: which failures a change introduces, and which it inherits.

A result is `existing` when the base revision's own decision (its catalog under its policies)
has a result with the same fingerprint (policy, object, field, package, advisory), else `new`.
Lines and messages are left out of the match on purpose: an edit above a failing field moves its
line, and a quota that is still too small may change its numbers, without the failure being new.
A change that adds or tightens a policy does introduce the failures it finds: they are `new`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Set

from engine.policy.decision import Decision, Fingerprint, Result, WaivedResult


def _marked(result: Result, before: Set[Fingerprint]) -> Result:
    return dataclasses.replace(result,
                               status="existing" if result.fingerprint in before else "new")


def mark(decision: Decision, base: Decision) -> Decision:
    """`decision` with every result and waived result marked new or existing against `base`."""
    before = {r.fingerprint for r in base.results} | {w.result.fingerprint for w in base.waived}
    return dataclasses.replace(
        decision,
        results=tuple(_marked(r, before) for r in decision.results),
        waived=tuple(WaivedResult(_marked(w.result, before), w.waiver) for w in decision.waived))


def only_new(decision: Decision) -> Decision:
    """The decision restricted to new results, so its verdict (and exit code) is about what the
    change introduces. Only meaningful on a marked decision."""
    return dataclasses.replace(
        decision,
        results=tuple(r for r in decision.results if r.status == "new"),
        waived=tuple(w for w in decision.waived if w.result.status == "new"))
