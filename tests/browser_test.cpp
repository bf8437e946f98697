// The dashboard in a real headless Chromium, driven over WebDriver (chromedriver) with
// plain HTTP: the page is opened once and never reloaded; jobs are submitted through its
// form and must show up, progress and finish live.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "queue/redis.h"
#include "tests/farm.h"
#include "tests/webdriver.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;

TEST(Dashboard, SubmitsAJobAndFollowsItLiveWithoutReloading) {
  Farm farm({.workers = 1, .threads = 1});
  WebDriver browser(farm.dir());
  browser.open(farm.login_url());
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=conn-status]"), "live", std::chrono::seconds(20)), "live");
  EXPECT_EQ(browser.wait_for("return !!document.querySelector('[data-worker-id=\"w1\"]');", true,
                             std::chrono::seconds(20)),
            true)
      << "the worker shows up from its heartbeats";
  // Mark the page: if anything reloads it, the mark is gone.
  browser.run("window.__sameDocument = 42; return null;");

  // A bad spec: the form lists the problem with its field path and line.
  browser.run(R"(const t = document.querySelector('[data-testid=submit-spec]');
                 t.value = 'name: web\nsamples: 0\n'; t.dispatchEvent(new Event('input'));
                 document.querySelector('[data-testid=submit-button]').click(); return null;)");
  auto error = browser.wait_for(
      "const e = document.querySelector('[data-testid=submit-result]'); "
      "return e && e.textContent.includes('samples') && e.textContent.includes('2');",
      true, std::chrono::seconds(20));
  EXPECT_EQ(error, true) << browser.run(text_of("[data-testid=submit-result]")).dump();

  // A good one: the new job appears, progresses and finishes, live.
  browser.run(R"(const t = document.querySelector('[data-testid=submit-spec]');
                 t.value = 'name: web\nsamples: 6\nshard_size: 2\ncamera:\n  resolution: [96, 72]\nrender:\n  spp: 4\n';
                 t.dispatchEvent(new Event('input'));
                 document.querySelector('[data-testid=submit-button]').click(); return null;)");
  auto id = browser.wait_for(
      "const e = document.querySelector('[data-testid=submit-job-id]'); return e ? e.textContent.trim() : null;",
      nullptr, std::chrono::seconds(0));
  for (int i = 0; i < 100 && (id.is_null() || id == ""); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    id = browser.run(
        "const e = document.querySelector('[data-testid=submit-job-id]'); return e ? e.textContent.trim() : null;");
  }
  ASSERT_TRUE(id.is_string()) << browser.run(text_of("[data-testid=submit-result]")).dump();
  std::string job = id;
  std::string row = "[data-job-id=\"" + job + "\"]";
  EXPECT_EQ(browser.wait_for(text_of(row + " [data-testid=job-state]"), "done", std::chrono::seconds(120)), "done")
      << farm.logs();
  EXPECT_EQ(browser.run(text_of(row + " [data-testid=job-progress]")), "6/6");
  EXPECT_EQ(browser.run("return window.__sameDocument;"), 42) << "the page was reloaded";

  // The job's detail panel shows its previews, served from storage through the API.
  browser.run("document.querySelector('" + row + "').click(); return null;");
  auto loaded = browser.wait_for(
      "return [...document.querySelectorAll('[data-testid=sample-preview] img')]"
      ".some(i => i.complete && i.naturalWidth === 96);",
      true, std::chrono::seconds(20));
  EXPECT_EQ(loaded, true) << "no sample preview loaded";
  browser.screenshot(std::filesystem::path(SYNTHFARM_BINARY_DIR) / "dashboard.png");

  // The worker's page shows what its own metrics say: the 6 samples it rendered, a render
  // time per sample, and no failures.
  browser.run("document.querySelector('[data-worker-id=\"w1\"]').click(); return null;");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=worker-page-rendered]"), "6", std::chrono::seconds(20)), "6");
  const std::string render = browser.run(text_of("[data-testid=worker-page-render]"));
  EXPECT_NE(render, "–");
  EXPECT_NE(render.find('s'), std::string::npos) << render;
  const auto api = farm.get("/api/workers/w1").second;
  EXPECT_EQ(api["metrics"]["samples_rendered"], 6) << api.dump();
  EXPECT_GT(api["metrics"]["render_s_mean"].get<double>(), 0);
}

// Text a hostile party controls (here a job's error, as a failing input's message could
// carry it, and a dead shard's log tail) is shown as text: no element is made from it and
// no script in it runs; the login link logged the page in and left the address bar.
TEST(Dashboard, ShowsHostileTextEscapedAndRunsNoScript) {
  Farm farm({.workers = 0});
  std::string id = farm.submit("name: xss\nsamples: 2\ncamera:\n  resolution: [32, 24]\n");
  ASSERT_FALSE(id.empty());
  const std::string payload = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
  auto endpoint = queue::RedisEndpoint::parse(farm.redis_url());
  auto redis = queue::RedisClient::create(*endpoint);
  ASSERT_TRUE(redis->command({"HSET", "sf:job:" + id, "error", payload}));
  ASSERT_TRUE(redis->command({"HSET", "sf:job:" + id + ":shard:0", "state", "dead", "attempts", "3", "last_error",
                              payload, "log_tail", payload}));
  ASSERT_TRUE(redis->command({"RPUSH", "sf:queue:dead", id + "/0"}));

  WebDriver browser(farm.dir());
  browser.open(farm.login_url());
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=conn-status]"), "live", std::chrono::seconds(20)), "live");
  EXPECT_EQ(browser.run("return window.location.hash;"), "") << "the login code left the address bar";
  EXPECT_EQ(browser.run(text_of("[data-testid=whoami]")), "farm-admin · admin");
  std::string row = "[data-job-id=\"" + id + "\"]";
  EXPECT_EQ(browser.wait_for("return !!document.querySelector('" + row + "');", true, std::chrono::seconds(20)), true);
  browser.run("document.querySelector('" + row + "').click(); return null;");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=detail-error]"), payload, std::chrono::seconds(20)), payload);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(browser.run("return window.__xss === undefined;"), true) << "a script from the payload ran";
  EXPECT_EQ(browser.run("return document.querySelectorAll('[data-testid=job-detail] img[src=x], "
                        "[data-testid=job-detail] script').length;"),
            0)
      << "markup from the payload became elements";
}

// A fitting job is listed like a render job, with its task under its id and its natural
// figure, the mean reprojection error of its fits, where a render job shows samples/s.
TEST(Dashboard, AFittingJobShowsItsTaskAndItsResidual) {
  Farm farm({.workers = 0});
  const std::filesystem::path coco = farm.dir() / "people.json";
  json keypoints = json::array();
  for (int k = 0; k < 17; ++k) keypoints.insert(keypoints.end(), {40 + 2 * k, 20 + 5 * k, 2});
  std::ofstream(coco) << json{{"images", {{{"id", 1}, {"width", 160}, {"height", 120}}}},
                              {"annotations", {{{"id", 1}, {"image_id", 1}, {"category_id", 1}, {"keypoints", keypoints}}}}}
                             .dump();
  const std::string id = farm.submit("name: fit\ntask: fit_people\ninputs: file://" + coco.string() + "\n");
  WebDriver browser(farm.dir());
  browser.open(farm.login_url());
  const std::string row = "[data-job-id=\"" + id + "\"]";
  EXPECT_EQ(browser.wait_for(text_of(row + " .job-sub"), "task fit_people", std::chrono::seconds(20)),
            "task fit_people");
  EXPECT_EQ(browser.run(text_of(row + " .c-rate")), "–") << "no fit stored yet";
  // Two units completed with mean residuals summing to 5 px, as complete.lua records them.
  auto endpoint = queue::RedisEndpoint::parse(farm.redis_url());
  auto redis = queue::RedisClient::create(*endpoint);
  ASSERT_TRUE(redis->command({"HSET", "sf:job:" + id, "residual_sum_px", "5", "residual_units", "2"}));
  EXPECT_EQ(browser.wait_for(text_of(row + " .c-rate"), "2.5 px", std::chrono::seconds(20)), "2.5 px");
}

// The charts draw the series the coordinator kept: a page opened after a job has run shows
// the whole series from the farm's first sample (here at 500 ms a point, 20 s of run for
// the issue's ten minutes at 5 s), the job's throughput and its samples done, then grows
// live from the stream; "Since start" loads the per-minute series.
TEST(Dashboard, ChartsDrawTheSeriesTheCoordinatorKept) {
  Farm farm({.workers = 1, .threads = 1, .coordinator_args = {"--history-interval-ms", "500"}});
  const std::string id = farm.submit(
      "name: charted\nsamples: 16\nshard_size: 4\ncamera: {resolution: [64, 48]}\nrender: {spp: 2}\n");
  ASSERT_EQ(farm.wait(id)["state"], "done") << farm.logs();
  json before;
  for (int i = 0; i < 100 && (before.is_null() || before["t"].size() < 40); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    before = farm.get("/api/history").second;
  }
  ASSERT_GE(before["t"].size(), 40u) << before;
  const int64_t first_t = before["t"][0];

  WebDriver browser(farm.dir());
  browser.open(farm.login_url());
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=conn-status]"), "live", std::chrono::seconds(20)), "live");
  const std::string rate = "document.querySelector('[data-testid=farm-chart-rate]')";
  EXPECT_EQ(browser.wait_for("return Number(" + rate + ".dataset.firstT);", first_t, std::chrono::seconds(20)),
            first_t)
      << "the chart starts where the coordinator's series starts";
  EXPECT_GE(browser.run("return Number(" + rate + ".dataset.points);").get<int>(),
            static_cast<int>(before["t"].size()));
  EXPECT_GT(browser.run("return JSON.parse(" + rate + ".dataset.max)[0];").get<double>(), 0)
      << "the job's throughput is in the series";
  // Live: snapshots append the newest points.
  const int64_t last_t = browser.run("return Number(" + rate + ".dataset.lastT);");
  EXPECT_EQ(browser.wait_for("return Number(" + rate + ".dataset.lastT) > " + std::to_string(last_t) + ";", true,
                             std::chrono::seconds(10)),
            true);

  // The job's chart: its samples done end at 16.
  browser.run("document.querySelector('[data-job-id=\"" + id + "\"]').click(); return null;");
  const std::string job_chart = "document.querySelector('[data-testid=job-chart]')";
  EXPECT_EQ(browser.wait_for("const c = " + job_chart + "; return c && c.dataset.last ? JSON.parse(c.dataset.last)[1] : null;",
                             16, std::chrono::seconds(20)),
            16);
  EXPECT_GT(browser.run("return JSON.parse(" + job_chart + ".dataset.max)[0];").get<double>(), 0);
  // Its ETA over time, in minutes, as the coordinator kept it in seconds.
  double eta_max_s = -1;
  const json job_series = farm.get("/api/jobs/" + id + "/history").second;
  for (const auto& eta : job_series["eta_s"]) {
    if (eta.is_number()) eta_max_s = std::max(eta_max_s, eta.get<double>());
  }
  if (eta_max_s >= 0) {
    EXPECT_NEAR(browser.run("return JSON.parse(" + job_chart + ".dataset.max)[2];").get<double>(), eta_max_s / 60, 1e-9);
  } else {
    EXPECT_TRUE(browser.run("return JSON.parse(" + job_chart + ".dataset.max)[2];").is_null())
        << browser.run("return " + job_chart + ".dataset.max;") << " " << job_series.dump();
  }
  // Its dataset card, written by the finalizer, is a link away.
  EXPECT_EQ(browser.wait_for("const a = document.querySelector('[data-testid=dataset-card-link]'); "
                             "return a && !a.closest('[hidden]') ? a.getAttribute('href') : null;",
                             "/api/jobs/" + id + "/card.html", std::chrono::seconds(10)),
            "/api/jobs/" + id + "/card.html");
  EXPECT_EQ(farm.get_raw("/api/jobs/" + id + "/card.html").first, 200);

  // Since start: the per-minute series, as the server has it.
  browser.run("document.querySelector('[data-testid=farm-range-all]').click(); return null;");
  const size_t minutes = farm.get("/api/history?range=all").second["t"].size();
  EXPECT_EQ(browser.wait_for("return document.querySelector('[data-testid=farm-range-all]').getAttribute('aria-pressed');",
                             "true", std::chrono::seconds(5)),
            "true");
  EXPECT_EQ(browser.wait_for("return Number(" + rate + ".dataset.points) <= " + std::to_string(minutes + 1) + ";",
                             true, std::chrono::seconds(10)),
            true)
      << "the hour's " << before["t"].size() << " points gave way to the run's " << minutes << " minute(s)";
  browser.screenshot(std::filesystem::path(SYNTHFARM_BINARY_DIR) / "dashboard-charts.png");
}

// Without a session the dashboard asks for a token; a wrong one is refused with the
// server's message, the right one opens the page.
TEST(Dashboard, AsksForATokenOnce) {
  Farm farm({.workers = 0});
  WebDriver browser(farm.dir());
  browser.open(farm.url() + "/");
  EXPECT_EQ(browser.wait_for("const e = document.querySelector('[data-testid=login-token]'); "
                             "return !!e && !document.getElementById('login').hidden;",
                             true, std::chrono::seconds(20)),
            true);
  auto login = [&](const std::string& token) {
    browser.run("const t = document.querySelector('[data-testid=login-token]'); t.value = '" + token +
                "'; document.querySelector('[data-testid=login-submit]').click(); return null;");
  };
  login("sft_wrong");
  EXPECT_EQ(browser.wait_for("const e = document.querySelector('[data-testid=login-error]'); "
                             "return !!e && !e.hidden && e.textContent.includes('unknown');",
                             true, std::chrono::seconds(20)),
            true);
  login(farm.token());
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=conn-status]"), "live", std::chrono::seconds(20)), "live");
  EXPECT_EQ(browser.run("return document.cookie;"), "") << "the session cookie is HttpOnly";
}

}  // namespace
}  // namespace synthfarm::testing
