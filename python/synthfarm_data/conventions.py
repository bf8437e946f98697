"""Names and orders the farm's outputs follow (base/keypoints.h, humans/skeleton.h,
render/image_io.h, jobs/sample.cpp). Plain data: every other module reads it, it reads none.
"""

# COCO-17 keypoints, in COCO order (base/keypoints.h).
KEYPOINT_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# COCO's person skeleton as pairs of 0-based keypoint indices (jobs/coco.h).
SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

# The parametric body's 24 joints, in skeleton order (humans/skeleton.h): the order of
# `joints_3d` and `pose` along their second axis.
JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)

# The shape parameters, in the order of `shape` along its second axis (the sample JSON's
# instances[].shape).
SHAPE_FIELDS = (
    "height_m", "bmi", "sex", "age", "shoulder_width", "hip_width", "leg_length",
    "arm_length", "head_size",
)

# Semantic ids of the semantic layer and of instances[].semantic_id (render/scene.h).
SEMANTIC_CLASSES = ("background", "person", "floor", "wall", "prop")

# EXR label layers (output.layers) -> their channels in the sample's EXR
# (render/image_io.h). "rgb" is the image itself (`image="linear"`).
LAYER_CHANNELS = {
    "rgb": ("R", "G", "B"),
    "depth": ("depth.Z",),
    "normal": ("normal.X", "normal.Y", "normal.Z"),
    "albedo": ("albedo.R", "albedo.G", "albedo.B"),
    "instance": ("instance.id",),
    "semantic": ("semantic.id",),
    "part": ("part.id",),
    "uv": ("uv.U", "uv.V"),
    "motion": ("motion.X", "motion.Y"),
}

# Layers of unsigned integer ids (EXR UINT channels); the others are float.
ID_LAYERS = frozenset({"instance", "semantic", "part"})
