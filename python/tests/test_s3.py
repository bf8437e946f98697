"""A dataset on an S3-compatible server (s3rver), opened as s3://bucket/prefix with the
endpoint and credentials in the AWS variables, reads the same as the local copy."""

import pytest
import torch

import servers
import synthfarm_data
from synthfarm_data import DatasetError
from test_dataset import assert_items_equal


@pytest.fixture
def s3(monkeypatch):
    with servers.s3rver("datasets") as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
            monkeypatch.delenv(name, raising=False)
        yield env


def test_s3_dataset_reads_like_the_local_one(datasets, s3):
    servers.upload(s3, "datasets", "people/still", datasets.still)
    remote = synthfarm_data.open("s3://datasets/people/still")
    assert remote.verify() == len(remote.manifest.objects)
    local = synthfarm_data.SampleDataset(datasets.still, layers=["depth", "instance"])
    ranged = synthfarm_data.SampleDataset(remote, layers=["depth", "instance"])
    for i in (0, 5):
        assert_items_equal(local[i], ranged[i], f"item {i}")
    loader = torch.utils.data.DataLoader(synthfarm_data.ShardStream(remote, image=None), batch_size=None,
                                         num_workers=2)
    assert sorted(item["index"] for item in loader) == list(range(6))

    if datasets.still_wds is not None:
        servers.upload(s3, "datasets", "people/still-wds", datasets.still_wds)
        wds = synthfarm_data.open("s3://datasets/people/still-wds")
        assert wds.layout == "webdataset"
        wds.verify()
        for read in ("stream", "range"):
            stream = synthfarm_data.ShardStream(wds, layers=["depth", "instance"], read=read)
            loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=2)
            items = sorted(loader, key=lambda it: it["index"])
            assert [it["index"] for it in items] == list(range(6))
            for i, item in enumerate(items):
                assert_items_equal(local[i], item, f"{read} item {i}")

    with pytest.raises(DatasetError, match=r"s3://datasets/people/none: cannot read manifest\.json"):
        synthfarm_data.open("s3://datasets/people/none")
    with pytest.raises(DatasetError, match=r"no bucket"):
        synthfarm_data.open("s3://no-such-bucket/x")
