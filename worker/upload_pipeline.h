// UploadPipeline: stores rendered samples while the next ones render.
//
// A bounded queue sits between the render loop (one producer) and a few uploader threads.
// submit() hands over one sample's objects and returns at once unless the queue already
// holds `max_queued_samples` samples or `max_queued_bytes` bytes; then it blocks (back-
// pressure: a slow or absent object store slows the renderer down instead of filling the
// memory). Each uploader stores a sample's objects one by one; a sample counts as stored
// only when every put() of it returned success (for S3: the server confirmed the bytes).
// The first failure stops the pipeline: queued samples are dropped and failure() reports it.
// Every put carries the pipeline's PutOptions: the worker passes its lease's commit guard,
// so an uploader whose lease ended writes nothing (the put fails with kFenced).
//
// With a TarShard (output.format: webdataset) one uploader appends each sample's objects to
// the shard's tar, in the order they were submitted; the caller finishes the tar once
// wait_all() succeeded.
//
// Thread-safe for one producer: submit(), take_stored(), wait_all() and failure() are
// called by the render loop; the uploader threads are owned and joined by the destructor.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "jobs/manifest.h"
#include "storage/object_store.h"
#include "dataset/tar_shard.h"

namespace synthfarm::worker {

struct UploadLimits {
  int threads = 2;                           // uploader threads
  size_t max_queued_samples = 4;             // samples waiting for an uploader
  uint64_t max_queued_bytes = 256ull << 20;  // bytes waiting for an uploader
};

// One sample's objects, owned by the pipeline until stored.
struct SampleUpload {
  uint64_t index = 0;
  double render_ms = 0;
  double residual_px = -1;  // a fit_people unit's mean reprojection error (telemetry); -1: none
  std::vector<std::pair<std::string, std::string>> objects;  // (key, bytes)
};

// What a stored sample leaves behind: its manifest entries and telemetry figures.
struct StoredSample {
  uint64_t index = 0;
  double render_ms = 0;
  uint64_t bytes = 0;
  double residual_px = -1;
  double upload_ms = 0;  // from the first put of its objects to the last one's success
  std::vector<jobs::ManifestEntry> objects;  // as the shard manifest lists them
};

class UploadPipeline {
 public:
  UploadPipeline(storage::ObjectStore& store, UploadLimits limits, storage::PutOptions put_options = {});
  // Every sample into `tar` (which must outlive the pipeline), by one uploader.
  UploadPipeline(dataset::TarShard& tar, UploadLimits limits);
  ~UploadPipeline();  // drops what is queued, waits for the puts in flight
  UploadPipeline(const UploadPipeline&) = delete;
  UploadPipeline& operator=(const UploadPipeline&) = delete;

  // Queues a sample; blocks while the queue is full. Returns false (and queues nothing) if
  // the pipeline has failed, or if `give_up()` turns true while waiting (polled every 100 ms).
  bool submit(SampleUpload sample, const std::function<bool()>& give_up);
  // Samples stored since the last call, in the order they were stored.
  std::vector<StoredSample> take_stored();
  // Waits until every submitted sample is stored or the pipeline failed; false on failure
  // or when `give_up()` turned true.
  bool wait_all(const std::function<bool()>& give_up);
  std::optional<std::string> failure() const;

 private:
  void start(int threads);
  void uploader_loop();
  // Stores one sample's objects (each its own object, or into the tar); an error names it.
  std::optional<std::string> store(const SampleUpload& sample, StoredSample& stored);

  storage::ObjectStore* store_ = nullptr;
  dataset::TarShard* tar_ = nullptr;
  const UploadLimits limits_;
  const storage::PutOptions put_options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<SampleUpload> queue_;      // GUARDED_BY(mutex_)
  uint64_t queued_bytes_ = 0;           // GUARDED_BY(mutex_)
  size_t in_flight_ = 0;                // GUARDED_BY(mutex_): samples being stored
  std::vector<StoredSample> stored_;    // GUARDED_BY(mutex_)
  std::optional<std::string> failure_;  // GUARDED_BY(mutex_)
  bool quit_ = false;                   // GUARDED_BY(mutex_)
  std::vector<std::thread> threads_;
};

}  // namespace synthfarm::worker
