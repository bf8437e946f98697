"""manifest.json, the dataset's table of contents (coordinator/finalizer.cpp): which layout
the samples are stored in and where each sample object's bytes are.

Both layouts are reduced to one map, `locations`, from a sample object's files-layout key
("samples/00000042.exr", "samples/00000042.f003.json") to a Location: the object holding
the bytes, and for a WebDataset tar member the byte range of its data in the tar. Readers
above this module never look at the layout again.
"""

import json
import re
from dataclasses import dataclass

from .errors import DatasetError

FORMAT = "synthfarm.dataset/1"
LAYOUTS = ("files", "webdataset")

# A sample object's key: its stem ("samples/00000042" or "samples/00000042.f003") and extension.
_SAMPLE_KEY = re.compile(r"^samples/(\d{8})(?:\.f(\d{3}))?\.(exr|png|jpg|json)$")


@dataclass(frozen=True)
class Location:
    key: str            # the object in the store: the sample object, or the shard's tar
    size: int           # bytes of the sample object (of the member's data in a tar)
    sha256: str
    offset: int = -1    # byte offset of the member's data in the tar; -1: the whole object

    @property
    def name(self):
        """How errors name it: the key, or "tar:member" for a tar member."""
        return self.key if self.offset < 0 else f"{self.key}@{self.offset}"


@dataclass(frozen=True)
class Item:
    """One image of the dataset: a still sample (frame 0 of a 1-frame clip) or a clip's frame."""
    index: int
    frame: int
    stem: str           # "samples/00000042" or "samples/00000042.f003"


@dataclass(frozen=True)
class Shard:
    """A unit of streaming: a WebDataset tar, or (files layout) one shard's samples."""
    number: int
    key: str            # "shards/000001.tar"; for the files layout its manifest key
    items: tuple        # Items in sample, then frame order


class Manifest:
    """A parsed manifest.json. Raises DatasetError naming the field for anything malformed."""

    def __init__(self, data, source="manifest.json"):
        self.source = source
        if not isinstance(data, dict):
            raise DatasetError(f"{source}: not a JSON object")
        if data.get("format") != FORMAT:
            raise DatasetError(f"{source}: format is {data.get('format')!r}, expected {FORMAT!r}")
        self.raw = data
        self.spec = data.get("spec") or {}
        layout = data.get("layout") or {}
        # A manifest written before the WebDataset layout has no layout.format: files.
        self.layout = layout.get("format", "files") if isinstance(layout, dict) else "files"
        if self.layout not in LAYOUTS:
            raise DatasetError(f"{source}: layout.format is {self.layout!r}, expected one of {', '.join(LAYOUTS)}")
        objects = data.get("objects")
        if not isinstance(objects, list):
            raise DatasetError(f"{source}: no \"objects\" array")
        self.objects = []
        for i, o in enumerate(objects):
            if not (isinstance(o, dict) and isinstance(o.get("key"), str) and isinstance(o.get("size"), int)
                    and isinstance(o.get("sha256"), str)):
                raise DatasetError(f"{source}: objects[{i}] lacks key, size or sha256")
            self.objects.append(o)
        self.locations = {}
        tars = []
        if self.layout == "files":
            for o in self.objects:
                if _SAMPLE_KEY.match(o["key"]):
                    self.locations[o["key"]] = Location(o["key"], o["size"], o["sha256"])
        else:
            for i, o in enumerate(self.objects):
                if not o["key"].endswith(".tar"):
                    continue
                members = o.get("members")
                if not isinstance(members, list):
                    raise DatasetError(f"{source}: objects[{i}] ({o['key']}) has no \"members\" array")
                names = []
                for j, m in enumerate(members):
                    if not (isinstance(m, dict) and isinstance(m.get("name"), str) and isinstance(m.get("offset"), int)
                            and isinstance(m.get("size"), int) and isinstance(m.get("sha256"), str)):
                        raise DatasetError(f"{source}: objects[{i}].members[{j}] lacks name, offset, size or sha256")
                    if m["offset"] < 0 or m["offset"] + m["size"] > o["size"]:
                        raise DatasetError(f"{source}: objects[{i}].members[{j}] ({m['name']}) lies outside {o['key']}")
                    key = "samples/" + m["name"]
                    if _SAMPLE_KEY.match(key):
                        self.locations[key] = Location(o["key"], m["size"], m["sha256"], m["offset"])
                        names.append(key)
                tars.append((o["key"], names))
        self.items = sorted({_item_of(key) for key in self.locations if key.endswith(".json")},
                            key=lambda it: (it.index, it.frame))
        self.shards = self._shards(tars)

    def _shards(self, tars):
        if self.layout == "webdataset":
            shards = []
            for key, names in sorted(tars):
                items = sorted({_item_of(n) for n in names if n.endswith(".json")}, key=lambda it: (it.index, it.frame))
                number = int(re.sub(r"\D", "", key.rsplit("/", 1)[-1]) or 0)
                shards.append(Shard(number, key, tuple(items)))
            return shards
        shard_size = self.spec.get("shard_size") or 50
        groups = {}
        for item in self.items:
            groups.setdefault(item.index // shard_size, []).append(item)
        return [Shard(n, f"shards/{n:06d}.manifest.json", tuple(items)) for n, items in sorted(groups.items())]

    @property
    def frames_per_sample(self):
        return int((self.spec.get("clip") or {}).get("frames", 1))

    @property
    def layers(self):
        return list((self.spec.get("output") or {}).get("layers") or [])

    def location(self, key):
        loc = self.locations.get(key)
        if loc is None:
            raise DatasetError(f"{self.source}: lists no object {key}")
        return loc

    def preview_key(self, stem):
        """The camera's sRGB preview of an item (.png, or .jpg with a JPEG sensor), or None."""
        for ext in ("png", "jpg"):
            if f"{stem}.{ext}" in self.locations:
                return f"{stem}.{ext}"
        return None


def _item_of(key):
    m = _SAMPLE_KEY.match(key)
    stem = key[: -len(m.group(3)) - 1]
    return Item(int(m.group(1)), int(m.group(2) or 0), stem)


def parse_manifest(data, source):
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetError(f"{source}: not JSON ({e})") from None
    return Manifest(parsed, source)
