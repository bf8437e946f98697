#include "protocol/telemetry.h"

#include <zmq.hpp>

#include "protocol/internal/curve_sockets.h"

namespace synthfarm::protocol {
namespace {

// One ZeroMQ context per socket owner keeps ownership simple; contexts are cheap. (With
// CURVE this also gives each server socket its own ZAP handler: one per context.)
class ZmqSender final : public TelemetrySender {
 public:
  ZmqSender(const std::string& endpoint, const std::optional<CurveClientConfig>& curve)
      : context_(1), socket_(context_, zmq::socket_type::push) {
    socket_.set(zmq::sockopt::sndhwm, 1000);
    socket_.set(zmq::sockopt::linger, 200);  // ms: flush briefly on close, never hang exit
    socket_.set(zmq::sockopt::immediate, 1); // queue only to live peers
    if (curve) internal::make_curve_client(socket_, *curve);
    // Before connect, or the first handshake's outcome is lost.
    monitor_ = std::make_unique<internal::HandshakeMonitor>(context_, socket_, "telemetry");
    socket_.connect(endpoint);
  }
  bool send(const Telemetry& message) override {
    std::string bytes = encode_telemetry(message);
    auto sent = socket_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    if (!sent) ++dropped_;
    return sent.has_value();
  }
  uint64_t dropped() const override { return dropped_; }
  TelemetryLink link() const override { return monitor_->link(); }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::unique_ptr<internal::HandshakeMonitor> monitor_;  // closes its socket before socket_ closes
  uint64_t dropped_ = 0;
};

class ZmqReceiver final : public TelemetryReceiver {
 public:
  ZmqReceiver(const std::string& endpoint, const std::optional<CurveServerConfig>& curve)
      : context_(1), socket_(context_, zmq::socket_type::pull) {
    socket_.set(zmq::sockopt::rcvhwm, 100000);
    socket_.set(zmq::sockopt::linger, 0);
    // A peer that sends a larger frame is disconnected before the frame is buffered: the
    // decoder would refuse it anyway (messages.h), and nobody may make us hold gigabytes.
    socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxTelemetryBytes));
    if (curve) {
      zap_ = std::make_unique<internal::ZapHandler>(context_, "telemetry", *curve);  // before bind
      internal::make_curve_server(socket_, *curve);
    }
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
  uint64_t rejected() const override { return zap_ ? zap_->refused() : 0; }

 private:
  zmq::context_t context_;
  // Declared before the socket: it answers handshakes as long as the socket is open.
  std::unique_ptr<internal::ZapHandler> zap_;
  zmq::socket_t socket_;
  uint64_t malformed_ = 0;
};

}  // namespace

tl::expected<std::unique_ptr<TelemetrySender>, std::string> TelemetrySender::connect(
    const std::string& endpoint, const std::optional<CurveClientConfig>& curve) {
  if (curve) {
    if (auto ok = internal::check_curve(*curve); !ok) {
      return tl::unexpected("telemetry to " + endpoint + ": " + ok.error());
    }
  }
  try {
    return std::make_unique<ZmqSender>(endpoint, curve);
  } catch (const zmq::error_t& e) {
    return tl::unexpected("cannot connect telemetry to " + endpoint + ": " + e.what());
  }
}

tl::expected<std::unique_ptr<TelemetryReceiver>, std::string> TelemetryReceiver::bind(
    const std::string& endpoint, const std::optional<CurveServerConfig>& curve) {
  if (curve) {
    if (auto ok = internal::check_curve(*curve); !ok) {
      return tl::unexpected("telemetry socket " + endpoint + ": " + ok.error());
    }
  }
  try {
    return std::make_unique<ZmqReceiver>(endpoint, curve);
  } catch (const zmq::error_t& e) {
    return tl::unexpected("cannot bind telemetry socket " + endpoint + ": " + e.what());
  }
}

}  // namespace synthfarm::protocol
