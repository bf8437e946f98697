#!/usr/bin/env python3
"""Keeps files and functions small enough to read: no source file over 900 lines and no
function over 150 lines, outside tests and generated code. Prints the five largest of
each and exits 1 when a limit is broken (file:line of each offender).

    ops/code_size.py [--root DIR] [--top N]

Functions are found by universal-ctags (Debian's universal-ctags), which gives each
function's first and last line; lambdas count as part of the function holding them.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

MAX_FILE_LINES = 900
MAX_FUNCTION_LINES = 150
# Top-level folders holding synthfarm's sources; tests/ and build trees are not among them.
SOURCE_DIRS = ["base", "render", "humans", "gltf", "sensor", "recon", "jobs", "queue",
               "protocol", "storage", "coordinator", "worker", "cli", "bench", "web"]
SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".js", ".lua", ".capnp"}


def is_test(path: Path) -> bool:
    stem = path.stem
    return stem.endswith("_test") or stem.endswith("_testing") or "testing" in path.parts


def sources(root: Path):
    for top in SOURCE_DIRS:
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and not is_test(path):
                yield path


def functions(root: Path, paths):
    cpp = [str(p.relative_to(root)) for p in paths if p.suffix in {".h", ".hpp", ".cpp", ".cc"}]
    if not cpp:
        return []
    out = subprocess.run(
        ["ctags", "--output-format=json", "--fields=+neK", "--kinds-C++=f", "--languages=C++",
         "--language-force=C++", "-f", "-"] + cpp,
        cwd=root, check=True, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        tag = json.loads(line)
        if tag.get("kind") != "function" or "end" not in tag:
            continue
        name = tag["name"]
        if tag.get("scope"):
            name = tag["scope"].split("::")[-1] + "::" + name if tag.get("scopeKind") in ("class", "struct") else name
        found.append((tag["end"] - tag["line"] + 1, tag["path"], tag["line"], name))
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    root = Path(args.root)
    paths = list(sources(root))
    files = sorted(((sum(1 for _ in p.open(errors="replace")), str(p.relative_to(root))) for p in paths),
                   reverse=True)
    funcs = sorted(functions(root, paths), reverse=True)

    print(f"largest files (limit {MAX_FILE_LINES} lines):")
    for n, path in files[:args.top]:
        print(f"  {n:5d}  {path}")
    print(f"longest functions (limit {MAX_FUNCTION_LINES} lines):")
    for n, path, line, name in funcs[:args.top]:
        print(f"  {n:5d}  {path}:{line}  {name}")

    bad = [f"{path}:1: {n} lines (limit {MAX_FILE_LINES})" for n, path in files if n > MAX_FILE_LINES]
    bad += [f"{path}:{line}: {name}: {n} lines (limit {MAX_FUNCTION_LINES})"
            for n, path, line, name in funcs if n > MAX_FUNCTION_LINES]
    for b in bad:
        print(b, file=sys.stderr)
    print(f"code size: {len(files)} files, {len(funcs)} functions, {len(bad)} over the limits")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
