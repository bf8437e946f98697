"""COCO's compressed RLE (the sample JSON's instances[].segmentation; jobs/coco.h), decoded
to a mask. Used when the dataset's EXR has no instance layer to cut masks from."""

import numpy as np

from .errors import DatasetError


def _counts(text):
    # pycocotools' rleFrString: 5 bits a character, offset 48, a continuation bit 0x20, the
    # sign in the last group's 0x10 bit, each count after the second a delta to the one two back.
    counts, p = [], 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode_rle(segmentation, name="segmentation"):
    """The bool mask [H, W] of a {"size": [h, w], "counts": "..."} COCO RLE."""
    try:
        h, w = segmentation["size"]
        counts = _counts(segmentation["counts"])
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"{name}: not a COCO compressed RLE") from None
    if any(c < 0 for c in counts) or sum(counts) != h * w:
        raise DatasetError(f"{name}: RLE counts do not cover a {h}x{w} image")
    flat = np.zeros(h * w, dtype=bool)
    pos = 0
    for i, c in enumerate(counts):
        if i % 2:
            flat[pos:pos + c] = True
        pos += c
    # COCO's RLE runs down columns (Fortran order).
    return flat.reshape(w, h).T.copy()
