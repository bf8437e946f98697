#include "protocol/control.h"

#include <mutex>

#include <zmq.hpp>

namespace synthfarm::protocol {
namespace {

class ZmqPublisher final : public ControlPublisher {
 public:
  explicit ZmqPublisher(const std::string& endpoint) : context_(1), socket_(context_, zmq::socket_type::pub) {
    socket_.set(zmq::sockopt::sndhwm, 10000);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(endpoint);
  }
  void publish(const JobControl& message) override {
    std::string bytes = encode_job_control(message);
    std::lock_guard lock(mutex_);  // ZeroMQ sockets are single-threaded
    (void)socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  }

 private:
  zmq::context_t context_;
  std::mutex mutex_;
  zmq::socket_t socket_;  // GUARDED_BY(mutex_)
};

class ZmqSubscriber final : public ControlSubscriber {
 public:
  explicit ZmqSubscriber(const std::vector<std::string>& endpoints)
      : context_(1), socket_(context_, zmq::socket_type::sub) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::subscribe, "");
    for (const auto& endpoint : endpoints) socket_.connect(endpoint);
  }
  std::optional<JobControl> receive(std::chrono::milliseconds timeout) override {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return std::nullopt;
      zmq::poll(&item, 1, left);
      if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
      zmq::message_t msg;
      if (!socket_.recv(msg, zmq::recv_flags::dontwait)) continue;
      auto decoded = decode_job_control(std::string_view(static_cast<const char*>(msg.data()), msg.size()));
      if (decoded) return std::move(*decoded);
    }
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
};

}  // namespace

tl::expected<std::unique_ptr<ControlPublisher>, std::string> ControlPublisher::bind(const std::string& endpoint) {
  try {
    return std::make_unique<ZmqPublisher>(endpoint);
  } catch (const zmq::error_t& e) {
    return tl::unexpected("cannot bind control socket " + endpoint + ": " + e.what());
  }
}

tl::expected<std::unique_ptr<ControlSubscriber>, std::string> ControlSubscriber::connect(
    const std::vector<std::string>& endpoints) {
  try {
    return std::make_unique<ZmqSubscriber>(endpoints);
  } catch (const zmq::error_t& e) {
    return tl::unexpected("cannot connect the control socket: " + std::string(e.what()));
  }
}

}  // namespace synthfarm::protocol
