# synthfarm wire schemas.
#
# What this file is for: the telemetry that workers stream to coordinators over ZeroMQ and
# the control notices coordinators publish to workers. Redis is the durable truth;
# these messages may be lost without losing data. It must not describe the job spec:
# the spec is stored once, as canonical JSON in Redis, and parsed by jobs/spec.h
# everywhere.
#
# Rules: never renumber or reuse a field number; deprecate a field by renaming it
# `obsoleteXxx` and leaving it in place. New fields get new numbers at the end.
@0xe0bdc4daf042f8f5;

$import "/capnp/c++.capnp".namespace("synthfarm::wire");

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
  residualPx @7 :Float64 = -1;  # a fit_people unit: its people's mean reprojection error; -1 none
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
