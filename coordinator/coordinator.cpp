#include "coordinator/coordinator.h"

#include <httplib.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string_view>
#include <thread>

#include "auth/quota.h"
#include "base/host.h"
#include "auth/sessions.h"
#include "auth/tokens.h"
#include "coordinator/api_auth.h"
#include "coordinator/api_json.h"
#include "coordinator/coordinator_testing.h"
#include "coordinator/farm_view.h"
#include "coordinator/history.h"
#include "coordinator/redis_checks.h"
#include "coordinator/shard_api.h"
#include "coordinator/http_server.h"
#include "coordinator/metrics_text.h"
#include "coordinator/finalizer.h"
#include "coordinator/job_objects.h"
#include "coordinator/submission.h"
#include "coordinator/redis_pool.h"
#include "coordinator/sample_layers.h"
#include "coordinator/shared_snapshot.h"
#include "coordinator/telemetry_relay.h"
#include "coordinator/worker_api.h"
#include "jobs/sharding.h"
#include "jobs/spec.h"
#include "queue/queue.h"
#include "protocol/control.h"
#include "protocol/telemetry.h"
#include "storage/allow_list.h"
#include "storage/object_store.h"

namespace synthfarm::coordinator {
namespace {

using nlohmann::json;

std::string new_job_id(const std::string& name) {
  // Ids only need to be unique, not reproducible: a job's content is fixed by its seed.
  static std::mutex mutex;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard lock(mutex);
  return fmt::format("{}-{:06x}", name, rng() & 0xffffff);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

class CoordinatorImpl final : public Coordinator, public testing::ConnectionServer {
 public:
  explicit CoordinatorImpl(CoordinatorOptions options)
      : options_(std::move(options)),
        clock_(options_.clock ? options_.clock : system_clock()),
        redis_(options_.redis),
        keys_{options_.key_prefix},
        authenticator_(options_.key_prefix) {}

  tl::expected<void, std::string> start() {
    if (!options_.auth && !is_loopback(options_.http_host) && !options_.insecure) {
      return tl::unexpected(fmt::format(
          "refusing to serve the API on {} with authentication off: anyone who can reach it could submit, "
          "cancel and delete jobs. Turn authentication on (see docs/security.md), listen on 127.0.0.1, or "
          "pass --insecure if the network is trusted",
          options_.http_host));
    }
    {
      auto redis = queue::RedisClient::create(options_.redis, std::chrono::seconds(2));
      auto problem = eviction_problem(*redis);
      if (problem && problem->has_value()) return tl::unexpected(**problem);
      // Refused credentials will be refused again: better a clear exit than 503s forever.
      if (!problem && problem.error().credentials_refused) return tl::unexpected(problem.error().message);
      if (!problem) spdlog::warn("{}; starting anyway and retrying", problem.error().message);
      redis_checked_ = problem.has_value();
      if (redis_checked_) count_jobs_from_before_the_counters(*redis);
      if (redis_checked_ && options_.auth) {
        auto tokens = auth::TokenStore(*redis, keys_.prefix).list();
        if (tokens && tokens->empty()) {
          spdlog::warn("authentication is on and no API token exists yet: make one with `synthfarm token create "
                       "--role admin --name <name>`");
        }
      }
    }
    auto receiver = protocol::TelemetryReceiver::bind(options_.telemetry_endpoint, options_.curve);
    if (!receiver) return tl::unexpected(receiver.error());
    receiver_ = std::move(*receiver);
    auto publisher = protocol::ControlPublisher::bind(options_.control_endpoint, options_.curve);
    if (!publisher) return tl::unexpected(publisher.error());
    control_ = std::move(*publisher);
    auto root = storage::canonical_uri(options_.storage_root);
    if (!root) return tl::unexpected("storage root: " + root.error().message);
    storage_root_ = *root;
    auto allowed = storage::AllowList::parse(options_.allow_storage.empty() ? std::vector<std::string>{storage_root_}
                                                                           : options_.allow_storage);
    if (!allowed) return tl::unexpected("--allow-storage: " + allowed.error().message);
    allowed_ = std::make_unique<storage::AllowList>(std::move(*allowed));
    // HardenedServer sets TCP_NODELAY on every connection: cpp-httplib sends a response's
    // headers and body in separate writes, and with Nagle's algorithm on the body would wait
    // for the client's delayed ACK of the headers, ~40 ms per kept-alive request.
    auto server = HardenedServer::create(options_.http, options_.tls_cert, options_.tls_key);
    if (!server) return tl::unexpected(server.error());
    server_ = std::move(*server);
    tls_ = server_->tls();
    routes();
    if (!server_->bind_to_port(options_.http_host.c_str(), options_.http_port)) {
      return tl::unexpected(fmt::format("cannot listen on {}://{}:{} (port in use?)", tls_ ? "https" : "http",
                                        options_.http_host, options_.http_port));
    }
    return {};
  }

  int run() override {
    if (options_.shared_view) relay_ = std::make_unique<TelemetryRelay>(options_.redis, keys_.prefix + ":telemetry");
    std::thread telemetry([this] { telemetry_loop(); });
    std::thread housekeeping([this] { housekeeping_loop(); });
    std::thread relay([this] {
      if (relay_) relay_->apply_loop(view_, *clock_, stopping_);
    });
    spdlog::info("coordinator: {}://{}:{}  telemetry {}  control {}  redis {}  storage {}  auth {}", tls_ ? "https" : "http",
                 options_.http_host,
                 options_.http_port, options_.telemetry_endpoint, options_.control_endpoint,
                 options_.redis.to_string(), storage_root_, options_.auth ? "on" : "OFF");
    server_->listen_after_bind();
    stopping_ = true;
    telemetry.join();
    housekeeping.join();
    relay.join();
    spdlog::info("coordinator: stopped");
    return refused_ ? 1 : 0;
  }

  void stop() override {
    stopping_ = true;
    if (server_) server_->stop();
  }

  // testing::ConnectionServer: a connection accepted elsewhere, served on this thread.
  void serve(int fd) override { server_->serve_connection(fd); }

 private:
  // A Redis whose jobs were submitted before the queue kept jobs per state has no
  // counters: count the job hashes now, once (O(jobs)), rather than in the first script
  // or scrape that needs them. Atomic and only when the counters are missing, so two
  // coordinators starting at once do not count twice; if Redis is down, that first
  // script does it instead.
  void count_jobs_from_before_the_counters(queue::RedisClient& redis) {
    queue::Queue queue(redis, keys_);
    auto t0 = std::chrono::steady_clock::now();
    auto counted = queue.rebuild_job_counts(/*only_if_missing=*/true);
    if (!counted) {
      spdlog::warn("cannot count jobs per state at start ({}); the first state change will", counted.error().message);
    } else if (counted->has_value()) {
      spdlog::info("counted {} job(s) per state into {} in {} ms", **counted, keys_.jobs_by_state(),
                   std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
    }
  }

  // ---- HTTP -------------------------------------------------------------------------
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const auth::Principal&)>;

  // Every API route goes through here: the access check wraps the handler, and the route
  // joins the table that GET /api/routes lists and the pre-routing check consults.
  void add_route(const std::string& method, const std::string& pattern, Access access, const std::string& example,
                 Handler handler) {
    route_table_.push_back({method, pattern, std::string(access_name(access)), example});
    route_patterns_.emplace_back(method, std::regex(pattern));
    auto guarded = [this, access, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
      auto principal = authorize(req, res, access);
      if (principal) handler(req, res, *principal);
    };
    if (method == "GET") server_->Get(pattern, guarded);
    else if (method == "POST") server_->Post(pattern, guarded);
    else if (method == "DELETE") server_->Delete(pattern, guarded);
    else throw std::logic_error("add_route: method " + method);
  }

  // The principal a request acts as, or nullopt after answering 401, 403 or 503.
  std::optional<auth::Principal> authorize(const httplib::Request& req, httplib::Response& res, Access access) {
    if (!options_.auth) return auth::Principal{"anonymous", auth::Role::kAdmin, "", false, ""};
    if (access == Access::kOpen) {
      if (auto denial = check_access(req, access, std::nullopt, false)) {
        deny(res, *denial);
        return std::nullopt;
      }
      return auth::Principal{"anonymous", auth::Role::kViewer, "", false, ""};
    }
    auto credentials = read_credentials(req);
    if (!credentials.malformed.empty()) {
      deny(res, {401, credentials.malformed});
      return std::nullopt;
    }
    std::optional<auth::Principal> principal;
    if (!credentials.bearer.empty() || !credentials.session.empty()) {
      auto redis = redis_.acquire();
      auto found = credentials.bearer.empty() ? authenticator_.by_session(*redis, credentials.session)
                                              : authenticator_.by_token(*redis, credentials.bearer);
      if (!found) {
        reply_error(res, 503, "cannot check credentials: " + found.error());
        return std::nullopt;
      }
      principal = std::move(*found);
    }
    bool had = !credentials.bearer.empty() || !credentials.session.empty();
    if (auto denial = check_access(req, access, principal, had)) {
      if (denial->status == 403) {
        spdlog::warn("http {} {}: refused: {}", req.method, req.path, denial->message);
      }
      deny(res, *denial);
      return std::nullopt;
    }
    return principal;
  }

  void deny(httplib::Response& res, const Denial& denial) {
    if (denial.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"synthfarm\"");
    reply_error(res, denial.status, denial.message);
  }

  bool is_api_path(const std::string& path) const {
    return path.rfind("/api/", 0) == 0 || path == "/api" || path == "/metrics" || path == "/healthz";
  }

  void routes() {
    server_->set_logger([](const httplib::Request& req, const httplib::Response& res) {
      if (req.path.rfind("/api/events", 0) != 0) spdlog::debug("http {} {} -> {}", req.method, req.path, res.status);
    });
    server_->set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      spdlog::error("http {} {}: {}", req.method, req.path, what);
      reply_error(res, 500, "internal error: " + what);
    });
    server_->set_default_headers(security_headers());
    // An API path no route of the table matches is answered here, before the router: a
    // handler registered on the server directly, around add_route(), is never reached.
    server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!is_api_path(req.path)) return httplib::Server::HandlerResponse::Unhandled;
      bool path_known = false;
      for (const auto& [method, pattern] : route_patterns_) {
        if (!std::regex_match(req.path, pattern)) continue;
        if (method == req.method || (method == "GET" && req.method == "HEAD")) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        path_known = true;
      }
      reply_error(res, path_known ? 405 : 404, fmt::format("no route {} {}", req.method, req.path));
      return httplib::Server::HandlerResponse::Handled;
    });

    using Req = const httplib::Request&;
    using Res = httplib::Response&;
    using Who = const auth::Principal&;
    add_route("GET", "/healthz", Access::kOpen, "/healthz", [](Req, Res res, Who) { res.set_content("ok\n", "text/plain"); });
    add_route("GET", "/metrics", options_.metrics_auth ? Access::kViewer : Access::kOpen, "/metrics",
              [this](Req, Res res, Who) { metrics(res); });
    add_route("POST", "/api/session", Access::kOpen, "/api/session",
              [this](Req req, Res res, Who) { login(req, res); });
    add_route("GET", "/api/session", Access::kViewer, "/api/session",
              [this](Req, Res res, Who who) { whoami(res, who); });
    add_route("DELETE", "/api/session", Access::kViewer, "/api/session",
              [this](Req req, Res res, Who) { logout(req, res); });
    add_route("GET", "/api/routes", Access::kViewer, "/api/routes",
              [this](Req, Res res, Who) { list_routes(res); });
    add_route("GET", "/api/tokens", Access::kAdmin, "/api/tokens", [this](Req, Res res, Who) { list_tokens(res); });
    add_route("POST", "/api/jobs", Access::kSubmitter, "/api/jobs",
              [this](Req req, Res res, Who who) { submit(req, res, who); });
    add_route("GET", "/api/jobs", Access::kViewer, "/api/jobs", [this](Req, Res res, Who) { list_jobs(res); });
    add_route("GET", R"(/api/jobs/([^/]+))", Access::kViewer, "/api/jobs/example-000000",
              [this](Req req, Res res, Who) { get_job(req.matches[1], res); });
    add_route("GET", R"(/api/jobs/([^/]+)/shards)", Access::kViewer, "/api/jobs/example-000000/shards",
              [this](Req req, Res res, Who) {
                get_job_shards(*redis_.acquire(), keys_, req.matches[1], req, res, clock_->wall_ms());
              });
    add_route("GET", R"(/api/jobs/([^/]+)/shards/([^/]+))", Access::kViewer, "/api/jobs/example-000000/shards/0",
              [this](Req req, Res res, Who) {
                get_job_shard(*redis_.acquire(), keys_, req.matches[1], req.matches[2], res, clock_->wall_ms());
              });
    add_route("GET", "/api/failures", Access::kViewer, "/api/failures",
              [this](Req req, Res res, Who) { get_failures(*redis_.acquire(), keys_, req, res, clock_->wall_ms()); });
    add_route("GET", R"(/api/jobs/([^/]+)/samples/(\d+)\.(png|jpg|json|exr))", Access::kViewer,
              "/api/jobs/example-000000/samples/0.png", [this](Req req, Res res, Who) {
                const uint64_t index = std::stoull(req.matches[2]);
                const std::string ext = req.matches[3];
                auto frame = parse_frame(query_param(req, "frame"));
                if (!frame) return reply_error(res, 400, frame.error());
                get_object(req.matches[1], res,
                           [&](auto& store, auto& job) { return sample_object(store, job, index, *frame, ext); });
              });
    add_route("GET", R"(/api/jobs/([^/]+)/samples/(\d+)/layers/([^/]+)\.png)", Access::kViewer,
              "/api/jobs/example-000000/samples/0/layers/depth.png", [this](Req req, Res res, Who) {
                auto wanted = parse_layer_request(req.matches[2].str(), req.matches[3].str(), query_param(req, "frame"));
                if (!wanted) return reply_error(res, 400, wanted.error());
                const std::string id = req.matches[1];
                get_object(id, res, [&](auto& store, auto& job) { return sample_layers_.get(id, store, job, *wanted); });
              });
    add_route("GET", R"(/api/jobs/([^/]+)/card\.(json|html))", Access::kViewer, "/api/jobs/example-000000/card.html",
              [this](Req req, Res res, Who) {
                const std::string kind = req.matches[2];
                get_object(req.matches[1], res,
                           [&](auto& store, auto& job) { return dataset_card_object(store, job.state, kind); });
              });
    add_route("POST", R"(/api/jobs/([^/]+)/(pause|resume|cancel|retry))", Access::kOwner,
              "/api/jobs/example-000000/pause",
              [this](Req req, Res res, Who who) { control(req.matches[1], req.matches[2], who, res); });
    add_route("DELETE", R"(/api/jobs/([^/]+))", Access::kOwner, "/api/jobs/example-000000",
              [this](Req req, Res res, Who who) { control(req.matches[1], "delete", who, res); });
    add_route("GET", "/api/workers", Access::kViewer, "/api/workers",
              [this](Req, Res res, Who) { reply_json(res, 200, {{"workers", workers_json()}}); });
    add_route("GET", R"(/api/workers/([^/]+))", Access::kViewer, "/api/workers/example-worker",
              [this](Req req, Res res, Who) { reply_worker(view_, history_, req.matches[1], clock_->wall_ms(), res); });
    add_route("GET", "/api/events", Access::kViewer, "/api/events", [this](Req, Res res, Who) { events(res); });
    add_route("GET", "/api/history", Access::kViewer, "/api/history",
              [this](Req req, Res res, Who) { history(req, res, ""); });
    add_route("GET", R"(/api/jobs/([^/]+)/history)", Access::kViewer, "/api/jobs/example-000000/history",
              [this](Req req, Res res, Who) { history(req, res, req.matches[1]); });
    // The charts' library, from the system (Debian's libjs-chart.js), beside the assets.
    if (!options_.chart_js_dir.empty() && !server_->set_mount_point("/vendor/chart.js", options_.chart_js_dir)) {
      spdlog::warn("Chart.js not found in {}; the dashboard's charts are off", options_.chart_js_dir);
    }
    if (!options_.web_dir.empty() && !server_->set_mount_point("/", options_.web_dir)) {
      spdlog::warn("dashboard assets not found in {}; the API still works", options_.web_dir);
    }
  }

  void list_routes(httplib::Response& res) {
    json out = json::array();
    for (const auto& r : route_table_) {
      out.push_back({{"method", r.method}, {"pattern", r.pattern}, {"access", r.access}, {"example", r.example}});
    }
    reply_json(res, 200, {{"routes", out}, {"auth", options_.auth}});
  }

  void list_tokens(httplib::Response& res) {
    auto redis = redis_.acquire();
    auto tokens = auth::TokenStore(*redis, keys_.prefix).list();
    if (!tokens) return reply_error(res, 503, tokens.error());
    json out = json::array();
    for (const auto& t : *tokens) {
      out.push_back({{"name", t.name}, {"role", std::string(auth::role_name(t.role))}, {"created_ms", t.created_ms}});
    }
    reply_json(res, 200, {{"tokens", out}});
  }

  // ---- dashboard sessions --------------------------------------------------------------
  // POST /api/session {"token": "..."} or {"code": "<one-time login code>"}: opens a
  // session and sets its cookie. The answer carries the CSRF secret for the page.
  void login(const httplib::Request& req, httplib::Response& res) {
    if (!options_.auth) return reply_json(res, 200, {{"name", "anonymous"}, {"role", "admin"}, {"auth", false}});
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !(body.contains("token") || body.contains("code")) ||
        !body.value("token", json("")).is_string() || !body.value("code", json("")).is_string()) {
      return reply_error(res, 400, "expected a JSON object with \"token\" (an API token) or \"code\" (a login link's code)");
    }
    auto redis = redis_.acquire();
    auth::SessionStore sessions(*redis, keys_.prefix);
    tl::expected<std::optional<auth::Principal>, std::string> principal = std::optional<auth::Principal>();
    if (body.contains("token")) {
      principal = authenticator_.by_token(*redis, body["token"].get<std::string>());
    } else {
      auto hash = sessions.redeem_login_code(body["code"].get<std::string>());
      if (!hash) return reply_error(res, 503, hash.error());
      if (hash->has_value()) principal = authenticator_.by_token_hash(*redis, **hash);
    }
    if (!principal) return reply_error(res, 503, principal.error());
    if (!principal->has_value()) {
      spdlog::warn("http login from {}: unknown token or used login code", req.remote_addr);
      return deny(res, {401, body.contains("token") ? "unknown or revoked token"
                                                     : "this login link was used already or has expired; make a new one"});
    }
    auto session = sessions.create((*principal)->token_hash, std::chrono::seconds(options_.session_ttl_s));
    if (!session) return reply_error(res, 503, session.error());
    res.set_header("Set-Cookie", session_cookie(session->id, static_cast<int>(options_.session_ttl_s), tls_));
    spdlog::info("dashboard session opened for token '{}'", (*principal)->name);
    reply_json(res, 200, {{"name", (*principal)->name}, {"role", std::string(auth::role_name((*principal)->role))},
                          {"csrf", session->csrf}, {"auth", true}});
  }

  void whoami(httplib::Response& res, const auth::Principal& who) {
    json body = {{"name", who.name}, {"role", std::string(auth::role_name(who.role))}, {"auth", options_.auth}};
    if (who.session) body["csrf"] = who.csrf;
    reply_json(res, 200, body);
  }

  void logout(const httplib::Request& req, httplib::Response& res) {
    auto credentials = read_credentials(req);
    if (!credentials.session.empty()) {
      auto redis = redis_.acquire();
      auto removed = auth::SessionStore(*redis, keys_.prefix).remove(credentials.session);
      if (!removed) return reply_error(res, 503, removed.error());
    }
    res.set_header("Set-Cookie", clear_session_cookie(tls_));
    reply_json(res, 200, {{"logged_out", true}});
  }

  // A 400 for one field of a submitted spec, in the parser's error shape.
  static void reply_field_error(httplib::Response& res, const std::string& path, const std::string& message) {
    reply_json(res, 400, {{"error", path + ": " + message},
                          {"errors", json::array({{{"path", path}, {"line", 0}, {"column", 0}, {"message", message}}})}});
  }

  void submit(const httplib::Request& req, httplib::Response& res, const auth::Principal& who) {
    auto parsed = jobs::parse_spec(req.body, "request body");
    if (!parsed) {
      json errors = json::array();
      for (const auto& e : parsed.error()) {
        errors.push_back({{"path", e.path}, {"line", e.line}, {"column", e.column}, {"message", e.message}});
      }
      std::string summary = parsed.error().size() == 1 ? parsed.error()[0].to_string()
                                                       : fmt::format("spec: {} problems; first: {}", parsed.error().size(),
                                                                     parsed.error()[0].to_string());
      return reply_json(res, 400, {{"error", summary}, {"errors", errors}});
    }
    jobs::JobSpec spec = std::move(*parsed);
    std::string id = new_job_id(spec.name);
    std::string storage_uri = spec.output.storage.empty() ? storage_root_ + "/" + id : spec.output.storage;
    auto canonical = storage::canonical_uri(storage_uri);
    if (!canonical) return reply_field_error(res, "output.storage", canonical.error().message);
    spec.output.storage = *canonical;
    // Nothing outside the allowed storage, read or written: checked before anything is opened.
    json refused = json::array();
    for (const auto& location : jobs::spec_locations(spec)) {
      if (auto why = allowed_->check(location.uri)) {
        refused.push_back({{"path", location.path}, {"line", 0}, {"column", 0}, {"message", *why}});
      }
    }
    if (!refused.empty()) {
      spdlog::warn("http: job from '{}' refused: {}: {}", who.name, refused[0]["path"].get<std::string>(),
                   refused[0]["message"].get<std::string>());
      return reply_json(res, 400, {{"error", refused[0]["path"].get<std::string>() + ": " +
                                                 refused[0]["message"].get<std::string>()},
                                   {"errors", refused}});
    }
    auto store = storage::open_store(spec.output.storage);
    if (!store) return reply_field_error(res, "output.storage", store.error().message);
    if (spec.reconstruction()) {  // its samples are the units of its inputs
      auto units = count_units(spec);
      if (!units) return reply_field_error(res, units.error().path, units.error().message);
      spec.samples = units->units;
      if (!units->note.empty()) spdlog::info("job {}: {} units; {}", id, units->units, units->note);
    }
    auto redis = redis_.acquire();
    if (options_.auth && who.role < auth::Role::kAdmin) {
      auto refused = auth::take_quota(*redis, keys_.prefix, who.name, spec.samples,
                                      {options_.max_jobs_per_hour, options_.max_samples_per_hour}, clock_->wall_ms());
      if (!refused) return reply_error(res, 503, "job not queued: " + refused.error());
      if (refused->has_value()) {
        res.set_header("Retry-After", std::to_string((*refused)->retry_after_s));
        return reply_error(res, 429, "job not queued: " + (*refused)->message);
      }
    }
    queue::Queue queue(*redis, keys_);
    queue::JobSubmission submission = job_submission(spec);
    submission.owner = who.name;
    auto queued = queue.submit(id, submission, clock_->wall_ms());
    if (!queued) {
      spdlog::error("submit {}: {}", id, queued.error().message);
      return reply_error(res, 503, "job not queued: " + queued.error().message);
    }
    uint64_t shards = jobs::shard_count(spec.samples, spec.shard_size);
    spdlog::info("job {} queued by '{}': {} samples in {} shards -> {}", id, who.name, spec.samples, shards,
                 spec.output.storage);
    reply_json(res, 201, {{"id", id}, {"shards", shards}, {"storage", spec.output.storage}});
  }

  void control(const std::string& id, const std::string& action, const auth::Principal& who, httplib::Response& res) {
    static const std::map<std::string, queue::JobAction> kActions = {
        {"pause", queue::JobAction::kPause},   {"resume", queue::JobAction::kResume},
        {"cancel", queue::JobAction::kCancel}, {"retry", queue::JobAction::kRetryDead},
        {"delete", queue::JobAction::kDelete}};
    auto redis = redis_.acquire();
    queue::Queue queue(*redis, keys_);
    if (who.role < auth::Role::kAdmin) {
      // A submitter changes only its own jobs. (The state may change between this read and
      // the action; the owner never does.)
      auto record = queue.job(id);
      if (!record) return reply_error(res, 503, record.error().message);
      if (!record->has_value()) return reply_error(res, 404, "no job " + id);
      if ((*record)->owner != who.name) {
        spdlog::warn("http: token '{}' refused {} of job {} (submitted by '{}')", who.name, action, id, (*record)->owner);
        return reply_error(res, 403, fmt::format("job {} was submitted by another token; role {} may {} only its own jobs",
                                                 id, auth::role_name(who.role), action));
      }
    }
    auto outcome = queue.control(kActions.at(action), id);
    if (!outcome) return reply_error(res, 503, outcome.error().message);
    if (!outcome->found) return reply_error(res, 404, "no job " + id);
    auto record = queue.job(id);
    std::string state = record && record->has_value() ? (*record)->state : "deleted";
    if (!outcome->changed && action != "retry") {
      return reply_error(res, 409, fmt::format("cannot {} job {}: it is {}", action, id, state));
    }
    if (action == "cancel" || action == "delete") {
      // Redis already refuses the job's leases; this tells the workers now, not at their
      // next renewal.
      control_->publish({id, action == "delete" ? protocol::JobControl::Action::kDelete
                                                : protocol::JobControl::Action::kCancel,
                         clock_->wall_ms()});
      view_.forget_job(id);
    }
    spdlog::info("job {}: {} -> {}", id, action, state);
    reply_json(res, 200, {{"id", id}, {"action", action}, {"state", state}, {"count", outcome->count}});
  }

  tl::expected<json, std::string> jobs_json() {
    auto redis = redis_.acquire();
    queue::Queue queue(*redis, keys_);
    auto records = queue.jobs();
    if (!records) return tl::unexpected(records.error().message);
    int64_t now = clock_->wall_ms();
    json out = json::array();
    for (const auto& r : *records) out.push_back(job_json(r, view_.job(r.id, now)));
    return out;
  }

  json workers_json() {
    int64_t now = clock_->wall_ms();
    json out = json::array();
    for (const auto& w : view_.workers(now)) out.push_back(worker_json(w, now));
    return out;
  }

  void list_jobs(httplib::Response& res) {
    auto jobs = jobs_json();
    if (!jobs) return reply_error(res, 503, jobs.error());
    reply_json(res, 200, {{"jobs", *jobs}});
  }

  void get_job(const std::string& id, httplib::Response& res) {
    auto redis = redis_.acquire();
    queue::Queue queue(*redis, keys_);
    auto record = queue.job(id);
    if (!record) return reply_error(res, 503, record.error().message);
    if (!record->has_value()) return reply_error(res, 404, "no job " + id);
    auto live = view_.job(id, clock_->wall_ms());
    json body = job_json(**record, live);
    auto spec = queue.job_spec_json(id);
    if (spec && spec->has_value()) body["spec"] = json::parse(**spec, nullptr, false);
    body["recent_samples"] = live.recent_samples;
    body["renders"] = (*record)->renders;
    json dead = json::array();
    if (auto shards = queue.dead_shards(id)) {
      for (const auto& d : *shards) dead.push_back({{"shard", d.shard}, {"attempts", d.attempts}, {"error", d.last_error}, {"log_tail", d.log_tail}});
    }
    body["dead_shards"] = dead;
    body["blocklisted_workers"] = queue.blocklist(id).value_or(std::vector<std::string>{});
    body["blocklist"] = blocklist_json(*redis, keys_, id);  // the same workers, with why
    reply_json(res, 200, body);
  }

  // The objects of a job's dataset (job_objects.h): its store from the job hash, then the
  // object, with the state for the card.
  void get_object(const std::string& id, httplib::Response& res,
                  const std::function<StoredObject(const storage::ObjectStore&, const JobView& job)>& read) {
    std::string storage_uri;
    JobView job;
    {
      auto redis = redis_.acquire();
      auto reply = redis->command({"HMGET", keys_.job(id), "storage", "state", "shard_size"});
      if (!reply) return reply_error(res, 503, reply.error().message);
      if (reply->elements.size() != 3 || reply->elements[0].is_nil()) return reply_error(res, 404, "no job " + id);
      storage_uri = reply->elements[0].str;
      job.state = reply->elements[1].str;
      job.shard_size = std::strtoull(reply->elements[2].str.c_str(), nullptr, 10);
    }
    auto store = open_cached(storage_uri);
    if (!store) return reply_error(res, 502, store.error());
    StoredObject object = read(**store, job);
    if (object.status != 200) return reply_error(res, object.status, object.body);
    for (const auto& [name, value] : object.headers) {
      res.headers.erase(name);  // the server's default of the same name, if any
      res.set_header(name, value);
    }
    res.set_content(std::move(object.body), object.content_type);
  }

  tl::expected<storage::ObjectStore*, std::string> open_cached(const std::string& uri) {
    std::lock_guard lock(stores_mutex_);
    auto it = stores_.find(uri);
    if (it != stores_.end()) return it->second.get();
    auto store = storage::open_store(uri);
    if (!store) return tl::unexpected(store.error().message);
    auto* raw = store->get();
    stores_[uri] = std::move(*store);
    return raw;
  }

  // The dashboard's data, once a second to each subscriber but built at most every
  // kSnapshotMaxAge for all of them: the newest jobs for its table (a bounded list, as GET
  // /api/jobs) and farm totals from counters, never a read of every job.
  json snapshot() {
    int64_t now = clock_->wall_ms();
    auto jobs = jobs_json();
    json workers = workers_json();
    int64_t alive = 0;
    for (const auto& w : workers) alive += w["alive"].get<bool>() ? 1 : 0;
    int64_t pending = -1;
    json jobs_by_state = nullptr;  // null: Redis did not answer
    {
      auto redis = redis_.acquire();
      queue::Queue queue(*redis, keys_);
      if (auto p = queue.pending_shards()) pending = *p;
      if (auto counts = queue.job_counts()) jobs_by_state = counts->by_state;
    }
    return {{"time_ms", now},
            {"redis", jobs ? "up" : "down"},
            {"jobs", jobs ? *jobs : json::array()},
            {"workers", workers},
            {"totals",
             {{"samples_per_sec", view_.total_samples_per_sec(now)},
              {"shards_pending", pending},
              {"workers_alive", alive},
              {"jobs_by_state", jobs_by_state}}},
            {"history", history_.farm_tail()}};
  }

  void events(httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider("text/event-stream", [this](size_t, httplib::DataSink& sink) {
      const auto frame = snapshots_.get();  // shared by every open stream (shared_snapshot.h)
      if (!sink.write(frame->data(), frame->size())) return false;
      for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (stopping_) {
        sink.done();
        return false;
      }
      return true;
    });
  }

  void metrics(httplib::Response& res) {
    auto redis = redis_.acquire();
    queue::Queue queue(*redis, keys_);
    const CoordinatorCounters counters{telemetry_messages_.load(), telemetry_malformed_.load(),
                                       receiver_->rejected(), jobs_finalized_.load(), leases_reaped_.load()};
    res.set_content(prometheus_text(queue, view_, clock_->wall_ms(), counters), "text/plain; version=0.0.4");
  }

  // GET /api/history[?range=all] and GET /api/jobs/{id}/history[?range=all] (history.h).
  void history(const httplib::Request& req, httplib::Response& res, const std::string& job_id) {
    const bool coarse = req.get_param_value("range") == "all";
    if (job_id.empty()) return reply_json(res, 200, history_.farm_json(coarse));
    auto series = history_.job_json(job_id, coarse);
    if (!series) return reply_error(res, 404, "no history for job " + job_id + " on this coordinator");
    reply_json(res, 200, *series);
  }

  // ---- background loops -------------------------------------------------------------
  void telemetry_loop() {
    std::vector<protocol::Telemetry> batch;
    while (!stopping_) {
      auto message = receiver_->receive(std::chrono::milliseconds(200));
      telemetry_malformed_ = receiver_->malformed();
      if (!message) continue;
      ++telemetry_messages_;
      if (!relay_) {
        view_.on_telemetry(*message, clock_->wall_ms());
        continue;
      }
      // Shared view: what has arrived goes to the stream in one round trip, and comes back
      // to this view through the relay's apply_loop like every other coordinator's.
      batch.push_back(std::move(*message));
      while (batch.size() < 256) {
        auto more = receiver_->receive(std::chrono::milliseconds(0));
        if (!more) break;
        ++telemetry_messages_;
        batch.push_back(std::move(*more));
      }
      relay_->publish_or_apply(batch, view_, clock_->wall_ms());
      batch.clear();
    }
  }


  void housekeeping_loop() {
    auto redis = queue::RedisClient::create(options_.redis, std::chrono::seconds(2));
    queue::Queue queue(*redis, keys_);
    int failures = 0;
    bool was_down = false;
    while (!stopping_) {
      auto ok = housekeeping_pass(queue, *redis);
      if (!ok && ok.error().credentials_refused) {
        // Redis was unreachable at start and now refuses our credentials (or they changed
        // under a running coordinator): nothing here can work, so say so and stop.
        spdlog::critical("{}; stopping", ok.error().message);
        refused_ = true;
        stop();
        return;
      }
      if (!ok) {
        auto delay = queue::backoff_delay(failures++, std::chrono::seconds(5));
        if (!was_down || failures % 10 == 0) {
          spdlog::warn("{}; retrying in {:.1f} s", ok.error().message, delay.count() / 1000.0);
        }
        was_down = true;
        queue::sleep_unless_stopped(delay, stopping_);
        continue;
      }
      if (was_down) spdlog::info("redis at {} is reachable again", options_.redis.to_string());
      was_down = false;
      failures = 0;
      queue::sleep_unless_stopped(std::chrono::milliseconds(options_.housekeeping_ms), stopping_);
    }
  }

  queue::RedisResult<void> housekeeping_pass(queue::Queue& queue, queue::RedisClient& redis) {
    if (!redis_checked_) {
      // Redis was unreachable at start: check its eviction policy once it answers.
      auto problem = eviction_problem(redis);
      if (!problem) return tl::unexpected(problem.error());
      if (problem->has_value()) {
        spdlog::critical("{}; stopping", **problem);
        refused_ = true;
        stop();
        return {};
      }
      redis_checked_ = true;
    }
    auto reaped = queue.reap_expired();
    if (!reaped) return tl::unexpected(reaped.error());
    if (reaped->requeued + reaped->dead > 0) {
      leases_reaped_ += reaped->requeued + reaped->dead;
      spdlog::warn("reaper: {} expired lease(s) put back at the head of the queue, {} dead-lettered",
                   reaped->requeued, reaped->dead);
    }
    if (const int64_t now = clock_->wall_ms(); history_.due(now)) {
      sample_history(history_, queue, view_, now, history_last_ms_);
      history_last_ms_ = now;
    }
    auto ready = queue.finalizable();
    if (!ready) return tl::unexpected(ready.error());
    for (const auto& id : *ready) {
      auto r = finalize(queue, id);
      if (!r) return r;
    }
    return {};
  }

  queue::RedisResult<void> finalize(queue::Queue& queue, const std::string& id) {
    // Several coordinators may serve one Redis: one writes a job's dataset at a time, and
    // every attempt writes the same bytes (the finalized time is fixed at the first claim).
    auto claim = queue.finalize_claim(id, instance_id_, kFinalizeLockMs);
    if (!claim) return tl::unexpected(claim.error());
    if (!claim->has_value()) return {};  // another coordinator is finalizing it
    auto record = queue.job(id);
    if (!record) return tl::unexpected(record.error());
    if (!record->has_value() || (*record)->state != "finalizing") return queue.mark_done(id);
    // The JSON stored at submission: no decode and re-encode, and no silent default spec.
    auto spec = queue.job_spec_json(id);
    if (!spec) return tl::unexpected(spec.error());
    std::string spec_json = spec->value_or("{}");
    auto dead = queue.dead_shards(id);
    if (!dead) return tl::unexpected(dead.error());
    std::set<uint64_t> dead_set;
    for (const auto& d : *dead) dead_set.insert(d.shard);
    auto store = open_cached((*record)->storage);
    tl::expected<ManifestSummary, std::string> written =
        store ? write_dataset_manifest(**store, **record, spec_json, dead_set, **claim) : tl::unexpected(store.error());
    if (!written) {
      int& tries = finalize_failures_[id];
      spdlog::error("finalize {} (attempt {}): {}", id, ++tries, written.error());
      if (tries >= 5) return queue.mark_failed(id, "finalize: " + written.error());
      return {};
    }
    auto done = queue.mark_done(id);
    if (!done) return done;
    ++jobs_finalized_;
    view_.forget_job(id);
    spdlog::info("job {} {}: {} samples, {} objects, {:.1f} MB in {}{}", id, dead_set.empty() ? "done" : "ended",
                 written->samples, written->objects, written->bytes / 1e6, (*record)->storage,
                 dead_set.empty() ? "" : fmt::format(" ({} shard(s) dead-lettered)", dead_set.size()));
    return {};
  }

  // A finalizer's lock outlives a crashed holder by this much; a finalize that takes
  // longer only lets another coordinator write the same bytes beside it.
  static constexpr int64_t kFinalizeLockMs = 10 * 60 * 1000;

  CoordinatorOptions options_;
  std::unique_ptr<TelemetryRelay> relay_;  // --shared-view
  // This process among the coordinators sharing the Redis (the finalizer lock's owner).
  const std::string instance_id_ = fmt::format("{}-{}-{}", host_name(), ::getpid(), std::random_device{}());
  std::shared_ptr<const Clock> clock_;
  RedisPool redis_;
  queue::keys::Keys keys_;
  auth::Authenticator authenticator_;  // thread-safe
  bool tls_ = false;                   // the API is served over HTTPS: cookies get Secure
  std::vector<RouteInfo> route_table_;                              // written by routes() only
  std::vector<std::pair<std::string, std::regex>> route_patterns_;  // the same, compiled
  std::string storage_root_;
  std::unique_ptr<storage::AllowList> allowed_;  // immutable after start()
  std::unique_ptr<HardenedServer> server_;
  std::unique_ptr<protocol::TelemetryReceiver> receiver_;  // owned by the telemetry thread
  std::unique_ptr<protocol::ControlPublisher> control_;    // thread-safe
  FarmView view_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> telemetry_messages_{0}, telemetry_malformed_{0}, jobs_finalized_{0}, leases_reaped_{0};
  SampleLayers sample_layers_;  // the layer images drawn for the sample viewer, cached
  std::mutex stores_mutex_;
  std::map<std::string, std::unique_ptr<storage::ObjectStore>> stores_;  // GUARDED_BY(stores_mutex_)
  std::map<std::string, int> finalize_failures_;                         // housekeeping thread only
  History history_{options_.history_interval_ms};                         // thread-safe
  // Half the streams' period: a subscriber's data is at most that old.
  static constexpr std::chrono::milliseconds kSnapshotMaxAge{500};
  SharedSnapshot snapshots_{kSnapshotMaxAge, [this] {                     // thread-safe
                              return "event: snapshot\ndata: " + json_text(snapshot()) + "\n\n";
                            }};
  int64_t history_last_ms_ = 0;                                           // housekeeping thread only
  bool redis_checked_ = false;                                           // start(), then housekeeping thread
  std::atomic<bool> refused_{false};  // Redis refused us (credentials, eviction policy): exit 1
};

}  // namespace

tl::expected<std::unique_ptr<Coordinator>, std::string> Coordinator::create(CoordinatorOptions options) {
  auto c = std::make_unique<CoordinatorImpl>(std::move(options));
  auto started = c->start();
  if (!started) return tl::unexpected(started.error());
  return c;
}

// The same object as create() returns, entered through the test hook instead of run().
tl::expected<std::unique_ptr<testing::ConnectionServer>, std::string> testing::ConnectionServer::create(
    CoordinatorOptions options) {
  auto c = std::make_unique<CoordinatorImpl>(std::move(options));
  if (auto started = c->start(); !started) return tl::unexpected(started.error());
  return c;
}

}  // namespace synthfarm::coordinator
