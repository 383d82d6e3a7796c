"""OSV advisory records read from disk (`--advisories DIR`, the records shipped with the
policies), and the digest that identifies a set of them in AIBOM serial numbers.

A malformed file is an input error naming it and its line; two records with one id are refused
rather than silently shadowing each other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.encoding import decode_utf8
from engine.errors import InputError


def check_record(shown: str, line: int, record: Any) -> None:
    """An InputError unless `record` has what matching reads: a string id, a list of
    `affected` objects."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        raise InputError(shown, line, "an OSV record needs a string id")
    affected = record.get("affected", [])
    if not isinstance(affected, list) or not all(isinstance(a, dict) for a in affected):
        raise InputError(shown, line, f"{record['id']}: affected must be a list of objects")


def load_advisory_dir(directory: Path) -> dict[str, dict[str, Any]]:
    """OSV records under a directory, by id: `*.json` files (one record or a list per file, as
    OSV's exports write them) and `*.yaml` files (the PyPA advisory database's form,
    `vulns/<package>/<id>.yaml`), in subfolders too. A malformed file is an input error naming
    it and its line."""
    if not directory.is_dir():
        raise InputError(str(directory), None, "--advisories needs a directory of OSV records "
                         "(.json, or .yaml as in the PyPA advisory database)")
    records: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    paths = sorted(p for p in directory.rglob("*")
                   if p.suffix in (".json", ".yaml", ".yml") and p.is_file())
    for path in paths:
        shown = str(path)
        loaded = _read(path, shown)
        for record in loaded if isinstance(loaded, list) else [loaded]:
            check_record(shown, 1, record)
            if record["id"] in records:
                raise InputError(shown, 1, f"advisory {record['id']} is also in "
                                 f"{origin[record['id']]}")
            records[record["id"]] = record
            origin[record["id"]] = shown
    return records


def _read(path: Path, shown: str) -> Any:
    return parse_record_file(shown, path.read_bytes(), path.suffix == ".json")


def parse_record_file(shown: str, data: bytes, is_json: bool) -> Any:
    """What a record file holds (a record, or a list of them): OSV JSON, or YAML as the
    PyPA advisory database writes it; an InputError naming `shown` and the line otherwise."""
    text = decode_utf8(shown, data)
    if is_json:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(shown, exc.lineno, f"malformed JSON: {exc.msg}") from None
        except RecursionError:
            raise InputError(shown, None, "malformed JSON: nested too deeply") from None
    # Every scalar a string, as in OSV's JSON: a YAML 1.1 reader would turn an unquoted
    # version such as 1.10 into the float 1.1, and a date into a datetime.
    try:
        return yaml.load(text, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InputError(shown, mark.line + 1 if mark else None,
                         f"malformed YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(shown, None, f"malformed YAML: {exc}") from None
    except RecursionError:
        raise InputError(shown, None, "malformed YAML: nested too deeply") from None


def advisories_digest(records: Mapping[str, Any]) -> str:
    encoded = json.dumps(records, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(encoded.encode("utf-8")).hexdigest()
