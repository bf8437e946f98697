// `synthfarm keygen`: a ZeroMQ CURVE key pair for a coordinator or a worker
// (docs/security.md). The key files' format is protocol/curve.h's.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "protocol/curve.h"

namespace synthfarm::cli {

// Writes OUT.key (both keys, mode 0600) and OUT.pub (the public key, mode 0644) and prints
// the public key alone on stdout, so a script can take it: KEY=$(synthfarm keygen --out w1).
int cmd_keygen(const std::string& out, bool force) {
  auto keys = protocol::generate_curve_key_pair();
  if (!keys) {
    fmt::print(stderr, "error: keygen: {}\n", keys.error());
    return kExitFailure;
  }
  auto written = protocol::write_curve_key_files(out, *keys, force);
  if (!written) {
    const bool exists = written.error().find("already exists") != std::string::npos;
    fmt::print(
        stderr, "error: keygen: {}{}\n", written.error(),
        exists ? "; --force replaces it (the old key stops working wherever it is listed)" : "");
    return exists ? kExitBadInput : kExitFailure;
  }
  fmt::print(stderr,
             "wrote {0}.key (the secret key: keep it on this machine, mode 0600) and {0}.pub\n",
             out);
  fmt::print("{}\n", keys->public_key);
  return 0;
}

}  // namespace synthfarm::cli
