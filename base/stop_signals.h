// How a synthfarm server process hears that it should stop. Construct one first thing in
// main(), before any thread starts: SIGINT and SIGTERM are then blocked in every thread
// (each inherits the mask) and taken by one waiting thread with sigwait, so no signal
// handler ever runs inside a lock; SIGPIPE is ignored (a peer that hangs up is an error
// return, not a death).
#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <thread>

namespace synthfarm {

// Not copyable; one per process. The destructor wakes and joins the waiting thread, so a
// program that ends on its own (not by a signal) still exits cleanly.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Starts the waiting thread: the first SIGINT or SIGTERM calls `on_stop(signal number)`
  // on it, once.
  void start(std::function<void(int)> on_stop);
  // Wakes and joins the waiting thread; `on_stop` is not called after this returns. Call it
  // before destroying what `on_stop` touches. Idempotent; the destructor calls it.
  void close();

 private:
  sigset_t signals_;
  std::atomic<bool> closing_{false};
  std::thread waiter_;
};

}  // namespace synthfarm
