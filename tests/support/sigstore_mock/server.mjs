// Offline Sigstore services for govops tests.
//
// Serves the Sigstore project's own mock Fulcio (with its CT log) and Rekor v1 from
// @sigstore/mock over real HTTP on 127.0.0.1, so that sigstore-python can sign and verify
// against them through a ClientTrustConfig. @sigstore/mock ships request handlers that expect
// sigstore-js's requests; sigstore-python sends the same API a little differently, so each
// request goes through a small adapter first (see adaptFulcioRequest and adaptRekorRequest).
//
// Usage: node tests/support/sigstore_mock/server.mjs
// Listens on free ports (port 0), then prints one JSON line on stdout:
//   {"fulcio": URL, "rekor": URL, "ca_certificate": b64 DER, "ctlog_public_key": b64 DER SPKI,
//    "rekor_public_key": b64 DER SPKI}
// and serves until SIGTERM/SIGINT or until its stdin is closed (the parent went away).
// One line per request is logged on stderr.

import crypto from 'node:crypto';
import http from 'node:http';

import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  rekorHandler,
} from '@sigstore/mock';

const HOST = '127.0.0.1';
const MAX_BODY = 4 * 1024 * 1024;

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const log = (message) => process.stderr.write(`sigstore-mock: ${message}\n`);
const sha256hex = (data) => crypto.createHash('sha256').update(data).digest('hex');
const spki = (keyPair) => keyPair.publicKey.export({ format: 'der', type: 'spki' });
const newKeyPair = () => crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

function decodeJwtClaims(token) {
  const parts = token.split('.');
  if (parts.length !== 3) {
    throw new HttpError(401, 'identity token is not a JWT');
  }
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new HttpError(401, 'identity token claims are not JSON');
  }
}

// Fulcio. sigstore-python (FulcioSigningCert.post) sends
//   Authorization: Bearer <token>
//   {"certificateSigningRequest": base64(PEM CSR)}
// (the protobuf `bytes` field, hence base64), while the mock reads the token from
// body.credentials.oidcIdentityToken and parses certificateSigningRequest as PEM text.
// So: move the token into the body and decode the CSR. Like the real Fulcio, refuse a request
// without a bearer token, or whose token is expired or not meant for Sigstore. (The token's
// signature is not checked: the mock issues a certificate for whatever `sub`/`iss` it carries.)
function adaptFulcioRequest(headers, body) {
  const auth = headers.authorization || '';
  const match = /^Bearer\s+(\S+)$/i.exec(auth);
  if (!match) {
    throw new HttpError(401, 'missing bearer token in the Authorization header');
  }
  const token = match[1];
  const claims = decodeJwtClaims(token);
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audience.includes('sigstore')) {
    throw new HttpError(401, 'identity token audience is not "sigstore"');
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) {
    throw new HttpError(401, 'identity token is expired');
  }

  const request = JSON.parse(body);
  if (typeof request.certificateSigningRequest === 'string') {
    const pem = Buffer.from(request.certificateSigningRequest, 'base64').toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
      throw new HttpError(400, 'certificateSigningRequest is not a base64-encoded PEM CSR');
    }
    request.certificateSigningRequest = pem;
  } else if (!request.publicKeyRequest) {
    throw new HttpError(400, 'neither certificateSigningRequest nor publicKeyRequest given');
  }
  request.credentials = { oidcIdentityToken: token };
  return JSON.stringify(request);
}

// DSSE pre-authentication encoding (DSSE v1.0 envelope spec).
function pae(payloadType, payload) {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

// Rekor v1. sigstore-python proposes a dsse entry as
//   {"kind": "dsse", "apiVersion": "0.0.1",
//    "spec": {"proposedContent": {"envelope": "<envelope JSON>", "verifiers": [b64 PEM cert]}}}
// The real Rekor does not store that: it checks each signature against the verifiers and
// stores {envelopeHash, payloadHash, signatures: [{signature, verifier}]}, and that stored body
// is what sigstore-python's Verifier reads back from the bundle (payload hash and signatures
// must match the envelope). The mock stores the proposed entry as is, so reshape it here, the
// way Rekor does, before the mock canonicalizes it, signs the SET and the checkpoint.
// hashedrekord entries are stored as proposed, so they pass through.
function adaptRekorRequest(body) {
  const entry = JSON.parse(body);
  const proposed = entry?.spec?.proposedContent;
  if (entry.kind !== 'dsse' || !proposed) {
    return body;
  }
  if (entry.apiVersion !== '0.0.1') {
    throw new HttpError(400, `unsupported dsse version ${entry.apiVersion}`);
  }
  const envelope = JSON.parse(proposed.envelope);
  const payload = Buffer.from(envelope.payload, 'base64');
  const message = pae(envelope.payloadType, payload);
  const verifiers = (proposed.verifiers || []).map((b64) => ({
    b64,
    key: new crypto.X509Certificate(Buffer.from(b64, 'base64')).publicKey,
  }));
  const signatures = (envelope.signatures || []).map(({ sig }) => {
    const signature = Buffer.from(sig, 'base64');
    const verifier = verifiers.find(({ key }) => crypto.verify('sha256', message, key, signature));
    if (!verifier) {
      throw new HttpError(400, 'dsse: no verifier matches the envelope signature');
    }
    return { signature: signature.toString('base64'), verifier: verifier.b64 };
  });
  if (signatures.length === 0) {
    throw new HttpError(400, 'dsse: envelope has no signatures');
  }
  return JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256hex(proposed.envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256hex(payload) },
      signatures,
    },
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, body, contentType) {
  const data = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': data.length });
  res.end(data);
}

// Serve one mock handler ({path, fn}) behind an adapter on its own server.
function serve(name, server, handler, adapt) {
  server.on('request', async (req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    let status = 500;
    let reply = ['', 'text/plain'];
    try {
      if (req.method !== 'POST' || path !== handler.path) {
        throw new HttpError(404, `no route for ${req.method} ${path}`);
      }
      const body = await readBody(req);
      const result = await handler.fn(adapt(req.headers, body));
      status = result.statusCode;
      reply = [result.response, result.contentType || 'text/plain'];
    } catch (error) {
      status = error instanceof HttpError ? error.status : 400;
      reply = [JSON.stringify({ code: status, message: error.message }), 'application/json'];
    }
    // Logged before the answer leaves: a client that has its answer finds the line written.
    log(`${name} ${req.method} ${path} -> ${status}`);
    send(res, status, ...reply);
  });
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(`http://${HOST}:${server.address().port}`));
  });
}

async function main() {
  const caKeys = newKeyPair();
  const ctlogKeys = newKeyPair();
  const rekorKeys = newKeyPair();

  const fulcioServer = http.createServer();
  const rekorServer = http.createServer();
  const fulcioURL = await listen(fulcioServer);
  const rekorURL = await listen(rekorServer);

  const ctlog = await initializeCTLog(ctlogKeys);
  const ca = await initializeCA(caKeys, ctlog);
  // The checkpoint origin is the Rekor URL's host:port.
  const tlog = await initializeTLog(rekorURL, rekorKeys);

  serve('fulcio', fulcioServer, fulcioHandler(ca, { strict: true }), adaptFulcioRequest);
  serve('rekor', rekorServer, rekorHandler(tlog, { strict: true }), (_, body) =>
    adaptRekorRequest(body),
  );

  const shutdown = () => {
    fulcioServer.close();
    rekorServer.close();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();

  process.stdout.write(
    `${JSON.stringify({
      fulcio: fulcioURL,
      rekor: rekorURL,
      ca_certificate: ca.rootCertificate.toString('base64'),
      ctlog_public_key: spki(ctlogKeys).toString('base64'),
      rekor_public_key: spki(rekorKeys).toString('base64'),
    })}\n`,
  );
}

main().catch((error) => {
  log(`failed to start: ${error.stack || error}`);
  process.exit(1);
});
