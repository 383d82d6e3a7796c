"""Issue 19's reproductions against the catalog: hostile governed files and lock files give
exit 2 and one line naming the file (and line where there is one), never a traceback, never
a file silently skipped, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check, govops
from tests.support.repos import fixture, make_repo
from tests.support.samples import ENVIRONMENT, GOOD, MODEL

UV_LOCK = (Path(__file__).parents[2] / "fixtures/lockfiles/uv/uv.lock").read_text()
PYLOCK = fixture("acme-ml")["environments/pylock.train.toml"].decode()


WAIVER = """apiVersion: govops.dev/v1
kind: Waiver
metadata:
  name: w
spec:
  policy: MDL-002
  target:
    kind: Model
    name: tiny
  reason: reviewed
  approvedBy: [legal@acme.test]
  expires: 2026-02-30
"""


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _model_with(line: str) -> str:
    return MODEL.replace("  license: MIT\n", f"  license: MIT\n  {line}\n")


def _environment(lockfile: str) -> str:
    return ENVIRONMENT.replace("environments/serve.txt", lockfile)


def _chain(files: int) -> dict[str, str | bytes]:
    """serve.txt includes r1.txt, which includes r2.txt, ... r{files}.txt."""
    chain: dict[str, str | bytes] = {"environments/serve.txt": "-r r1.txt\n"}
    for n in range(1, files):
        chain[f"environments/r{n}.txt"] = f"-r r{n + 1}.txt\n"
    chain[f"environments/r{files}.txt"] = GOOD["environments/serve.txt"]
    return chain


CASES: dict[str, tuple[dict[str, str | bytes], str]] = {
    "a waiver that expires on 30 February": (
        {"waivers/w.yaml": WAIVER},
        "waivers/w.yaml:12: malformed YAML value '2026-02-30': day is out of range for month"),
    "a date that does not exist": (
        {"models/tiny.yaml": _model_with("released: 2026-02-30")},
        "models/tiny.yaml:11: malformed YAML value '2026-02-30': day is out of range for month"),
    "an integer of 4,400 digits": (
        {"models/tiny.yaml": _model_with("size: " + "9" * 4400)},
        "models/tiny.yaml:11: malformed YAML value '9999999999999999999999999999999999999...': "
        "Exceeds the limit (4300 digits)"),
    "a hexadecimal integer Python cannot print": (
        {"models/tiny.yaml": MODEL.replace("kind: Model", "kind: 0x" + "f" * 3600)},
        "models/tiny.yaml:2: integer out of range: at most 4,300 decimal digits"),
    "!!int foo": (
        {"models/tiny.yaml": _model_with("size: !!int foo")},
        "models/tiny.yaml:11: malformed YAML value 'foo': invalid literal for int()"),
    "!!bool maybe": (
        {"models/tiny.yaml": _model_with("pii: !!bool maybe")},
        "models/tiny.yaml:11: malformed YAML value 'maybe': not a bool"),
    "!!timestamp nope": (
        {"models/tiny.yaml": _model_with("released: !!timestamp nope")},
        "models/tiny.yaml:11: malformed YAML value 'nope': failed to construct timestamp"),
    "a raw ESC character": (
        {"models/tiny.yaml": MODEL.replace("license: MIT", "license: MIT\x1b[2J")},
        "models/tiny.yaml:10: character U+001B is not allowed in YAML"),
    "a NUL byte": (
        {"models/tiny.yaml": MODEL.replace("license: MIT", "license: M\x00IT")},
        "models/tiny.yaml:10: character U+0000 is not allowed in YAML"),
    "30,000 nested flow sequences": (
        {"models/tiny.yaml": _model_with("x: " + _deep(30_000))},
        "models/tiny.yaml:11: malformed YAML: exceeded maximum nesting depth"),
    "1,000 nested block mappings": (
        {"models/tiny.yaml": MODEL + "".join(" " * (n + 1) + "k:\n" for n in range(1000))},
        "models/tiny.yaml:"),  # libyaml or govops' own limit, whichever is first
    "33 nested levels": (
        {"models/tiny.yaml": _model_with("x: " + _deep(32))},
        "models/tiny.yaml:11: nested more than 32 levels deep"),
    "500 levels in policies.data": (
        {"govops.yaml": "apiVersion: govops.dev/v1\nkind: Config\npolicies:\n  data:\n"
                        "    x: " + _deep(500) + "\n"},
        "govops.yaml:5: nested more than 32 levels deep"),
    "a UTF-16 Model with a byte order mark": (
        {"models/tiny.yaml": MODEL.encode("utf-16")},
        "models/tiny.yaml: encoded as UTF-16; govops reads UTF-8 text"),
    "a UTF-16 Model without a byte order mark": (
        {"models/tiny.yaml": MODEL.encode("utf-16-be")},
        "models/tiny.yaml: encoded as UTF-16; govops reads UTF-8 text"),
    "a UTF-32 Model": (
        {"models/tiny.yaml": MODEL.encode("utf-32")},
        "models/tiny.yaml: encoded as UTF-32; govops reads UTF-8 text"),
    "a UTF-32 Model without a byte order mark": (
        {"models/tiny.yaml": MODEL.encode("utf-32-le")},
        "models/tiny.yaml: encoded as UTF-32; govops reads UTF-8 text"),
    "a UTF-16 govops.yaml": (
        {"govops.yaml": GOOD["govops.yaml"].encode("utf-16-le")},
        "govops.yaml: encoded as UTF-16; govops reads UTF-8 text"),
    "a UTF-16 lock file": (
        {"environments/serve.txt": GOOD["environments/serve.txt"].encode("utf-16")},
        "environments/serve.txt: encoded as UTF-16; govops reads UTF-8 text"),
    "3,000 nested arrays in uv.lock": (
        {"environments/serve.yaml": _environment("environments/uv.lock"),
         "environments/uv.lock": UV_LOCK + "\n[extra]\nx = " + _deep(3000) + "\n"},
        "environments/uv.lock: malformed TOML: arrays or inline tables nested too deeply"),
    "3,000 nested arrays in pylock.toml": (
        {"environments/serve.yaml": _environment("environments/pylock.toml"),
         "environments/pylock.toml": PYLOCK + "\n[extra]\nx = " + _deep(3000) + "\n"},
        "environments/pylock.toml: malformed TOML: arrays or inline tables nested too deeply"),
    "a -r chain of 1,200 files": (
        _chain(1200),
        "environments/r32.txt:1: -r r33.txt: includes nested more than 32 files deep "
        "(from environments/serve.txt)"),
    "an image with an empty repository name": (
        {"environments/serve.yaml": ENVIRONMENT.replace("ghcr.io/acme/serve@", "ghcr.io/acme/@")},
        "environments/serve.yaml:7: spec.image must be a container image reference"),
    "an image with an upper-case path": (
        {"environments/serve.yaml": ENVIRONMENT.replace("acme/serve", "Acme/serve")},
        "environments/serve.yaml:7: spec.image must be a container image reference"),
    "a key with control characters": (
        {"models/tiny.yaml": _model_with('"bad\\nkey\\u001b[31m": 1')},
        "models/tiny.yaml:11: unknown field spec.bad\\nkey\\x1b[31m"),
}


def _repo(tmp_path: Path, write: dict[str, str | bytes]) -> Path:
    root = tmp_path / "repo"
    make_repo(root, Step("good", GOOD), Step("hostile", write))
    return root


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_is_one_line_exit_2(tmp_path: Path, case: str) -> None:
    write, expected = CASES[case]
    out = tmp_path / "report.json"
    run = check(_repo(tmp_path, write), "--format", "json", "--output", str(out))
    assert_input_error(run, expected, out)
    assert "Traceback" not in run.stderr
    assert "\x1b" not in run.stderr


@pytest.mark.parametrize("command", [
    ("bom",), ("attest", "--key", "KEY", "--output", "OUT"),
    ("pr", "comment", "--base", "HEAD~1", "--head", "HEAD", "--github-repo", "acme/ml",
     "--pr", "7", "--dry-run")])
def test_what_check_refuses_no_later_command_crashes_on(tmp_path: Path,
                                                        command: tuple[str, ...]) -> None:
    """`image: ghcr.io/acme/@sha256:...` passed `check`, then `bom`, `attest` and
    `pr comment` raised ValueError: Invalid purl. Now every command refuses it the same way,
    first."""
    write, expected = CASES["an image with an empty repository name"]
    root = _repo(tmp_path, write)
    assert govops("keygen", "--output", str(tmp_path / "ci")).exit_code == 0
    args = [str(tmp_path / "ci.key") if a == "KEY" else str(tmp_path / "out") if a == "OUT"
            else a for a in command]
    run = govops(*args, "--repo", str(root))
    assert_input_error(run, expected, tmp_path / "out")


@pytest.mark.parametrize("image", [
    "ghcr.io/acme/serve@sha256:" + "1" * 64,
    "registry.example:5000/team/sub/serve:v1.2.3",
    "localhost/serve:latest",
    "serve",
    "[::1]:5000/acme/serve_x__y-z.v1:tag@sha256:" + "a" * 64,
])
def test_valid_image_references_are_accepted(tmp_path: Path, image: str) -> None:
    root = _repo(tmp_path, {"environments/serve.yaml": ENVIRONMENT.replace(
        "ghcr.io/acme/serve@sha256:" + "1" * 64, f'"{image}"')})
    run = check(root, "--format", "json")
    assert run.exit_code in (0, 1), run.stderr
    assert run.json()["objects"] == 2


def test_32_levels_are_accepted(tmp_path: Path) -> None:
    """The limit's other side: spec is level 1, and x's 31 arrays levels 2 to 32."""
    root = _repo(tmp_path, {"models/tiny.yaml": _model_with("x: " + _deep(31))})
    run = check(root, "--format", "json")
    assert "nested more than" not in run.stderr
    assert run.exit_code == 2 and "unknown field spec.x" in run.stderr  # parsed, then judged


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"models/tiny.yaml": MODEL.encode("utf-8-sig")})
    run = check(root, "--format", "json")
    assert run.exit_code in (0, 1), run.stderr
    assert run.json()["objects"] == 2


def test_a_utf16_file_that_is_not_govops_is_still_skipped(tmp_path: Path) -> None:
    """Only a file that is govops' in some encoding is refused; other YAML stays ignored."""
    helm = "apiVersion: v2\nname: chart\n".encode("utf-16")
    root = _repo(tmp_path, {"charts/serve/Chart.yaml": helm})
    run = check(root, "--format", "json")
    assert run.exit_code in (0, 1), run.stderr
    assert run.json()["objects"] == 2


def test_a_govops_file_whose_name_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    """git stores names as bytes: `models/b\\xffd.yaml` reached the signed decision as a
    surrogate and crashed its canonical JSON. It is refused, named with the byte escaped; a
    YAML file of someone else's with such a name is still ignored."""
    bad = MODEL.replace("license: MIT", "license: GPL-3.0")
    root = _repo(tmp_path, {"models/b\udcffd.yaml": bad.replace("name: tiny", "name: b"),
                            "charts/x/t\udcffmpl.yaml": "kind: Deployment\n"})
    out = tmp_path / "report.json"
    run = check(root, "--format", "json", "--output", str(out))
    assert_input_error(run, "models/b\\udcffd.yaml: the file name is not UTF-8; rename the file",
                       out)
