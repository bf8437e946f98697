#include "protocol/telemetry.h"

#include <zmq.hpp>

namespace synthfarm::protocol {
namespace {

// One ZeroMQ context per socket owner keeps ownership simple; contexts are cheap.
class ZmqSender final : public TelemetrySender {
 public:
  explicit ZmqSender(const std::string& endpoint) : context_(1), socket_(context_, zmq::socket_type::push) {
    socket_.set(zmq::sockopt::sndhwm, 1000);
    socket_.set(zmq::sockopt::linger, 200);  // ms: flush briefly on close, never hang exit
    socket_.set(zmq::sockopt::immediate, 1); // queue only to live peers
    socket_.connect(endpoint);
  }
  bool send(const Telemetry& message) override {
    std::string bytes = encode_telemetry(message);
    auto sent = socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    if (!sent) ++dropped_;
    return sent.has_value();
  }
  uint64_t dropped() const override { return dropped_; }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  uint64_t dropped_ = 0;
};

class ZmqReceiver final : public TelemetryReceiver {
 public:
  explicit ZmqReceiver(const std::string& endpoint) : context_(1), socket_(context_, zmq::socket_type::pull) {
    socket_.set(zmq::sockopt::rcvhwm, 100000);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind(endpoint);
  }
  std::optional<Telemetry> receive(std::chrono::milliseconds timeout) override {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return std::nullopt;
      zmq::poll(&item, 1, left);
      if (!(item.revents & ZMQ_POLLIN)) return std::nullopt;
      zmq::message_t msg;
      if (!socket_.recv(msg, zmq::recv_flags::dontwait)) continue;
      auto decoded = decode_telemetry(std::string_view(static_cast<const char*>(msg.data()), msg.size()));
      if (decoded) return std::move(*decoded);
      ++malformed_;
    }
  }
  uint64_t malformed() const override { return malformed_; }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  uint64_t malformed_ = 0;
};

}  // namespace

tl::expected<std::unique_ptr<TelemetrySender>, std::string> TelemetrySender::connect(
    const std::string& endpoint) {
  try {
    return std::make_unique<ZmqSender>(endpoint);
  } catch (const zmq::error_t& e) {
    return tl::unexpected("cannot connect telemetry to " + endpoint + ": " + e.what());
  }
}

tl::expected<std::unique_ptr<TelemetryReceiver>, std::string> TelemetryReceiver::bind(
    const std::string& endpoint) {
  try {
    return std::make_unique<ZmqReceiver>(endpoint);
  } catch (const zmq::error_t& e) {
    return tl::unexpected("cannot bind telemetry socket " + endpoint + ": " + e.what());
  }
}

}  // namespace synthfarm::protocol
