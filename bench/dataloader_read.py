#!/usr/bin/env python3
"""How fast PyTorch reads a synthfarm dataset through synthfarm_data, against a plain loop.

Starts a farm (python/tests/servers.py: redis-server, a coordinator, 2 workers on free
ports), renders one spec twice, in the files layout and in the WebDataset layout, uploads
the WebDataset copy to s3rver, then times, over the same samples (EXR R,G,B, depth,
normal, instance, semantic and the JSON; masks from the instance layer):

  plain loop       OpenImageIO ImageInput reads and json.load per sample, one process
  files, 2 workers DataLoader(SampleDataset(local files layout), num_workers=2)
  s3 tars, 2 wkrs  DataLoader(ShardStream(s3://... WebDataset, streamed), num_workers=2)

and prints samples/s and each against the plain loop, and the objects 10,000 samples take
in each layout (from the manifests: objects per sample times 10,000, plus the per-shard
objects times the shards, plus the dataset's own files).

    python3 bench/dataloader_read.py [--samples 64] [--resolution 128x96] [--shard-size 8]

Programs from $SYNTHFARM_BIN or build/bin; s3rver from ops/s3rver (npm ci --prefix ops/s3rver).
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "python", "tests"))

import numpy as np  # noqa: E402
import OpenImageIO as oiio  # noqa: E402
import torch  # noqa: E402

import servers  # noqa: E402
import synthfarm_data  # noqa: E402

LAYERS = ["depth", "normal", "instance", "semantic"]
CHANNELS = ["R", "G", "B", "depth.Z", "normal.X", "normal.Y", "normal.Z", "instance.id", "semantic.id"]


def spec(name, args, fmt):
    w, h = args.resolution.split("x")
    return (f"name: {name}\nsamples: {args.samples}\nshard_size: {args.shard_size}\nseed: 5\n"
            f"output:\n  layers: [rgb, depth, normal, instance, semantic]\n" + (f"  format: {fmt}\n" if fmt else "") +
            f"camera: {{resolution: [{w}, {h}]}}\nrender: {{spp: 2, max_bounces: 1}}\n"
            "humans: {count: {uniform_int: [1, 3]}}\n")


def plain_loop(root, count):
    """The reference: each sample's EXR channels and JSON with plain library calls."""
    for i in range(count):
        stem = os.path.join(root, "samples", f"{i:08d}")
        inp = oiio.ImageInput.open(stem + ".exr")
        names = list(inp.spec().channelnames)
        planes = {}
        for c in CHANNELS:
            k = names.index(c)
            planes[c] = inp.read_image(0, 0, k, k + 1, oiio.UINT if c.endswith(".id") else oiio.FLOAT)
        inp.close()
        with open(stem + ".json") as f:
            meta = json.load(f)
        ids = planes["instance.id"]
        _ = [ids == p["id"] for p in meta["instances"] if p["class"] == "person"]
        _ = np.asarray([p["keypoints"] for p in meta["instances"] if p["class"] == "person"])


def timed(label, fn, count):
    """(samples/s over the whole pass, samples/s after the first sample arrived)."""
    start = time.perf_counter()
    n, first = fn()
    end = time.perf_counter()
    assert n == count, f"{label}: read {n} samples, expected {count}"
    return count / (end - start), (count - 1) / (end - (first or start))


def drain(dataset):
    """Samples read by a 2-worker DataLoader, and when the first arrived (the workers'
    start: fork, first S3 connection)."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
    n, first = 0, None
    for _ in loader:
        n += 1
        first = first or time.perf_counter()
    return n, first


def objects_per_10k(manifest_path):
    with open(manifest_path) as f:
        m = json.load(f)
    samples, shards = m["counts"]["samples"], m["counts"]["shards"]
    keys = [o["key"] for o in m["objects"]]
    per_sample = sum(k.startswith("samples/") for k in keys) / samples
    # Shard commit markers (shards/*.manifest.json) are stored but not listed: one per shard.
    per_shard = sum(k.startswith("shards/") for k in keys) / shards + 1
    dataset_files = sum(not k.startswith(("samples/", "shards/")) for k in keys) + 1  # + manifest.json
    shard_size = m["spec"]["shard_size"]
    return per_sample, per_shard, round(per_sample * 10_000 + per_shard * math.ceil(10_000 / shard_size)
                                        + dataset_files)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--resolution", default="128x96")
    parser.add_argument("--shard-size", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dataloader-bench-") as tmp:
        storage = os.path.join(tmp, "datasets")
        os.makedirs(storage)
        paths = {}
        for layout, fmt in (("files", None), ("webdataset", "webdataset")):
            paths[layout] = os.path.join(tmp, f"{layout}.yaml")
            with open(paths[layout], "w") as f:
                f.write(spec(f"bench-{layout}", args, fmt))
        start = time.perf_counter()
        farm = servers.Farm(os.path.join(tmp, "run"), storage, workers=2)
        try:
            jobs = {layout: farm.submit(path) for layout, path in paths.items()}
            roots = {layout: farm.wait(job, timeout=1800) for layout, job in jobs.items()}
        finally:
            farm.stop()
        print(f"rendered {args.samples} samples at {args.resolution} twice in {time.perf_counter() - start:.0f} s")

        with servers.s3rver("bench") as env:
            servers.upload(env, "bench", "wds", roots["webdataset"])
            os.environ.update(env)
            files = synthfarm_data.SampleDataset(roots["files"], layers=LAYERS)
            tars = synthfarm_data.ShardStream("s3://bench/wds", layers=LAYERS)
            plain_loop(roots["files"], args.samples)  # warm the page cache for every reader
            rates = {
                "plain loop (OpenImageIO + json, 1 process)": timed("plain", lambda: (plain_loop(
                    roots["files"], args.samples) or args.samples, None), args.samples),
                "DataLoader, 2 workers, local files layout": timed("files", lambda: drain(files), args.samples),
                "DataLoader, 2 workers, WebDataset tars on s3rver": timed("s3", lambda: drain(tars), args.samples),
            }
        base = next(iter(rates.values()))[0]
        print(f"{'reader':50s} {'samples/s':>9s} {'vs plain':>8s}   after the first sample")
        for label, (rate, steady) in rates.items():
            print(f"{label:50s} {rate:9.1f} {rate / base:7.2f}x   {steady:6.1f} ({steady / base:.2f}x)")
        print(f"\nobjects per 10,000 samples (shard_size {args.shard_size}; per-shard objects include its commit marker)")
        for layout, root in roots.items():
            per_sample, per_shard, total = objects_per_10k(os.path.join(root, "manifest.json"))
            print(f"  {layout:10s} {per_sample:.0f} per sample, {per_shard:.0f} per shard: {total:,} objects")


if __name__ == "__main__":
    main()
