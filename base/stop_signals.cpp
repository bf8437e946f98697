#include "base/stop_signals.h"

#include <pthread.h>

#include <utility>

namespace synthfarm {

StopSignals::StopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

void StopSignals::start(std::function<void(int)> on_stop) {
  waiter_ = std::thread([this, on_stop = std::move(on_stop)] {
    int sig = 0;
    sigwait(&signals_, &sig);
    // The destructor's own wake-up call is not a request to stop.
    if (!closing_.load()) on_stop(sig);
  });
}

StopSignals::~StopSignals() { close(); }

void StopSignals::close() {
  if (!waiter_.joinable()) return;
  closing_.store(true);
  // Still in sigwait when no signal came: wake it with the signal it waits for.
  pthread_kill(waiter_.native_handle(), SIGTERM);
  waiter_.join();
}

}  // namespace synthfarm
