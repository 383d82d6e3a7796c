"""The answers of `govops audit log|show|at|search|reindex` as text for people and as JSON for
machines. Renders `engine.ledger.queries` answers and computes nothing of its own.

Text is plain aligned columns (no colour, no wrapping): auditors grep it and paste it into
tickets, and a digest cut by a terminal-width table would be useless. Ledger entries hold what
governed repositories and signers wrote (actors, stacks, names, waivers), so every cell and
every line goes through `escape.terminal`: no control character reaches the terminal and no
value starts a line of its own.

JSON (indent 2, sorted keys). The keys below are a contract; new keys may be added, none of
these will change meaning:

- entry (in every answer): `seq`, `hash` (sha256:...), `commit` (ledger commit), `type`,
  `time` (RFC 3339 UTC), `actor`, `revision` (the governed commit, or null), `stack`,
  `verdict`, `decision_id`, `serial_number`, `waiver` (an approval's; null when not that
  type), `links`
  {role: {`hash`, `seq` (null: not in this ledger)}}.
- item (what a deployment deployed): `kind` (model, dataset, environment, package, image,
  driver), `name`, `version` (a model's revision, a package's version, an image's digest),
  `digest` (sha256:... for models, datasets, images), `purl`, `environment` (the environment
  that brings a package, image or driver in; else null).
- `log`: {`filters`: {`stack`, `type`, `since`, `until`}, `entries`: [entry]}.
- `show`: {`entry`: entry, `document`: entry.json as recorded, `files`: [{`name`, `size`,
  `digest`, `role` (entry, signature, recorded)}], `linked`: [entry]}.
- `at`: {`stack`, `time`, `deployed` (bool), `entry`: entry or null, `live_from`,
  `live_until` (null: still live), `aibom` (ok, no-link, unreadable, no-stack), `models`,
  `datasets`, `environments`, `images`, `packages`, `drivers`: [item], `first`: the stack's
  first apply/rollback when nothing was deployed yet (else null)}.
- `search`: {`field` (package, model, policy, waiver), `value`, `decisions`: [{`entry`,
  `results`: [{`policy`, `kind`, `name`, `file`, `line`, `severity`, `waived`, `waiver`,
  `approved_by` (a waived result's waiver approvers, as that decision verified them)}]}],
  `deployments`: [{`entry`, `stack`, `live_from`, `live_until`, `matched`: [item],
  `waivers` (waiver searches): [{`waiver`, `approvers`, `expires`, `valid_at_deploy` (true,
  false, or null when the deployment receipt records no deploy-time judgement)}]}],
  `ranges`: [{`stack`, `live_from`, `live_until`, `entries`: [seq]}]}.
- `reindex`: {`path`, `kind`, `reason`, `seconds`, `entries`, `deployments`,
  `deployed_items`, `policy_results`, `rebuilds`}.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

from engine.ledger.answers import (
    AtResult,
    DeployedItem,
    Deployment,
    DiffResult,
    EntrySummary,
    LogResult,
    Reindexed,
    SearchResult,
    ShowResult,
    WaiverUse,
)
from engine.report.audit_diff import render_diff_json, render_diff_markdown, render_diff_text
from engine.report.escape import terminal

ITEM_KINDS = ("model", "dataset", "environment", "image", "package", "driver")
_PLURAL = {"model": "models", "dataset": "datasets", "environment": "environments",
           "image": "images", "package": "packages", "driver": "drivers"}

# -- JSON ---------------------------------------------------------------------------------------


def entry_json(entry: EntrySummary) -> dict[str, Any]:
    return {"seq": entry.seq, "hash": entry.hash, "commit": entry.commit, "type": entry.type,
            "time": entry.time, "actor": entry.actor, "revision": entry.revision,
            "stack": entry.stack, "verdict": entry.verdict, "decision_id": entry.decision_id,
            "serial_number": entry.serial_number, "waiver": entry.waiver,
            "signer": entry.signer,
            "trust_version": entry.trust_version,
            "links": {link.role: {"hash": link.hash, "seq": link.seq} for link in entry.links}}


def item_json(item: DeployedItem) -> dict[str, Any]:
    return item._asdict()


def _deployment_json(found: Deployment) -> dict[str, Any]:
    return {"entry": entry_json(found.entry), "stack": found.stack,
            "live_from": found.live_from, "live_until": found.live_until,
            "matched": [item_json(i) for i in found.matched],
            "waivers": [w._asdict() for w in found.waivers]}


def as_json(result: Any) -> dict[str, Any]:
    if isinstance(result, LogResult):
        return {"filters": {"stack": result.stack, "type": result.type, "since": result.since,
                            "until": result.until},
                "entries": [entry_json(e) for e in result.entries]}
    if isinstance(result, ShowResult):
        return {"entry": entry_json(result.entry), "document": result.document,
                "files": [dataclasses.asdict(f) for f in result.files],
                "linked": [entry_json(e) for e in result.linked]}
    if isinstance(result, AtResult):
        out: dict[str, Any] = {
            "stack": result.stack, "time": result.time, "deployed": result.entry is not None,
            "entry": entry_json(result.entry) if result.entry else None,
            "live_from": result.live_from, "live_until": result.live_until,
            "aibom": result.aibom,
            "first": entry_json(result.first) if result.first else None}
        for kind in ITEM_KINDS:
            out[_PLURAL[kind]] = [item_json(i) for i in result.of(kind)]
        return out
    if isinstance(result, SearchResult):
        return {"field": result.field, "value": result.value,
                "decisions": [{"entry": entry_json(d.entry),
                               "results": [dataclasses.asdict(r) for r in d.results]}
                              for d in result.decisions],
                "deployments": [_deployment_json(d) for d in result.deployments],
                "total": result.total, "limit": result.limit,
                "ranges": [{"stack": r.stack, "live_from": r.live_from,
                            "live_until": r.live_until, "entries": list(r.entries)}
                           for r in result.ranges]}
    if isinstance(result, Reindexed):
        return dataclasses.asdict(result)
    raise TypeError(f"no JSON rendering for {type(result).__name__}")


def render_json(result: Any) -> str:
    if isinstance(result, DiffResult):
        return render_diff_json(result)
    return json.dumps(as_json(result), indent=2, sort_keys=True) + "\n"


# -- text ---------------------------------------------------------------------------------------


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    shown = [[terminal(str(c)) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in shown) for i in range(len(header))]
    lines = []
    for row in shown:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _short(value: str | None, size: int = 12) -> str:
    if not value:
        return "-"
    return value.removeprefix("sha256:")[:size]


def _until(value: str | None) -> str:
    return value if value else "(still live)"


def _about(entry: EntrySummary) -> str:
    if entry.type == "decision":
        return f"verdict {entry.verdict}, decision {_short(entry.decision_id, 16)}"
    if entry.type == "aibom":
        return f"AIBOM {entry.serial_number}"
    if entry.type == "approval":
        return f"approves waiver {entry.waiver}"
    ordered = sorted(entry.links, key=lambda link: (link.role != "decision", link.role))
    links = ", ".join(f"{link.role} #{link.seq}" if link.seq is not None
                      else f"{link.role} {_short(link.hash)} (not in this ledger)"
                      for link in ordered)
    return f"rests on {links}" if links else ""


def _signer(entry: EntrySummary) -> str:
    """As the bundle declares it (unverified), with the trust version when a root is pinned."""
    signer = entry.signer or "(unsigned)"
    return signer if entry.trust_version is None else f"{signer}, trust #{entry.trust_version}"


def _entry_rows(entries: Sequence[EntrySummary]) -> list[list[str]]:
    return [[f"#{e.seq}", _short(e.hash), e.time, e.type, e.stack or "-", _short(e.revision),
             e.actor, _signer(e), _about(e)] for e in entries]


_ENTRY_HEADER = ["#", "hash", "time", "type", "stack", "revision", "actor", "signer", "what"]


def _log_text(result: LogResult) -> list[str]:
    filters = [f"{k} {v}" for k, v in (("stack", result.stack), ("type", result.type),
                                       ("since", result.since), ("until", result.until)) if v]
    where = f" ({', '.join(filters)})" if filters else ""
    if not result.entries:
        return [f"no ledger entries{where}"]
    return [*_columns(_ENTRY_HEADER, _entry_rows(result.entries), ""),
            _count(len(result.entries), "entry") + where]


def _show_text(result: ShowResult) -> list[str]:
    entry, document = result.entry, result.document
    lines = [f"ledger entry #{entry.seq} ({entry.type})"]
    fields = [["hash", entry.hash], ["commit", entry.commit], ["time", entry.time],
              ["actor", entry.actor], ["signer", _signer(entry)],
              ["revision", entry.revision or "-"], ["stack", entry.stack or "-"],
              ["prev", document.get("prev") or "-"]]
    fields += [[f"details.{k}", str(v)] for k, v in sorted(document.get("details", {}).items())]
    lines += _columns(["field", "value"], fields)
    if entry.links:
        lines.append("links")
        lines += _columns(["role", "#", "hash", "type", "time"], [
            [link.role, f"#{link.seq}" if link.seq is not None else "-", link.hash,
             *next(([e.type, e.time] for e in result.linked if e.seq == link.seq),
                   ["(not in this ledger)", "-"])] for link in entry.links])
    lines.append("files")
    lines += _columns(["name", "size", "digest", "role"],
                      [[f.name, str(f.size), f.digest, f.role] for f in result.files])
    return lines


def _items_text(kind: str, items: Sequence[DeployedItem]) -> list[str]:
    if not items:
        return []
    title = _PLURAL[kind]
    if kind in ("model", "dataset"):
        rows = [[i.name, i.version or "-", i.digest or "-"] for i in items]
        return [title, *_columns(["name", "revision", "digest"], rows)]
    if kind == "environment":
        return [title, *_columns(["name"], [[i.name] for i in items])]
    if kind == "image":
        rows = [[i.environment or "-", i.name, i.digest or i.version or "-", i.purl or "-"]
                for i in items]
        return [title, *_columns(["environment", "image", "digest", "purl"], rows)]
    rows = [[i.environment or "-", i.name, i.version or "-", i.purl or "-"] for i in items]
    return [title, *_columns(["environment", "name", "version", "purl"], rows)]


def _at_text(result: AtResult) -> list[str]:
    entry = result.entry
    if entry is None:
        if result.first is not None:
            why = (f"its first {result.first.type}, #{result.first.seq}, is at "
                   f"{result.first.time}")
        else:
            why = f"no apply or rollback of {result.stack} is recorded"
        return [f"nothing was deployed to {result.stack} at {result.time} ({why})"]
    lines = [f"{result.stack} at {result.time}: {entry.type} #{entry.seq} of revision "
             f"{entry.revision or '-'}",
             f"live from {result.live_from} until {_until(result.live_until)}; "
             f"ledger entry {entry.hash} (commit {entry.commit}), {_about(entry)}"]
    if result.aibom != "ok":
        lines.append({"no-link": "the entry links to no AIBOM entry of this ledger: what it "
                                 "deployed is unknown",
                      "unreadable": "its AIBOM entry holds no readable aibom.cdx.json: what it "
                                    "deployed is unknown",
                      "no-stack": f"its AIBOM does not describe stack {result.stack}"
                      }.get(result.aibom or "", f"AIBOM: {result.aibom}"))
    for kind in ITEM_KINDS:
        lines += _items_text(kind, result.of(kind))
    return lines


def _matched(items: Sequence[DeployedItem]) -> str:
    """`torch 2.6.0 (vllm-serve)`; a model by its digest, the thing that identifies weights."""
    shown = []
    for i in items:
        what = (i.digest if i.kind == "model" else i.version) or i.version or i.digest or ""
        shown.append(f"{i.name} {what}".strip()
                     + (f" ({i.environment})" if i.environment else ""))
    return "; ".join(shown)


def _count(number: int, noun: str) -> str:
    if number == 1:
        return f"1 {noun}"
    return f"{number} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def _search_text(result: SearchResult) -> list[str]:
    stacks = sorted({r.stack for r in result.ranges})
    head = f"{result.field} {result.value}: "
    parts = []
    if result.field in ("policy", "waiver"):
        verb = "reported" if result.field == "policy" else "used"
        parts.append(f"{verb} by " + _count(len(result.decisions), "decision entry"))
    parts.append(_count(result.total, "deployment") + " on "
                 + _count(len(stacks), "stack") + (f" ({', '.join(stacks)})" if stacks else ""))
    lines = [head + ", ".join(parts)]
    if result.decisions:
        lines.append("decisions")
        rows = []
        for hit in result.decisions:
            for r in hit.results:
                how = f"waived by {r.waiver}" if r.waived else (r.severity or "-")
                rows.append([f"#{hit.entry.seq}", hit.entry.time, _short(hit.entry.revision),
                             hit.entry.verdict or "-", r.policy, f"{r.kind} {r.name}",
                             f"{r.file}:{r.line}", how, _approvers(r.approved_by, r.waived)])
        lines += _columns(["#", "time", "revision", "verdict", "policy", "object", "where",
                           "result", "approved by"], rows)
    if result.ranges:
        lines.append("live")
        lines += _columns(["stack", "from", "until", "entries"], [
            [r.stack, r.live_from, _until(r.live_until), ", ".join(f"#{s}" for s in r.entries)]
            for r in result.ranges])
    if result.deployments:
        shown = len(result.deployments)
        lines.append("deployments" + (f" (the first {shown} of {result.total}; --limit 0 "
                                      "lists all)" if shown < result.total else ""))
        header = ["#", "type", "stack", "revision", "from", "until"]
        rows = [[f"#{d.entry.seq}", d.entry.type, d.stack, _short(d.entry.revision),
                 d.live_from, _until(d.live_until)] for d in result.deployments]
        if result.field in ("package", "model"):
            header.append("matched")
            for row, found in zip(rows, result.deployments, strict=True):
                row.append(_matched(found.matched))
        else:
            header.append("decision")
            for row, found in zip(rows, result.deployments, strict=True):
                row.append(next((f"#{link.seq}" for link in found.entry.links
                                 if link.role == "decision"), "-"))
        if result.field == "waiver":
            header += ["approved by", "at deploy time"]
            for row, found in zip(rows, result.deployments, strict=True):
                use = found.waivers[0] if found.waivers else None
                row += [_approvers(use.approvers if use else (), True), _validity(use)]
        lines += _columns(header, rows)
    return lines


def _approvers(approvers: Sequence[str], waived: bool) -> str:
    if not waived:
        return "-"
    return ", ".join(approvers) or "(none verified)"


def _validity(use: WaiverUse | None) -> str:
    """`valid (expires 2026-11-25)`, `expired 2026-11-25`, or `not recorded`."""
    if use is None or use.valid_at_deploy is None:
        return "not recorded"
    if not use.valid_at_deploy:
        return f"expired {use.expires}"
    return f"valid (expires {use.expires})" if use.expires else "valid (no expiry)"


def _reindex_text(result: Reindexed) -> list[str]:
    return [f"{result.kind}: indexed {result.entries} entries ({result.deployments} "
            f"deployments, {result.deployed_items} deployed items, {result.policy_results} "
            f"policy results) in {result.seconds:.2f} s into {result.path}"]


_TEXT: dict[type, Callable[[Any], list[str]]] = {
    LogResult: _log_text, ShowResult: _show_text, AtResult: _at_text,
    SearchResult: _search_text, Reindexed: _reindex_text}


def render_text(result: Any) -> str:
    if isinstance(result, DiffResult):
        return render_diff_text(result)
    render = _TEXT.get(type(result))
    if render is None:
        raise TypeError(f"no text rendering for {type(result).__name__}")
    return "\n".join(terminal(line) for line in render(result)) + "\n"


def render_markdown(result: Any) -> str:
    if not isinstance(result, DiffResult):
        raise TypeError(f"no markdown rendering for {type(result).__name__}")
    return render_diff_markdown(result)


RENDERERS: dict[str, Callable[[Any], str]] = {"text": render_text, "json": render_json,
                                              "markdown": render_markdown}
