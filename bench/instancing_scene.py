#!/usr/bin/env python3
"""Writes a copy of a binary glTF scene with repeated props, for bench/instancing.sh.

    instancing_scene.py IN.glb OUT.glb [--copies N] [--min-triangles T]

Every mesh of at least T triangles (default 1000) that a node of the default scene uses
gets N more nodes using it (default 24), each the original node's world transform moved
along the file's x and z axes on a grid spaced by the mesh's size, so that a renderer sees
N + 1 props of that mesh. The binary chunk is kept as it is: only nodes are added.
Standard library only.
"""
import argparse
import json
import math
import struct


def read_glb(path):
    data = open(path, "rb").read()
    magic, version, _ = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67 or version != 2:
        raise SystemExit(f"{path}: not a binary glTF 2.0 file")
    offset, chunks = 12, []
    while offset < len(data):
        length, kind = struct.unpack_from("<II", data, offset)
        chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 8 + length
    gltf = json.loads(chunks[0][1])
    binary = next((c for k, c in chunks[1:] if k == 0x004E4942), None)
    return gltf, binary


def write_glb(path, gltf, binary):
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary is not None:
        binary += b"\0" * (-len(binary) % 4)
        body += struct.pack("<II", len(binary), 0x004E4942) + binary
    open(path, "wb").write(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)


def multiply(a, b):  # column-major 4x4
    return [sum(a[k * 4 + r] * b[c * 4 + k] for k in range(4)) for c in range(4) for r in range(4)]


def local_matrix(node):
    if "matrix" in node:
        return list(node["matrix"])
    tx, ty, tz = node.get("translation", [0, 0, 0])
    x, y, z, w = node.get("rotation", [0, 0, 0, 1])
    sx, sy, sz = node.get("scale", [1, 1, 1])
    r = [1 - 2 * (y * y + z * z), 2 * (x * y + z * w), 2 * (x * z - y * w),
         2 * (x * y - z * w), 1 - 2 * (x * x + z * z), 2 * (y * z + x * w),
         2 * (x * z + y * w), 2 * (y * z - x * w), 1 - 2 * (x * x + y * y)]
    return [r[0] * sx, r[1] * sx, r[2] * sx, 0, r[3] * sy, r[4] * sy, r[5] * sy, 0,
            r[6] * sz, r[7] * sz, r[8] * sz, 0, tx, ty, tz, 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene")
    parser.add_argument("out")
    parser.add_argument("--copies", type=int, default=24)
    parser.add_argument("--min-triangles", type=int, default=1000)
    args = parser.parse_args()
    gltf, binary = read_glb(args.scene)
    nodes, meshes, accessors = gltf["nodes"], gltf["meshes"], gltf["accessors"]

    def triangles(mesh):
        total = 0
        for p in mesh["primitives"]:
            a = p.get("indices", p["attributes"]["POSITION"])
            total += accessors[a]["count"] // 3
        return total

    def extent(mesh):
        size = 0.0
        for p in mesh["primitives"]:
            a = accessors[p["attributes"]["POSITION"]]
            if "min" in a and "max" in a:
                size = max(size, max(hi - lo for lo, hi in zip(a["min"], a["max"])))
        return size or 1.0

    scene = gltf["scenes"][gltf.get("scene", 0)]
    stack = [(n, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]) for n in scene["nodes"]]
    placed = []  # (mesh, world matrix, scale of the world matrix)
    while stack:
        n, parent = stack.pop()
        world = multiply(parent, local_matrix(nodes[n]))
        if "mesh" in nodes[n] and triangles(meshes[nodes[n]["mesh"]]) >= args.min_triangles:
            placed.append((nodes[n]["mesh"], world))
        stack.extend((c, world) for c in nodes[n].get("children", []))
    side = math.ceil(math.sqrt(args.copies + 1))
    added = 0
    for mesh, world in placed:
        scale = max(math.sqrt(sum(world[c * 4 + r] ** 2 for r in range(3))) for c in range(3))
        step = 1.1 * extent(meshes[mesh]) * scale
        for k in range(1, args.copies + 1):
            i, j = k % side, k // side
            moved = list(world)
            moved[12] += (i - side // 2) * step
            moved[14] += (j - side // 2) * step
            scene["nodes"].append(len(nodes))
            nodes.append({"name": f"{meshes[mesh].get('name', 'mesh')}.copy{k}", "mesh": mesh,
                          "matrix": moved})
            added += 1
    write_glb(args.out, gltf, binary)
    print(f"{args.out}: {added} nodes added for {len(placed)} meshes of >= "
          f"{args.min_triangles} triangles")


if __name__ == "__main__":
    main()
