"""Write a file whole or not at all: a crash or an error never leaves half a report, half an
evidence pack or half a checkpoint behind."""

from __future__ import annotations

import glob
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import GovopsError


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def write_atomically(path: Path, text: str | bytes) -> None:
    """Replace `path` with `text` whole. A failure (disk full, file size limit, read-only
    or forbidden folder) is one GovopsError naming the file; the old file, if any, is kept."""
    write_all_or_none({path: text})


def write_all_or_none(files: dict[Path, str | bytes]) -> None:
    """Every file of `files` replaced whole, or none of them (all_or_none with nothing else
    to wait for)."""
    with all_or_none(files):
        pass


@contextmanager
def all_or_none(files: dict[Path, str | bytes]) -> Iterator[None]:
    """Write every file, or none of them: each is written beside its target on entry, and
    only when the block ends without an error are they moved into place (renames, which do
    not fail for want of space). A failure in writing or in the block (the ledger append that
    records them) removes what was written and leaves the targets as they were. A target that
    is a device or a pipe is written into as it is, last."""
    staged: list[tuple[str, Path]] = []
    special: list[tuple[Path, str | bytes]] = []
    target = Path(".")
    try:
        for path, text in files.items():
            target = path.resolve()
            if _special(target):
                special.append((target, text))
            else:
                staged.append((_stage(target, text), target))
    except OSError as exc:
        _remove(staged)
        raise GovopsError(f"{target}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        _remove(staged)
        raise
    try:
        yield
    except BaseException:
        _remove(staged)
        raise
    for tmp, target in staged:
        try:
            os.replace(tmp, target)
        except OSError as exc:
            _remove(staged)
            raise GovopsError(f"{target}: cannot write: {exc.strerror or exc}") from None
        _remove_orphans(target)
    for target, text in special:
        _write_through(target, text)


def _special(target: Path) -> bool:
    """A target that is no regular file (`--output /dev/null`, /dev/stdout, a FIFO): there is
    nothing to replace atomically, and a rename would replace the device itself (as root,
    /dev/null became a regular file holding the report)."""
    try:
        return not stat.S_ISREG(target.stat().st_mode) and not target.is_dir()
    except OSError:
        return False  # not there yet: an ordinary file to create


def _write_through(target: Path, text: str | bytes) -> None:
    """Write into a device or pipe as it is, once everything else has been written."""
    try:
        with open(target, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
    except OSError as exc:
        raise GovopsError(f"{target}: cannot write: {exc.strerror or exc}") from None


def _stage(target: Path, text: str | bytes) -> str:
    """`text` in a temporary file beside `target`, flushed to disk: its path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; reports are ordinary files
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _remove_orphans(target: Path) -> None:
    """Temporary files of `target` left by a writer killed mid-write (over a minute old): a
    crash leaves them beside the output, never in its place."""
    cutoff = time.time() - 60
    for orphan in target.parent.glob(f".{glob.escape(target.name)}.*"):
        try:
            if orphan.stat().st_mtime < cutoff:
                orphan.unlink()
        except OSError:
            continue


def _remove(staged: list[tuple[str, Path]]) -> None:
    for tmp, _ in staged:
        Path(tmp).unlink(missing_ok=True)
