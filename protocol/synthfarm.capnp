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
  metrics @9 :WorkerMetrics;   # absent from workers older than it; coordinators older than it skip it
}

# A worker's own Prometheus metrics, cumulative since the worker process started: every
# heartbeat carries the whole state, so a lost heartbeat loses no counts (the next one
# has them) and a duplicate changes nothing. The coordinator re-exports them on its
# /metrics with a worker label (docs/architecture.md, "Metrics").
struct WorkerMetrics {
  renderSeconds @0 :Histogram;     # one observation per sample rendered (recon unit run)
  uploadSeconds @1 :Histogram;     # one per sample stored: all of its objects, first put to last
  queueWaitSeconds @2 :Histogram;  # one per shard claimed: free to take a shard -> holding one
  samplesRendered @3 :UInt64;      # == renderSeconds' count
  failures @4 :ShardFailures;
}

# A Prometheus histogram: `counts` has one entry per bucket (not cumulative), the last one
# for observations above every bound (+Inf). At most 32 bounds (decoders refuse more).
struct Histogram {
  upperBounds @0 :List(Float64);   # seconds, finite, strictly increasing
  counts @1 :List(UInt64);         # length(upperBounds) + 1
  sum @2 :Float64;                 # seconds
}

# Shards a worker did not complete, by why. A fixed set of fields rather than a list of
# (name, count): nothing to bound, and a new kind is a new field.
struct ShardFailures {
  render @0 :UInt64;     # the renderer (or a reconstruction unit) failed or threw on a sample
  input @1 :UInt64;      # the job's spec, or a file or location it names, could not be read or is refused
  upload @2 :UInt64;     # storing a sample's objects or the shard manifest failed
  leaseLost @3 :UInt64;  # the lease ended under the worker (renewal refused, fence deadline, stale token)
  cancelled @4 :UInt64;  # the job was cancelled or deleted while the shard was in hand
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
