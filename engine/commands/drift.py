"""`govops drift --stack S`: has the cluster moved away from the stack's last apply or rollback
outside govops? Two views, both without changing anything:

- the live read-back (engine.deploy.readback): every object the deployment recorded, read from
  the API server and compared on the fields govops sets; objects gone; objects labelled as the
  stack's that no manifest names;
- Pulumi's refresh in preview mode: what the engine's state would have to take in.

The deployment compared with is the stack's last apply or rollback entry, verified like the
deploy gate verifies (its signature under the trust in force then, its digests and recorded
manifests). With a signer, the answer is appended as a signed `drift` entry linking it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from engine.attest import statement as st
from engine.attest.signers import SignerOptions, sign_file
from engine.attest.trust_config import trust_root_loader
from engine.clock import utc_now
from engine.commands.deployment import run_request
from engine.commands.plan import spec_at
from engine.commands.trust import recording_signer, verifier_trust
from engine.deploy import pulumi_run, readback
from engine.deploy.applied import last_deployed, recorded_manifests
from engine.deploy.gate import GatePassed, verify_entry
from engine.deploy.manifests import parse_recorded
from engine.errors import GovopsError
from engine.ledger.chain import check_anchors
from engine.ledger.drafts import actor
from engine.ledger.entry import Draft, StoredEntry
from engine.ledger.rewrite import refuse_rewritten
from engine.ledger.store import Ledger
from engine.repo import open_repo
from engine.shipped import programs_dir

DRIFT_FILE = "drift.json"
DRIFT_RECEIPT = "drift.sigstore.json"


@dataclass(frozen=True)
class DriftOptions:
    repo: Path
    stack: str
    signer: SignerOptions | None = None  # given: --record
    backend_url: str | None = None
    trust_root: str | None = None
    programs: Path | None = None


@dataclass(frozen=True)
class Drifted:
    stack: str
    deployment: StoredEntry
    live: readback.LiveState
    refresh: dict[str, int]  # the refresh preview's changes (op -> count), "same" left out
    entry: StoredEntry | None = None  # the drift entry, with --record

    @property
    def drifted(self) -> bool:
        return not self.live.matches or bool(self.refresh)

    def as_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "drifted": self.drifted,
                "deployment": {"type": self.deployment.entry.type,
                               "seq": self.deployment.entry.seq,
                               "hash": self.deployment.hash,
                               "revision": self.deployment.entry.revision},
                "live": self.live.as_json(), "refresh": self.refresh}


def _gate_of(ledger: Ledger, item: StoredEntry) -> GatePassed:
    """The decision and AIBOM entries the deployment rests on (linked, so verified by the
    chain's rules whenever `audit verify` ran)."""
    by_hash = {e.hash: e for e in ledger.entries()}
    decision = by_hash.get(item.entry.links.get("decision", ""))
    aibom = by_hash.get(item.entry.links.get("aibom", ""))
    if decision is None or aibom is None or item.entry.revision is None:
        raise GovopsError(f"{item.entry.type} entry #{item.entry.seq} links no decision and "
                          "AIBOM entries: nothing to compare the cluster with")
    return GatePassed(item.entry.revision, decision, aibom)


def _refresh_changes(request: pulumi_run.RunRequest, command: auto.PulumiCommand,
                     environ: dict[str, str] | None) -> dict[str, int]:
    try:
        stack = pulumi_run.open_stack(request, command, environ, create=False)
        result = stack.preview_refresh(message=request.message)
    except auto.errors.CommandError as exc:
        raise pulumi_run.PulumiFailed(f"pulumi refresh preview failed for stack "
                                      f"{request.spec.name}: {pulumi_run.last_line(exc)}"
                                      ) from None
    return {str(op): int(n) for op, n in sorted(result.change_summary.items())
            if str(op) != "same" and n}


def run_drift(options: DriftOptions, pulumi_command: auto.PulumiCommand | None = None,
              environ: dict[str, str] | None = None) -> Drifted:
    repo = open_repo(options.repo)
    ledger = Ledger(repo)
    history = verifier_trust(repo, options.trust_root)
    check_anchors(ledger, history.anchors)
    refuse_rewritten(ledger)  # so is one rewritten since it was verified
    item = last_deployed(ledger, options.stack)
    if item is None:
        raise GovopsError(f"stack {options.stack} has no apply or rollback in the ledger: "
                          "nothing to compare the cluster with")
    trust_config = trust_root_loader(options.signer.trust_config if options.signer else None)
    verify_entry(item, item.entry.revision or "", history.signers_at, trust_config)
    files = recorded_manifests(item)
    if files is None:
        raise GovopsError(f"{item.entry.type} entry #{item.entry.seq} recorded no manifests: "
                          "nothing to compare the cluster with")
    gate = _gate_of(ledger, item)
    spec = spec_at(repo, options.stack, gate)
    live = readback.read_back(parse_recorded(files), spec.cluster_context, options.stack)
    command = pulumi_command if pulumi_command is not None else pulumi_run.pulumi_cli()
    programs = options.programs or programs_dir()
    request = run_request(repo, spec, programs, options.backend_url,
                          f"govops drift {options.stack} (against {item.entry.type} entry "
                          f"#{item.entry.seq})")
    drifted = Drifted(options.stack, item, live, _refresh_changes(request, command, environ))
    if options.signer is None:
        return drifted
    signer = recording_signer(options.repo, options.signer)
    text = json.dumps(drifted.as_json(), indent=2, sort_keys=True) + "\n"
    receipt = sign_file(signer, st.DRIFT, repo.name, gate.commit, DRIFT_FILE, text)
    entry = ledger.append(Draft(
        type="drift", revision=gate.commit, stack=options.stack,
        files={DRIFT_FILE: text.encode("utf-8"), DRIFT_RECEIPT: receipt.encode()},
        links={"deployment": item.hash},
        details={"drifted": drifted.drifted, "liveDigest": live.digest}),
        signer, actor(repo), utc_now())
    return Drifted(drifted.stack, item, live, drifted.refresh, entry)
