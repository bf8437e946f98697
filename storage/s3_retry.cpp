// S3Store's retries: which answers and transport failures are worth another attempt, and
// S3Store::send, which repeats a request with exponential backoff and full jitter within
// the options' retry budget.
#include "storage/internal/s3_retry.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "storage/internal/s3_request.h"
#include "storage/s3_store.h"

namespace synthfarm::storage {
namespace s3_internal {

bool retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

}  // namespace s3_internal

using s3_internal::make_error;

namespace {

bool retryable_status(long status, std::string_view body) {
  if (status >= 500 || status == 429) return true;
  if (status == 400) {
    auto error = parse_s3_error(body);
    return error && (error->code == "RequestTimeout" || error->code == "BadDigest");
  }
  return false;
}

}  // namespace

Result<S3Store::Response> S3Store::send(
    const Request& request, std::string_view uri,
    const std::function<std::optional<std::string>(const Response&)>& retry_reason,
    const CommitGuard* guard) const {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  thread_local std::minstd_rand jitter(
      static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id()) ^
                            static_cast<size_t>(clock::now().time_since_epoch().count())));
  std::string last_problem;
  for (int attempt = 0;; ++attempt) {
    std::string tampered;
    std::string_view body = request.body;
    if (options_.tamper_upload_for_test && !body.empty()) {
      tampered = std::string(body);
      options_.tamper_upload_for_test(tampered, attempt);
      body = tampered;
    }
    if (guard && *guard) {
      if (auto refused = (*guard)()) {
        return tl::unexpected(
            make_error(Error::Code::kFenced, fmt::format("{}: not written: {}", uri, *refused)));
      }
    }
    bool retry = false;
    auto response = send_once(request, body, &retry);
    if (response) {
      std::optional<std::string> reason;
      if (retryable_status(response->status, response->body)) {
        reason = http_error(uri, request.method, *response).message;
      } else if (retry_reason) {
        reason = retry_reason(*response);
      }
      if (!reason) return response;
      last_problem = *reason;
    } else {
      if (!retry) {
        return tl::unexpected(
            make_error(Error::Code::kIo, fmt::format("{}: {}", uri, response.error().message)));
      }
      last_problem = fmt::format("{}: {}", uri, response.error().message);
    }
    // Full jitter: sleep a uniform time in [0, min(cap, base * 2^attempt)].
    const auto ceiling =
        std::chrono::milliseconds(std::min<int64_t>(2000, int64_t{100} << std::min(attempt, 10)));
    const auto sleep = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(0, ceiling.count())(jitter));
    const auto elapsed = clock::now() - start;
    if (elapsed + sleep > options_.retry_budget) {
      return tl::unexpected(
          make_error(Error::Code::kIo,
                     fmt::format("{} (gave up after {} attempts in {:.1f} s)", last_problem,
                                 attempt + 1, std::chrono::duration<double>(elapsed).count())));
    }
    std::this_thread::sleep_for(sleep);
  }
}

}  // namespace synthfarm::storage
