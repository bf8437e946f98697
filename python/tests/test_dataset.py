"""synthfarm_data against datasets a real farm rendered: every tensor is compared with the
bytes it came from, read independently here (OpenImageIO's ImageBuf for the EXR and the
PNG, json for the JSON)."""

import json
import os
import shutil

import numpy as np
import OpenImageIO as oiio
import pytest
import torch

import synthfarm_data
from synthfarm_data import JOINT_NAMES, SHAPE_FIELDS, DatasetError, VerifyError
from synthfarm_data.rle import decode_rle

LAYERS = ["depth", "normal", "albedo", "instance", "semantic", "part", "uv", "motion"]
EXR_CHANNELS = {"depth": ["depth.Z"], "normal": ["normal.X", "normal.Y", "normal.Z"],
                "albedo": ["albedo.R", "albedo.G", "albedo.B"], "instance": ["instance.id"],
                "semantic": ["semantic.id"], "part": ["part.id"], "uv": ["uv.U", "uv.V"],
                "motion": ["motion.X", "motion.Y"]}


def exr_channel(path, name):
    """One channel of an EXR, read alone in its stored type (uint32 for UINT, float32 for
    FLOAT, HALF widened to float32)."""
    inp = oiio.ImageInput.open(path)
    try:
        spec = inp.spec()
        c = list(spec.channelnames).index(name)
        fmt = spec.channelformats[c] if spec.channelformats else spec.format
        pixels = inp.read_image(0, 0, c, c + 1, oiio.UINT if fmt.basetype == oiio.UINT32 else oiio.FLOAT)
        return np.asarray(pixels).reshape(spec.height, spec.width)
    finally:
        inp.close()


def sample_files(root):
    return sorted(f for f in os.listdir(os.path.join(root, "samples")) if f.endswith(".json"))


def assert_items_equal(a, b, where):
    assert a.keys() == b.keys(), where
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert a[key].dtype == b[key].dtype, f"{where}: {key}"
            assert torch.equal(a[key].nan_to_num(-7.0) if a[key].is_floating_point() else a[key],
                               b[key].nan_to_num(-7.0) if b[key].is_floating_point() else b[key]), f"{where}: {key}"
        else:
            assert a[key] == b[key], f"{where}: {key}"


def test_open_lists_every_image_in_order(datasets):
    ds = synthfarm_data.open("file://" + datasets.still)
    assert ds.layout == "files"
    assert [(it.index, it.frame) for it in ds.items] == [(i, 0) for i in range(6)]
    assert len(ds.shards) == 3 and [len(s.items) for s in ds.shards] == [2, 2, 2]
    # A plain path opens the same dataset.
    assert [it.stem for it in synthfarm_data.open(datasets.still).items] == [it.stem for it in ds.items]

    clip = synthfarm_data.open("file://" + datasets.clip)
    assert [(it.index, it.frame) for it in clip.items] == [(i, f) for i in range(2) for f in range(3)]
    assert [it.stem for it in clip.items][:2] == ["samples/00000000.f000", "samples/00000000.f001"]


def test_every_tensor_equals_the_exr_and_json_it_came_from(datasets):
    root = datasets.still
    data = synthfarm_data.SampleDataset("file://" + root, layers=LAYERS)
    previews = synthfarm_data.SampleDataset(root, image="preview", masks=False)
    assert len(data) == len(sample_files(root)) == 6
    people_seen = 0
    for i in range(len(data)):
        item = data[i]
        stem = os.path.join(root, "samples", f"{i:08d}")
        exr = stem + ".exr"
        with open(stem + ".json") as f:
            meta = json.load(f)
        h, w = meta["height"], meta["width"]
        assert (h, w) == (48, 64)
        assert item["index"] == i and item["frame"] == 0 and item["meta"] == meta

        rgb = np.stack([exr_channel(exr, c) for c in "RGB"])
        assert item["image"].dtype == torch.float32 and item["image"].shape == (3, h, w)
        assert np.array_equal(item["image"].numpy(), rgb)
        assert rgb.max() > 0  # a render, not a blank
        for layer, channels in EXR_CHANNELS.items():
            planes = [exr_channel(exr, c) for c in channels]
            expected = planes[0] if len(planes) == 1 else np.stack(planes)
            got = item[layer].numpy()
            assert got.shape == expected.shape, layer
            if layer in ("instance", "semantic", "part"):
                assert item[layer].dtype == torch.int64
                assert np.array_equal(got, expected.astype(np.int64)), layer
            else:
                assert item[layer].dtype == torch.float32
                assert np.array_equal(got, expected), layer  # depth's +inf sky included

        png = oiio.ImageBuf(stem + ".png")
        expected_png = np.asarray(png.get_pixels(oiio.UINT8)).reshape(h, w, -1)[:, :, :3].transpose(2, 0, 1)
        assert previews[i]["image"].dtype == torch.uint8
        assert np.array_equal(previews[i]["image"].numpy(), expected_png)

        assert np.array_equal(item["K"].numpy(), np.array(meta["K"], dtype=np.float64))
        assert np.array_equal(item["world_to_camera"].numpy(), np.array(meta["world_to_camera"]))
        people = [p for p in meta["instances"] if p["class"] == "person"]
        n = len(people)
        people_seen += n
        assert item["person_ids"].tolist() == [p["id"] for p in people]
        assert item["boxes"].shape == (n, 4) and item["boxes"].tolist() == [p["bbox"] for p in people]
        assert item["keypoints"].shape == (n, 17, 3)
        assert item["keypoints"].reshape(n, 51).tolist() == [p["keypoints"] for p in people]
        assert set(item["keypoints"][:, :, 2].flatten().tolist()) <= {0.0, 1.0, 2.0}
        assert item["keypoints_3d"].tolist() == [p["keypoints_3d_camera"] for p in people]
        assert item["joints_3d"].shape == (n, 24, 3)
        assert item["joints_3d"].tolist() == [[p["joints_3d_camera"][j] for j in JOINT_NAMES] for p in people]
        assert item["pose"].tolist() == [[p["pose"][j] for j in JOINT_NAMES] for p in people]
        assert item["shape"].tolist() == [[p["shape"][f] for f in SHAPE_FIELDS] for p in people]
        instance = exr_channel(exr, "instance.id")
        assert item["masks"].dtype == torch.bool and item["masks"].shape == (n, h, w)
        for k, p in enumerate(people):
            mask = item["masks"][k].numpy()
            assert np.array_equal(mask, instance == p["id"])
            # The EXR's instance layer and the JSON's RLE, box and area say the same.
            assert np.array_equal(mask, decode_rle(p["segmentation"]))
            assert mask.sum() == p["area"]
            if p["area"]:
                ys, xs = np.nonzero(mask)
                assert p["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
    assert people_seen >= 6


def test_clip_frames_are_items_of_their_own(datasets):
    data = synthfarm_data.SampleDataset(datasets.clip, layers=["depth", "motion"])
    assert len(data) == 6
    for i, item in enumerate(data):
        with open(os.path.join(datasets.clip, "samples", f"{i // 3:08d}.f{i % 3:03d}.json")) as f:
            meta = json.load(f)
        assert (item["index"], item["frame"]) == (i // 3, i % 3) == (meta["index"], meta["clip"]["frame"])
        assert item["meta"] == meta
        exr = os.path.join(datasets.clip, "samples", f"{i // 3:08d}.f{i % 3:03d}.exr")
        assert np.array_equal(item["motion"][0].numpy(), exr_channel(exr, "motion.X"))
    # The same people move: frame 1's keypoints are not frame 0's.
    assert not torch.equal(data[0]["keypoints"], data[1]["keypoints"])
    assert data[0]["person_ids"].tolist() == data[1]["person_ids"].tolist()


def test_transform_and_collate(datasets):
    data = synthfarm_data.SampleDataset(datasets.still, layers=["depth"],
                                        transform=lambda d: {"depth": d["depth"] * 2, "boxes": d["boxes"],
                                                             "index": d["index"]})
    plain = synthfarm_data.SampleDataset(datasets.still, layers=["depth"])
    assert torch.equal(data[1]["depth"], plain[1]["depth"] * 2)
    loader = torch.utils.data.DataLoader(data, batch_size=4, collate_fn=synthfarm_data.collate)
    batch = next(iter(loader))
    assert batch["depth"].shape == (4, 48, 64)
    assert batch["index"].tolist() == [0, 1, 2, 3]
    assert isinstance(batch["boxes"], list) and len(batch["boxes"]) == 4


def test_files_layout_streams_once_across_two_workers(datasets):
    stream = synthfarm_data.ShardStream(datasets.clip, layers=["depth"])
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
    seen = [(item["index"], item["frame"]) for item in loader]
    assert sorted(seen) == [(i, f) for i in range(2) for f in range(3)]


def test_verify_passes_then_names_the_flipped_object(datasets, tmp_path):
    ds = synthfarm_data.open(datasets.still)
    assert ds.verify() == len(ds.manifest.objects)
    copy = tmp_path / "copy"
    shutil.copytree(datasets.still, copy)
    victim = copy / "samples" / "00000004.exr"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(VerifyError) as e:
        synthfarm_data.open(str(copy)).verify()
    assert "samples/00000004.exr" in str(e.value)
    assert e.value.problems == [p for p in e.value.problems if "00000004.exr" in p] and len(e.value.problems) == 1
    (copy / "samples" / "00000001.json").unlink()
    with pytest.raises(VerifyError, match=r"samples/00000001\.json: cannot read"):
        synthfarm_data.open(str(copy)).verify()


def test_bad_input_is_named(datasets, tmp_path):
    with pytest.raises(DatasetError, match=r"unsupported URI scheme 'ftp'"):
        synthfarm_data.open("ftp://host/data")
    with pytest.raises(DatasetError, match=r"/nowhere/at-all: no such directory"):
        synthfarm_data.open("file:///nowhere/at-all")
    with pytest.raises(DatasetError, match=r"cannot read manifest\.json"):
        synthfarm_data.open(str(tmp_path))
    (tmp_path / "manifest.json").write_text("{\"format\": \"other/2\"}")
    with pytest.raises(DatasetError, match=r"format is 'other/2'"):
        synthfarm_data.open(str(tmp_path))
    with pytest.raises(DatasetError, match=r"unknown layer 'mask'; expected one of: depth"):
        synthfarm_data.SampleDataset(datasets.still, layers=["mask"])
    with pytest.raises(DatasetError, match=r"layer 'normal' is not in this dataset"):
        synthfarm_data.SampleDataset(datasets.clip, layers=["normal"])
    with pytest.raises(DatasetError, match=r"image='jpeg'"):
        synthfarm_data.SampleDataset(datasets.clip, image="jpeg")


def test_show_draws_boxes_skeletons_and_masks(datasets, tmp_path):
    import subprocess
    import sys
    from PIL import Image

    ds = synthfarm_data.open(datasets.still)
    # The first sample with a person whose box and a visible keypoint are in the picture.
    item = next(it for it in (ds.item(i, image="preview") for i in range(len(ds)))
                if len(it["boxes"]) and it["boxes"][0, 2] > 2 and (it["keypoints"][0, :, 2] == 2).any())
    out = tmp_path / "show.png"
    package_dir = os.path.dirname(os.path.dirname(synthfarm_data.__file__))
    done = subprocess.run([sys.executable, "-m", "synthfarm_data.show", "file://" + datasets.still,
                           str(item["index"]), "-o", str(out), "--scale", "4"],
                          env={**os.environ, "PYTHONPATH": package_dir}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    drawn = np.asarray(Image.open(out).convert("RGB"))
    assert drawn.shape == (48 * 4, 64 * 4, 3)
    x, y, w, h = (int(v) for v in item["boxes"][0])
    assert tuple(drawn[y * 4, x * 4 + w * 2]) == (230, 25, 75)  # the first person's box, top edge
    kx, ky = item["keypoints"][0][item["keypoints"][0, :, 2] == 2][0, :2].tolist()
    assert tuple(drawn[int(ky * 4), int(kx * 4)]) == (255, 255, 255)  # a visible keypoint's dot
    plain = np.repeat(np.repeat(item["image"].numpy().transpose(1, 2, 0), 4, 0), 4, 1)
    mask = np.repeat(np.repeat(item["masks"][0].numpy(), 4, 0), 4, 1)
    assert (drawn[mask] != plain[mask]).any()  # the mask is tinted

    bad = subprocess.run([sys.executable, "-m", "synthfarm_data.show", datasets.still, "99"],
                         env={**os.environ, "PYTHONPATH": package_dir}, capture_output=True, text=True)
    assert bad.returncode == 1 and "no sample 99 frame 0" in bad.stderr
