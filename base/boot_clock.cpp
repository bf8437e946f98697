#include "base/boot_clock.h"

#include <time.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace synthfarm {
namespace {

class SystemBootClock final : public BootClock {
 public:
  int64_t boot_ms() const override {
    timespec ts{};
    // Fails only with an invalid clock id, i.e. a kernel older than 2.6.39: a bug to report,
    // not a condition to limp on with another clock.
    if (::clock_gettime(CLOCK_BOOTTIME, &ts) != 0) {
      throw std::runtime_error(std::string("clock_gettime(CLOCK_BOOTTIME): ") + std::strerror(errno));
    }
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  }
};

}  // namespace

std::shared_ptr<const BootClock> system_boot_clock() { return std::make_shared<SystemBootClock>(); }

}  // namespace synthfarm
