"""Run a Pulumi program in Pulumi's mock mode and capture every resource it registers.

`pulumi.runtime.set_mocks` replaces the engine and the resource monitor with in-process mocks:
each registration reaches `_Recorder.new_resource` with its type, name, provider reference and
fully resolved inputs, already deserialised the way the engine would see them. The program runs
inside `pulumi.runtime.test`, which clears the RPC bookkeeping first and then waits for every
outstanding registration before returning, so the capture is complete when `capture` reads it.
Each run installs fresh mocks and settings, so runs in one process do not see each other.

Never starts the Pulumi engine, a language host or a provider plugin, and never reaches a cluster.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
import pulumi.runtime
import pulumi.runtime.resource

from engine.errors import GovopsError

PROVIDER_PREFIX = "pulumi:providers:"


class ProgramError(GovopsError):
    """A program that cannot be found, loaded or run to completion."""


@dataclass(frozen=True)
class Registered:
    """One resource as the program registered it."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    provider: str | None
    custom: bool

    @property
    def is_provider(self) -> bool:
        return self.type.startswith(PROVIDER_PREFIX)


class _Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs,
                     ) -> tuple[str | None, dict[Any, Any]]:
        self.registered.append(Registered(args.typ, args.name, dict(args.inputs),
                                          args.provider or None, bool(args.custom)))
        return f"{args.name}-id", {}  # no outputs: resolving them is most of the cost

    def call(self, args: pulumi.runtime.MockCallArgs,
             ) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        raise ProgramError(f"a plan cannot call {args.token}: programs must not invoke functions")


@contextlib.contextmanager
def without_overhead() -> Iterator[None]:
    """Make a mock run and its normalisation cheap, and undo it afterwards.

    Pulumi allocates many short-lived futures per resource; the cyclic garbage collector then
    walks them again and again (40% of a 500-object plan), so it is paused for the run (reference
    counting still frees them). Each registration also walks the Python stack for source
    positions that only the engine's diagnostics use; without an engine there is nobody to read
    them, so that walk is skipped while the program runs (if this Pulumi SDK has it).
    """
    runtime = pulumi.runtime.resource
    original = getattr(runtime, "_get_stack_trace", None)
    enabled = gc.isenabled()
    gc.disable()
    if original is not None:
        from pulumi.runtime.proto import source_pb2

        runtime._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        if original is not None:
            runtime._get_stack_trace = original
        if enabled:
            gc.enable()


def capture(program: Callable[[Any], None], spec: Any, project: str, stack: str,
            ) -> list[Registered]:
    """Run `program(spec)` against fresh mocks; return its registrations in the order made."""
    recorder = _Recorder()
    # As a preview (a plan is one): the same inputs, and Pulumi skips resolving outputs that a
    # plan never reads (20% of a 500-object run). An input that would need another resource's
    # output is unknown in a preview, and manifest_of refuses unknowns with a clear error.
    pulumi.runtime.set_mocks(recorder, project=project, stack=stack, preview=True)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> None:
        program(spec)

    try:
        with without_overhead():
            run()
    except GovopsError:
        raise
    except Exception as exc:
        raise ProgramError(f"program {project!r} failed: {type(exc).__name__}: {exc}") from exc
    return recorder.registered


_loaded: dict[Path, ModuleType] = {}


def load_program(directory: Path) -> Callable[[Any], None]:
    """`program(spec)` of the program in `directory` (its program.py)."""
    path = (directory / "program.py").resolve()
    if path in _loaded:
        return _program_of(_loaded[path], path)
    if not path.is_file():
        raise ProgramError(f"{directory}: no Pulumi program (expected program.py)")
    name = f"govops_stack_program_{len(_loaded)}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ProgramError(f"{path}: cannot be loaded")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    _loaded[path] = module
    return _program_of(module, path)


def _program_of(module: ModuleType, path: Path) -> Callable[[Any], None]:
    func = getattr(module, "program", None)
    if not callable(func):
        raise ProgramError(f"{path}: defines no program(spec)")
    return func  # type: ignore[no-any-return]
