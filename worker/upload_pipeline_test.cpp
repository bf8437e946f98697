#include "worker/upload_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

namespace synthfarm::worker {
namespace {

using storage::Error;
using storage::ObjectInfo;
using storage::Result;

// An in-memory store whose puts wait at a gate (to hold uploads in flight) and fail for
// one key.
class GatedStore final : public storage::ObjectStore {
 public:
  std::string uri() const override { return "mem://"; }
  using storage::ObjectStore::put;
  Result<void> put(std::string_view key, std::string_view bytes, const storage::PutOptions& options) override {
    std::unique_lock lock(mutex_);
    ++puts_started_;
    opened_.wait(lock, [&] { return open_; });
    if (key == fail_key_) return tl::unexpected(Error{Error::Code::kIo, "disk on fire"});
    if (options.guard) {
      if (auto refused = options.guard()) return tl::unexpected(Error{Error::Code::kFenced, *refused});
    }
    objects_[std::string(key)] = std::string(bytes);
    return {};
  }
  Result<std::string> get(std::string_view) const override {
    return tl::unexpected(Error{Error::Code::kNotFound, ""});
  }
  Result<std::optional<ObjectInfo>> head(std::string_view) const override {
    return std::optional<ObjectInfo>();
  }
  Result<std::vector<ObjectInfo>> list(std::string_view) const override {
    return std::vector<ObjectInfo>();
  }
  Result<void> remove(std::string_view) override { return {}; }

  void open(bool value) {
    {
      std::lock_guard lock(mutex_);
      open_ = value;
    }
    opened_.notify_all();
  }
  void fail_on(std::string key) {
    std::lock_guard lock(mutex_);
    fail_key_ = std::move(key);
  }
  size_t stored() {
    std::lock_guard lock(mutex_);
    return objects_.size();
  }
  int puts_started() {
    std::lock_guard lock(mutex_);
    return puts_started_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = true;
  std::string fail_key_;
  int puts_started_ = 0;
  std::map<std::string, std::string> objects_;
};

SampleUpload sample(uint64_t index, size_t bytes = 10) {
  SampleUpload upload;
  upload.index = index;
  upload.objects = {{"samples/" + std::to_string(index) + ".png", std::string(bytes, 'p')},
                    {"samples/" + std::to_string(index) + ".json", "{}"}};
  return upload;
}

// Gives up after `ms` milliseconds: how a test sees that submit() would block.
std::function<bool()> after_ms(int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  return [deadline] { return std::chrono::steady_clock::now() >= deadline; };
}

TEST(UploadPipelineTest, StoresEverySampleWithChecksums) {
  GatedStore store;
  UploadPipeline pipeline(store,
                          {.threads = 3, .max_queued_samples = 2, .max_queued_bytes = 1 << 20});
  for (uint64_t i = 0; i < 20; ++i) ASSERT_TRUE(pipeline.submit(sample(i), {}));
  ASSERT_TRUE(pipeline.wait_all({}));
  auto stored = pipeline.take_stored();
  ASSERT_EQ(stored.size(), 20u);
  EXPECT_EQ(store.stored(), 40u);
  for (const auto& s : stored) {
    ASSERT_EQ(s.objects.size(), 2u);
    EXPECT_EQ(s.bytes, 12u);
    EXPECT_EQ(s.objects[0].sha256, storage::sha256_hex(std::string(10, 'p')));
  }
  EXPECT_TRUE(pipeline.take_stored().empty());
}

TEST(UploadPipelineTest, RendererBlocksWhenTheQueueIsFull) {
  GatedStore store;
  store.open(false);  // every put waits
  UploadPipeline pipeline(store,
                          {.threads = 1, .max_queued_samples = 2, .max_queued_bytes = 1 << 20});
  ASSERT_TRUE(pipeline.submit(sample(0), {}));  // taken by the uploader, in flight
  while (store.puts_started() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(pipeline.submit(sample(1), after_ms(2000)));
  ASSERT_TRUE(pipeline.submit(sample(2), after_ms(2000)));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(pipeline.submit(sample(3), after_ms(300))) << "a full queue must block the renderer";
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  EXPECT_FALSE(pipeline.wait_all(after_ms(100)));
  store.open(true);
  ASSERT_TRUE(pipeline.submit(sample(3), after_ms(5000)));
  ASSERT_TRUE(pipeline.wait_all({}));
  EXPECT_EQ(pipeline.take_stored().size(), 4u);
}

// upload_ms (the worker's synthfarm_worker_upload_seconds) is the time the sample's puts
// took: here the store holds the first put at its gate for about 200 ms.
TEST(UploadPipelineTest, StoredSamplesSayHowLongTheirPutsTook) {
  GatedStore store;
  store.open(false);
  UploadPipeline pipeline(store, {.threads = 1, .max_queued_samples = 2, .max_queued_bytes = 1 << 20});
  ASSERT_TRUE(pipeline.submit(sample(0), {}));
  while (store.puts_started() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  store.open(true);
  ASSERT_TRUE(pipeline.wait_all({}));
  auto stored = pipeline.take_stored();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_GE(stored[0].upload_ms, 190.0);
  EXPECT_LT(stored[0].upload_ms, 10000.0);
}

TEST(UploadPipelineTest, ByteBoundBlocksToo) {
  GatedStore store;
  store.open(false);
  UploadPipeline pipeline(store, {.threads = 1, .max_queued_samples = 100, .max_queued_bytes = 30});
  ASSERT_TRUE(pipeline.submit(sample(0, 20), {}));
  while (store.puts_started() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(pipeline.submit(sample(1, 20), after_ms(2000)));  // 22 bytes queued
  EXPECT_FALSE(pipeline.submit(sample(2, 20), after_ms(300)));  // 44 > 30
  store.open(true);
  ASSERT_TRUE(pipeline.wait_all({}));
}

TEST(UploadPipelineTest, AFailedPutFailsThePipeline) {
  GatedStore store;
  store.fail_on("samples/3.png");
  UploadPipeline pipeline(store,
                          {.threads = 2, .max_queued_samples = 4, .max_queued_bytes = 1 << 20});
  bool refused = false;
  for (uint64_t i = 0; i < 50 && !refused; ++i) refused = !pipeline.submit(sample(i), {});
  EXPECT_FALSE(pipeline.wait_all({}));
  auto failure = pipeline.failure();
  ASSERT_TRUE(failure);
  EXPECT_NE(failure->find("sample 3"), std::string::npos) << *failure;
  EXPECT_NE(failure->find("samples/3.png"), std::string::npos) << *failure;
  EXPECT_NE(failure->find("disk on fire"), std::string::npos) << *failure;
  EXPECT_FALSE(pipeline.submit(sample(99), {}));
  for (const auto& s : pipeline.take_stored()) EXPECT_NE(s.index, 3u);
}

// The pipeline hands its PutOptions to every put: once the lease's guard refuses, no
// sample is stored and the pipeline reports the refusal.
TEST(UploadPipelineTest, AGuardThatRefusesStopsEveryUpload) {
  GatedStore store;
  std::atomic<bool> lease_ended{false};
  storage::PutOptions options;
  options.guard = [&]() -> std::optional<std::string> {
    if (lease_ended) return "lease ended";
    return std::nullopt;
  };
  UploadPipeline pipeline(store, {.threads = 2, .max_queued_samples = 4, .max_queued_bytes = 1 << 20}, options);
  ASSERT_TRUE(pipeline.submit(sample(0), {}));
  ASSERT_TRUE(pipeline.wait_all({}));
  EXPECT_EQ(store.stored(), 2u);
  lease_ended = true;
  for (uint64_t i = 1; i < 5; ++i) (void)pipeline.submit(sample(i), {});
  EXPECT_FALSE(pipeline.wait_all({}));
  ASSERT_TRUE(pipeline.failure());
  EXPECT_NE(pipeline.failure()->find("lease ended"), std::string::npos) << *pipeline.failure();
  EXPECT_EQ(store.stored(), 2u) << "nothing stored after the guard refused";
}

}  // namespace
}  // namespace synthfarm::worker
