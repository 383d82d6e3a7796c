"""engine.atomic writes a file whole by a rename; a target that is no regular file is a device
or a pipe, which a rename would replace: `govops bom --output /dev/null`, run as root, turned
/dev/null into a regular file holding the AIBOM (and every later reader of /dev/null read it)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from engine.atomic import write_all_or_none, write_atomically
from engine.repo.scripted import Step
from tests.support.cli import govops
from tests.support.repos import fixture, make_repo, unwaived


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomically(fifo, "the report\n")
    reader.join(timeout=10)
    assert got == [b"the report\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_regular_files_are_still_replaced_whole(tmp_path: Path) -> None:
    old = tmp_path / "a.json"
    old.write_text("old")
    write_all_or_none({old: "new", tmp_path / "b.json": b"bytes"})
    assert old.read_text() == "new" and (tmp_path / "b.json").read_bytes() == b"bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]


def test_output_to_dev_null_leaves_dev_null_a_device(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, Step("acme", unwaived(fixture("acme-ml"))))
    for command in (["check", "--engine", "opa"], ["bom"]):
        run = govops(*command, "--repo", str(repo), "--output", os.devnull)
        assert run.exit_code in (0, 1), run.stderr
        assert stat.S_ISCHR(os.stat(os.devnull).st_mode), command
    assert Path(os.devnull).read_bytes() == b""
