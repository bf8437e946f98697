#!/usr/bin/env python3
"""Keeps the module layering true: each top-level folder is one module (one CMake
target), and includes between modules only point the way RULES below allows.

    ops/check_layering.py                 check the repository this script lives in
    ops/check_layering.py --root DIR      check another tree (the self-test uses this)
    ops/check_layering.py --graph         the module graph actually found, as text
    ops/check_layering.py --dot           the same as Graphviz dot (docs/architecture.md)

Only quoted includes whose first path component names a module are checked
(`#include "jobs/spec.h"`); system and third-party includes (<...>) never are. Exit
status: 0 clean, 1 layering violations, 2 the rule table itself is broken or the
arguments are wrong. --graph and --dot are reports: they exit 0 even with
violations (the offending edges are marked), so generating docs never fails.

Standard library only: it runs as a ctest test and on any machine with python3.
"""

import argparse
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

# Unrestricted modules: they sit on top of everything, nothing is built on them.
ANY = "anything"

# module -> the modules it may include (besides itself). Listed bottom-up so the
# reports read in layer order. Folders that do not exist yet are simply skipped, so
# the same table holds before, during and after the reorganisation.
RULES = {
    "base":        set(),
    "render":      {"base"},
    "humans":      {"base", "render"},
    "gltf":        {"base", "render", "humans"},
    "sensor":      {"base", "render"},
    "recon":       {"base", "render", "humans", "gltf"},
    "storage":     set(),
    "jobs":        {"base", "render", "humans", "gltf", "sensor", "storage"},
    "dataset":     {"jobs", "storage"},
    "queue":       {"base"},
    "protocol":    {"base", "queue"},
    "auth":        {"base", "queue"},
    "coordinator": {"base", "recon", "jobs", "dataset", "queue", "protocol", "storage", "auth"},
    "worker":      {"base", "render", "humans", "gltf", "sensor", "recon", "jobs", "dataset",
                    "queue", "protocol", "storage"},
    "cli":         {"base", "render", "humans", "gltf", "sensor", "recon", "jobs", "dataset",
                    "queue", "protocol", "storage", "auth"},
    "bench":       ANY,
    "tests":       ANY,
    "fuzz":        ANY,
}

# Test code of any module may also use the shared fixtures in tests/ (they start real
# servers); that is how module tests are written, and it is no dependency of the
# module's library itself.
TEST_FIXTURES_MODULE = "tests"

# A header under one of these folders of a module is private to that module.
PRIVATE_DIRS = {"internal", "detail"}

SOURCE_SUFFIXES = {".h", ".hh", ".hpp", ".hxx", ".inl", ".ipp", ".cpp", ".cc", ".cxx"}

INCLUDE_RE = re.compile(r'\s*#\s*include\s*"([^"\n]+)"')
RAW_PREFIX_RE = re.compile(r"(?:u8|[uUL])?R")


class RuleTableError(Exception):
    pass


def check_rule_table(rules):
    """Raises RuleTableError unless the table names only known modules and is acyclic.

    A cycle in the table would let two modules legally include each other, and then no
    build order (and no one-way layering) exists, whatever the sources do today.
    """
    unrestricted = {m for m, allowed in rules.items() if allowed == ANY}
    for module, allowed in rules.items():
        if allowed == ANY:
            continue
        unknown = sorted(set(allowed) - set(rules))
        if unknown:
            raise RuleTableError(f"module '{module}' may include unknown module(s): "
                                 f"{', '.join(unknown)}")

    # Unrestricted modules point at every layered module. Two unrestricted modules
    # are not taken to point at each other: "bench: anything" and "tests: anything"
    # would otherwise be a cycle by definition, and neither is a library others build
    # on. A layered module naming an unrestricted one is a cycle, and is caught here.
    def edges(module):
        if rules[module] == ANY:
            return [m for m in rules if m not in unrestricted]
        return sorted(rules[module])

    # Depth-first search; the path on the stack names the cycle when one is found.
    state = {}  # module -> "visiting" | "done"
    path = []

    def visit(module):
        state[module] = "visiting"
        path.append(module)
        for dep in edges(module):
            if dep == module:
                continue  # a module including itself is always fine
            if state.get(dep) == "visiting":
                cycle = path[path.index(dep):] + [dep]
                raise RuleTableError("rule table has a cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[module] = "done"

    for module in rules:
        if module not in state:
            visit(module)


def _blank(text):
    # Keeps newlines so line numbers stay right after comments are removed.
    return "".join(c if c == "\n" else " " for c in text)


def strip_comments(text):
    """The source with comments, raw strings and character literals blanked out.

    Ordinary string literals are kept (an include's "header name" looks like one) but
    still have to be tracked, or "s3://bucket/*" in a string would open a comment
    that hides every include after it. Digit separators (10'000) and raw strings
    (R"(...)") both occur in this code base, hence the care taken with them.
    """
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = i + 2
            while j < n:
                if text[j] == "\n":
                    # A backslash at the end of a line comment continues it.
                    if text[j - 1] == "\\" or (text[j - 1] == "\r" and text[j - 2] == "\\"):
                        j += 1
                        continue
                    break
                j += 1
            out.append(_blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            j = n if end < 0 else end + 2
            out.append(_blank(text[i:j]))
            i = j
        elif c == '"':
            k = i
            while k > 0 and (text[k - 1].isalnum() or text[k - 1] == "_"):
                k -= 1
            open_paren = text.find("(", i, i + 18)  # a raw delimiter is at most 16 chars
            delim = text[i + 1:open_paren] if open_paren >= 0 else None
            if RAW_PREFIX_RE.fullmatch(text[k:i]) and delim is not None \
                    and not re.search(r'[\s\\)"]', delim):
                end = text.find(")" + delim + '"', open_paren)
                j = n if end < 0 else end + len(delim) + 2
                out.append(_blank(text[i:j]))
                i = j
                continue
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n) if j < n and text[j] == '"' else j
            out.append(text[i:j])
            i = j
        elif c == "'":
            k = i
            while k > 0 and (text[k - 1].isalnum() or text[k - 1] in "_.'"):
                k -= 1
            if k < i and text[k].isdigit():
                out.append(c)  # a digit separator inside a number, not a literal
                i += 1
                continue
            j = i + 1
            while j < n and text[j] not in "'\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n) if j < n and text[j] == "'" else j
            out.append(_blank(text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def find_includes(text):
    """(line number, included path) for every quoted include, comments left out."""
    for lineno, line in enumerate(strip_comments(text).split("\n"), 1):
        m = INCLUDE_RE.match(line)
        if m:
            yield lineno, m.group(1)


def is_test_file(rel):
    """rel is a path relative to the root, module folder first."""
    parts = rel.split("/")
    stem = os.path.splitext(parts[-1])[0]
    return stem.endswith("_test") or stem.endswith("_testing") or "testing" in parts[1:-1]


def resolve(rel_file, include):
    """The root-relative path an include names, or None if it leaves the root.

    Quoted includes are normally written from the root ("jobs/spec.h"). One written
    relative to the file ("../jobs/spec.h") is resolved too, so it cannot be used to
    slip past the check.
    """
    if include.startswith(("./", "../")):
        path = os.path.normpath(os.path.join(os.path.dirname(rel_file), include))
    elif ".." in include.split("/"):
        path = os.path.normpath(include)
    else:
        return include
    path = path.replace(os.sep, "/")
    return None if path == ".." or path.startswith("../") else path


def allowed_text(module, rules):
    allowed = rules[module]
    if allowed == ANY:
        return ANY
    return ", ".join(sorted(allowed)) or "nothing"


def check_include(module, test_file, target, rules):
    """None if the include is fine, else the reason in brackets for the report."""
    target_module = target.split("/")[0]
    if target_module == module:
        return None
    allowed = rules[module]
    exempt = test_file and target_module == TEST_FIXTURES_MODULE
    if not exempt and allowed != ANY and target_module not in allowed:
        return f"{module} may include: {allowed_text(module, rules)}"
    if PRIVATE_DIRS & set(target.split("/")[1:-1]):
        return f"internal to {target_module}"
    return None


def source_files(root, rules):
    """(module, root-relative path) of every C++ file in the module folders."""
    for module in rules:
        top = root / module
        if not top.is_dir():
            continue  # not created yet (or already moved away)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if os.path.splitext(name)[1] in SOURCE_SUFFIXES:
                    path = Path(dirpath) / name
                    yield module, path.relative_to(root).as_posix()


def scan(root, rules):
    """Returns (files, includes, violations, edges).

    edges[(from, to)] counts the includes between two different modules as
    [all, from test files, violating].
    """
    files = includes = 0
    violations = []
    edges = defaultdict(lambda: [0, 0, 0])
    for module, rel in source_files(root, rules):
        files += 1
        test_file = is_test_file(rel)
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
        for lineno, include in find_includes(text):
            target = resolve(rel, include)
            if target is None or target.split("/")[0] not in rules:
                continue  # not a module include: a same-folder or generated header
            includes += 1
            reason = check_include(module, test_file, target, rules)
            if reason:
                violations.append(f"{rel}:{lineno}: module '{module}' may not include "
                                  f"'{target}' ({reason})")
            target_module = target.split("/")[0]
            if target_module != module:
                counts = edges[(module, target_module)]
                counts[0] += 1
                counts[1] += test_file
                counts[2] += reason is not None
    return files, includes, violations, edges


def graph_modules(root, rules, edges):
    present = {m for m in rules if (root / m).is_dir()}
    present |= {m for edge in edges for m in edge}
    return [m for m in rules if m in present]  # in the table's (layer) order


def edge_note(all_, tests, bad):
    notes = []
    if tests == all_:
        notes.append("test files only")
    elif tests:
        notes.append(f"{tests} from test files")
    if bad:
        notes.append(f"{bad} NOT ALLOWED")
    return f"{all_}" + (f", {', '.join(notes)}" if notes else "")


def print_graph(root, rules, edges):
    modules = graph_modules(root, rules, edges)
    width = max((len(m) for m in modules), default=0)
    print("# module -> modules it includes (include directives; self-includes left out)")
    for module in modules:
        targets = [(to, edges[(module, to)]) for to in modules if (module, to) in edges]
        text = ", ".join(f"{to} ({edge_note(*c)})" for to, c in targets) or "(nothing)"
        print(f"{module:<{width}} -> {text}")


def print_dot(root, rules, edges):
    modules = graph_modules(root, rules, edges)
    print("// Generated by ops/check_layering.py --dot: includes between modules.")
    print("// Dashed: only from test files. Red: not allowed by the layering rules.")
    print("digraph layering {")
    print("  node [shape=box, fontname=\"Helvetica\"];")
    print("  edge [fontname=\"Helvetica\", fontsize=10];")
    for module in modules:
        print(f'  "{module}";')
    for module in modules:
        for to in modules:
            if (module, to) not in edges:
                continue
            all_, tests, bad = edges[(module, to)]
            attrs = [f'label="{all_}"']
            if tests == all_:
                attrs.append("style=dashed")
            if bad:
                attrs += ["color=red", "fontcolor=red"]
            print(f'  "{module}" -> "{to}" [{", ".join(attrs)}];')
    print("}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path,
                        default=Path(__file__).resolve().parent.parent,
                        help="repository root (default: the repo containing this script)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--graph", action="store_true",
                      help="print the module graph found, as text")
    mode.add_argument("--dot", action="store_true",
                      help="print the module graph found, as Graphviz dot")
    args = parser.parse_args(argv)

    try:
        check_rule_table(RULES)
    except RuleTableError as e:
        print(f"layering: broken rule table in {__file__}: {e}", file=sys.stderr)
        return 2
    root = args.root.resolve()
    if not root.is_dir():
        print(f"layering: --root {args.root} is not a directory", file=sys.stderr)
        return 2

    files, includes, violations, edges = scan(root, RULES)
    if args.graph:
        print_graph(root, RULES, edges)
        return 0
    if args.dot:
        print_dot(root, RULES, edges)
        return 0
    for line in violations:
        print(line)
    print(f"layering: {files} files, {includes} includes, {len(violations)} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
