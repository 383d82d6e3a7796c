"""Benchmark the key path of receipts: DSSE sign + bundle, and full verification (bundle
parse, signature against trust.keys, statement, subjects), in receipts per second.

Each receipt is a decision statement of a real fixture check (~1 KB of predicate) about one
commit and one covered file; verification includes hashing that file. Median of several runs.

    python benchmarks/attest_bench.py [--receipts 1000] [--runs 5] [--trusted-keys 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import ec

from engine.attest import statement as st
from engine.attest.keys import generate, load_public
from engine.attest.signers import KeySigner
from engine.attest.trust import TrustedKey, TrustPolicy
from engine.attest.verify import Expectation, verify_receipt

COMMIT = "5f0b02c75b57c5855da9ae460ce51323ea669d8a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trusted-keys", type=int, default=3,
                        help="keys in trust.keys; ours is listed last (hints pick it first)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        private, public = generate(Path(tmp) / "ci")
        signer = KeySigner(private)
        others = [TrustedKey(f"keys/other-{i}.pub", ec.generate_private_key(
            ec.SECP256R1()).public_key()) for i in range(args.trusted_keys - 1)]
        trust = TrustPolicy((*others, TrustedKey("keys/ci.pub",
                                                 load_public(public.read_bytes(), "ci.pub"))),
                            ())
    decision = json.dumps({"verdict": "pass", "decision_id": "sha256:" + "ab" * 32,
                           "results": [], "waived": [], "objects": 14}, indent=2).encode()
    payloads = []
    for i in range(args.receipts):
        covered = decision.replace(b"14", str(i).encode())
        payloads.append((covered, st.payload(st.statement(
            st.DECISION, json.loads(covered), "acme-ml", COMMIT,
            [st.Covered("decision.json", covered)]))))
    sign_rates, verify_rates = [], []
    bundles: list[tuple[bytes, bytes]] = []
    for _ in range(args.runs):
        started = time.perf_counter()
        bundles = [(covered, signer.sign(payload).encode()) for covered, payload in payloads]
        sign_rates.append(len(bundles) / (time.perf_counter() - started))
        started = time.perf_counter()
        for covered, bundle in bundles:
            verify_receipt(bundle, trust, Expectation(st.DECISION, covered, COMMIT))
        verify_rates.append(len(bundles) / (time.perf_counter() - started))
    size = sum(len(b) for _, b in bundles) / len(bundles)
    print(f"{args.receipts} receipts of {size / 1000:.1f} KB, {args.trusted_keys} trusted keys, "
          f"ECDSA P-256, median of {args.runs} runs:")
    print(f"  sign   {statistics.median(sign_rates):8.0f} receipts/s")
    print(f"  verify {statistics.median(verify_rates):8.0f} receipts/s (target >= 1,000)")


if __name__ == "__main__":
    main()
