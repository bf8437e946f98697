"""A finished synthfarm dataset, opened from its manifest.json, and the two PyTorch views of it:

  SampleDataset   map-style: item i is the i-th image (samples in index order, a clip's
                  frames in frame order); reads only that item's objects (a byte-range
                  read per tar member in the WebDataset layout)
  ShardStream     iterable: shard after shard, each DataLoader worker (and each rank)
                  its own shards; a WebDataset tar is streamed start to end, never
                  downloaded whole

Both return the dicts of tensors of sample.py, passed through `transform` when given.
"""

import hashlib
import random
import tarfile

import torch
import torch.utils.data

from .errors import DatasetError, VerifyError
from .manifest import parse_manifest
from .sample import check_request, decode_item
from .store import FileStore, open_store

_CHUNK = 1 << 20


def open(uri):  # noqa: A001 - the package's entry point reads as synthfarm_data.open(uri)
    """The dataset at `uri` (file:///dir, a local path, or s3://bucket/prefix): reads its
    manifest.json. Raises DatasetError naming the URI when it cannot."""
    return RenderedDataset(uri)


class RenderedDataset:
    """A dataset's manifest and store: what is in it, where each object's bytes are, and
    verify(). Safe to pickle into DataLoader workers (each makes its own S3 client)."""

    def __init__(self, uri):
        self.store = open_store(uri)
        self.uri = self.store.uri
        try:
            data = self.store.get("manifest.json")
        except DatasetError as e:
            raise DatasetError(f"{self.uri}: cannot read manifest.json ({e}); the coordinator writes it "
                               "when a job ends: is this a finished job's dataset?") from None
        self.manifest = parse_manifest(data, f"{self.uri}/manifest.json")
        self.spec = self.manifest.spec
        self.layout = self.manifest.layout
        self.items = self.manifest.items
        self.shards = self.manifest.shards

    def __len__(self):
        return len(self.items)

    def __repr__(self):
        return f"<synthfarm dataset {self.uri}: {self.layout} layout, {len(self.items)} images>"

    # Reading sample objects (files-layout keys, whichever the layout).
    def read(self, key):
        loc = self.manifest.location(key)
        if loc.offset < 0:
            return self.store.get(loc.key)
        return self.store.get_range(loc.key, loc.offset, loc.size)

    def local_path(self, key):
        loc = self.manifest.location(key)
        if loc.offset < 0 and isinstance(self.store, FileStore):
            return self.store.local_path(loc.key)
        return None

    def item(self, i, layers=(), image="linear", masks=True):
        """The dict of tensors of image i (see SampleDataset)."""
        layers = check_request(layers, image, self.manifest.layers, self.uri)
        return decode_item(self.items[i], self.manifest, self.read, self.local_path, layers, image, masks)

    def find(self, index, frame=0):
        """The position in `items` of sample `index`, frame `frame`."""
        for i, it in enumerate(self.items):
            if it.index == index and it.frame == frame:
                return i
        raise DatasetError(f"{self.uri}: no sample {index} frame {frame} in the manifest")

    def samples(self, **kwargs):
        return SampleDataset(self, **kwargs)

    def stream(self, **kwargs):
        return ShardStream(self, **kwargs)

    def verify(self):
        """Reads every object the manifest lists and checks its size and sha256, and each tar
        member's. Returns how many objects (tar members included) were checked; raises
        VerifyError naming every object (or "tar:member") that is missing or differs."""
        problems, checked = [], 0
        for o in self.manifest.objects:
            members = sorted(o.get("members") or [], key=lambda m: m["offset"])
            try:
                size, digest, member_digests = _hash_object(self.store, o["key"], members)
            except DatasetError as e:
                problems.append(f"{o['key']}: cannot read ({e})")
                continue
            checked += 1
            if size != o["size"]:
                problems.append(f"{o['key']}: {size} bytes, manifest says {o['size']}")
            elif digest != o["sha256"]:
                problems.append(f"{o['key']}: sha256 {digest} differs from the manifest's {o['sha256']}")
            for m, d in zip(members, member_digests):
                checked += 1
                if d != m["sha256"]:
                    problems.append(f"{o['key']}:{m['name']}: sha256 {d} differs from the manifest's {m['sha256']}")
        if problems:
            raise VerifyError(problems)
        return checked


def _hash_object(store, key, members):
    """(size, sha256, [sha256 of each member's byte range]) of one object, read as a stream."""
    whole = hashlib.sha256()
    hashers = [hashlib.sha256() for _ in members]
    pos = 0
    with store.open_stream(key) as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            whole.update(chunk)
            end = pos + len(chunk)
            for m, h in zip(members, hashers):
                lo, hi = max(pos, m["offset"]), min(end, m["offset"] + m["size"])
                if lo < hi:
                    h.update(chunk[lo - pos:hi - pos])
            pos = end
    return pos, whole.hexdigest(), [h.hexdigest() for h in hashers]


def _as_dataset(source):
    return source if isinstance(source, RenderedDataset) else RenderedDataset(source)


class SampleDataset(torch.utils.data.Dataset):
    """Map-style dataset over every image of a synthfarm dataset (either layout).

    source     a URI (file://, local path, s3://) or a RenderedDataset
    layers     label layers to decode from the EXR: any of depth, normal, albedo, instance,
               semantic, part, uv, motion (each must be in the dataset's output.layers)
    image      "linear" (the EXR's clean R,G,B, float32), "preview" (the camera's sRGB PNG
               or JPEG, uint8), or None
    masks      per-person masks [N, H, W] from the instance layer (the JSON's RLE when the
               EXR has none)
    transform  called on each item's dict; its result is returned instead
    """

    def __init__(self, source, layers=(), image="linear", masks=True, transform=None):
        self.dataset = _as_dataset(source)
        self.layers = check_request(layers, image, self.dataset.manifest.layers, self.dataset.uri)
        self.image = image
        self.masks = masks
        self.transform = transform

    def __len__(self):
        return len(self.dataset.items)

    def __getitem__(self, i):
        if not -len(self) <= i < len(self):
            raise IndexError(f"item {i} of a dataset of {len(self)}")
        ds = self.dataset
        out = decode_item(ds.items[i], ds.manifest, ds.read, ds.local_path, self.layers, self.image, self.masks)
        return self.transform(out) if self.transform else out


class ShardStream(torch.utils.data.IterableDataset):
    """Iterable dataset over a synthfarm dataset shard by shard: a WebDataset tar streamed
    start to end (`read="stream"`) or read member by member with byte ranges
    (`read="range"`: only the members asked for); a files-layout dataset's shards are read
    object by object. Shards are split between ranks (`rank`, `world_size`; default from
    torch.distributed when initialised) and then between DataLoader workers
    (torch.utils.data.get_worker_info()), so one pass yields each image exactly once.

    `shuffle=True` shuffles the shard order per epoch (`set_epoch`) with `seed`; images in
    a shard stay in order. `verify=True` checks each streamed member's sha256. The other
    arguments are SampleDataset's."""

    def __init__(self, source, layers=(), image="linear", masks=True, transform=None, read="stream",
                 shuffle=False, seed=0, rank=None, world_size=None, verify=False):
        self.dataset = _as_dataset(source)
        self.layers = check_request(layers, image, self.dataset.manifest.layers, self.dataset.uri)
        if read not in ("stream", "range"):
            raise DatasetError(f"read={read!r}; expected \"stream\" or \"range\"")
        self.image, self.masks, self.transform, self.read = image, masks, transform, read
        self.shuffle, self.seed, self.epoch, self.verify = shuffle, seed, 0, verify
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.dataset.items)

    def my_shards(self):
        """The shards this process (rank, DataLoader worker) reads, in order."""
        shards = list(self.dataset.shards)
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(shards)
        rank, world = self.rank, self.world_size
        if rank is None or world is None:
            dist = torch.distributed
            on = dist.is_available() and dist.is_initialized()
            rank, world = (dist.get_rank(), dist.get_world_size()) if on else (0, 1)
        shards = shards[rank::world]
        info = torch.utils.data.get_worker_info()
        if info is not None:
            shards = shards[info.id::info.num_workers]
        return shards

    def __iter__(self):
        for shard in self.my_shards():
            if self.dataset.layout == "webdataset" and self.read == "stream":
                items = self._stream_tar(shard)
            else:
                items = (self._decode(item, self.dataset.read, self.dataset.local_path) for item in shard.items)
            for out in items:
                yield self.transform(out) if self.transform else out

    def _decode(self, item, read, local_path):
        return decode_item(item, self.dataset.manifest, read, local_path, self.layers, self.image, self.masks)

    def _stream_tar(self, shard):
        manifest = self.dataset.manifest
        by_stem = {item.stem: item for item in shard.items}
        pending_stem, members = None, {}

        def read(key):
            try:
                return members[key]
            except KeyError:
                raise DatasetError(f"{shard.key}: no member {key[len('samples/'):]} before the next sample's") from None

        with self.dataset.store.open_stream(shard.key) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key = "samples/" + member.name
                stem = key.rsplit(".", 1)[0]
                if stem != pending_stem and pending_stem in by_stem:
                    yield self._decode(by_stem[pending_stem], read, lambda _: None)
                if stem != pending_stem:
                    pending_stem, members = stem, {}
                data = tar.extractfile(member).read()
                if self.verify:
                    loc = manifest.location(key)
                    if len(data) != loc.size or hashlib.sha256(data).hexdigest() != loc.sha256:
                        raise VerifyError([f"{shard.key}:{member.name}: size or sha256 differs from the manifest"])
                members[key] = data
            if pending_stem in by_stem:
                yield self._decode(by_stem[pending_stem], read, lambda _: None)


def collate(batch):
    """A DataLoader collate_fn for these dicts: tensors of one shape in every item are
    stacked (image, layers, K, world_to_camera), numbers become a tensor, and the rest
    (per-person tensors, whose first dimension is each image's number of people, and meta)
    stay lists."""
    out = {}
    for key in batch[0]:
        values = [b[key] for b in batch]
        if all(isinstance(v, torch.Tensor) for v in values) and len({tuple(v.shape) for v in values}) == 1 \
                and key not in _PER_PERSON:
            out[key] = torch.stack(values)
        elif all(isinstance(v, int) for v in values):
            out[key] = torch.tensor(values)
        else:
            out[key] = values
    return out


_PER_PERSON = frozenset({"person_ids", "boxes", "keypoints", "keypoints_3d", "joints_3d", "joints_2d",
                         "shape", "pose", "masks"})
