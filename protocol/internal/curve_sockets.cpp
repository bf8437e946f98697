#include "protocol/internal/curve_sockets.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace synthfarm::protocol::internal {
namespace {

// ZeroMQ takes a Z85 key with its terminating NUL: 41 bytes.
void set_z85_key(zmq::socket_t& socket, int option, const std::string& key) {
  if (zmq_setsockopt(socket.handle(), option, key.c_str(), key.size() + 1) != 0)
    throw zmq::error_t();
}

bool is_final(LinkState state) {
  return state == LinkState::kRefused || state == LinkState::kMismatch ||
         state == LinkState::kFailed;
}

}  // namespace

std::string curve_unavailable_message() {
  return "this libzmq was built without CURVE (zmq_has(\"curve\") is false); install a libzmq "
         "built with libsodium, as Debian's libzmq5 is";
}

tl::expected<void, std::string> check_curve(const CurveServerConfig& config) {
  if (!curve_available()) return tl::unexpected(curve_unavailable_message());
  if (!is_z85_key(config.keys.public_key) || !is_z85_key(config.keys.secret_key)) {
    return tl::unexpected(
        std::string("the CURVE server's key pair is not two 40-character Z85 keys"));
  }
  if (!config.allowed_clients)
    return tl::unexpected(std::string("the CURVE server has no list of allowed client keys"));
  return {};
}

tl::expected<void, std::string> check_curve(const CurveClientConfig& config) {
  if (!curve_available()) return tl::unexpected(curve_unavailable_message());
  if (!is_z85_key(config.keys.public_key) || !is_z85_key(config.keys.secret_key)) {
    return tl::unexpected(
        std::string("the CURVE client's key pair is not two 40-character Z85 keys"));
  }
  if (!is_z85_key(config.server_public_key)) {
    return tl::unexpected(std::string("the CURVE server's public key is not 40 Z85 characters"));
  }
  return {};
}

void make_curve_server(zmq::socket_t& socket, const CurveServerConfig& config) {
  socket.set(zmq::sockopt::curve_server, true);
  set_z85_key(socket, ZMQ_CURVE_SECRETKEY, config.keys.secret_key);
  // RFC 27 wants a domain; a libzmq that enforces it would skip ZAP (and so admit every
  // key) on a socket without one.
  socket.set(zmq::sockopt::zap_domain, "synthfarm");
}

void make_curve_client(zmq::socket_t& socket, const CurveClientConfig& config) {
  set_z85_key(socket, ZMQ_CURVE_SERVERKEY, config.server_public_key);
  set_z85_key(socket, ZMQ_CURVE_PUBLICKEY, config.keys.public_key);
  set_z85_key(socket, ZMQ_CURVE_SECRETKEY, config.keys.secret_key);
}

// ---- ZapHandler ----------------------------------------------------------------------

ZapHandler::ZapHandler(zmq::context_t& context, std::string socket_name, CurveServerConfig config)
    : socket_name_(std::move(socket_name)),
      config_(std::move(config)),
      socket_(context, zmq::socket_type::rep) {
  socket_.set(zmq::sockopt::linger, 0);
  // The fixed endpoint where libzmq looks for a context's ZAP handler (RFC 27). Bound
  // here, before the thread starts and before any server socket binds.
  socket_.bind("inproc://zeromq.zap.01");
  thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
}

void ZapHandler::serve(std::stop_token stop) {
  while (!stop.stop_requested()) {
    try {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      // Wakes every 100 ms to see whether the owner is going away.
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      // The frames of one message arrive together: once the first is here, all are.
      std::vector<zmq::message_t> request;
      for (;;) {
        zmq::message_t frame;
        if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
        const bool more = frame.more();
        request.push_back(std::move(frame));
        if (!more) break;
      }
      if (!request.empty()) answer(request);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      if (e.num() != EINTR) throw;  // a bug: ends the process with the message
    }
  }
}

void ZapHandler::answer(const std::vector<zmq::message_t>& request) {
  // A request (RFC 27): version, request id, domain, client address, routing id,
  // mechanism, then the credentials: for CURVE, the client's 32-byte public key.
  auto frame = [&](size_t i) {
    return i < request.size() ? request[i].to_string() : std::string();
  };
  std::string status = "200", text = "OK", user_id;
  if (request.size() < 6 || frame(0) != "1.0") {
    status = "500";
    text = "malformed ZAP request";
  } else if (frame(5) != "CURVE" || request.size() != 7 || request[6].size() != 32) {
    status = "400";
    text = "CURVE required";
  } else {
    char key[41] = {};
    zmq_z85_encode(key, static_cast<const uint8_t*>(request[6].data()), 32);
    if (config_.allowed_clients->allows(key)) {
      user_id = key;
    } else {
      status = "400";
      text = "client key not allowed";
      const uint64_t total = ++refused_;
      if (config_.on_refusal) config_.on_refusal(CurveRefusal{socket_name_, frame(3), key, total});
    }
  }
  // The reply: version, request id, status code, status text, user id, metadata.
  for (const std::string& part : {std::string("1.0"), frame(1), status, text, user_id}) {
    socket_.send(zmq::buffer(part), zmq::send_flags::sndmore);
  }
  socket_.send(zmq::message_t(), zmq::send_flags::none);
}

// ---- HandshakeMonitor ------------------------------------------------------------------

HandshakeMonitor::HandshakeMonitor(zmq::context_t& context, zmq::socket_t& watched,
                                   const std::string& name)
    : events_(context, zmq::socket_type::pair) {
  const std::string endpoint = "inproc://synthfarm-handshakes-" + name;
  constexpr int kWatched = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
  if (zmq_socket_monitor(watched.handle(), endpoint.c_str(), kWatched) != 0) throw zmq::error_t();
  events_.set(zmq::sockopt::linger, 0);
  // Connected at once (inproc, already bound): no event is sent before it listens.
  events_.connect(endpoint);
}

TelemetryLink HandshakeMonitor::link() {
  std::lock_guard lock(mutex_);
  try {
    for (;;) {
      // An event is two frames: event number (16 bits) and value (32 bits), then the
      // endpoint. Both arrive together.
      zmq::message_t event, endpoint;
      if (!events_.recv(event, zmq::recv_flags::dontwait)) break;
      if (event.more()) (void)events_.recv(endpoint, zmq::recv_flags::dontwait);
      if (event.size() < 6) continue;
      uint16_t id = 0;
      uint32_t value = 0;
      std::memcpy(&id, event.data(), sizeof id);
      std::memcpy(&value, static_cast<const char*>(event.data()) + sizeof id, sizeof value);
      switch (id) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
          if (!is_final(link_.state)) link_.state = LinkState::kUp;
          link_.dropped_handshakes = 0;
          break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
          link_.state = LinkState::kRefused;
          link_.detail = fmt::format("ZAP status {}", value);
          break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
          if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
            link_.state = LinkState::kMismatch;
          } else {
            link_.state = LinkState::kFailed;
            link_.detail = fmt::format("ZeroMQ protocol error 0x{:08x}", value);
          }
          break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
          ++link_.dropped_handshakes;
          break;
        default:
          break;
      }
    }
  } catch (const zmq::error_t&) {
    // The context is going away: what was learnt so far stands.
  }
  return link_;
}

}  // namespace synthfarm::protocol::internal
