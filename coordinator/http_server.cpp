#include "coordinator/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace synthfarm::coordinator {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string address_of(const sockaddr_storage& addr, int* port) {
  char host[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    if (port) *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    if (port) *port = ntohs(a->sin6_port);
  }
  return host;
}

// Waits until `sock` is ready for `events` or `deadline` passes; false on timeout or error.
bool wait_until(int sock, short events, SteadyClock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{sock, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (n > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
    if (n < 0 && errno != EINTR) return false;
  }
}

// A connection's byte stream for httplib's request parser, over a non-blocking socket
// (and TLS when `ssl` is set). Every read counts against one deadline for the whole
// request; each write has its own timeout.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int sock, SSL* ssl, SteadyClock::time_point read_deadline,
                 std::chrono::milliseconds write_timeout, size_t max_header_bytes)
      : sock_(sock),
        ssl_(ssl),
        read_deadline_(read_deadline),
        write_timeout_(write_timeout),
        max_header_bytes_(max_header_bytes) {}

  bool deadline_passed() const { return expired_; }

  bool is_readable() const override {
    if (ssl_ && SSL_pending(ssl_) > 0) return true;
    bool ok = wait_until(sock_, POLLIN, read_deadline_);
    if (!ok && SteadyClock::now() >= read_deadline_) expired_ = true;
    return ok;
  }
  bool is_writable() const override {
    return wait_until(sock_, POLLOUT, SteadyClock::now() + write_timeout_);
  }

  ssize_t read(char* ptr, size_t size) override {
    ssize_t n = read_some(ptr, size);
    if (n > 0 && !count_header_bytes(ptr, static_cast<size_t>(n))) {
      // Answered here, before the library sees the rest: a 431 names the limit, then the
      // connection ends.
      std::string body =
          fmt::format("{{\"error\":\"request headers over {} bytes\"}}\n", max_header_bytes_);
      std::string response = fmt::format(
          "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n"
          "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
          body.size(), body);
      write(response.data(), response.size());
      ::shutdown(sock_, SHUT_WR);
      return -1;
    }
    return n;
  }

 private:
  // Counts the bytes before the blank line that ends the headers; false once they pass
  // the limit.
  bool count_header_bytes(const char* data, size_t n) {
    for (size_t i = 0; i < n && !headers_done_; ++i) {
      ++header_bytes_;
      char c = data[i];
      terminator_ = (c == '\n' && (terminator_ == 1 || terminator_ == 3)) ? terminator_ + 1
                    : c == '\r' ? (terminator_ == 2 ? 3 : 1)
                                : 0;
      if (terminator_ == 4) headers_done_ = true;
    }
    return header_bytes_ <= max_header_bytes_;
  }

  ssize_t read_some(char* ptr, size_t size) {
    for (;;) {
      if (ssl_) {
        int n = SSL_read(ssl_, ptr, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
        if (n > 0) return n;
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
          if (!wait_until(sock_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, read_deadline_))
            return fail();
          continue;
        }
        return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
      }
      ssize_t n = ::recv(sock_, ptr, size, 0);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!wait_until(sock_, POLLIN, read_deadline_)) return fail();
    }
  }

 public:
  ssize_t write(const char* ptr, size_t size) override {
    auto deadline = SteadyClock::now() + write_timeout_;
    size_t sent = 0;
    while (sent < size) {
      ssize_t n;
      if (ssl_) {
        int r =
            SSL_write(ssl_, ptr + sent, static_cast<int>(std::min<size_t>(size - sent, INT32_MAX)));
        if (r <= 0) {
          int err = SSL_get_error(ssl_, r);
          if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return -1;
          if (!wait_until(sock_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
            return -1;
          continue;
        }
        n = r;
      } else {
        n = ::send(sock_, ptr + sent, size - sent, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
          if (!wait_until(sock_, POLLOUT, deadline)) return -1;
          continue;
        }
      }
      sent += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      ip = address_of(addr, &port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      ip = address_of(addr, &port);
  }
  socket_t socket() const override { return sock_; }

 private:
  ssize_t fail() {
    if (SteadyClock::now() >= read_deadline_) expired_ = true;
    return -1;
  }
  int sock_;
  SSL* ssl_;
  SteadyClock::time_point read_deadline_;
  std::chrono::milliseconds write_timeout_;
  size_t max_header_bytes_;
  size_t header_bytes_ = 0;
  int terminator_ = 0;  // how much of "\r\n\r\n" the last bytes matched
  bool headers_done_ = false;
  mutable bool expired_ = false;
};

// A 503 written straight to a connection that is not admitted, without reading its request.
void refuse(int sock, int max) {
  std::string body =
      fmt::format("{{\"error\":\"too many connections from this address (at most {})\"}}\n", max);
  std::string response = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
      "Retry-After: 1\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
  (void)::send(sock, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

tl::expected<std::unique_ptr<HardenedServer>, std::string> HardenedServer::create(
    HttpLimits limits, const std::string& tls_cert, const std::string& tls_key) {
  std::unique_ptr<HardenedServer> server(new HardenedServer(limits));
  server->set_payload_max_length(limits.max_body_bytes);
  // The library's default pool (from the Debian build) has max(8, cores - 1) threads.
  server->new_task_queue = [n = limits.threads] {
    return new httplib::ThreadPool(static_cast<size_t>(n));
  };
  if (tls_cert.empty() != tls_key.empty()) {
    return tl::unexpected(std::string("TLS needs both --tls-cert and --tls-key"));
  }
  if (tls_cert.empty()) return server;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return tl::unexpected("TLS: " + openssl_error());
  server->ctx_ = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls_cert.c_str()) != 1) {
    return tl::unexpected(fmt::format("--tls-cert {}: {}", tls_cert, openssl_error()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return tl::unexpected(fmt::format("--tls-key {}: {}", tls_key, openssl_error()));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return tl::unexpected(
        fmt::format("--tls-key {} does not match --tls-cert {}", tls_key, tls_cert));
  }
  return server;
}

HardenedServer::~HardenedServer() {
  if (ctx_) SSL_CTX_free(ctx_);
}

bool HardenedServer::admit(const std::string& ip) {
  std::lock_guard lock(mutex_);
  int& open = open_per_client_[ip];
  if (open >= limits_.max_connections_per_client) return false;
  ++open;
  return true;
}

void HardenedServer::release(const std::string& ip) {
  std::lock_guard lock(mutex_);
  auto it = open_per_client_.find(ip);
  if (it != open_per_client_.end() && --it->second <= 0) open_per_client_.erase(it);
}

bool HardenedServer::process_and_close_socket(socket_t sock) {
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  std::string ip = ::getpeername(sock, reinterpret_cast<sockaddr*>(&peer), &len) == 0
                       ? address_of(peer, nullptr)
                       : "";
  if (!admit(ip)) {
    ++refused_;
    refuse(sock, limits_.max_connections_per_client);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return false;
  }
  int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);

  SSL* ssl = nullptr;
  bool ok = true;
  if (ctx_) {
    ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, sock);
    // The handshake shares the first request's deadline.
    auto deadline = SteadyClock::now() + limits_.request_timeout;
    for (;;) {
      int r = SSL_accept(ssl);
      if (r == 1) break;
      int err = SSL_get_error(ssl, r);
      if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
          wait_until(sock, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        continue;
      }
      spdlog::debug("http: TLS handshake with {} failed: {}", ip, openssl_error());
      ok = false;
      break;
    }
  }
  for (size_t n = 0; ok && n < keep_alive_max_count_ && svr_sock_ != INVALID_SOCKET; ++n) {
    // Between requests a kept-alive connection may idle; the deadline starts with the next
    // request's first byte.
    if (n > 0 && !(ssl && SSL_pending(ssl) > 0) &&
        !wait_until(sock, POLLIN, SteadyClock::now() + limits_.keep_alive_timeout)) {
      break;
    }
    DeadlineStream stream(sock, ssl, SteadyClock::now() + limits_.request_timeout,
                          limits_.write_timeout, limits_.max_header_bytes);
    bool closed = false;
    bool close_connection = n + 1 == keep_alive_max_count_;
    ok = process_request(stream, close_connection, closed, nullptr);
    if (stream.deadline_passed()) {
      ++timed_out_;
      spdlog::warn("http: dropped a request from {} that did not arrive within {} ms", ip,
                   limits_.request_timeout.count());
      ok = false;
    }
    if (closed) break;
  }
  if (ssl) {
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  release(ip);
  return ok;
}

}  // namespace synthfarm::coordinator
