"""Lock files of Environments, one parser per format, all producing `LockFile`.

The same parse feeds the policy input (ENV-001, ENV-003) and the AIBOM, so the two can never
disagree about what an environment contains. Never reads a file itself: parsers get one file's
text, and what it includes (`-r`) is resolved by the catalog loader.

Which format a file is, by its name and, for `.txt`/`.in`, its content:

- `uv.lock`: uv's lock file;
- `pylock.toml`, `pylock.<name>.toml`: PEP 751;
- `conda-lock.yml` / `conda-lock.yaml` (and `*.conda-lock.yml`): conda-lock's unified file;
- `pixi.lock`: pixi's lock file (rattler-lock versions 5, 6 and 7);
- any other `*.lock` (`conda-<platform>.lock` as `conda-lock render --kind explicit` names it,
  or a name of the project's own, such as scikit-learn's `..._linux-64_conda.lock`): conda
  explicit, which its `@EXPLICIT` line proves;
- `*.txt`, `*.in` with an `@EXPLICIT` line (`conda list --explicit --md5 > explicit.txt`):
  conda explicit;
- any other `*.txt`, `*.in`: pip requirements.

conda explicit files and pip requirements share the `.txt` extension, so content decides:
conda itself recognises an explicit file by its `@EXPLICIT` line, and no requirements file pip
accepts has one.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from engine.catalog.lockfiles.model import LockedPackage, LockFile
from engine.errors import InputError

__all__ = ["FORMATS", "LockFile", "LockedPackage", "lockfile_family", "lockfile_format",
           "parse_lockfile", "parse_requirements_file", "require_lockfile_family"]

FORMATS = ("requirements", "pylock", "uv", "conda", "conda-lock", "pixi")
# The families of names whose format only their content decides: requirements or conda
# explicit (`.txt`, `.in`), conda explicit or none govops reads (another `.lock`).
TEXT = "text"
LOCK = "lock"


def lockfile_family(path: str) -> str | None:
    """What the file name alone says: a format of FORMATS, "text" (requirements or conda,
    decided by content) or None (not a lock file govops reads). Parses are cached by family and
    blob id: the same bytes under a name of another family parse differently."""
    name = PurePosixPath(path).name
    if name == "uv.lock":
        return "uv"
    if name == "pixi.lock":
        return "pixi"
    if name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml")):
        return "pylock"
    if name in ("conda-lock.yml", "conda-lock.yaml") or name.endswith(
            (".conda-lock.yml", ".conda-lock.yaml")):
        return "conda-lock"
    if name.startswith("conda-") and name.endswith(".lock"):
        return "conda"
    if name.endswith(".lock"):
        return LOCK
    if name.endswith((".txt", ".in")):
        return TEXT
    return None


def require_lockfile_family(path: str) -> str:
    family = lockfile_family(path)
    if family is None:
        raise InputError(path, None, "unknown lock file format (expected pip requirements "
                         "*.txt, pylock.toml, uv.lock, pixi.lock, conda-lock.yml or a conda "
                         "explicit file: *.txt or *.lock with an @EXPLICIT line)")
    return family


def lockfile_format(path: str, text: str) -> str | None:
    """The format of the lock file at `path` with content `text`, or None if unknown."""
    family = lockfile_family(path)
    if family not in (TEXT, LOCK):
        return family
    from engine.catalog.lockfiles.conda import is_explicit

    if is_explicit(text):
        return "conda"
    return "requirements" if family == TEXT else None


def parse_lockfile(path: str, text: str) -> LockFile:
    # Parsers are imported on use: with a warm cache the check path never parses a lock file.
    require_lockfile_family(path)
    fmt = lockfile_format(path, text)
    if fmt is None:
        raise InputError(path, None, "unknown lock file format: a .lock file other than "
                         "uv.lock is read as a conda explicit file, and this one has no "
                         "@EXPLICIT line (poetry.lock and Pipfile.lock are not lock formats "
                         "govops reads)")
    if fmt == "pylock":
        from engine.catalog.lockfiles.pylock import parse_pylock

        return parse_pylock(path, text)
    if fmt == "uv":
        from engine.catalog.lockfiles.uv import parse_uv_lock

        return parse_uv_lock(path, text)
    if fmt == "conda":
        from engine.catalog.lockfiles.conda import parse_conda_explicit

        return parse_conda_explicit(path, text)
    if fmt == "conda-lock":
        from engine.catalog.lockfiles.conda_lock import parse_conda_lock

        return parse_conda_lock(path, text)
    if fmt == "pixi":
        from engine.catalog.lockfiles.pixi import parse_pixi_lock

        return parse_pixi_lock(path, text)
    return parse_requirements_file(path, text)


def parse_requirements_file(path: str, text: str) -> LockFile:
    """A file named by `-r`: pip reads it as requirements whatever its name."""
    from engine.catalog.lockfiles.requirements import parse_requirements

    return parse_requirements(path, text)
