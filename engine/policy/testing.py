"""`govops policy test`: run the `test_*` rules of Rego modules, like `opa test`.

Same backends as `check`, so a test that passes here passes where the policy runs; a test that
errors (for example a builtin the backend lacks) counts as failed, never as passed. What
`opa test` does, this does: every `test_` rule of every module is a test (not only those of
`_test.rego` files), a `todo_test_` rule is a skipped one, and a builtin error is undefined
(opa test does not stop on it, where `check` does): the backends stop on builtin errors, so a
test that stops on one is given the verdict of OPA's own test runner, and says so.
"""

from __future__ import annotations

import copy
import difflib
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
from engine.policy.explain import Failure, Traced, opa_test
from engine.policy.library import Library, PolicyBundle, PolicyModule, build_bundle
from engine.policy.metadata import package_of
from engine.policy.rego_v0 import HINT, upgrade_v0

_TEST_RULE = re.compile(r"^(test_\w+)\b", re.M)
_CASE_RULE = re.compile(r"^((?:todo_)?test_\w+)\b", re.M)  # todo_test_: skipped, as opa test does
_SKIPPED = "todo_test_"
_BUILTIN_ERROR = "eval_builtin_error"
_ERROR_CODE = re.compile(r"\b(?:eval|rego)_\w+_error\b")
_OPA_ENGINES = ("opa", "opa-server")
# What OPA and rego-cpp say of v0 syntax read as v1.
_V0_SIGNS = ("`if` keyword is required", "var cannot be used for rule name",
             "`contains` keyword is required", "keyword cannot be used for")


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

    @property
    def skipped(self) -> bool:
        return self.rule.startswith(_SKIPPED)


@dataclass(frozen=True)
class TestResult:
    case: TestCase
    status: str  # pass | fail | error | skip
    detail: str
    seconds: float | None  # OPA's own timing of this test; None when no `opa` timed it
    output: str = ""  # what the test printed, as OPA's test runner captured it
    failed_at: Failure | None = None  # the expression of the test that failed (OPA's trace)

    def as_json(self) -> dict[str, Any]:
        """In the shape of one result of `opa test --format json` (location, package, name,
        fail / error / skip, duration in ns, output), plus govops' status and detail; output
        is text, not base64."""
        case = self.case
        out: dict[str, Any] = {"location": {"file": case.path, "row": case.line},
                               "package": f"data.{case.package}", "name": case.shown,
                               "status": self.status, "detail": self.detail}
        if self.status in ("fail", "error", "skip"):
            out[self.status] = {"message": self.detail} if self.status == "error" else True
        if self.seconds is not None:
            out["duration"] = round(self.seconds * 1e9)
        if self.output:
            out["output"] = self.output
        if self.failed_at is not None:
            path, line, text = self.failed_at
            out["failed_at"] = {"file": path, "row": line, "text": text}
        return out


@dataclass(frozen=True)
class TestReport:
    engine: str
    results: tuple[TestResult, ...]
    coverage: dict[str, float] | None
    v0: tuple[str, ...] = ()  # modules read as Rego v0 (engine.policy.rego_v0)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def passed(self) -> int:
        return self.count("pass")

    @property
    def skipped(self) -> int:
        return self.count("skip")

    @property
    def failed(self) -> int:
        """Failed or errored: what fails the run."""
        return len(self.results) - self.passed - self.skipped

    def as_json(self) -> dict[str, Any]:
        return {"engine": self.engine, "v0": list(self.v0),
                "counts": {s: self.count(s) for s in ("pass", "fail", "error", "skip")},
                "coverage": self.coverage,
                "results": [r.as_json() for r in self.results]}


def discover(modules: Sequence[PolicyModule]) -> list[TestCase]:
    """The tests of `modules`: every `test_` and `todo_test_` rule, as `opa test` finds them
    in any module, whatever its file name. Skipped ones of one name are each reported, as
    OPA reports them."""
    cases: dict[tuple[str, str, int], TestCase] = {}
    for module in modules:
        package = package_of(module.source)
        if package is None:
            if _CASE_RULE.search(module.source):
                raise InputError(module.path, 1, "no package declaration")
            continue
        for match in _CASE_RULE.finditer(module.source):
            line = module.source.count("\n", 0, match.start()) + 1
            rule = match.group(1)
            name = _shown_name(rule)
            key = (package, rule, line if rule.startswith(_SKIPPED) else 0)
            cases.setdefault(key, TestCase(package, rule, module.path, line,
                                           "" if name == rule else name))
    return sorted(cases.values(), key=lambda c: (c.path, c.line))


_SAME_NAME = "__govops_same_name_"
_RENAMED = re.compile(_SAME_NAME + r"\d+")


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
        package = package_of(module.source)
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
    failing test says which expression failed and what it printed and, `timed`, every test
    has its own duration (OPA's test runner's); otherwise the backend's answer alone."""
    from engine.catalog import Config

    originals: dict[str, str] = {}
    v0: list[str] = []
    refused: dict[str, str] = {}
    if paths or modules is not None:
        library = Library.load()
        extra = list(modules) if modules is not None else _disk_modules(paths)
        known = {m.source for m in library.modules}
        local = [m for m in extra if m.source not in known]
        if modules is None:  # a suite on disk: v0 as OPA reads it (a repo's policies are v1)
            originals = {m.path: m.source for m in local}
            upgraded = upgrade_v0(local)
            local, v0, refused = upgraded.modules, upgraded.converted, upgraded.refused
        local = separate_same_names(local)
        tested = local
    else:
        library = Library.load(include_tests=True)
        local = []
        tested = [m for m in library.modules if m.is_test]
    bundle = build_bundle(library, local, Config(path=None))
    if paths:  # data files beside the policies, as `opa test` reads them
        data = copy.deepcopy(dict(bundle.data))
        _merge(data, _disk_data(paths), "the data files")
        bundle = PolicyBundle(bundle.modules, data, bundle.digest)
    try:
        backend.load(bundle.modules, bundle.data)
    except InputError as exc:
        if exc.path in v0:  # OPA's converter made it v1 that does not load: where written
            line = _line_maps(originals, [exc.path], local)[exc.path].get(exc.line or 0)
            raise InputError(exc.path, line or exc.line, f"{exc.message} (in OPA's v1 rewrite "
                             "of this Rego v0 module: opa fmt --v0-v1)") from None
        if paths and any(sign in exc.message for sign in _V0_SIGNS):
            if exc.path in refused:
                raise InputError(exc.path, exc.line, f"{exc.message} (read as Rego v0, OPA's "
                                 f"converter refuses it: {refused[exc.path]})") from None
            if not v0:
                raise InputError(exc.path, exc.line, f"{exc.message} ({HINT})") from None
        if backend.name not in _OPA_ENGINES and not any(
                name in exc.message for name in ("regopy", "rego-cpp")):
            raise InputError(exc.path, exc.line, f"{exc.message} (rego-cpp, the regopy "
                             "backend, refuses it; OPA may not: --engine opa)") from None
        raise
    cases = _lines_of_originals(discover(tested), originals, set(v0))
    if only is not None:
        cases = [c for c in cases if only.search(f"data.{c.package}.{c.shown}")]
    runnable = [c for c in cases if not c.skipped]
    packages = sorted({c.package for c in runnable})
    maps = _line_maps(originals, v0, bundle.modules)
    results = [_as_written(r, originals, maps) for r in _with_runner(
        _run_batch(backend, packages, runnable), bundle, backend.name, timed)]
    results += [TestResult(c, "skip", "", None) for c in cases if c.skipped]
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
        for match in _CASE_RULE.finditer(source):
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
                                  "" if ok or value is None else f"got {value!r}", None))
    return results


def _with_runner(results: list[TestResult], bundle: PolicyBundle, engine: str,
                 timed: bool) -> list[TestResult]:
    """The results with what OPA's test runner adds where an `opa` binary can say: of a
    failing test, the expression that failed and what it printed; `timed`, each test's
    duration. Where the backend cannot answer as `opa test` does, the
    runner's verdict:

    - a builtin error stops every backend (strict, as `check` must be) but is an undefined
      for `opa test`: on an OPA backend the test takes the runner's verdict, and says so;
    - rego-cpp is asked about every test, and a verdict of its that OPA's runner does not give
      is an error naming both, never a silent pass or fail."""
    regopy = engine not in _OPA_ENGINES
    asked = [(r.case.package, r.case.rule) for r in results
             if timed or regopy or r.status != "pass"]
    if not asked:
        return results
    traced = opa_test(bundle.modules, bundle.data, asked)
    return [_joined(result, traced.get((result.case.package, result.case.rule)), engine)
            for result in results]


def _joined(result: TestResult, runner: Traced | None, engine: str) -> TestResult:
    if runner is None:
        return result
    status, detail = result.status, result.detail
    if status == "error" and _BUILTIN_ERROR in detail and runner.status != "error":
        if engine in _OPA_ENGINES:
            status = runner.status
            detail = (f"a builtin error, undefined for opa test: OPA's test runner says "
                      f"{runner.status} (the {engine} backend stops on it: {detail})")
        else:
            detail = (f"{detail} (a builtin error, undefined for opa test: OPA's test runner "
                      f"says {runner.status})")
    elif status == "error" and runner.status == "error":
        code = _ERROR_CODE.search(runner.error)
        if engine in _OPA_ENGINES and code is not None and code.group(0) in detail:
            detail = runner.error  # the same error, in the words of opa test
        elif runner.error:
            detail = f"{detail} (OPA's test runner: {runner.error})"
    elif engine not in _OPA_ENGINES and status != runner.status:
        if status == "error":
            detail = f"{detail} (OPA's test runner says {runner.status})"
        else:
            detail = (f"rego-cpp says {status}, OPA's test runner says {runner.status}"
                      + (f" ({detail})" if detail else ""))
            status = "error"
    failed_at = runner.failure if status == "fail" else None
    return TestResult(result.case, status, detail,
                      runner.seconds if runner.seconds is not None else result.seconds,
                      runner.output, failed_at)


def _line_text(source: str, line: int, fallback: str) -> str:
    lines = source.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else fallback


def _line_maps(originals: dict[str, str], converted: Sequence[str],
               modules: Sequence[PolicyModule]) -> dict[str, dict[int, int]]:
    """For each module converted from v0: line of OPA's v1 rewrite -> line as written. The
    rewrite keeps the order of what it rewrites, changing heads (`deny[msg] {` ->
    `deny contains msg if {`), indentation and imports: lines that are the same, stripped,
    are matched, and a changed one is placed at the written line it replaces."""
    sources = {m.path: m.source for m in modules}
    maps: dict[str, dict[int, int]] = {}
    for path in converted:
        if path not in sources:
            continue
        written = [line.strip() for line in originals[path].splitlines()]
        rewritten = [_RENAMED.sub("", line).strip() for line in sources[path].splitlines()]
        placed: dict[int, int] = {}
        matcher = difflib.SequenceMatcher(None, written, rewritten, autojunk=False)
        for _, i1, i2, j1, j2 in matcher.get_opcodes():
            for j in range(j1, j2):  # equal, replace, insert: the written line it stands for
                placed[j + 1] = min(i1 + (j - j1), max(i2 - 1, i1), len(written) - 1) + 1
        maps[path] = placed
    return maps


_LOCATED = re.compile(r"(?P<path>[^\s:()]+\.rego):(?P<line>\d+)")


def _as_written(result: TestResult, originals: dict[str, str],
                maps: dict[str, dict[int, int]]) -> TestResult:
    """The result located in the files as written (`originals`; `maps`: the lines of those
    converted from v0): the expression that failed, and every `file.rego:line` of the detail
    (OPA locates errors in its v1 rewrite); a failure's detail opens with where it failed."""

    def place(match: re.Match[str]) -> str:
        path = match.group("path")
        placed = maps.get(path) or maps.get("/" + path) or {}
        line = int(match.group("line"))
        return f"{path}:{placed.get(line, line)}"

    detail = _LOCATED.sub(place, result.detail) if maps else result.detail
    failed_at = result.failed_at
    if failed_at is not None:
        path, line, text = failed_at
        line = maps.get(path, {}).get(line, line)
        text = _line_text(originals[path], line, text) if path in originals \
            else _RENAMED.sub("", text)
        failed_at = (path, line, text)
        detail = f"fails at {path}:{line}: {text}" + (f" ({detail})" if detail else "")
    return TestResult(result.case, result.status, detail, result.seconds, result.output,
                      failed_at)


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
