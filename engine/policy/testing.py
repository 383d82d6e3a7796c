"""`govops policy test`: run the `test_*` rules of Rego test modules, like `opa test`.

Same backends as `check`, so a test that passes here passes where the policy runs; a test that
errors (for example a builtin the backend lacks) counts as failed, never as passed.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.encoding import decode_utf8
from engine.errors import GovopsError, InputError
from engine.policy.backends import RegoBackend
from engine.policy.explain import opa_test
from engine.policy.library import Library, PolicyBundle, PolicyModule, build_bundle
from engine.policy.metadata import package_of
from engine.policy.rego_v0 import HINT, upgrade_v0

_TEST_RULE = re.compile(r"^(test_\w+)\b", re.M)
# What OPA and rego-cpp say of v0 syntax read as v1.
_V0_SIGNS = ("`if` keyword is required", "var cannot be used for rule name",
             "`contains` keyword is required")


@dataclass(frozen=True)
class TestCase:
    package: str
    rule: str  # the rule evaluated
    path: str
    line: int
    name: str = ""  # as reported: OPA's `test_x#01` for a second `test_x`; else the rule

    @property
    def shown(self) -> str:
        return self.name or self.rule


@dataclass(frozen=True)
class TestResult:
    case: TestCase
    status: str
    detail: str
    seconds: float | None  # OPA's own timing of this test; None when no `opa` timed it


@dataclass(frozen=True)
class TestReport:
    engine: str
    results: tuple[TestResult, ...]
    coverage: dict[str, float] | None
    v0: tuple[str, ...] = ()  # modules read as Rego v0 (engine.policy.rego_v0)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.status == "pass")

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed


def discover(modules: Sequence[PolicyModule]) -> list[TestCase]:
    cases: dict[tuple[str, str], TestCase] = {}
    for module in modules:
        if not module.is_test:
            continue
        package = package_of(module.source)
        if package is None:
            raise InputError(module.path, 1, "no package declaration")
        for match in _TEST_RULE.finditer(module.source):
            line = module.source.count("\n", 0, match.start()) + 1
            rule = match.group(1)
            name = _shown_name(rule)
            key = (package, rule)
            cases.setdefault(key, TestCase(package, rule, module.path, line,
                                           "" if name == rule else name))
    return sorted(cases.values(), key=lambda c: (c.path, c.line))


_SAME_NAME = "__govops_same_name_"


def _shown_name(rule: str) -> str:
    """`test_x__govops_same_name_01` as OPA names it: `test_x#01`."""
    base, _, number = rule.partition(_SAME_NAME)
    return f"{base}#{number}" if number else rule


def separate_same_names(modules: Sequence[PolicyModule]) -> list[PolicyModule]:
    """Test modules with every repeated test name of a package made its own rule: Rego joins
    `test_x if a` and `test_x if b` into one rule (true if either holds), but `opa test` runs
    each as a test (the second reported as `test_x#01`), so a failing one is not hidden by a
    passing one of the same name."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for module in modules:
        package = package_of(module.source) if module.is_test else None
        if package is None:
            out.append(module)
            continue
        pieces, last = [], 0
        for match in _TEST_RULE.finditer(module.source):
            count = seen.get((package, match.group(1)), 0)
            seen[(package, match.group(1))] = count + 1
            if count:
                pieces += [module.source[last:match.end(1)], f"{_SAME_NAME}{count:02d}"]
                last = match.end(1)
        out.append(PolicyModule(module.path, "".join(pieces) + module.source[last:])
                   if pieces else module)
    return out


_DATA_SUFFIXES = (".json", ".yaml", ".yml")


def _disk_modules(paths: Sequence[Path]) -> list[PolicyModule]:
    modules: list[PolicyModule] = []
    for root in paths:
        if not root.exists():
            raise InputError(str(root), None, "no such file or directory")
        files = sorted(root.rglob("*.rego")) if root.is_dir() else [root]
        for path in files:
            if path.suffix in _DATA_SUFFIXES:
                continue  # data, read by _disk_data
            modules.append(PolicyModule(str(path), decode_utf8(str(path), path.read_bytes())))
    return modules


def _disk_data(paths: Sequence[Path]) -> dict[str, Any]:
    """The JSON and YAML files under `paths` as `opa test` loads them: each file's document
    at the path of its folder below the root given (`x/anything.json` is data.x; a file given
    itself, at the root), all merged; two files giving one key different values is an error,
    as it is for OPA."""
    data: dict[str, Any] = {}
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.suffix in _DATA_SUFFIXES) \
            if root.is_dir() else [root] if root.suffix in _DATA_SUFFIXES else []
        for path in files:
            where = path.parent.relative_to(root).parts if root.is_dir() else ()
            document = _data_file(path)
            for part in reversed(where):
                document = {part: document}
            _merge(data, document, str(path))
    return data


def _data_file(path: Path) -> Any:
    text = decode_utf8(str(path), path.read_bytes())
    try:
        if path.suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), exc.lineno, f"malformed JSON: {exc.msg}") from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InputError(str(path), line, f"malformed YAML: {exc.problem}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise InputError(str(path), None, f"not a data file: {type(exc).__name__}") from None


def _merge(base: dict[str, Any], extra: Any, where: str, at: str = "data") -> None:
    if not isinstance(extra, dict):
        raise InputError(where, None, f"{at} must be an object to hold this file's data")
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, where, f"{at}.{key}")
        elif key in base and base[key] != value:
            raise InputError(where, None, f"{at}.{key} is given another value by an earlier "
                             "data file (OPA refuses the merge too)")
        else:
            base[key] = value


def run_tests(backend: RegoBackend, paths: Sequence[Path] = (),
              modules: Sequence[PolicyModule] | None = None,
              timed: bool = False, only: re.Pattern[str] | None = None) -> TestReport:
    """Tests of the default library, or of `paths` (or of `modules`, a repo's own policies)
    evaluated on top of the library. With an `opa` binary at hand (engine.policy.explain), a
    failing test says which expression failed and, `timed`, every test has its own duration
    (OPA's test runner's); otherwise the backend's answer alone."""
    from engine.catalog import Config

    originals: dict[str, str] = {}
    v0: list[str] = []
    if paths or modules is not None:
        library = Library.load()
        extra = list(modules) if modules is not None else _disk_modules(paths)
        known = {m.source for m in library.modules}
        local = [m for m in extra if m.source not in known]
        if modules is None:  # a suite on disk: v0 as OPA reads it (a repo's policies are v1)
            originals = {m.path: m.source for m in local}
            local, v0 = upgrade_v0(local)
        local = separate_same_names(local)
    else:
        library = Library.load(include_tests=True)
        local = []
    bundle = build_bundle(library, local, Config(path=None))
    if paths:  # data files beside the policies, as `opa test` reads them
        data = copy.deepcopy(dict(bundle.data))
        _merge(data, _disk_data(paths), "the data files")
        bundle = PolicyBundle(bundle.modules, data, bundle.digest)
    try:
        backend.load(bundle.modules, bundle.data)
    except InputError as exc:
        if paths and not v0 and any(sign in exc.message for sign in _V0_SIGNS):
            raise InputError(exc.path, exc.line, f"{exc.message} ({HINT})") from None
        raise
    cases = _lines_of_originals(discover(bundle.modules), originals, set(v0))
    if only is not None:
        cases = [c for c in cases if only.search(f"data.{c.package}.{c.shown}")]
    packages = sorted({c.package for c in cases})
    results = _explained(_run_batch(backend, packages, cases), bundle, timed,
                         {path: originals[path] for path in v0})
    results.sort(key=lambda r: (r.case.path, r.case.line))
    coverage = _coverage(backend, packages, bundle.modules)
    if coverage is not None and local:  # the library's own tests did not run: not its coverage
        mine = {m.path for m in local}
        coverage = {path: percent for path, percent in coverage.items() if path in mine}
    return TestReport(backend.name, tuple(results), coverage, tuple(v0))


def _lines_of_originals(cases: list[TestCase], originals: dict[str, str],
                        converted: set[str]) -> list[TestCase]:
    """Cases of a converted v0 module at their lines in the file as written (the nth test of
    a name at the nth head of that name), not in OPA's v1 rewrite of it."""
    if not converted:
        return cases
    heads: dict[tuple[str, str], list[int]] = {}
    for path in converted:
        source = originals[path]
        for match in _TEST_RULE.finditer(source):
            heads.setdefault((path, match.group(1)), []).append(
                source.count("\n", 0, match.start()) + 1)
    out: list[TestCase] = []
    used: dict[tuple[str, str], int] = {}
    for case in cases:  # in file order (discover): the nth of a name is the nth head
        name = case.shown.split("#")[0]
        lines = heads.get((case.path, name))
        if case.path not in converted or not lines:
            out.append(case)
            continue
        nth = used.get((case.path, name), 0)
        used[(case.path, name)] = nth + 1
        line = lines[nth] if nth < len(lines) else case.line
        out.append(TestCase(case.package, case.rule, case.path, line, case.name))
    return out


def _run_batch(backend: RegoBackend, packages: list[str],
               cases: list[TestCase]) -> list[TestResult]:
    """All packages in one query; when it errors, each package alone, then each test alone,
    so an error is pinned on the test that raised it."""
    mine = [c for c in cases if c.package in packages]
    if not mine:
        return []
    try:
        values = dict(zip(packages, backend.run_packages(packages), strict=True))
    except GovopsError:
        if len(packages) > 1:
            return [r for p in packages for r in _run_batch(backend, [p], cases)]
        return _run_each(backend, mine)
    results = []
    for case in mine:
        value = values[case.package].get(case.rule)
        ok = value is True
        results.append(TestResult(case, "pass" if ok else "fail",
                                  "" if ok else f"got {value!r}", None))
    return results


def _explained(results: list[TestResult], bundle: PolicyBundle, timed: bool,
               originals: dict[str, str] | None = None) -> list[TestResult]:
    """Failures with the expression that failed and, `timed`, each test with its duration,
    where OPA's test runner can say; in a converted v0 module (`originals`: its source as
    written), at the line of the file as written."""
    asked = [(r.case.package, r.case.rule) for r in results if timed or r.status == "fail"]
    if not asked:
        return results
    traced = opa_test(bundle.modules, bundle.data, asked)
    out = []
    for result in results:
        seconds, failure = traced.get((result.case.package, result.case.rule), (None, None))
        detail = result.detail
        if failure is not None and result.status == "fail":
            path, line, text = failure
            if originals and path in originals:
                line = _written_line(originals[path], result.case.line, text, line)
            detail = f"fails at {path}:{line}: {text}" + (f" ({detail})" if detail else "")
        out.append(TestResult(result.case, result.status, detail,
                              seconds if seconds is not None else result.seconds))
    return out


def _written_line(source: str, after: int, text: str, fallback: int) -> int:
    """The first line from `after` on whose text is `text` (the expression OPA names, in its
    v1 rewrite of the module), in the module as written."""
    for number, written in enumerate(source.splitlines()[after - 1:], start=after):
        if written.strip() == text.strip():
            return number
    return fallback


def _run_each(backend: RegoBackend, cases: list[TestCase]) -> list[TestResult]:
    results = []
    for case in cases:
        started = time.perf_counter()
        outcome = backend.run_test(case.package, case.rule)
        results.append(TestResult(case, outcome.status, outcome.detail,
                                  time.perf_counter() - started))
    return results


def _coverage(backend: RegoBackend, packages: Sequence[str],
              modules: Sequence[PolicyModule]) -> dict[str, float] | None:
    report = backend.coverage(packages)
    if report is None:
        return None
    policy_paths = {m.path for m in modules if not m.is_test}
    percent: dict[str, float] = {}
    for path, lines in sorted(report.items()):
        if path not in policy_paths:
            continue
        covered, missed = len(lines["covered"]), len(lines["not_covered"])
        if covered + missed:
            percent[path] = 100.0 * covered / (covered + missed)
    return percent
