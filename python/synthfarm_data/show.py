"""Draws one image of a dataset with its labels over it: person masks (tinted), boxes, and
COCO skeletons (keypoints visible: filled dots, occluded: rings, outside the image: left
out), the way the dashboard's sample viewer shows them.

    python -m synthfarm_data.show DATASET INDEX [--frame F] [-o out.png] [--scale N]

DATASET is a URI (file://, s3://) or a local path; INDEX the sample index.
"""

import argparse
import sys

import numpy as np

from .conventions import SKELETON
from .errors import DatasetError

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def linear_to_srgb8(rgb):
    """[3, H, W] linear radiance -> uint8 [H, W, 3] sRGB (clipped at 1)."""
    c = np.clip(np.nan_to_num(np.asarray(rgb, dtype=np.float64)), 0.0, 1.0)
    s = np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.round(s * 255).astype(np.uint8).transpose(1, 2, 0)


def render_overlay(item, scale=1):
    """A PIL image of `item` (a SampleDataset dict with an image and masks) with its labels."""
    from PIL import Image, ImageDraw

    image = item["image"].numpy()
    pixels = image.transpose(1, 2, 0) if image.dtype == np.uint8 else linear_to_srgb8(image)
    base = Image.fromarray(np.ascontiguousarray(pixels), "RGB").convert("RGBA")
    w, h = base.size
    tint = np.zeros((h, w, 4), dtype=np.uint8)
    for k in range(len(item["person_ids"])):
        colour = PALETTE[k % len(PALETTE)]
        tint[item["masks"][k].numpy()] = (*colour, 110)
    base = Image.alpha_composite(base, Image.fromarray(tint, "RGBA"))
    base = base.resize((w * scale, h * scale), Image.NEAREST)
    draw = ImageDraw.Draw(base)
    for k in range(len(item["person_ids"])):
        colour = PALETTE[k % len(PALETTE)]
        x, y, bw, bh = (float(v) * scale for v in item["boxes"][k])
        if bw > 0 and bh > 0:
            draw.rectangle([x, y, x + bw - 1, y + bh - 1], outline=colour + (255,), width=max(1, scale // 2))
        kp = item["keypoints"][k].numpy()
        # Keypoint coordinates are continuous pixels (a pixel's centre at integer + 0.5).
        pts = [(px * scale, py * scale) for px, py, _ in kp]
        for a, b in SKELETON:
            if kp[a, 2] > 0 and kp[b, 2] > 0:
                draw.line([pts[a], pts[b]], fill=colour + (255,), width=max(1, scale // 2))
        r = max(2, scale)
        for (px, py), v in zip(pts, kp[:, 2]):
            if v == 2:
                draw.ellipse([px - r, py - r, px + r, py + r], fill=(255, 255, 255, 255), outline=colour + (255,))
            elif v == 1:
                draw.ellipse([px - r, py - r, px + r, py + r], outline=(255, 255, 255, 255))
    return base.convert("RGB")


def main(argv=None):
    from .dataset import RenderedDataset

    parser = argparse.ArgumentParser(prog="python -m synthfarm_data.show", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="file:///dir, s3://bucket/prefix or a local path")
    parser.add_argument("index", type=int, help="the sample's index")
    parser.add_argument("--frame", type=int, default=0, help="a clip's frame (default 0)")
    parser.add_argument("-o", "--output", help="PNG to write (default: <index>[.f<frame>].png)")
    parser.add_argument("--scale", type=int, default=0,
                        help="pixels per image pixel (default: enough for 640 pixels across)")
    args = parser.parse_args(argv)
    try:
        ds = RenderedDataset(args.dataset)
        i = ds.find(args.index, args.frame)
        preview = ds.manifest.preview_key(ds.items[i].stem) is not None
        item = ds.item(i, image="preview" if preview else "linear")
    except DatasetError as e:
        print(f"show: {e}", file=sys.stderr)
        return 1
    scale = args.scale or max(1, -(-640 // item["image"].shape[2]))
    out = args.output or (f"{args.index:08d}.png" if ds.manifest.frames_per_sample == 1 else
                          f"{args.index:08d}.f{args.frame:03d}.png")
    render_overlay(item, scale).save(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
