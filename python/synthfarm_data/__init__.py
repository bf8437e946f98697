"""Reading synthfarm datasets in Python and PyTorch (docs/python.md).

    import synthfarm_data
    ds = synthfarm_data.open("s3://bucket/people-v1")   # or file:///data/people-v1
    ds.verify()                                          # every sha256, tar members too
    train = synthfarm_data.SampleDataset(ds, layers=["depth", "instance"])
    stream = synthfarm_data.ShardStream(ds, image="preview")   # WebDataset tars, streamed
    loader = torch.utils.data.DataLoader(stream, batch_size=8, num_workers=4,
                                         collate_fn=synthfarm_data.collate)
"""

from .conventions import JOINT_NAMES, KEYPOINT_NAMES, LAYER_CHANNELS, SEMANTIC_CLASSES, SHAPE_FIELDS, SKELETON
from .dataset import RenderedDataset, SampleDataset, ShardStream, collate, open
from .errors import DatasetError, VerifyError

__all__ = [
    "open", "RenderedDataset", "SampleDataset", "ShardStream", "collate", "DatasetError", "VerifyError",
    "KEYPOINT_NAMES", "SKELETON", "JOINT_NAMES", "SHAPE_FIELDS", "SEMANTIC_CLASSES", "LAYER_CHANNELS",
]
__version__ = "0.1.0"
