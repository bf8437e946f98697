#!/usr/bin/env python3
"""The module dependency picture of docs/architecture.md, generated from CMake's own
target graph (cmake --graphviz), so it shows what the build links, not what a person
remembers. Prints each synthfarm library and program with the synthfarm libraries it
links directly, bottom-up, then the third-party libraries each library links.

    ops/module_graph.py [BUILD_DIR]      (default build; configures it with --graphviz)
"""

import re
import subprocess
import sys
from pathlib import Path

build = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
dot = build / "module-graph" / "deps.dot"
dot.parent.mkdir(parents=True, exist_ok=True)
subprocess.run(["cmake", f"--graphviz={dot}", "."], cwd=build, check=True,
               stdout=subprocess.DEVNULL)
text = dot.read_text()
label = dict(re.findall(r'"(node\d+)" \[ label = "([^"]+)"', text))
edges = {}
for a, b in re.findall(r'"(node\d+)" -> "(node\d+)"', text):
    edges.setdefault(label[a], set()).add(label[b])

PROGRAMS = ["synthfarm", "synthfarm-coordinator", "synthfarm-worker"]
own = sorted(n for n in label.values() if n.startswith("synthfarm_") and n != "synthfarm_testing")


def own_deps(name):
    return sorted(d for d in edges.get(name, ()) if d in own)


# Bottom-up: a library after every library it links.
order, seen = [], set()


def visit(name):
    if name in seen:
        return
    seen.add(name)
    for dep in own_deps(name):
        visit(dep)
    order.append(name)


for name in own:
    visit(name)
width = max(len(n) for n in order + PROGRAMS)
print("synthfarm libraries, bottom-up (-> the synthfarm libraries each links directly):")
for name in order:
    deps = own_deps(name)
    print(f"  {name:<{width}} -> {', '.join(deps) if deps else '(none)'}")
print("programs:")
for name in PROGRAMS:
    print(f"  {name:<{width}} -> {', '.join(own_deps(name))}")
print("third-party libraries of each synthfarm library:")
for name in order:
    other = sorted(d for d in edges.get(name, ()) if d not in own and not d.startswith("synthfarm"))
    print(f"  {name:<{width}} : {', '.join(other) if other else '(none)'}")
