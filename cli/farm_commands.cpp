// The commands that talk to a coordinator: submit, status, wait, and job control (pause,
// resume, cancel, retry, delete).
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/coordinator_client.h"
#include "cli/job_store.h"

namespace synthfarm::cli {

int cmd_submit(const Remote& remote, const std::string& path) {
  // Validate here first so errors name the user's file; the server validates again.
  std::string text;
  if (!load_spec(path, text)) return kExitBadInput;
  auto client = client_for(remote);
  auto res = client.Post("/api/jobs", text, "application/yaml");
  if (!res) {
    fmt::print(stderr, "error: {}\n", transport_error(remote.url, res.error()));
    return kExitFailure;
  }
  auto body = json::parse(res->body, nullptr, false);
  if (res->status == 400) {
    if (body.contains("errors")) {
      for (const auto& e : body["errors"]) {
        fmt::print(stderr, "error: {}:{}:{}: {}: {}\n", path, e.value("line", 0),
                   e.value("column", 0), e.value("path", ""), e.value("message", ""));
      }
    } else {
      fmt::print(stderr, "error: {}\n", body.value("error", res->body));
    }
    return kExitBadInput;
  }
  if (res->status != 201 || body.is_discarded()) {
    fmt::print(stderr, "error: coordinator answered {}: {}\n", res->status,
               body.is_discarded() ? res->body : body.value("error", res->body));
    return kExitFailure;
  }
  fmt::print("{}\n", body["id"].get<std::string>());
  std::fflush(stdout);  // the id first, even when both streams go to one pipe
  fmt::print(stderr, "queued {} shards; output: {}\n", body.value("shards", 0),
             body.value("storage", ""));
  return 0;
}

int cmd_status(const Remote& remote, const std::string& job) {
  int status = 0;
  if (!job.empty()) {
    auto body = get_json(remote, "/api/jobs/" + job, status);
    if (!body) {
      fmt::print(stderr, "error: {}\n", body.error());
      return status == 404 ? kExitBadInput : kExitFailure;
    }
    body->erase("spec");
    fmt::print("{}\n", body->dump(2));
    return 0;
  }
  auto body = get_json(remote, "/api/jobs", status);
  if (!body) {
    fmt::print(stderr, "error: {}\n", body.error());
    return kExitFailure;
  }
  fmt::print("{:<32} {:<10} {:>17} {:>10}  {}\n", "JOB", "STATE", "SAMPLES", "SAMPLES/S",
             "STORAGE");
  for (const auto& j : (*body)["jobs"]) {
    fmt::print("{:<32} {:<10} {:>17} {:>10.2f}  {}\n", j["id"].get<std::string>(),
               j["state"].get<std::string>(),
               fmt::format("{}/{}", j["samples_done"].get<int64_t>(), j["samples"].get<int64_t>()),
               j["samples_per_sec"].get<double>(), j["storage"].get<std::string>());
  }
  return 0;
}

// pause | resume | cancel | retry | delete
int cmd_control(const Remote& remote, const std::string& action, const std::string& job) {
  auto client = client_for(remote);
  auto res = action == "delete"
                 ? client.Delete("/api/jobs/" + job)
                 : client.Post("/api/jobs/" + job + "/" + action, "", "application/json");
  if (!res) {
    fmt::print(stderr, "error: {}\n", transport_error(remote.url, res.error()));
    return kExitFailure;
  }
  auto body = json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    fmt::print(stderr, "error: {}\n",
               body.is_discarded() ? res->body : body.value("error", res->body));
    return res->status == 404 || res->status == 409 ? kExitBadInput : kExitFailure;
  }
  if (action == "retry") {
    fmt::print("{}: {} dead shard(s) queued again; job is {}\n", job, body.value("count", 0),
               body.value("state", ""));
  } else {
    fmt::print("{}: {}\n", job, body.value("state", ""));
  }
  return 0;
}

int cmd_wait(const Remote& remote, const std::string& job, double timeout_s) {
  ProgressBar bar(job);
  auto start = std::chrono::steady_clock::now();
  int unreachable = 0;
  for (;;) {
    int status = 0;
    auto body = get_json(remote, "/api/jobs/" + job, status);
    if (!body) {
      if (status == 404) {
        bar.finish();
        fmt::print(stderr, "error: {}\n", body.error());
        return kExitBadInput;
      }
      if (++unreachable % 10 == 1)
        fmt::print(stderr, "\nwarning: {} (still waiting)\n", body.error());
    } else {
      unreachable = 0;
      const auto& j = *body;
      std::string state = j["state"];
      bool ended = job_ended(state);
      bar.update(j["samples_done"].get<int64_t>(), j["samples"].get<int64_t>(),
                 j["samples_per_sec"].get<double>(), j["eta_s"].get<double>(), state, ended);
      if (ended) {
        bar.finish();
        if (state == "failed") {
          fmt::print(stderr, "job {} failed: {}\n", job, j.value("error", ""));
          return kExitFailure;
        }
        if (state == "partial") {
          fmt::print(stderr, "job {} partially done ({}): {}\n", job, j.value("error", ""),
                     j.value("storage", ""));
          return kExitPartial;
        }
        fmt::print(stderr, "job {} done: {}\n", job, j.value("storage", ""));
        return 0;
      }
    }
    if (timeout_s > 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) {
      bar.finish();
      fmt::print(stderr, "error: job {} did not end within {} s\n", job, timeout_s);
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace synthfarm::cli
