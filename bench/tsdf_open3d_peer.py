#!/usr/bin/python3
"""The peer of bench/tsdf_fusion: Open3D's ScalableTSDFVolume fed the same depth maps.

    tsdf_open3d_peer.py DIR --voxel 0.01 --trunc 0.04 [--repeats 3]

DIR holds views.json ({"views": [{"depth": "view000.f32", "width": W, "height": H,
"K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]], "world_to_camera": [[4x4]]}]}, pixel centres
at integer + 0.5 as synthfarm writes K) and each depth map as raw little-endian float32,
camera z in metres (not finite or <= 0: no measurement). Prints one JSON line:
{"open3d": version, "integrate_s": best, "extract_s": best, "triangles": n}.
Exit status 3 when Open3D is not installed (Debian: apt-get install python3-open3d).
"""

import argparse
import json
import os
import sys
import time

try:
    import numpy as np
    import open3d as o3d
except ImportError as e:
    print(f"tsdf_open3d_peer: {e}; install Debian's python3-open3d", file=sys.stderr)
    sys.exit(3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--voxel", type=float, default=0.01)
    parser.add_argument("--trunc", type=float, default=0.04)
    parser.add_argument("--max-depth", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with open(os.path.join(args.dir, "views.json")) as f:
        views = json.load(f)["views"]
    frames = []
    for view in views:
        w, h = view["width"], view["height"]
        depth = np.fromfile(os.path.join(args.dir, view["depth"]), dtype="<f4").reshape(h, w)
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)
        colour = o3d.geometry.Image(np.zeros((h, w, 3), dtype=np.uint8))
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            colour, o3d.geometry.Image(depth), depth_scale=1.0, depth_trunc=args.max_depth,
            convert_rgb_to_intensity=False)
        K = view["K"]
        # Open3D puts pixel centres at integers; synthfarm's K at integer + 0.5.
        intrinsic = o3d.camera.PinholeCameraIntrinsic(w, h, K[0][0], K[1][1], K[0][2] - 0.5, K[1][2] - 0.5)
        frames.append((rgbd, intrinsic, np.array(view["world_to_camera"], dtype=np.float64)))

    best_integrate = best_extract = float("inf")
    triangles = 0
    for _ in range(args.repeats):
        volume = o3d.pipelines.integration.ScalableTSDFVolume(
            voxel_length=args.voxel, sdf_trunc=args.trunc,
            color_type=o3d.pipelines.integration.TSDFVolumeColorType.NoColor)
        start = time.perf_counter()
        for rgbd, intrinsic, extrinsic in frames:
            volume.integrate(rgbd, intrinsic, extrinsic)
        best_integrate = min(best_integrate, time.perf_counter() - start)
        start = time.perf_counter()
        mesh = volume.extract_triangle_mesh()
        best_extract = min(best_extract, time.perf_counter() - start)
        triangles = len(mesh.triangles)
    print(json.dumps({"open3d": o3d.__version__, "integrate_s": best_integrate,
                      "extract_s": best_extract, "triangles": triangles}))


if __name__ == "__main__":
    main()
