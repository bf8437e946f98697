#include "base/host.h"

#include <unistd.h>

namespace synthfarm {

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown-host";
  return buf;
}

}  // namespace synthfarm
