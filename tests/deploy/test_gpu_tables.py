"""A repo's own GPU types and precisions (govops.yaml `policies.gpus`, `policies.precisionBits`):
STK-003 sizes workloads with them and plan schedules onto their product label, without a fork
of the library; the shipped entries cannot be redefined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.repo.scripted import Step
from tests.support.cli import assert_input_error, check, govops
from tests.support.repos import NOW, fixture, make_repo, unwaived

CONFIG = "govops.yaml"
STACK = "stacks/prod-inference.yaml"
MODEL = "models/llama-3-8b-instruct.yaml"
B200 = b"""  gpus:
    nvidia-b200:
      memoryGB: 180
      product: NVIDIA-B200
  precisionBits:
    fp4: 4
"""


def repo(tmp_path: Path, tables: bytes, b200: bool = True, fp4: bool = False) -> Path:
    files = unwaived(fixture("acme-ml"))
    assert b"\ntrust:\n" in files[CONFIG]
    files[CONFIG] = files[CONFIG].replace(b"\ntrust:\n", b"\n" + tables + b"trust:\n", 1)
    if b200:
        files[STACK] = files[STACK].replace(b"type: nvidia-h100-80gb", b"type: nvidia-b200")
    if fp4:
        files[MODEL] = files[MODEL].replace(b"precision: bf16", b"precision: fp4")
    make_repo(tmp_path / "repo", Step("acme", files))
    return tmp_path / "repo"


def stk_003(run: Any) -> list[str]:
    return sorted(r["msg"] for r in run.json()["results"] if r["id"] == "STK-003")


def test_a_new_gpu_type_from_govops_yaml_is_sized_and_scheduled(tmp_path: Path) -> None:
    root = repo(tmp_path, B200, fp4=True)
    run = check(root, "--format", "json")
    assert run.exit_code == 0, run.stdout
    assert stk_003(run) == []
    plan = govops("plan", "--repo", str(root), "--stack", "prod-inference", "--output",
                  str(tmp_path / "plan"), "--now", NOW)
    assert plan.exit_code == 0, plan.stderr
    chat = yaml.safe_load((tmp_path / "plan" / "inference.deployment.chat.yaml").read_text())
    assert chat["spec"]["template"]["spec"]["nodeSelector"] == {
        "nvidia.com/gpu.product": "NVIDIA-B200"}


def test_without_the_entries_stk_003_cannot_size_the_workloads(tmp_path: Path) -> None:
    run = check(repo(tmp_path, b"", fp4=True), "--format", "json")
    assert run.exit_code == 1
    found = stk_003(run)
    assert any("nvidia-b200" in m and "which is not in data.govops.gpus" in m
               for m in found), found
    assert any("which is not in data.govops.precisionBits" in m for m in found), found
    plan = govops("plan", "--repo", str(repo(tmp_path / "p", b"")), "--stack",
                  "prod-inference", "--now", NOW)
    assert_input_error(plan, f"{STACK}:15: GPU type 'nvidia-b200' has no nvidia.com/gpu.product")


def test_the_repos_memory_figure_is_what_stk_003_uses(tmp_path: Path) -> None:
    """llama-3-8b at bf16 needs about 19.3 GB per replica: 16 GB of B200 is not enough."""
    small = B200.replace(b"memoryGB: 180", b"memoryGB: 16")
    run = check(repo(tmp_path, small), "--format", "json")
    assert run.exit_code == 1
    assert any("chat" in m for m in stk_003(run)), stk_003(run)


@pytest.mark.parametrize(("tables", "fragment", "message"), [
    (b"  gpus:\n    nvidia-h100-80gb: {memoryGB: 800, product: NVIDIA-H100-BIG}\n",
     b"    nvidia-h100-80gb",
     "policies.gpus.nvidia-h100-80gb: 'nvidia-h100-80gb' ships with the library and cannot be "
     "redefined by the repo"),
    (b"  gpus:\n    fast-h100:\n      memoryGB: 800\n      product: NVIDIA-H100-80GB-HBM3\n",
     b"      product: NVIDIA-H100",
     "policies.gpus.fast-h100.product: 'NVIDIA-H100-80GB-HBM3' is the product label of the "
     "shipped GPU type 'nvidia-h100-80gb'"),
    (b"  gpus:\n    nvidia-b200:\n      memoryGB: lots\n      product: NVIDIA-B200\n",
     b"      memoryGB: lots", "policies.gpus.nvidia-b200.memoryGB must be a positive number"),
    (b"  gpus:\n    nvidia-b200:\n      memoryGb: 180\n      product: NVIDIA-B200\n",
     b"      memoryGb", "unknown field policies.gpus.nvidia-b200.memoryGb"),
    (b"  gpus:\n    nvidia-b200:\n      memoryGB: 180\n      product: NVIDIA B200\n",
     b"      product: NVIDIA B200", "policies.gpus.nvidia-b200.product must be the"),
    (b"  precisionBits:\n    fp4: 0\n", b"    fp4: 0",
     "policies.precisionBits.fp4 must be a whole number of bits from 1 to 64"),
    (b"  precisionBits:\n    bf16: 4\n", b"    bf16: 4",
     "policies.precisionBits.bf16: 'bf16' ships with the library and cannot be redefined"),
])
def test_entries_that_would_loosen_or_break_the_tables_are_input_errors(
        tmp_path: Path, tables: bytes, fragment: bytes, message: str) -> None:
    root = repo(tmp_path, tables, b200=False)
    text = (root / CONFIG).read_bytes()
    line = text[:text.index(fragment)].count(b"\n") + 1
    assert_input_error(check(root), f"{CONFIG}:{line}: {message}")
