"""One item (a still sample or a clip's frame) decoded into a dict of tensors: the image and
label layers from its EXR (or the preview PNG/JPEG), and the camera and per-person labels
from its JSON. docs/python.md has the table of keys, shapes and dtypes; in short:

  image layers are [C, H, W] (one-channel layers [H, W]); float32, ids int64
  numbers from the JSON are float64 tensors holding exactly the JSON's values
  per-person tensors have the people (instances of class "person", in instance order) first

Nothing here touches storage: `read(key) -> bytes` and `local_path(key) -> path or None`
are handed in.
"""

import io
import json

import numpy as np
import torch

from .conventions import ID_LAYERS, JOINT_NAMES, KEYPOINT_NAMES, LAYER_CHANNELS, SHAPE_FIELDS
from .errors import DatasetError
from .exr import read_exr_bytes, read_exr_channels
from .rle import decode_rle

IMAGE_MODES = ("linear", "preview", None)


def check_request(layers, image, dataset_layers, source):
    """Validates what a dataset object is asked to decode; returns the layers as a tuple."""
    if isinstance(layers, str):
        layers = (layers,)
    layers = tuple(layers)
    for layer in layers:
        if layer not in LAYER_CHANNELS or layer == "rgb":
            allowed = ", ".join(n for n in LAYER_CHANNELS if n != "rgb")
            hint = " (the colour image is image=\"linear\")" if layer == "rgb" else ""
            raise DatasetError(f"unknown layer {layer!r}{hint}; expected one of: {allowed}")
        if layer not in dataset_layers:
            raise DatasetError(f"{source}: layer {layer!r} is not in this dataset "
                               f"(its output.layers: {', '.join(dataset_layers)})")
    if image not in IMAGE_MODES:
        raise DatasetError(f"image={image!r}; expected \"linear\" (the EXR's R,G,B), \"preview\" "
                           "(the camera's sRGB PNG or JPEG) or None")
    if image == "linear" and "rgb" not in dataset_layers:
        raise DatasetError(f"{source}: image=\"linear\" needs the rgb layer, which this dataset has not "
                           f"(its output.layers: {', '.join(dataset_layers)}); pass image=None")
    return layers


def decode_item(item, manifest, read, local_path, layers, image, masks):
    """The dict of tensors of `item` (manifest.Item)."""
    meta_key = f"{item.stem}.json"
    try:
        meta = json.loads(read(meta_key))
    except ValueError as e:
        raise DatasetError(f"{meta_key}: not JSON ({e})") from None
    height, width = int(meta["height"]), int(meta["width"])

    channels = [c for layer in layers for c in LAYER_CHANNELS[layer]]
    if image == "linear":
        channels += LAYER_CHANNELS["rgb"]
    has_instance_layer = "instance" in manifest.layers
    if masks and has_instance_layer and "instance.id" not in channels:
        channels.append("instance.id")
    exr = {}
    if channels:
        exr_key = f"{item.stem}.exr"
        path = local_path(exr_key)
        exr = (read_exr_channels(path, channels, exr_key) if path is not None
               else read_exr_bytes(read(exr_key), channels, exr_key))

    out = {"index": item.index, "frame": item.frame}
    if image == "linear":
        out["image"] = torch.from_numpy(np.stack([exr[c] for c in LAYER_CHANNELS["rgb"]]))
    elif image == "preview":
        key = manifest.preview_key(item.stem)
        if key is None:
            raise DatasetError(f"{item.stem}: no preview (.png or .jpg) in the manifest")
        out["image"] = torch.from_numpy(decode_preview(read(key), key))
    for layer in layers:
        planes = [exr[c] for c in LAYER_CHANNELS[layer]]
        if layer in ID_LAYERS:
            planes = [p.astype(np.int64) for p in planes]
        out[layer] = torch.from_numpy(planes[0] if len(planes) == 1 else np.stack(planes))

    out.update(camera_tensors(meta))
    people = [inst for inst in meta.get("instances", []) if inst.get("class") == "person"]
    out.update(person_tensors(people))
    if masks:
        if "instance.id" in exr:
            ids = exr["instance.id"]
            stack = [ids == p["id"] for p in people]
        else:
            stack = [decode_rle(p["segmentation"], f"{meta_key}: instance {p['id']}") for p in people]
        out["masks"] = torch.from_numpy(np.stack(stack) if stack else np.zeros((0, height, width), dtype=bool))
    out["meta"] = meta
    return out


def decode_preview(data, name):
    """The preview's pixels as uint8 [3, H, W] (sRGB, as stored)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"))
    except OSError as e:
        raise DatasetError(f"{name}: not a readable image ({e})") from None
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def camera_tensors(meta):
    return {
        "K": torch.tensor(meta["K"], dtype=torch.float64),
        "world_to_camera": torch.tensor(meta["world_to_camera"], dtype=torch.float64),
    }


def _nan_list(n):
    return [float("nan")] * n


def person_tensors(people):
    """Per-person tensors, people first. A glTF character has no parametric shape, pose or
    skeleton joints: its rows of shape, pose, joints_3d and joints_2d are NaN."""
    n = len(people)
    ids, boxes, keypoints, keypoints_3d = [], [], [], []
    shape, pose, joints_3d, joints_2d = [], [], [], []
    for p in people:
        ids.append(p["id"])
        boxes.append(p["bbox"])
        keypoints.append(np.asarray(p["keypoints"], dtype=np.float64).reshape(len(KEYPOINT_NAMES), 3))
        keypoints_3d.append(p["keypoints_3d_camera"])
        parametric = p.get("body", "parametric") != "character"
        s = p.get("shape") if parametric else None
        shape.append([s[f] for f in SHAPE_FIELDS] if s else _nan_list(len(SHAPE_FIELDS)))
        q = p.get("pose") if parametric else None
        pose.append([q[j] for j in JOINT_NAMES] if q else [_nan_list(3)] * len(JOINT_NAMES))
        cam = p.get("joints_3d_camera") if parametric else None
        joints_3d.append([cam[j] for j in JOINT_NAMES] if cam else [_nan_list(3)] * len(JOINT_NAMES))
        img = p.get("joints_2d") if parametric else None
        joints_2d.append([img[j] if img and img[j] is not None else _nan_list(2) for j in JOINT_NAMES])

    def t(rows, *tail):
        return torch.tensor(np.asarray(rows, dtype=np.float64).reshape(n, *tail))

    return {
        "person_ids": torch.tensor(ids, dtype=torch.int64),
        "boxes": t(boxes, 4),
        "keypoints": t(keypoints, len(KEYPOINT_NAMES), 3),
        "keypoints_3d": t(keypoints_3d, len(KEYPOINT_NAMES), 3),
        "joints_3d": t(joints_3d, len(JOINT_NAMES), 3),
        "joints_2d": t(joints_2d, len(JOINT_NAMES), 2),
        "shape": t(shape, len(SHAPE_FIELDS)),
        "pose": t(pose, len(JOINT_NAMES), 3),
    }
