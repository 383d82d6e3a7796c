"""A real RFC 3161 timestamp authority on 127.0.0.1: OpenSSL's own `openssl ts -reply` behind a
small HTTP handler (one process per request, as a CGI would), with a root CA and a TSA
certificate (extended key usage timeStamping) made for the test. Started and stopped by the
fixture that uses it."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.attest.timestamp import TimestampAuthority

CONFIG = """[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.57264.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _certificates(folder: Path, name: str, expired: bool) -> tuple[str, str]:
    """(root PEM, TSA PEM); the TSA's private key goes to folder/tsa.key. An `expired` TSA's
    certificate ended yesterday."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} root")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - dt.timedelta(days=400))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=400))
            .not_valid_after(now - dt.timedelta(days=1) if expired
                             else now + dt.timedelta(days=3650))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    (folder / "tsa.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    pem = serialization.Encoding.PEM
    return ca.public_bytes(pem).decode(), leaf.public_bytes(pem).decode()


@dataclass(frozen=True)
class Tsa:
    url: str
    authority: TimestampAuthority
    chain_file: Path  # the TSA certificate then the root, PEM, for `govops trust add-tsa`
    requests: list[bytes]  # every request body received, in order


def _handler(folder: Path, requests: list[bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            requests.append(body)
            with tempfile.TemporaryDirectory(dir=folder) as work:
                query, reply = Path(work) / "q.der", Path(work) / "r.der"
                query.write_bytes(body)
                done = subprocess.run(["openssl", "ts", "-reply", "-config",
                                       str(folder / "openssl.cnf"), "-queryfile", str(query),
                                       "-out", str(reply)], capture_output=True, check=False)
                if done.returncode != 0:
                    self.send_error(500, done.stderr.decode(errors="replace")[-200:])
                    return
                data = reply.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def start_tsa(folder: Path, name: str = "test TSA", expired: bool = False
              ) -> tuple[Tsa, ThreadingHTTPServer]:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed for the test timestamp authority")
    folder.mkdir(parents=True, exist_ok=True)
    root, leaf = _certificates(folder, name, expired)
    (folder / "tsa.pem").write_text(leaf)
    (folder / "serial").write_text("01\n")
    (folder / "openssl.cnf").write_text(CONFIG.format(dir=folder))
    chain = folder / "chain.pem"
    chain.write_text(leaf + root)
    requests: list[bytes] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(folder, requests))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    return Tsa(url, TimestampAuthority(name, url, (leaf, root)), chain, requests), server


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[Tsa]:
    """A TSA on 127.0.0.1 for one test; stopped (and its port closed) afterwards."""
    started, server = start_tsa(tmp_path / "tsa")
    try:
        yield started
    finally:
        server.shutdown()
        server.server_close()
