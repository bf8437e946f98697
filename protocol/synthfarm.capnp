# synthfarm wire schemas.
#
# What this file is for: the canonical JobSpec that the coordinator stores in Redis and
# every worker renders from, and the telemetry that workers stream to coordinators over
# ZeroMQ. Redis is the durable truth; telemetry messages may be lost without losing data.
#
# Rules: never renumber or reuse a field number; deprecate a field by renaming it
# `obsoleteXxx` and leaving it in place. New fields get new numbers at the end.
@0xe0bdc4daf042f8f5;

$import "/capnp/c++.capnp".namespace("synthfarm::wire");

struct Distribution {
  kind @0 :Kind;
  enum Kind {
    constant @0;
    uniform @1;
    uniformInt @2;
    normal @3;
    choice @4;
  }
  a @1 :Float64;        # constant value; uniform low; normal mean
  b @2 :Float64;        # uniform high; normal std
  clipLo @3 :Float64;   # normal only
  clipHi @4 :Float64;
  values @5 :List(Float64);
  weights @6 :List(Float64);
}

struct Choice {
  values @0 :List(Text);
  weights @1 :List(Float64);
}

# The validated spec with every default filled in. Layer and label names are strings so
# that an older worker rejects a newer layer by name instead of misreading an ordinal.
struct JobSpec {
  name @0 :Text;
  samples @1 :Int64;
  shardSize @2 :Int64;
  seed @3 :UInt64;
  priority @4 :Int32;
  maxAttempts @5 :Int32;
  output @6 :Output;
  camera @7 :Camera;
  render @8 :Render;
  scene @9 :Scene;
  lighting @10 :Lighting;
  humans @11 :Humans;
  onDeadShards @12 :Text;      # "fail" or "partial"
  clip @13 :Clip;              # absent: a still image (1 frame)

  struct Output {
    storage @0 :Text;
    layers @1 :List(Text);
    labels @2 :List(Text);
    previewPng @3 :Bool;
  }
  struct Camera {
    width @0 :Int32;
    height @1 :Int32;
    fovDeg @2 :Distribution;
    heightM @3 :Distribution;
    distanceM @4 :Distribution;
    keepInFrame @5 :Text;
    fNumber @6 :Distribution;
  }
  struct Render {
    spp @0 :Int32;
    maxBounces @1 :Int32;
  }
  struct Scene {
    kind @0 :Choice;
    props @1 :Distribution;
    patterns @2 :Distribution;
    metal @3 :Distribution;
  }
  struct Lighting {
    sunElevationDeg @0 :Distribution;
    sunAzimuthDeg @1 :Distribution;
    sunIntensity @2 :Distribution;
    skyIntensity @3 :Distribution;
    sky @4 :Choice;
    turbidity @5 :Distribution;
    areaLights @6 :Distribution;
    areaLightIntensity @7 :Distribution;
    lamps @8 :Distribution;
    lampIntensity @9 :Distribution;
    environment @10 :Choice;
    environmentIntensity @11 :Distribution;
    environmentRotationDeg @12 :Distribution;
  }
  struct Humans {
    count @0 :Distribution;
    heightM @1 :Distribution;
    bmi @2 :Distribution;
    skinTone @3 :Distribution;
    motion @4 :Choice;
    sex @5 :Distribution;
    age @6 :Distribution;
    shoulderWidth @7 :Distribution;
    hipWidth @8 :Distribution;
    legLength @9 :Distribution;
    armLength @10 :Distribution;
    headSize @11 :Distribution;
    motionSpeed @12 :Distribution;
    motionPhase @13 :Distribution;
    bvh @14 :List(Text);           # URIs of .bvh clips
    bvhPreset @15 :Text;           # "auto", "cmu", "mixamo", "none"
    bvhJointMap @16 :List(Text);   # "synthfarm_joint=file_joint"
    body @17 :Choice;              # "parametric", "character"
    characters @18 :List(Text);    # URIs of .glb/.gltf characters
    characterPreset @19 :Text;     # "auto", "mixamo", "none"
    characterJointMap @20 :List(Text);  # "coco_keypoint=file_joint"
  }
  struct Clip {
    frames @0 :Int32;
    fps @1 :Int32;
  }
}

# One shard of one job, as a worker holds it: the fencing token proves the lease.
struct ShardRef {
  jobId @0 :Text;
  shard @1 :UInt64;
  token @2 :UInt64;
  firstSample @3 :UInt64;
  sampleCount @4 :UInt64;
}

struct Heartbeat {
  workerId @0 :Text;
  host @1 :Text;
  pid @2 :UInt32;
  state @3 :State;
  enum State {
    idle @0;
    rendering @1;
    stopping @2;
  }
  shard @4 :ShardRef;          # meaningful while rendering
  samplesDone @5 :UInt64;      # since the worker started
  samplesPerSec @6 :Float64;   # over the last few seconds
  sentMs @7 :Int64;            # worker's wall clock, for display only
  threads @8 :UInt32;
}

struct SampleProgress {
  workerId @0 :Text;
  shard @1 :ShardRef;
  sample @2 :UInt64;
  renderMs @3 :Float64;
  bytes @4 :UInt64;
  shardComplete @5 :Bool;      # sent once after Redis accepted the shard's completion
  sentMs @6 :Int64;
}

# What travels on the telemetry socket: one message per ZeroMQ frame.
struct Telemetry {
  union {
    heartbeat @0 :Heartbeat;
    sampleProgress @1 :SampleProgress;
  }
}

# What travels on the control socket (coordinator PUB -> worker SUB): a job's state
# changed in a way that concerns shards already handed out. Redis stays the truth: a
# worker that misses this learns the same from its next lease renewal.
struct JobControl {
  jobId @0 :Text;
  action @1 :Action;
  enum Action {
    cancel @0;   # drop the job's shard now, mid-sample; store nothing more
    delete @1;   # as cancel; the job's records are gone
  }
  sentMs @2 :Int64;
}
