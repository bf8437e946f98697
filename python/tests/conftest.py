"""Session fixtures: one farm renders the test datasets once (a few tiny jobs, still and
clip, in the files layout and in the WebDataset layout), and the tests read them."""

import os
import sys
import textwrap
from dataclasses import dataclass

import pytest

# Importable from a checkout: python/ on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import servers  # noqa: E402

ALL_LAYERS = "[rgb, depth, normal, albedo, instance, semantic, part, uv, motion]"


def spec(name, samples, shard_size, frames=1, fmt=None, layers=ALL_LAYERS):
    output = f"  layers: {layers}\n" + (f"  format: {fmt}\n" if fmt else "")
    return textwrap.dedent(f"""\
        name: {name}
        samples: {samples}
        shard_size: {shard_size}
        seed: 27
        output:
        """) + output + textwrap.dedent(f"""\
        camera:
          resolution: [64, 48]
          distance_m: {{uniform: [3, 4]}}
        render: {{spp: 4, max_bounces: 1}}
        scene:
          props: {{uniform_int: [0, 2]}}
        lighting:
          area_lights: 0
          lamps: 0
        humans:
          count: {{uniform_int: [1, 3]}}
          motion: {{choice: [static, walk, wave]}}
        clip: {{frames: {frames}, fps: 10}}
        """)


@dataclass
class Datasets:
    still: str          # 6 still samples, 3 shards, files layout
    clip: str           # 2 clips of 3 frames, 2 shards, files layout
    still_wds: str      # the same jobs in the WebDataset layout (None: this build has none)
    clip_wds: str
    webdataset_refused: str  # why there is none: what `synthfarm validate` said


@pytest.fixture(scope="session")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("farm")
    storage = root / "datasets"
    storage.mkdir()
    specs = {
        "still": spec("py-still", 6, 2),
        "clip": spec("py-clip", 2, 1, frames=3, layers="[rgb, depth, instance, motion]"),
        "still_wds": spec("py-still-wds", 6, 2, fmt="webdataset"),
        "clip_wds": spec("py-clip-wds", 2, 1, frames=3, fmt="webdataset", layers="[rgb, depth, instance, motion]"),
    }
    paths = {}
    for key, text in specs.items():
        paths[key] = root / f"{key}.yaml"
        paths[key].write_text(text)
    webdataset_ok, refusal = servers.validates(str(paths["still_wds"]))
    wanted = [k for k in specs if webdataset_ok or not k.endswith("_wds")]
    farm = servers.Farm(str(root / "run"), str(storage), workers=2)
    try:
        jobs = {k: farm.submit(str(paths[k])) for k in wanted}
        out = {k: farm.wait(job) for k, job in jobs.items()}
    finally:
        farm.stop()
    yield Datasets(out["still"], out["clip"], out.get("still_wds"), out.get("clip_wds"),
                   "" if webdataset_ok else refusal)


@pytest.fixture
def webdataset(datasets):
    if datasets.still_wds is None:
        pytest.skip(f"this build's synthfarm refuses output.format: webdataset: {datasets.webdataset_refused}")
    return datasets
