"""The WebDataset layout (output.format: webdataset): one tar per shard, read by byte ranges
and streamed, must give exactly the samples of the files layout (the same spec and seed)."""

import json
import os
import shutil
import tarfile

import pytest
import torch

import synthfarm_data
from synthfarm_data import VerifyError
from test_dataset import LAYERS, assert_items_equal


def tar_keys(root):
    return sorted(f"shards/{f}" for f in os.listdir(os.path.join(root, "shards")) if f.endswith(".tar"))


def test_manifest_offsets_point_at_the_member_data(webdataset):
    root = webdataset.still_wds
    with open(os.path.join(root, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["layout"]["format"] == "webdataset"
    tars = [o for o in manifest["objects"] if o["key"].endswith(".tar")]
    assert [o["key"] for o in tars] == tar_keys(root) and len(tars) == 3
    for o in tars:
        with tarfile.open(os.path.join(root, o["key"])) as tar:
            members = [(m.name, m.offset_data, m.size) for m in tar.getmembers()]
        assert members == [(m["name"], m["offset"], m["size"]) for m in o["members"]]


@pytest.mark.parametrize("which", ["still", "clip"])
def test_both_layouts_give_identical_samples(webdataset, which):
    files_root = getattr(webdataset, which)
    wds_root = getattr(webdataset, f"{which}_wds")
    layers = LAYERS if which == "still" else ["depth", "instance", "motion"]
    files = synthfarm_data.SampleDataset(files_root, layers=layers)
    wds = synthfarm_data.open("file://" + wds_root)
    assert wds.layout == "webdataset"
    ranged = synthfarm_data.SampleDataset(wds, layers=layers)
    assert len(files) == len(ranged) == (6 if which == "still" else 6)
    for i in range(len(files)):
        assert_items_equal(files[i], ranged[i], f"{which} item {i}")
    streamed = list(synthfarm_data.ShardStream(wds, layers=layers, verify=True))
    assert len(streamed) == len(files)
    for i, item in enumerate(streamed):
        assert_items_equal(files[i], item, f"{which} streamed item {i}")
    previews = synthfarm_data.SampleDataset(wds, image="preview")
    assert torch.equal(previews[2]["image"], synthfarm_data.SampleDataset(files_root, image="preview")[2]["image"])


@pytest.mark.parametrize("read", ["stream", "range"])
def test_dataloader_with_two_workers_reads_each_image_once(webdataset, read):
    stream = synthfarm_data.ShardStream(webdataset.still_wds, layers=["depth"], read=read)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
    seen = [(item["index"], item["frame"], item["depth"]) for item in loader]
    assert sorted((i, f) for i, f, _ in seen) == [(i, 0) for i in range(6)]
    files = synthfarm_data.SampleDataset(webdataset.still, layers=["depth"])
    for i, _, depth in seen:
        assert torch.equal(depth, files[i]["depth"])
    # Ranks split the shards before workers do: two ranks together read everything once.
    halves = [[it["index"] for it in synthfarm_data.ShardStream(webdataset.clip_wds, image=None, rank=r,
                                                                  world_size=2, read=read)] for r in (0, 1)]
    assert sorted(halves[0] + halves[1]) == [0, 0, 0, 1, 1, 1] and halves[0] and halves[1]


def test_verify_names_the_flipped_tar_member(webdataset, tmp_path):
    ds = synthfarm_data.open(webdataset.still_wds)
    members = sum(len(o.get("members", [])) for o in ds.manifest.objects)
    assert ds.verify() == len(ds.manifest.objects) + members
    copy = tmp_path / "copy"
    shutil.copytree(webdataset.still_wds, copy)
    tar = next(o for o in ds.manifest.objects if o["key"] == "shards/000001.tar")
    member = next(m for m in tar["members"] if m["name"].endswith(".exr"))
    path = copy / "shards" / "000001.tar"
    data = bytearray(path.read_bytes())
    data[member["offset"] + member["size"] // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(VerifyError) as e:
        synthfarm_data.open(str(copy)).verify()
    assert f"shards/000001.tar:{member['name']}" in str(e.value)
    assert len(e.value.problems) == 2  # the tar's own sha256 and that member's
    with pytest.raises(VerifyError, match=member["name"]):
        list(synthfarm_data.ShardStream(str(copy), verify=True))
