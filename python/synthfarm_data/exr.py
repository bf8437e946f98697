"""Reads channels of a sample's EXR with OpenImageIO, each in its stored precision: FLOAT and
HALF channels as float32 (a half widens to float32 exactly), UINT channels as uint32 (never
through float, which would round ids past 2^24)."""

import os
import tempfile

import numpy as np
import OpenImageIO as oiio

from .errors import DatasetError

# OpenEXR's global thread pool does not survive fork(): a DataLoader worker forked after the
# parent decoded an EXR waits forever on the pool's lock. Without the pool, OpenEXR decodes
# on the calling thread; DataLoader workers give the parallelism. (-1: no pool at all.)
oiio.attribute("exr_threads", -1)


def read_exr_channels(path, channels, name):
    """{channel: array [H, W]} of `channels` from the EXR file at `path`; `name` (the object)
    is used in messages. Raises DatasetError if the file is not an EXR or lacks a channel."""
    inp = oiio.ImageInput.open(path)
    if inp is None:
        raise DatasetError(f"{name}: not a readable EXR ({oiio.geterror()})")
    try:
        spec = inp.spec()
        names = list(spec.channelnames)
        missing = [c for c in channels if c not in names]
        if missing:
            raise DatasetError(f"{name}: no channel {', '.join(missing)} (it has {', '.join(names)})")
        formats = spec.channelformats or [spec.format] * len(names)
        is_uint = [f.basetype == oiio.UINT32 for f in formats]
        out = {}
        # Two reads at most: OpenEXR decompresses every channel of a block whatever the
        # read asks for, so one read per kind over the span of its wanted channels is
        # cheaper than one per channel.
        for uint in (False, True):
            wanted = [names.index(c) for c in channels if is_uint[names.index(c)] == uint]
            if not wanted:
                continue
            begin, stop = min(wanted), max(wanted) + 1
            pixels = inp.read_image(0, 0, begin, stop, oiio.UINT if uint else oiio.FLOAT)
            if pixels is None or inp.has_error:
                raise DatasetError(f"{name}: cannot read channels {names[begin]}..{names[stop - 1]}: {inp.geterror()}")
            pixels = np.asarray(pixels).reshape(spec.height, spec.width, stop - begin)
            for c in wanted:
                out[names[c]] = np.ascontiguousarray(pixels[:, :, c - begin])
        return out
    finally:
        inp.close()


def read_exr_bytes(data, channels, name):
    """read_exr_channels for an EXR held in memory (an S3 object or a tar member):
    OpenImageIO's Python binding reads files only, so the bytes go through a temp file."""
    fd, path = tempfile.mkstemp(suffix=".exr", prefix="synthfarm_data-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return read_exr_channels(path, channels, name)
    finally:
        os.unlink(path)
