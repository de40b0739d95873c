"""Export the JSON Schema of every message, one file per kind: `schemas/<kind>.json`.

    python -m hedgemesh.wire.schema            # (re)write the files
    python -m hedgemesh.wire.schema --check    # exit 1 and print a diff if they are out of date

One file per message rather than one combined file: a contract change shows in review as a
change to that message's file alone, and a consumer in another language takes only the
schemas it reads. Each file is self-contained (shared parts such as `Instrument` sit under
its `$defs`). The output is deterministic: sorted keys, two-space indent, a trailing newline.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hedgemesh.wire.registry import MESSAGES

SCHEMA_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = "python -m hedgemesh.wire.schema"


def schema_of(kind: str) -> dict[str, Any]:
    """The JSON Schema of one message kind, with its kind, subject and size limit attached."""
    cls = MESSAGES[kind]
    schema = cls.model_json_schema(mode="validation")
    schema["$schema"] = DIALECT
    schema["x-kind"] = kind
    schema["x-max-payload-bytes"] = cls.max_payload_bytes
    if cls.subject_pattern:
        schema["x-subject"] = cls.subject_pattern
    return schema


def render() -> dict[str, str]:
    """File name → file text, for every message kind."""
    return {
        f"{kind}.json": json.dumps(schema_of(kind), indent=2, sort_keys=True, ensure_ascii=False)
        + "\n"
        for kind in sorted(MESSAGES)
    }


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file under `directory` and remove the files of kinds that are gone."""
    directory.mkdir(parents=True, exist_ok=True)
    expected = render()
    for stale in directory.glob("*.json"):
        if stale.name not in expected:
            stale.unlink()
    paths = []
    for name, text in expected.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def diff(directory: Path = SCHEMA_DIR) -> str:
    """A unified diff from the files under `directory` to what the code exports; "" if equal."""
    expected = render()
    present = {path.name for path in directory.glob("*.json")} if directory.is_dir() else set()
    chunks: list[str] = []
    for name in sorted(present | expected.keys()):
        path = directory / name
        old = path.read_text(encoding="utf-8") if name in present else ""
        new = expected.get(name, "")
        if old != new:
            chunks.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    fromfile=f"{path} (checked in)" if old else "/dev/null",
                    tofile=f"{path} (from the code)" if new else "/dev/null",
                )
            )
    return "".join(chunks)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="schema folder")
    args = parser.parse_args(argv)
    if args.check:
        changes = diff(args.dir)
        if changes:
            sys.stdout.write(changes)
            print(f"\nJSON Schemas are out of date: run `{REGENERATE}`.", file=sys.stderr)
            return 1
        print(f"{len(MESSAGES)} JSON Schemas up to date in {args.dir}")
        return 0
    paths = write(args.dir)
    print(f"wrote {len(paths)} JSON Schemas to {args.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
