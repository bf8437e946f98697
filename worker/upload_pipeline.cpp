#include "worker/upload_pipeline.h"

#include <fmt/format.h>

#include <chrono>

#include "jobs/object_keys.h"

namespace synthfarm::worker {
namespace {

uint64_t size_of(const SampleUpload& sample) {
  uint64_t bytes = 0;
  for (const auto& [key, data] : sample.objects) bytes += data.size();
  return bytes;
}

}  // namespace

UploadPipeline::UploadPipeline(storage::ObjectStore& store, UploadLimits limits, storage::PutOptions put_options)
    : store_(&store), limits_(limits), put_options_(std::move(put_options)) {
  start(std::max(1, limits_.threads));
}

UploadPipeline::UploadPipeline(dataset::TarShard& tar, UploadLimits limits) : tar_(&tar), limits_(limits) {
  start(1);  // a tar takes its members in order
}

void UploadPipeline::start(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { uploader_loop(); });
}

std::optional<std::string> UploadPipeline::store(const SampleUpload& sample, StoredSample& stored) {
  for (const auto& [key, data] : sample.objects) {
    // No lock held across the I/O.
    if (tar_ != nullptr) {
      auto member = tar_->add(jobs::tar_member_name(key), data);
      if (!member) return fmt::format("sample {}: storing {} in its shard's tar: {}", sample.index, key, member.error().message);
      stored.objects.push_back({key, member->size, member->sha256, {}});
    } else {
      auto put = store_->put(key, data, put_options_);
      if (!put) return fmt::format("sample {}: storing {}: {}", sample.index, key, put.error().message);
      stored.objects.push_back({key, data.size(), storage::sha256_hex(data), {}});
    }
    stored.bytes += data.size();
  }
  return std::nullopt;
}

UploadPipeline::~UploadPipeline() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  changed_.notify_all();
  for (auto& thread : threads_) thread.join();
}

bool UploadPipeline::submit(SampleUpload sample, const std::function<bool()>& give_up) {
  const uint64_t bytes = size_of(sample);
  std::unique_lock lock(mutex_);
  // An empty queue always takes a sample, however large, so a big one cannot wedge.
  while (!failure_ && !queue_.empty() &&
         (queue_.size() >= limits_.max_queued_samples ||
          queued_bytes_ + bytes > limits_.max_queued_bytes)) {
    if (give_up && give_up()) return false;
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
  if (failure_) return false;
  queued_bytes_ += bytes;
  queue_.push_back(std::move(sample));
  lock.unlock();
  changed_.notify_all();
  return true;
}

std::vector<StoredSample> UploadPipeline::take_stored() {
  std::lock_guard lock(mutex_);
  std::vector<StoredSample> out;
  out.swap(stored_);
  return out;
}

bool UploadPipeline::wait_all(const std::function<bool()>& give_up) {
  std::unique_lock lock(mutex_);
  while (!failure_ && (!queue_.empty() || in_flight_ > 0)) {
    if (give_up && give_up()) return false;
    changed_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return !failure_;
}

std::optional<std::string> UploadPipeline::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

void UploadPipeline::uploader_loop() {
  for (;;) {
    SampleUpload sample;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return quit_ || (!queue_.empty() && !failure_); });
      if (quit_) return;
      sample = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= size_of(sample);
      ++in_flight_;
    }
    changed_.notify_all();  // room in the queue
    StoredSample stored{sample.index, sample.render_ms, 0, sample.residual_px, 0, {}};
    const auto started = std::chrono::steady_clock::now();
    std::optional<std::string> error = store(sample, stored);
    stored.upload_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    {
      std::lock_guard lock(mutex_);
      --in_flight_;
      if (error) {
        if (!failure_) failure_ = std::move(error);
        queue_.clear();  // the shard fails; the rest would be stored for nothing
        queued_bytes_ = 0;
      } else {
        stored_.push_back(std::move(stored));
      }
    }
    changed_.notify_all();
  }
}

}  // namespace synthfarm::worker
