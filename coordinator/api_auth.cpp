#include "coordinator/api_auth.h"

#include <fmt/format.h>

namespace synthfarm::coordinator {
namespace {

bool changes_state(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

auth::Role needed_role(Access access) {
  switch (access) {
    case Access::kAdmin:
      return auth::Role::kAdmin;
    case Access::kSubmitter:
    case Access::kOwner:
      return auth::Role::kSubmitter;
    default:
      return auth::Role::kViewer;
  }
}

// "http://host:port" of an Origin header, compared with the Host the request was sent to.
bool same_origin(const httplib::Request& req) {
  if (!req.has_header("Origin")) return true;  // not a browser, or a same-origin GET
  std::string origin = req.get_header_value("Origin");
  auto scheme = origin.find("://");
  if (scheme == std::string::npos) return false;  // "null" and other opaque origins
  return origin.substr(scheme + 3) == req.get_header_value("Host");
}

}  // namespace

std::string_view access_name(Access access) {
  switch (access) {
    case Access::kOpen:
      return "open";
    case Access::kViewer:
      return "viewer";
    case Access::kSubmitter:
      return "submitter";
    case Access::kOwner:
      return "owner";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

Credentials read_credentials(const httplib::Request& req) {
  Credentials c;
  if (req.has_header("Authorization")) {
    std::string value = req.get_header_value("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() > kBearer.size() && value.compare(0, kBearer.size(), kBearer) == 0) {
      c.bearer = value.substr(kBearer.size());
    } else {
      c.malformed = "the Authorization header must be 'Bearer <token>'";
    }
    return c;
  }
  // Cookie: a=b; sf_session=...; c=d
  std::string cookies = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string_view pair(cookies.data() + pos, end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.size() > kSessionCookie.size() &&
        pair.substr(0, kSessionCookie.size()) == kSessionCookie &&
        pair[kSessionCookie.size()] == '=') {
      c.session = std::string(pair.substr(kSessionCookie.size() + 1));
    }
    pos = end + 1;
  }
  return c;
}

std::optional<Denial> check_access(const httplib::Request& req, Access access,
                                   const std::optional<auth::Principal>& principal,
                                   bool had_credentials) {
  // A page of another origin may not change anything here, logged in or not (a forged
  // login would sign the victim's browser in as the attacker).
  if (changes_state(req.method) && !same_origin(req)) {
    return Denial{403, fmt::format("cross-origin request refused (Origin {})",
                                   req.get_header_value("Origin"))};
  }
  if (access == Access::kOpen) return std::nullopt;
  if (!principal) {
    return Denial{401,
                  had_credentials
                      ? "unknown, revoked or expired credentials; log in again or use a valid token"
                      : "authentication required: send 'Authorization: Bearer <token>' (see "
                        "`synthfarm token create`) or log in on the dashboard"};
  }
  auth::Role need = needed_role(access);
  if (principal->role < need) {
    return Denial{403, fmt::format("token '{}' has role {}; {} {} needs {}", principal->name,
                                   auth::role_name(principal->role), req.method, req.path,
                                   auth::role_name(need))};
  }
  if (changes_state(req.method)) {
    // A cookie is sent by the browser on its own; a change is the page's only when it also
    // carries the session's CSRF secret, which only a page of this origin could read.
    if (principal->session &&
        !auth::constant_time_equal(req.get_header_value("X-CSRF-Token"), principal->csrf)) {
      return Denial{403, "missing or wrong X-CSRF-Token for this session; reload the dashboard"};
    }
  }
  return std::nullopt;
}

std::string session_cookie(std::string_view session_id, int max_age_s, bool secure) {
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", kSessionCookie,
                     session_id, max_age_s, secure ? "; Secure" : "");
}

std::string clear_session_cookie(bool secure) { return session_cookie("", 0, secure); }

httplib::Headers security_headers() {
  return {
      // Scripts and styles only from the coordinator's own files: no inline script, no
      // eval. The live-update worker is built from a Blob, hence blob: for workers.
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
  };
}

}  // namespace synthfarm::coordinator
