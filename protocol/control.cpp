#include "protocol/control.h"

#include <mutex>

#include <zmq.hpp>

#include "protocol/internal/curve_sockets.h"

namespace synthfarm::protocol {
namespace {

class ZmqPublisher final : public ControlPublisher {
 public:
  ZmqPublisher(const std::string& endpoint, const std::optional<CurveServerConfig>& curve)
      : context_(1), socket_(context_, zmq::socket_type::pub) {
    socket_.set(zmq::sockopt::sndhwm, 10000);
    socket_.set(zmq::sockopt::linger, 0);
    if (curve) {
      zap_ = std::make_unique<internal::ZapHandler>(context_, "control", *curve);  // before bind
      internal::make_curve_server(socket_, *curve);
    }
    socket_.bind(endpoint);
  }
  void publish(const JobControl& message) override {
    std::string bytes = encode_job_control(message);
    std::lock_guard lock(mutex_);  // ZeroMQ sockets are single-threaded
    (void)socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  }

 private:
  zmq::context_t context_;
  // Declared before the socket: it answers handshakes as long as the socket is open.
  std::unique_ptr<internal::ZapHandler> zap_;
  std::mutex mutex_;
  zmq::socket_t socket_;  // GUARDED_BY(mutex_)
};

class ZmqSubscriber final : public ControlSubscriber {
 public:
  ZmqSubscriber(const std::vector<std::string>& endpoints, const std::optional<CurveClientConfig>& curve)
      : context_(1), socket_(context_, zmq::socket_type::sub) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::subscribe, "");
    if (curve) internal::make_curve_client(socket_, *curve);
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

tl::expected<std::unique_ptr<ControlPublisher>, std::string> ControlPublisher::bind(
    const std::string& endpoint, const std::optional<CurveServerConfig>& curve) {
  if (curve) {
    if (auto ok = internal::check_curve(*curve); !ok) {
      return tl::unexpected("control socket " + endpoint + ": " + ok.error());
    }
  }
  try {
    return std::make_unique<ZmqPublisher>(endpoint, curve);
  } catch (const zmq::error_t& e) {
    return tl::unexpected("cannot bind control socket " + endpoint + ": " + e.what());
  }
}

tl::expected<std::unique_ptr<ControlSubscriber>, std::string> ControlSubscriber::connect(
    const std::vector<std::string>& endpoints, const std::optional<CurveClientConfig>& curve) {
  if (curve) {
    if (auto ok = internal::check_curve(*curve); !ok) return tl::unexpected("control socket: " + ok.error());
  }
  try {
    return std::make_unique<ZmqSubscriber>(endpoints, curve);
  } catch (const zmq::error_t& e) {
    return tl::unexpected("cannot connect the control socket: " + std::string(e.what()));
  }
}

}  // namespace synthfarm::protocol
