// Who gets in: the coordinator's API with authentication on, against real processes. Every
// route the router holds is called with no credentials, the wrong role and the right one;
// dashboard sessions, CSRF and Origin checks; the CLI's token handling; a non-loopback
// listener without authentication refused. No secret may appear in any log.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "tests/farm.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;

std::string tiny_spec(const std::string& name) {
  return "name: " + name +
         "\nsamples: 2\nshard_size: 1\nseed: 7\ncamera:\n  resolution: [32, 24]\nrender:\n  spp: "
         "1\n"
         "  max_bounces: 0\n";
}

struct Reply {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  json data() const { return json::parse(body, nullptr, false); }
};

// One request; `token` empty: no Authorization header. Extra headers (Cookie, CSRF,
// Origin) as given. Streams (/api/events) are cut after the first bytes.
Reply call(const std::string& url, const std::string& method, const std::string& path,
           const std::string& token, const httplib::Headers& headers = {},
           const std::string& body = "", const std::string& type = "application/yaml") {
  httplib::Client client(url);
  client.set_read_timeout(20);
  httplib::Headers h = headers;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  Reply r;
  if (method == "GET") {
    // The status from the response handler: a stream (/api/events) is cut after its first
    // event, which leaves the request "cancelled" with the status already known.
    std::string got;
    client.Get(
        path, h,
        [&](const httplib::Response& response) {
          r.status = response.status;
          r.headers = response.headers;
          return true;
        },
        [&](const char* data, size_t n) {
          got.append(data, n);
          return got.size() < 65536 &&
                 !(path == "/api/events" && got.find("\n\n") != std::string::npos);
        });
    r.body = got;
    return r;
  }
  auto res = method == "POST" ? client.Post(path, h, body, type) : client.Delete(path, h);
  if (res) {
    r.status = res->status;
    r.body = res->body;
    r.headers = res->headers;
  }
  return r;
}

class Security : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_ = std::make_unique<Farm>(FarmOptions{.workers = 0});
    admin_ = farm_->token();
    viewer_ = farm_->make_token("viewer", "viewer-1");
    submitter_ = farm_->make_token("submitter", "ci-bot");
    other_ = farm_->make_token("submitter", "other-bot");
  }
  std::string submit_as(const std::string& token, const std::string& name) {
    auto r = call(farm_->url(), "POST", "/api/jobs", token, {}, tiny_spec(name));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.data().value("id", "");
  }
  // Every log of the farm and the tokens used: none may appear in any of them.
  void expect_no_secret_in_logs() {
    std::string logs = farm_->all_logs(1 << 20);
    for (const auto& t : {admin_, viewer_, submitter_, other_}) {
      EXPECT_EQ(logs.find(t), std::string::npos) << "a token appears in the logs";
      EXPECT_EQ(logs.find(t.substr(4, 16)), std::string::npos)
          << "part of a token appears in the logs";
    }
  }
  std::unique_ptr<Farm> farm_;
  std::string admin_, viewer_, submitter_, other_;
};

// A path of the router's table with its example job id replaced by a real one.
std::string with_job(const std::string& example, const std::string& job) {
  return std::regex_replace(example, std::regex("example-000000"), job);
}

TEST_F(Security, EveryRouteRefusesNoTokenAndTheWrongRoleAndServesTheRightOne) {
  auto listed = call(farm_->url(), "GET", "/api/routes", viewer_);
  ASSERT_EQ(listed.status, 200) << listed.body;
  json routes = listed.data()["routes"];
  ASSERT_GE(routes.size(), 15u) << listed.body;
  // Only these may answer without a token: a new route left open fails here.
  const std::set<std::string> open_routes = {"GET /healthz", "GET /metrics", "POST /api/session"};
  std::set<std::string> seen;
  int checked = 0;
  const std::map<std::string, std::vector<std::string>> wrong_roles = {
      {"viewer", {}},
      {"submitter", {"viewer"}},
      {"owner", {"viewer", "other-submitter"}},
      {"admin", {"viewer", "submitter"}}};
  for (const auto& route : routes) {
    std::string method = route["method"], access = route["access"], example = route["example"];
    std::string key = method + " " + route["pattern"].get<std::string>();
    seen.insert(method + " " + example);
    SCOPED_TRACE(key + " (" + access + ")");
    // A fresh job per route, owned by ci-bot: the right role may pause or delete it.
    std::string job = submit_as(submitter_, "routes");
    std::string path = with_job(example, job);
    std::string body = path == "/api/jobs"      ? tiny_spec("routes")
                       : path == "/api/session" ? json{{"token", viewer_}}.dump()
                                                : "";
    std::string type = path == "/api/session" ? "application/json" : "application/yaml";

    auto anonymous = call(farm_->url(), method, path, "", {}, body, type);
    if (access == "open") {
      EXPECT_TRUE(open_routes.count(key)) << "route is open to anyone";
      EXPECT_NE(anonymous.status, 401);
      EXPECT_NE(anonymous.status, 403);
      ++checked;
      continue;
    }
    EXPECT_EQ(anonymous.status, 401) << anonymous.body;
    EXPECT_EQ(
        call(farm_->url(), method, path, "sft_" + std::string(64, '0'), {}, body, type).status,
        401);
    EXPECT_EQ(call(farm_->url(), method, path, "", {{"Authorization", "Basic YWRtaW46YWRtaW4="}},
                   body, type)
                  .status,
              401);
    for (const auto& wrong : wrong_roles.at(access)) {
      const std::string& token = wrong == "viewer"      ? viewer_
                                 : wrong == "submitter" ? submitter_
                                                        : other_;
      auto refused = call(farm_->url(), method, path, token, {}, body, type);
      EXPECT_EQ(refused.status, 403) << wrong << ": " << refused.body;
    }
    const std::string& right = access == "viewer"  ? viewer_
                               : access == "admin" ? admin_
                                                   : submitter_;
    auto served = call(farm_->url(), method, path, right, {}, body, type);
    EXPECT_NE(served.status, 401) << served.body;
    EXPECT_NE(served.status, 403) << served.body;
    EXPECT_LT(served.status, 500) << served.body;
    if (access == "owner") {
      // And an admin may act on anyone's job.
      std::string other_job = submit_as(submitter_, "routes");
      auto by_admin = call(farm_->url(), method, with_job(example, other_job), admin_);
      EXPECT_NE(by_admin.status, 403) << by_admin.body;
    }
    ++checked;
  }
  for (const std::string expected :
       {"POST /api/jobs", "GET /api/jobs", "GET /api/jobs/example-000000", "GET /api/events",
        "DELETE /api/jobs/example-000000", "GET /api/workers", "GET /metrics"}) {
    EXPECT_TRUE(seen.count(expected)) << expected << " is missing from GET /api/routes";
  }
  std::printf("security: %d routes checked with no token, wrong roles and the right role\n",
              checked);
  // A path no route holds is not found, whoever asks (nothing is reachable around the table).
  EXPECT_EQ(call(farm_->url(), "GET", "/api/nothing-here", admin_).status, 404);
  EXPECT_EQ(call(farm_->url(), "DELETE", "/api/workers", admin_).status, 405);
  expect_no_secret_in_logs();
}

TEST_F(Security, JobsRecordTheirSubmitterAndSubmittersChangeOnlyTheirOwn) {
  std::string mine = submit_as(submitter_, "mine");
  auto job = call(farm_->url(), "GET", "/api/jobs/" + mine, viewer_);
  ASSERT_EQ(job.status, 200);
  EXPECT_EQ(job.data()["submitted_by"], "ci-bot");
  auto refused = call(farm_->url(), "POST", "/api/jobs/" + mine + "/cancel", other_);
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("another token"), std::string::npos) << refused.body;
  EXPECT_EQ(call(farm_->url(), "GET", "/api/jobs/" + mine, viewer_).data()["state"], "queued")
      << "nothing changed";
  EXPECT_EQ(call(farm_->url(), "POST", "/api/jobs/" + mine + "/cancel", submitter_).status, 200);
  EXPECT_EQ(call(farm_->url(), "POST", "/api/jobs", viewer_, {}, tiny_spec("viewer-job")).status,
            403);
}

std::string cookie_of(const Reply& r) {
  auto it = r.headers.find("Set-Cookie");
  return it == r.headers.end() ? "" : it->second;
}

TEST_F(Security, DashboardSessionsUseAStrictHttpOnlyCookieAndCsrf) {
  auto login = call(farm_->url(), "POST", "/api/session", "", {},
                    json{{"token", submitter_}}.dump(), "application/json");
  ASSERT_EQ(login.status, 200) << login.body;
  std::string set_cookie = cookie_of(login);
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos) << set_cookie;
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos) << set_cookie;
  EXPECT_EQ(set_cookie.find(submitter_), std::string::npos) << "the cookie is not the token";
  std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  std::string csrf = login.data()["csrf"];
  ASSERT_EQ(csrf.size(), 64u);

  EXPECT_EQ(call(farm_->url(), "GET", "/api/jobs", "", {{"Cookie", cookie}}).status, 200);
  auto who =
      call(farm_->url(), "GET", "/api/session", "", {{"Cookie", "a=b; " + cookie + "; c=d"}});
  EXPECT_EQ(who.data()["name"], "ci-bot");
  // A change with the cookie alone (what a forged cross-site form would send) is refused.
  auto forged =
      call(farm_->url(), "POST", "/api/jobs", "", {{"Cookie", cookie}}, tiny_spec("forged"));
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_EQ(call(farm_->url(), "POST", "/api/jobs", "",
                 {{"Cookie", cookie}, {"X-CSRF-Token", std::string(64, 'a')}}, tiny_spec("forged"))
                .status,
            403);
  EXPECT_EQ(call(farm_->url(), "POST", "/api/jobs", "",
                 {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Origin", "http://evil.example"}},
                 tiny_spec("x"))
                .status,
            403);
  auto page = call(farm_->url(), "POST", "/api/jobs", "",
                   {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}, tiny_spec("page"));
  EXPECT_EQ(page.status, 201) << page.body;
  auto jobs = call(farm_->url(), "GET", "/api/jobs", viewer_).data()["jobs"];
  for (const auto& j : jobs) EXPECT_NE(j["name"], "forged");

  // Logging out ends the session.
  EXPECT_EQ(
      call(farm_->url(), "DELETE", "/api/session", "", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}})
          .status,
      200);
  EXPECT_EQ(call(farm_->url(), "GET", "/api/jobs", "", {{"Cookie", cookie}}).status, 401);
  EXPECT_EQ(call(farm_->url(), "POST", "/api/session", "", {}, json{{"token", "sft_nope"}}.dump(),
                 "application/json")
                .status,
            401);
  expect_no_secret_in_logs();
}

TEST_F(Security, LoginLinksWorkOnceAndRevokedTokensStopWorking) {
  std::string url = farm_->login_url();
  std::string code = url.substr(url.find("#login=") + 7);
  auto first = call(farm_->url(), "POST", "/api/session", "", {}, json{{"code", code}}.dump(),
                    "application/json");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.data()["role"], "admin");
  std::string cookie = cookie_of(first).substr(0, cookie_of(first).find(';'));
  auto again = call(farm_->url(), "POST", "/api/session", "", {}, json{{"code", code}}.dump(),
                    "application/json");
  EXPECT_EQ(again.status, 401);

  auto [rc, out] = run_command(
      {binary("synthfarm"), "token", "revoke", "viewer-1", "--redis", farm_->redis_url()});
  EXPECT_EQ(rc, 0) << out;
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(call(farm_->url(), "GET", "/api/jobs", viewer_).status, 401);
  EXPECT_EQ(call(farm_->url(), "GET", "/api/jobs", "", {{"Cookie", cookie}}).status, 200)
      << "other sessions live on";
}

TEST_F(Security, SpecsNamingStorageOutsideTheAllowListAreRefusedAndNothingIsQueued) {
  auto before = call(farm_->url(), "GET", "/metrics", "").body;
  struct Case {
    std::string yaml, field;
  };
  const std::string base = "name: escape\nsamples: 2\ncamera:\n  resolution: [32, 24]\n";
  for (const auto& c : std::vector<Case>{
           {base + "output:\n  storage: file:///etc/synthfarm\n", "output.storage"},
           {base + "output:\n  storage: file://" + farm_->dir().string() + "/../../etc\n",
            "output.storage"},
           {base + "humans:\n  motion: bvh\n  bvh: [file://" + farm_->dir().string() +
                "/a.bvh, file:///root/walk.bvh]\n",
            "humans.bvh[1]"},
           {base + "lighting:\n  environment: {choice: [sky, file:///root/sky.exr]}\n",
            "lighting.environment"}}) {
    auto r = call(farm_->url(), "POST", "/api/jobs", submitter_, {}, c.yaml);
    EXPECT_EQ(r.status, 400) << r.body;
    auto errors = r.data()["errors"];
    ASSERT_FALSE(errors.empty()) << r.body;
    EXPECT_EQ(errors[0]["path"], c.field) << r.body;
    EXPECT_NE(r.body.find("outside the allowed storage"), std::string::npos) << r.body;
  }
  EXPECT_FALSE(std::filesystem::exists("/etc/synthfarm"));
  auto jobs = call(farm_->url(), "GET", "/api/jobs", viewer_).data()["jobs"];
  EXPECT_TRUE(jobs.empty()) << "nothing queued: " << jobs.dump();
  EXPECT_NE(call(farm_->url(), "GET", "/metrics", "").body.find("synthfarm_shards_pending 0"),
            std::string::npos);
}

TEST(SecurityConfinement, AWorkerRefusesStorageItsOwnListDoesNotHold) {
  Farm farm({.workers = 0});
  std::string allowed_by_coordinator = "file://" + (farm.dir() / "elsewhere").string();
  auto worker = farm.start_worker({"--allow-storage", "file://" + farm.out_root().string()});
  auto id = farm.submit(
      "name: narrow\nsamples: 1\nmax_attempts: 1\ncamera:\n  resolution: [32, 24]\nrender:\n  spp: "
      "1\n"
      "output:\n  storage: " +
      allowed_by_coordinator + "\n");
  ASSERT_FALSE(id.empty());
  auto job = farm.wait(id, std::chrono::seconds(60));
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_NE(job.dump().find("this worker's --allow-storage refuses it"), std::string::npos)
      << job.dump();
  EXPECT_FALSE(std::filesystem::exists(farm.dir() / "elsewhere" / "samples"))
      << "nothing written there";
}

TEST_F(Security, ResponsesCarryAContentSecurityPolicyWithoutInlineScript) {
  for (const std::string path : {"/", "/api/jobs", "/healthz"}) {
    auto r = call(farm_->url(), "GET", path, viewer_);
    auto csp = r.headers.find("Content-Security-Policy");
    ASSERT_NE(csp, r.headers.end()) << path;
    EXPECT_NE(csp->second.find("script-src 'self'"), std::string::npos) << csp->second;
    EXPECT_EQ(csp->second.find("unsafe-inline"), std::string::npos) << csp->second;
    EXPECT_EQ(r.headers.find("X-Content-Type-Options")->second, "nosniff");
  }
}

TEST_F(Security, TheCliTakesItsTokenFromTheEnvironmentOrAPrivateConfigFile) {
  TempDir home;
  std::map<std::string, std::string> env = {{"SYNTHFARM_TOKEN", ""},
                                            {"XDG_CONFIG_HOME", home.path().string()}};
  auto [no_token, refused] = run_command({binary("synthfarm"), "--url", farm_->url(), "status"},
                                         std::chrono::seconds(30), env);
  EXPECT_EQ(no_token, 1) << refused;
  EXPECT_NE(refused.find("authentication required"), std::string::npos) << refused;

  std::filesystem::create_directories(home.path() / "synthfarm");
  auto config = home.path() / "synthfarm" / "config.yaml";
  std::ofstream(config) << "url: " << farm_->url() << "\ntoken: " << viewer_ << "\n";
  chmod(config.c_str(), 0644);
  auto [open_rc, open_out] =
      run_command({binary("synthfarm"), "status"}, std::chrono::seconds(30), env);
  EXPECT_EQ(open_rc, 2) << open_out;
  EXPECT_NE(open_out.find("chmod 600"), std::string::npos) << open_out;
  EXPECT_EQ(open_out.find(viewer_), std::string::npos) << "the error must not print the token";
  chmod(config.c_str(), 0600);
  auto [ok_rc, ok_out] =
      run_command({binary("synthfarm"), "status"}, std::chrono::seconds(30), env);
  EXPECT_EQ(ok_rc, 0) << ok_out;
  EXPECT_NE(ok_out.find("JOB"), std::string::npos) << ok_out;

  env["SYNTHFARM_TOKEN"] = submitter_;
  std::filesystem::path spec = home.path() / "spec.yaml";
  std::ofstream(spec) << tiny_spec("from-cli");
  auto [submit_rc, submit_out] =
      run_command({binary("synthfarm"), "submit", spec.string()}, std::chrono::seconds(30), env);
  EXPECT_EQ(submit_rc, 0) << submit_out;

  auto [list_rc, list] =
      run_command({binary("synthfarm"), "token", "list", "--redis", farm_->redis_url()});
  EXPECT_EQ(list_rc, 0) << list;
  EXPECT_NE(list.find("ci-bot"), std::string::npos) << list;
  EXPECT_NE(list.find("submitter"), std::string::npos) << list;
  EXPECT_EQ(list.find("sft_"), std::string::npos) << "list shows no secrets";
  auto [dup_rc, dup] = run_command({binary("synthfarm"), "token", "create", "--role", "admin",
                                    "--name", "ci-bot", "--redis", farm_->redis_url()});
  EXPECT_EQ(dup_rc, 2) << dup;
  auto [role_rc, role] = run_command({binary("synthfarm"), "token", "create", "--role", "root",
                                      "--name", "x", "--redis", farm_->redis_url()});
  EXPECT_EQ(role_rc, 2) << role;
  EXPECT_NE(role.find("viewer, submitter, admin"), std::string::npos) << role;
  expect_no_secret_in_logs();
}

// A raw TCP connection to 127.0.0.1:port (-1 on failure).
int connect_raw(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True once the server has closed `fd` (reads end or fail); waits up to `timeout`.
bool closed_by_server(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[512];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
  }
  return n == 0 || (n < 0 && errno != EAGAIN);
}

int port_of(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

TEST(SecurityLimits, ASlowClientIsDroppedAtItsDeadlineWhileOthersAreServed) {
  Farm farm({.workers = 0, .coordinator_args = {"--request-timeout-ms", "2000"}});
  int fd = connect_raw(port_of(farm.url()));
  ASSERT_GE(fd, 0);
  auto start = std::chrono::steady_clock::now();
  std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  bool dropped = false;
  // One byte a second: every read succeeds, only the deadline for the whole request ends it.
  for (int i = 0; i < 12 && !dropped; ++i) {
    if (::send(fd, "a", 1, MSG_NOSIGNAL) != 1) {
      dropped = true;
      break;
    }
    auto t0 = std::chrono::steady_clock::now();
    auto served = call(farm.url(), "GET", "/healthz", "");
    EXPECT_EQ(served.status, 200) << "the server answers others meanwhile";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
    dropped = closed_by_server(fd, std::chrono::milliseconds(1000));
  }
  double after_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  EXPECT_TRUE(dropped) << "the slow client is still connected after " << after_s << " s";
  // The deadline plus scheduling slack on a loaded machine; without a deadline for the
  // whole request it would stay connected all 12 s.
  EXPECT_LT(after_s, 6.0);
  EXPECT_GE(after_s, 1.5);
  std::printf("security: a client sending 1 byte/s was dropped after %.1f s (deadline 2 s)\n",
              after_s);
  EXPECT_NE(farm.coordinator().log().find("did not arrive within 2000 ms"), std::string::npos)
      << farm.coordinator().log();
}

TEST(SecurityLimits, OversizeBodiesConnectionFloodsAndQuotasAreRefused) {
  Farm farm({.workers = 0,
             .coordinator_args = {"--max-connections-per-client", "4", "--max-jobs-per-hour", "2",
                                  "--max-body-bytes", "65536"}});
  std::string submitter = farm.make_token("submitter", "quota-bot");
  auto big = call(farm.url(), "POST", "/api/jobs", submitter, {}, std::string(100000, '#'));
  EXPECT_EQ(big.status, 413) << big.body;
  auto headers = call(farm.url(), "GET", "/healthz", "", {{"X-Padding", std::string(20000, 'a')}});
  EXPECT_EQ(headers.status, 431) << headers.body;
  EXPECT_EQ(call(farm.url(), "GET", "/healthz", "", {{"X-Padding", std::string(8000, 'a')}}).status, 200);

  EXPECT_EQ(call(farm.url(), "POST", "/api/jobs", submitter, {}, tiny_spec("q1")).status, 201);
  EXPECT_EQ(call(farm.url(), "POST", "/api/jobs", submitter, {}, tiny_spec("q2")).status, 201);
  auto third = call(farm.url(), "POST", "/api/jobs", submitter, {}, tiny_spec("q3"));
  EXPECT_EQ(third.status, 429) << third.body;
  auto retry = third.headers.find("Retry-After");
  ASSERT_NE(retry, third.headers.end());
  EXPECT_GT(std::stoi(retry->second), 0);
  EXPECT_LE(std::stoi(retry->second), 3600);
  EXPECT_NE(third.body.find("limit is 2"), std::string::npos) << third.body;
  EXPECT_EQ(call(farm.url(), "POST", "/api/jobs", farm.token(), {}, tiny_spec("admin")).status, 201)
      << "admins exempt";

  // Four idle connections, each admitted: the server releases the slots of the calls above
  // when their threads notice the close, which on a loaded machine may come after these
  // connect; one that was refused then got a 503 and is closed, so it is opened again.
  std::vector<int> idle;
  for (int round = 0; round < 10; ++round) {
    for (int fd : idle) ::close(fd);
    idle.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < 4; ++i) idle.push_back(connect_raw(port_of(farm.url())));
    bool all_admitted = true;
    for (int fd : idle) all_admitted = all_admitted && fd >= 0 && !closed_by_server(fd, std::chrono::milliseconds(300));
    if (all_admitted) break;
  }
  // The server counts a connection once a thread takes it up; on a loaded machine that
  // may take a moment (the idle ones are dropped only after the 10 s request deadline).
  Reply fifth;
  for (int i = 0; i < 25 && fifth.status != 503; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    fifth = call(farm.url(), "GET", "/healthz", "");
  }
  EXPECT_EQ(fifth.status, 503) << fifth.body;
  EXPECT_NE(fifth.body.find("too many connections"), std::string::npos) << fifth.body;
  for (int fd : idle) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(call(farm.url(), "GET", "/healthz", "").status, 200) << "closing them frees the slots";
}

// A CA and a server certificate for 127.0.0.1 signed by it, made with openssl(1).
void make_certificates(const std::filesystem::path& dir, const std::string& name) {
  auto d = dir.string();
  std::string script = "set -e; cd '" + d +
                       "'; "
                       "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=" +
                       name + " test CA' -keyout " + name + "-ca.key -out " + name +
                       "-ca.pem 2>/dev/null; "
                       "openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout " +
                       name + "-server.key -out " + name +
                       "-server.csr 2>/dev/null; "
                       "printf 'subjectAltName=IP:127.0.0.1' > san.ext; "
                       "openssl x509 -req -in " +
                       name + "-server.csr -CA " + name + "-ca.pem -CAkey " + name +
                       "-ca.key -CAcreateserial -days 2 "
                       "-extfile san.ext -out " +
                       name + "-server.pem 2>/dev/null";
  auto [rc, out] = run_command({"sh", "-c", script});
  ASSERT_EQ(rc, 0) << out;
}

TEST(SecurityTls, TheCliVerifiesTheCoordinatorsCertificate) {
  TempDir certs;
  make_certificates(certs.path(), "farm");
  make_certificates(certs.path(), "stranger");
  auto p = certs.path();
  Farm farm({.workers = 0,
             .coordinator_args = {"--tls-cert", (p / "farm-server.pem").string(), "--tls-key",
                                  (p / "farm-server.key").string()}});
  std::string https = "https://127.0.0.1:" + std::to_string(port_of(farm.url()));
  auto [ok_rc, ok] = run_command(
      {binary("synthfarm"), "--url", https, "--ca-file", (p / "farm-ca.pem").string(), "status"});
  EXPECT_EQ(ok_rc, 0) << ok;
  EXPECT_NE(ok.find("JOB"), std::string::npos) << ok;
  auto [bad_rc, bad] = run_command({binary("synthfarm"), "--url", https, "--ca-file",
                                    (p / "stranger-ca.pem").string(), "status"});
  EXPECT_EQ(bad_rc, 1) << bad;
  EXPECT_NE(bad.find("does not verify"), std::string::npos) << bad;
  auto [none_rc, none] = run_command({binary("synthfarm"), "--url", https, "status"});
  EXPECT_EQ(none_rc, 1) << "a self-signed CA is not in the system store: " << none;
  // Plain HTTP to the TLS port gets nothing useful.
  EXPECT_NE(call(farm.url(), "GET", "/api/jobs", farm.token()).status, 200);
  // The session cookie is Secure over HTTPS.
  httplib::Client client(https);
  client.set_ca_cert_path((p / "farm-ca.pem").c_str());
  auto login =
      client.Post("/api/session", json{{"token", farm.token()}}.dump(), "application/json");
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 200);
  EXPECT_NE(login->get_header_value("Set-Cookie").find("; Secure"), std::string::npos);
}

TEST(SecurityStartup, MetricsNeedAViewerTokenWithMetricsAuth) {
  Farm farm({.workers = 0, .coordinator_args = {"--metrics-auth"}});
  std::string viewer = farm.make_token("viewer", "prometheus");
  EXPECT_EQ(call(farm.url(), "GET", "/metrics", "").status, 401);
  auto scraped = call(farm.url(), "GET", "/metrics", viewer);
  EXPECT_EQ(scraped.status, 200);
  EXPECT_NE(scraped.body.find("synthfarm_redis_up 1"), std::string::npos) << scraped.body;
  EXPECT_EQ(call(farm.url(), "GET", "/healthz", "").status, 200) << "/healthz stays open";
}

TEST(SecurityStartup, NoUnauthenticatedApiOffLoopbackUnlessInsecure) {
  auto redis = RedisServer::start();
  TempDir dir;
  auto args = [&](bool insecure) {
    std::vector<std::string> argv = {binary("synthfarm-coordinator"),
                                     "--redis",
                                     redis->url(),
                                     "--listen",
                                     "0.0.0.0:" + std::to_string(free_tcp_port()),
                                     "--telemetry",
                                     "tcp://127.0.0.1:" + std::to_string(free_tcp_port()),
                                     "--control",
                                     "tcp://127.0.0.1:" + std::to_string(free_tcp_port()),
                                     "--storage-root",
                                     "file://" + dir.path().string(),
                                     "--auth",
                                     "off"};
    if (insecure) argv.push_back("--insecure");
    return argv;
  };
  auto refused = ChildProcess::spawn(args(false), dir.path() / "refused.log");
  auto status = refused->wait(std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value()) << refused->log();
  EXPECT_EQ(*status, 1);
  EXPECT_NE(refused->log().find("refusing to serve the API on 0.0.0.0 with authentication off"),
            std::string::npos)
      << refused->log();
  auto allowed = ChildProcess::spawn(args(true), dir.path() / "allowed.log");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(allowed->running()) << allowed->log();
}

}  // namespace
}  // namespace synthfarm::testing
