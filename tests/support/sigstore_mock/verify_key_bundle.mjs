// Cross-check of a key-signed Sigstore bundle with sigstore-js (@sigstore/verify).
//
// Usage: node tests/support/sigstore_mock/verify_key_bundle.mjs BUNDLE.json PUBLIC_KEY.pem
//
// BUNDLE.json is a Sigstore bundle (v0.3) whose verification material is a public key hint
// (no certificate), with no transparency log entry, carrying a DSSE envelope with an in-toto
// payload: what `cosign attest-blob --key` and govops's key signer write. The key that is
// trusted is the PEM file, never the hint: whatever the hint says, the signature must verify
// with PUBLIC_KEY.pem. Such a bundle has no log entry, no SCT and no signed timestamp, so the
// Verifier's thresholds for those are 0.
//
// Exit 0 and one JSON line on stdout ({"verified": true, "hint", "payloadType",
// "predicateType"}) when the bundle verifies; exit 1 with the reason on stderr when it does not;
// exit 2 on a usage error.

import crypto from 'node:crypto';
import fs from 'node:fs';

import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const IN_TOTO = 'application/vnd.in-toto+json';

function fail(message, code = 1) {
  process.stderr.write(`verify_key_bundle: ${message}\n`);
  process.exit(code);
}

const args = process.argv.slice(2);
if (args.length !== 2) {
  fail('usage: verify_key_bundle.mjs BUNDLE.json PUBLIC_KEY.pem', 2);
}
const [bundlePath, keyPath] = args;

let key;
try {
  key = crypto.createPublicKey(fs.readFileSync(keyPath));
} catch (error) {
  fail(`cannot load public key ${keyPath}: ${error.message}`, 2);
}

try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const material = bundle.verificationMaterial.content;
  if (material.$case !== 'publicKey') {
    fail(`not a key bundle: verification material is ${material.$case}`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') {
    fail(`not a DSSE bundle: content is ${bundle.content.$case}`);
  }
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO) {
    fail(`unexpected DSSE payloadType ${JSON.stringify(envelope.payloadType)}`);
  }

  // Empty trusted root: no CA, no log, no TSA. Every hint resolves to the given key.
  const trust = toTrustMaterial(
    { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
    () => ({ publicKey: key, validFor: () => true }),
  );
  const verifier = new Verifier(trust, {
    tlogThreshold: 0,
    ctlogThreshold: 0,
    timestampThreshold: 0,
  });
  verifier.verify(toSignedEntity(bundle));

  const statement = JSON.parse(envelope.payload.toString('utf8'));
  process.stdout.write(
    `${JSON.stringify({
      verified: true,
      hint: material.publicKey.hint,
      payloadType: envelope.payloadType,
      predicateType: statement.predicateType ?? null,
    })}\n`,
  );
} catch (error) {
  fail(`${error.name}: ${error.message}`);
}
