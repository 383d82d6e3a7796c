"""The evidence pack's report.html, rendered by a real browser (Debian's chromium, headless,
offline): an auditor who does not use a terminal sees the deployment, the chain it rests on,
the keys to compare, the verdict, the AIBOM summary and what changed since the previous
deployment (issue 16). A screenshot is written beside the pack."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from engine.cli.audit import audit_export
from engine.ledger.store import Ledger
from engine.repo import open_repo
from tests.ledger.test_audit_diff import NEW_DIGEST, Deployed, deployed
from tests.support.cli import govops, invoke

__all__ = ["deployed"]  # the fixture, used by name


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium "
                    "(apt-get install chromium) as root")
    return found


def _browse(html_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND", *args,
         html_file.as_uri()], capture_output=True, text=True, timeout=120, check=False)


class _Texts(HTMLParser):
    """The text inside each element that has an id, as the browser's DOM holds it."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str | None] = []
        self.texts: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("meta", "br", "link", "img", "input"):
            return
        self.open.append(dict(attrs).get("id"))

    def handle_endtag(self, tag: str) -> None:
        if self.open and tag not in ("meta", "br", "link", "img", "input"):
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for element in self.open:
            if element:
                self.texts[element] = self.texts.get(element, "") + data


@pytest.fixture(scope="module")
def pack(deployed: Deployed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report") / "pack"
    run = invoke(audit_export, "--repo", str(deployed.repo), "--output", str(folder),
                 str(deployed.applies[1]))
    assert run.exit_code == 0, run.stderr
    return folder


def test_the_report_needs_nothing_from_the_network(pack: Path) -> None:
    page = (pack / "report.html").read_text()
    assert not re.search(r"""(?i)\b(src|href|action)\s*=""", page)
    assert "<script" not in page.lower()
    assert "default-src 'none'" in page
    # Not evidence, so the pack still verifies with it beside the signed files.
    assert govops("verify", "--pack", str(pack)).exit_code == 0


def test_chromium_renders_the_scripted_facts(deployed: Deployed, pack: Path) -> None:
    done = _browse(pack / "report.html", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    parser = _Texts()
    parser.feed(done.stdout)
    texts = parser.texts
    entry = Ledger(open_repo(deployed.repo)).entries()[deployed.applies[1] - 1]
    assert entry.hash in texts["entry"] and "prod-inference" in texts["entry"]
    chain = texts["chain"]
    assert "this entry" in chain and "decision" in chain and "aibom" in chain
    assert texts["verdict"] == "pass"
    assert "sha256:" in texts["keys"]
    assert "llama-3-8b-instruct" in texts["models"] and NEW_DIGEST in texts["models"]
    assert "machine-learning-model" in texts["aibom"]
    diff = texts["diff"]
    assert "~ torch 2.6.0 -> 2.7.0 (vllm-serve) [version, digest]" in diff
    assert "spec.replicas: 2 -> 4" in diff
    assert "~ llama-3-8b-instruct sha256:087bb836" in diff


def test_a_screenshot_is_written(pack: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _browse(pack / "report.html", f"--screenshot={shot}", "--window-size=1200,2600")
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
