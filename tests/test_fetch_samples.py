"""tools/fetch_samples.py: third-party samples are fetched once, pinned by digest; a download
whose digest differs, or that lacks what the tests read, is refused and leaves nothing that
looks complete. Served from 127.0.0.1 here, as PyPI's file host serves an sdist."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.tool_scripts import load_tool

samples = load_tool("fetch_samples")


def _sdist() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, body in (("proj-1.0/pixi.lock", b"version: 6\npackages: []\n"),
                           ("proj-1.0/README.md", b"# proj\n"),
                           ("proj-1.0/../../escape/pixi.lock", b"version: 6\n")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


@pytest.fixture
def served() -> Iterator[tuple[str, list[str]]]:
    body, hits = _sdist(), []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/proj-1.0.tar.gz", hits
    finally:
        server.shutdown()


def _sample(url: str, digest: str, extract: tuple[str, ...] = ("*/pixi.lock",)) -> Any:
    return samples.Sample("proj", "1.0", "pypi", url, digest, extract=extract)


def test_a_sample_is_fetched_once_and_only_what_tests_read_is_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        served: tuple[str, list[str]]) -> None:
    monkeypatch.setattr(samples, "CACHE", tmp_path)
    url, hits = served
    sample = _sample(url, hashlib.sha256(_sdist()).hexdigest(), ("proj-1.0/pixi.lock",))
    assert samples.fetch(sample) is not None
    folder = tmp_path / "proj-1.0"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file()) == [".complete", "proj-1.0/pixi.lock"]
    assert samples.fetch(sample) is None  # complete: nothing fetched again
    assert len(hits) == 1
    (folder / "proj-1.0" / "pixi.lock").unlink()  # a file removed since: fetched again
    assert samples.fetch(sample) is not None
    assert (folder / "proj-1.0" / "pixi.lock").read_text() == "version: 6\npackages: []\n"
    assert len(hits) == 2
    # Another pin for the same version (a re-uploaded file, an edited pin) is fetched anew,
    # and refused when the download is not it.
    with pytest.raises(samples.FetchError, match="pinned 1111"):
        samples.fetch(_sample(url, "1" * 64))
    assert len(hits) == 3


@pytest.mark.parametrize(("digest", "extract", "message"), [
    ("0" * 64, ("*/pixi.lock",), "pinned 0000"),
    (None, ("*/uv.lock",), "holds nothing matching */uv.lock"),
    # a member that would be written outside the sample's folder (even a pinned one)
    (None, ("*/pixi.lock",), "member 'proj-1.0/../../escape/pixi.lock' leaves its folder"),
])
def test_a_download_that_is_not_the_pinned_one_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: tuple[str, list[str]],
        digest: str | None, extract: tuple[str, ...], message: str) -> None:
    monkeypatch.setattr(samples, "CACHE", tmp_path)
    url, _ = served
    sample = _sample(url, digest or hashlib.sha256(_sdist()).hexdigest(), extract)
    with pytest.raises(samples.FetchError, match=message.replace("*", r"\*")):
        samples.fetch(sample)
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "escape").exists()


def test_a_download_cut_short_is_one_line_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server promises 1,000 bytes and sends 3 (http.client's IncompleteRead, which is
    not an OSError)."""
    monkeypatch.setattr(samples, "CACHE", tmp_path)

    class Short(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"abc")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Short)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/proj-1.0.tar.gz"
        with pytest.raises(samples.FetchError, match="IncompleteRead"):
            samples.fetch(_sample(url, "0" * 64))
    finally:
        server.shutdown()
    assert list(tmp_path.iterdir()) == []


def test_the_pinned_samples_are_in_the_cache() -> None:
    """What `make test` fetched: every pinned sample complete, with the digest it was pinned
    by (a changed pin fetches anew into a folder of its own version)."""
    for sample in samples.SAMPLES:
        done = sample.folder / ".complete"
        assert done.exists(), f"{sample.folder}: run python3 tools/fetch_samples.py"
        pin, *kept = done.read_text().splitlines()
        assert pin.split() == [sample.name, sample.version, sample.sha256]
        assert kept and all((sample.folder / name).is_file() for name in kept)
