// The HTTP side of authentication for the coordinator's API: which access each route
// needs, reading a request's credentials (bearer token or dashboard cookie), the CSRF and
// Origin checks on changes, and the answers for each refusal. Internal to coordinator/.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>
#include <string_view>

#include "auth/authenticator.h"

namespace synthfarm::coordinator {

// What a route needs. kOwner: a submitter acting on its own jobs, or an admin on any.
enum class Access { kOpen, kViewer, kSubmitter, kOwner, kAdmin };

std::string_view access_name(Access access);

// The dashboard's session cookie.
inline constexpr std::string_view kSessionCookie = "sf_session";

// Credentials as sent: `Authorization: Bearer <token>`, else the session cookie.
struct Credentials {
  std::string bearer;
  std::string session;
  std::string malformed;  // set when an Authorization header is not "Bearer <token>"
};
Credentials read_credentials(const httplib::Request& req);

// A refusal: HTTP status (401, 403, 503) and the message for the client.
struct Denial {
  int status = 401;
  std::string message;
};

// Decides whether `principal` (nullopt: no valid credentials) may call a route needing
// `access` with this request. Does not check job ownership (the handler knows the job).
std::optional<Denial> check_access(const httplib::Request& req, Access access,
                                   const std::optional<auth::Principal>& principal,
                                   bool had_credentials);

// The Set-Cookie value for a new session, and one that clears it.
std::string session_cookie(std::string_view session_id, int max_age_s, bool secure);
std::string clear_session_cookie(bool secure);

// Headers every response carries: a Content-Security-Policy without inline script,
// no MIME sniffing, no framing, no referrer.
httplib::Headers security_headers();

}  // namespace synthfarm::coordinator
