"""Write the JSON Schemas (engine/_schemas) and docs/reference.md from the loader's field table.

    python tools/gen_schemas.py

tests/catalog/test_json_schema.py fails while either is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.catalog import json_schema  # noqa: E402


def main() -> None:
    folder = ROOT / "engine" / "_schemas"
    folder.mkdir(exist_ok=True)
    for kind in json_schema.KINDS:
        (folder / json_schema.file_name(kind)).write_text(json_schema.rendered(kind))
    (ROOT / "docs" / "reference.md").write_text(json_schema.reference())
    print(f"wrote {len(json_schema.KINDS)} schemas into {folder} and docs/reference.md")


if __name__ == "__main__":
    main()
