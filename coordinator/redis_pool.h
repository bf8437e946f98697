// A small pool of Redis connections for the coordinator's HTTP handler threads
// (RedisClient itself is single-threaded). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "queue/redis.h"

namespace synthfarm::coordinator {

class RedisPool {
 public:
  explicit RedisPool(queue::RedisEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

  // A client borrowed from the pool; returned when the handle is destroyed.
  class Handle {
   public:
    Handle(RedisPool& pool, std::unique_ptr<queue::RedisClient> client)
        : pool_(pool), client_(std::move(client)) {}
    ~Handle() { pool_.give_back(std::move(client_)); }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    queue::RedisClient& operator*() { return *client_; }
    queue::RedisClient* operator->() { return client_.get(); }

   private:
    RedisPool& pool_;
    std::unique_ptr<queue::RedisClient> client_;
  };

  Handle acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto client = std::move(idle_.back());
        idle_.pop_back();
        return Handle(*this, std::move(client));
      }
    }
    return Handle(*this, queue::RedisClient::create(endpoint_, std::chrono::seconds(2)));
  }

  const queue::RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  void give_back(std::unique_ptr<queue::RedisClient> client) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < 16) idle_.push_back(std::move(client));
  }

  queue::RedisEndpoint endpoint_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<queue::RedisClient>> idle_;  // GUARDED_BY(mutex_)
};

}  // namespace synthfarm::coordinator
