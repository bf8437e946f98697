// Every job-action button of the dashboard, clicked in a real headless Chromium (WebDriver
// element clicks: the button must be visible, enabled and uncovered), then checked on the
// page and in the coordinator's API and Redis: pause (the job's shards are parked, none is
// leased) and resume (it runs to done), cancel and delete (with their confirmation
// dialogs), retry from the job panel (a shard dead-lettered by a worker that really fails
// it) and from the Failures view (a dead letter made through the queue's own scripts).
// Also the shard grid (a cell per shard, coloured as the API says, a click shows the
// shard) and the Failures view (log tails, blocklisted workers with why). Submit is covered
// by browser_test's SubmitsAJobAndFollowsItLiveWithoutReloading.
//
// One farm per test, tiny jobs (32 x 24 pixels, 1 sample per pixel), no worker where
// nothing needs rendering.
#include <gtest/gtest.h>

#include <thread>

#include "queue/queue.h"
#include "tests/farm.h"
#include "tests/webdriver.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kTiny = "camera: {resolution: [32, 24]}\nrender: {spp: 1}\n";

std::unique_ptr<queue::RedisClient> redis_of(const Farm& farm) {
  return queue::RedisClient::create(queue::RedisEndpoint::parse(farm.redis_url()).value());
}

std::string row(const std::string& id) { return "[data-job-id=\"" + id + "\"]"; }

// Whether the element `selector` matches is on the page and rendered (not hidden, not in
// a hidden view or a closed <details>).
std::string shown(const std::string& selector) {
  return "const e = document.querySelector('" + selector + "'); return !!e && e.checkVisibility();";
}

// Opens the dashboard logged in, waits for the live stream and selects job `id`.
void open_job(WebDriver& browser, Farm& farm, const std::string& id) {
  browser.open(farm.login_url());
  ASSERT_EQ(browser.wait_for(text_of("[data-testid=conn-status]"), "live", seconds(20)), "live");
  ASSERT_EQ(browser.wait_for(shown(row(id)), true, seconds(20)), true);
  browser.click(row(id));
  ASSERT_EQ(browser.wait_for(text_of("[data-testid=detail-id]"), id, seconds(10)), id);
}

std::string api_state(const Farm& farm, const std::string& id) {
  auto [status, job] = farm.get("/api/jobs/" + id);
  return status == 200 ? job["state"].get<std::string>() : "HTTP " + std::to_string(status);
}

std::string api_states(const Farm& farm, const std::string& id) {
  return farm.get("/api/jobs/" + id + "/shards").second["states"].get<std::string>();
}

int64_t zcard(queue::RedisClient& redis, const std::string& key) {
  return redis.command({"ZCARD", key})->as_int();
}

// Whether the dead-letter list holds `member`.
bool dead_lettered(queue::RedisClient& redis, const std::string& member) {
  auto members = redis.command({"LRANGE", "sf:queue:dead", "0", "-1"});
  if (!members) return false;
  for (const auto& m : members->elements) {
    if (m.str == member) return true;
  }
  return false;
}

// Clicks cell `index` of the shard grid where the canvas says it is drawn.
void click_cell(WebDriver& browser, int index) {
  const json layout = browser.run(
      "const c = document.querySelector('[data-testid=shard-grid]');"
      "return [Number(c.dataset.cols), Number(c.dataset.pitch)];");
  const int cols = layout[0], pitch = layout[1];
  browser.click_at("[data-testid=shard-grid]", (index % cols) * pitch + pitch / 2 - 1,
                   (index / cols) * pitch + pitch / 2 - 1);
}

TEST(DashboardActions, PauseParksTheJobAndResumeRunsItToDone) {
  Farm farm({.workers = 0});
  const std::string id = farm.submit("name: pause\nsamples: 4\nshard_size: 1\n" + kTiny);
  WebDriver browser(farm.dir());
  open_job(browser, farm, id);
  ASSERT_EQ(browser.wait_for(shown("[data-testid=job-action-pause]"), true, seconds(10)), true);
  browser.click("[data-testid=job-action-pause]");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=detail-state]"), "paused", seconds(10)),
            "paused");
  EXPECT_EQ(api_state(farm, id), "paused");
  EXPECT_EQ(browser.wait_for(shown("[data-testid=job-action-resume]"), true, seconds(5)), true);
  EXPECT_EQ(browser.run(shown("[data-testid=job-action-pause]")), false);

  // A worker comes and finds only this job: its claims park the shards, none is leased and
  // nothing is rendered.
  auto redis = redis_of(farm);
  farm.workers().push_back(farm.start_worker());
  ASSERT_TRUE(
      eventually([&] { return zcard(*redis, "sf:job:" + id + ":parked") == 4; }, seconds(20)))
      << farm.logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(zcard(*redis, "sf:queue:leases"), 0);
  EXPECT_EQ(api_states(farm, id), "pppp");
  EXPECT_EQ(farm.get("/api/jobs/" + id).second["shards_done"], 0);
  EXPECT_EQ(
      browser.wait_for("return document.querySelector('[data-testid=shard-grid]').dataset.states;",
                       "pppp", seconds(5)),
      "pppp");

  browser.click("[data-testid=job-action-resume]");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=detail-state]"), "done", seconds(60)), "done")
      << farm.logs();
  EXPECT_EQ(api_state(farm, id), "done");
  EXPECT_EQ(
      browser.wait_for("return document.querySelector('[data-testid=shard-grid]').dataset.states;",
                       "dddd", seconds(10)),
      "dddd");
  EXPECT_EQ(zcard(*redis, "sf:job:" + id + ":parked"), 0);
}

TEST(DashboardActions, CancelStopsTheJobAndDeleteRemovesIt) {
  Farm farm({.workers = 0});
  const std::string id = farm.submit("name: cancel\nsamples: 2\n" + kTiny);
  WebDriver browser(farm.dir());
  open_job(browser, farm, id);
  ASSERT_EQ(browser.wait_for(shown("[data-testid=job-action-cancel]"), true, seconds(10)), true);
  EXPECT_EQ(browser.run(shown("[data-testid=job-action-delete]")), false)
      << "a queued job cannot be deleted";

  // Cancel asks first: "no" changes nothing.
  browser.click("[data-testid=job-action-cancel]");
  EXPECT_NE(browser.answer_dialog(false).find("Cancel job " + id), std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(api_state(farm, id), "queued");
  browser.click("[data-testid=job-action-cancel]");
  browser.answer_dialog(true);
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=detail-state]"), "cancelled", seconds(10)),
            "cancelled");
  EXPECT_EQ(api_state(farm, id), "cancelled");
  EXPECT_EQ(
      browser.wait_for(text_of(row(id) + " [data-testid=job-state]"), "cancelled", seconds(10)),
      "cancelled");

  // A cancelled job may be deleted: its row goes, the API and Redis forget it.
  ASSERT_EQ(browser.wait_for(shown("[data-testid=job-action-delete]"), true, seconds(10)), true);
  browser.click("[data-testid=job-action-delete]");
  EXPECT_NE(browser.answer_dialog(true).find("Delete job " + id), std::string::npos);
  EXPECT_EQ(
      browser.wait_for("return !document.querySelector('" + row(id) + "');", true, seconds(10)),
      true);
  EXPECT_EQ(browser.run(shown("#detail-placeholder")), true)
      << "the panel lets go of the deleted job";
  EXPECT_EQ(farm.get("/api/jobs/" + id).first, 404);
  auto redis = redis_of(farm);
  EXPECT_EQ(redis->command({"EXISTS", "sf:job:" + id})->as_int(), 0);
  EXPECT_TRUE(redis->command({"ZSCORE", "sf:jobs", id})->is_nil());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(browser.run("return !document.querySelector('" + row(id) + "');"), true)
      << "the row came back";
}

// A worker whose renderer throws on sample 1 fails shard 1 three times: the shard is
// dead-lettered with its log tail and the worker blocklisted. The grid shows each shard as
// the API does; a click on a cell shows that shard. Retry, with a sound worker, finishes it.
TEST(DashboardActions, TheGridShowsEveryShardAndRetryFromThePanelFinishesTheDeadOne) {
  Farm farm({.workers = 0});
  const std::string id =
      farm.submit("name: retry\nsamples: 4\nshard_size: 1\nmax_attempts: 3\n" + kTiny);
  auto faulty =
      farm.start_worker_via(farm.redis_url(), {}, {{"SYNTHFARM_TEST_FAULT", "throw-on-sample=1"}});
  json ended = farm.wait(id, seconds(120));
  ASSERT_EQ(ended["state"], "failed") << ended.dump() << farm.logs();
  faulty.reset();  // it would fail the shard again
  const std::string states = api_states(farm, id);
  ASSERT_EQ(states, "dxdd");

  WebDriver browser(farm.dir());
  open_job(browser, farm, id);
  const std::string grid = "document.querySelector('[data-testid=shard-grid]')";
  EXPECT_EQ(browser.wait_for("return " + grid + ".dataset.states;", states, seconds(10)), states);
  EXPECT_EQ(browser.run("return Number(" + grid + ".dataset.cells);"), 4);
  EXPECT_EQ(browser.run(
                "return document.querySelector('[data-testid=shard-legend-done]').dataset.count;"),
            "3");
  EXPECT_EQ(browser.run(
                "return document.querySelector('[data-testid=shard-legend-dead]').dataset.count;"),
            "1");
  // The dead shard in the panel's list, with the failing worker's log, and why w1 is
  // blocklisted.
  EXPECT_EQ(browser.wait_for("const e = document.querySelector('[data-testid=dead-log]');"
                             "return !!e && e.textContent.includes('test fault');",
                             true, seconds(10)),
            true);
  EXPECT_EQ(
      browser.wait_for("const e = document.querySelector('[data-testid=blocklist-why]');"
                       "return !!e && e.textContent.includes('the last: shard 1') &&"
                       "  e.textContent.includes('test fault: the renderer crashes on sample 1');",
                       true, seconds(10)),
      true)
      << browser.run(text_of("[data-testid=blocklisted-worker]"));

  // A click on the dead cell shows it: state, attempts, error, log tail, its sample.
  click_cell(browser, 1);
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=shard-detail-title]"), "Shard 1", seconds(10)),
            "Shard 1");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=shard-detail-state]"), "dead", seconds(10)),
            "dead");
  EXPECT_EQ(browser.run(text_of("[data-testid=shard-detail-attempts]")), "3");
  EXPECT_EQ(
      browser.run(
          "return document.querySelector('[data-testid=shard-detail-log]').textContent.includes("
          "'test fault: the renderer crashes on sample 1');"),
      true);
  EXPECT_EQ(
      browser.run(
          "return document.querySelector('[data-testid=shard-sample-link]').getAttribute('href');"),
      "/api/jobs/" + id + "/samples/1.png");
  // And a done one, whose sample is stored.
  click_cell(browser, 2);
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=shard-detail-state]"), "done", seconds(10)),
            "done");
  EXPECT_EQ(farm.get_raw("/api/jobs/" + id + "/samples/2.png").first, 200);
  // The panel's dead-shard list opens its shard in the grid too.
  browser.click("[data-testid=dead-shard-show]");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=shard-detail-state]"), "dead", seconds(10)),
            "dead");
  EXPECT_EQ(browser.run("return " + grid + ".dataset.selected;"), "1");
  browser.run(
      "document.getElementById('kv-card-row').closest('dl').scrollIntoView({block: 'start'}); "
      "return null;");
  browser.screenshot(std::filesystem::path(SYNTHFARM_BINARY_DIR) / "dashboard-job.png");
  browser.run(
      "window.scrollTo(0, 0); return null;");  // the panel's buttons back from under the top bar

  // Retry: the dead shard goes back to the queue and a sound worker finishes the job.
  farm.workers().push_back(farm.start_worker());
  browser.click("[data-testid=job-action-retry]");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=detail-state]"), "done", seconds(60)), "done")
      << farm.logs();
  EXPECT_EQ(api_state(farm, id), "done");
  auto redis = redis_of(farm);
  EXPECT_FALSE(dead_lettered(*redis, id + "/1"));
  EXPECT_EQ(redis->command({"HGET", "sf:job:" + id + ":shard:1", "state"})->str, "done");
  EXPECT_EQ(browser.wait_for("return " + grid + ".dataset.states;", "dddd", seconds(10)), "dddd");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=shard-detail-state]"), "done", seconds(10)),
            "done")
      << "the open shard follows";
}

// A job of 12,000 shards: the grid draws the first page of 10,000 cells on its canvas in a
// few milliseconds, pages to the rest, and the shard-number box finds any shard.
TEST(DashboardActions, TheGridStaysFastForThousandsOfShards) {
  Farm farm({.workers = 0});
  const std::string id = farm.submit("name: many\nsamples: 12000\nshard_size: 1\n" + kTiny);
  WebDriver browser(farm.dir());
  open_job(browser, farm, id);
  const std::string grid = "document.querySelector('[data-testid=shard-grid]')";
  ASSERT_EQ(browser.wait_for("return Number(" + grid + ".dataset.cells);", 10000, seconds(20)),
            10000);
  EXPECT_EQ(browser.run(text_of("[data-testid=shard-grid-range]")), "0–9,999 of 12,000");
  // Redraws (as on a resize) of the 10,000 cells.
  const double ms =
      browser.run("const c = " + grid +
                  "; let worst = 0;"
                  "for (let i = 0; i < 5; i++) { window.dispatchEvent(new Event('resize')); worst "
                  "= Math.max(worst, Number(c.dataset.drawMs)); }"
                  "return worst;");
  std::printf("[ grid ] 10,000 cells redrawn in at most %.1f ms\n", ms);
  EXPECT_LT(ms, 100);
  browser.click("[data-testid=shard-page-next]");
  EXPECT_EQ(browser.wait_for("return Number(" + grid + ".dataset.cells);", 2000, seconds(10)),
            2000);
  EXPECT_EQ(browser.run("return Number(" + grid + ".dataset.from);"), 10000);
  // The last shard by number: its page, its cell outlined, its details.
  browser.run(
      "document.querySelector('[data-testid=shard-find-input]').value = '11999'; return null;");
  browser.click("[data-testid=shard-find-go]");
  EXPECT_EQ(
      browser.wait_for(text_of("[data-testid=shard-detail-title]"), "Shard 11999", seconds(10)),
      "Shard 11999");
  EXPECT_EQ(
      browser.wait_for(text_of("[data-testid=shard-detail-samples]"), "Sample 11999", seconds(10)),
      "Sample 11999");
  EXPECT_EQ(browser.run("return " + grid + ".dataset.selected;"), "11999");
}

// A shard failed three times through the queue's scripts (as a worker fails it), with a
// log tail holding markup: the Failures view shows it as text, why its worker is
// blocklisted, and its Retry button puts it back; a worker then finishes the job.
TEST(DashboardActions, TheFailuresViewShowsTheLogTailAndRetriesTheJob) {
  Farm farm({.workers = 0});
  const std::string id =
      farm.submit("name: failing\nsamples: 2\nshard_size: 2\nmax_attempts: 3\n" + kTiny);
  const std::string tail = "INFO shard 0 claimed\nERROR sample 1: out of memory <b>not bold</b>\n";
  auto redis = redis_of(farm);
  queue::Queue queue(*redis);
  queue.set_retry_backoff_ms(0);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto lease = queue.claim("w-bad", 60000);
    ASSERT_TRUE(lease && lease->has_value());
    queue.fail((*lease)->shard, "sample 1: out of memory", "w-bad", tail);
  }
  ASSERT_EQ(farm.wait(id, seconds(30))["state"], "failed");
  farm.workers().push_back(farm.start_worker());

  WebDriver browser(farm.dir());
  browser.open(farm.login_url());
  ASSERT_EQ(browser.wait_for(text_of("[data-testid=conn-status]"), "live", seconds(20)), "live");
  EXPECT_EQ(browser.wait_for(text_of("[data-testid=nav-failures-count]"), "1", seconds(10)), "1");
  browser.click("[data-testid=nav-failures]");
  EXPECT_EQ(browser.wait_for(shown("[data-testid=failures-view]"), true, seconds(5)), true);
  EXPECT_EQ(browser.run(shown("[data-testid=jobs-table]")), false);
  const std::string card = "[data-testid=failure-job][data-job=\"" + id + "\"]";
  ASSERT_EQ(browser.wait_for(shown(card), true, seconds(10)), true);
  EXPECT_NE(browser.run(text_of(card + " [data-testid=failure-error]"))
                .get<std::string>()
                .find("out of memory"),
            std::string::npos);
  // The log tail is folded; opened, it is the worker's text, markup and all, as text.
  EXPECT_EQ(browser.run(shown(card + " [data-testid=failure-log]")), false);
  browser.click(card + " [data-testid=failure-log-toggle]");
  EXPECT_EQ(browser.wait_for(shown(card + " [data-testid=failure-log]"), true, seconds(5)), true);
  EXPECT_EQ(browser.run("return document.querySelector('" + card +
                        " [data-testid=failure-log]').textContent;"),
            tail);
  EXPECT_EQ(
      browser.run("return document.querySelectorAll('[data-testid=failures-view] b').length;"), 0);
  // Why w-bad takes no more of the job.
  const std::string blocked = "[data-testid=blocked-worker][data-worker=\"w-bad\"]";
  ASSERT_EQ(browser.wait_for(shown(blocked), true, seconds(5)), true);
  EXPECT_EQ(browser.run(text_of(blocked + " [data-testid=blocked-why]")),
            "shard 0: sample 1: out of memory");
  browser.screenshot(std::filesystem::path(SYNTHFARM_BINARY_DIR) / "dashboard-failures.png");

  browser.click(card + " [data-testid=failures-retry]");
  EXPECT_EQ(browser.wait_for("return !document.querySelector('" + card + "');", true, seconds(10)),
            true);
  EXPECT_FALSE(dead_lettered(*redis, id + "/0"));
  EXPECT_TRUE(redis->command({"SMEMBERS", "sf:job:" + id + ":blocklist"})->elements.empty());
  EXPECT_EQ(farm.wait(id, seconds(60))["state"], "done") << farm.logs();
  EXPECT_EQ(browser.wait_for(shown("[data-testid=failures-empty]"), true, seconds(10)), true);
  EXPECT_EQ(browser.wait_for(shown("[data-testid=blocked-empty]"), true, seconds(10)), true);
  // The header's other link leads back to the jobs.
  browser.click("[data-testid=nav-jobs]");
  EXPECT_EQ(browser.wait_for(shown("[data-testid=jobs-table]"), true, seconds(5)), true);
}

}  // namespace
}  // namespace synthfarm::testing
