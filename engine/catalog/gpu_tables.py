"""A repo's own GPU types and precisions (`policies.gpus`, `policies.precisionBits` of
govops.yaml), added to the tables the library ships (policies/data/gpus.json, precision.json).

A new accelerator (a B200, an MI300X) or a new number format should not need a fork of the
library: STK-003 sizes workloads with `data.govops.gpus` and `data.govops.precisionBits`, and
plan puts a GPU type's `product` into every pod's node selector. A repo may add entries, not
change the shipped ones: redefining what an H100 holds, or giving a new type an existing
product label, would loosen STK-003 for GPUs the library already describes, from a commit
nobody outside the repo reviews.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.errors import InputError

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
GPU_FIELDS = ("memoryGB", "product")


def _where(path: str, lines: Mapping[str, int], field: str) -> tuple[str, int | None]:
    line = lines.get(field)
    while line is None and "." in field:
        field = field.rsplit(".", 1)[0]
        line = lines.get(field)
    return path, line


def check_gpus(path: str, table: Any, lines: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """`policies.gpus`: GPU type -> {memoryGB: a positive number, product: the
    `nvidia.com/gpu.product` label value of its nodes}."""
    if not isinstance(table, Mapping):
        raise InputError(*_where(path, lines, "policies.gpus"),
                         "policies.gpus must be a mapping of GPU type to {memoryGB, product}")
    found: dict[str, dict[str, Any]] = {}
    for name, entry in table.items():
        at = f"policies.gpus.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(*_where(path, lines, at), f"{at}: a GPU type is a lowercase name "
                             "of letters, digits, '-' and '.'")
        if not isinstance(entry, Mapping):
            raise InputError(*_where(path, lines, at), f"{at} must be a mapping with memoryGB "
                             "and product")
        for key in entry:
            if key not in GPU_FIELDS:
                raise InputError(*_where(path, lines, f"{at}.{key}"),
                                 f"unknown field {at}.{key} (expected memoryGB, product)")
        memory, product = entry.get("memoryGB"), entry.get("product")
        if isinstance(memory, bool) or not isinstance(memory, int | float) or memory <= 0:
            raise InputError(*_where(path, lines, f"{at}.memoryGB"),
                             f"{at}.memoryGB must be a positive number of GB")
        if not isinstance(product, str) or not _LABEL_VALUE.match(product):
            raise InputError(*_where(path, lines, f"{at}.product"),
                             f"{at}.product must be the nvidia.com/gpu.product label value of "
                             "its nodes (a Kubernetes label value)")
        found[name] = {"memoryGB": memory, "product": product}
    return found


def check_precisions(path: str, table: Any, lines: Mapping[str, int]) -> dict[str, int]:
    """`policies.precisionBits`: number format -> bits per parameter."""
    if not isinstance(table, Mapping):
        raise InputError(*_where(path, lines, "policies.precisionBits"),
                         "policies.precisionBits must be a mapping of precision to bits")
    found: dict[str, int] = {}
    for name, bits in table.items():
        at = f"policies.precisionBits.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(*_where(path, lines, at), f"{at}: a precision is a lowercase name")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 64:
            raise InputError(*_where(path, lines, at), f"{at} must be a whole number of bits "
                             "from 1 to 64")
        found[name] = bits
    return found
