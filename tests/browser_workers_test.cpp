// The workers table at the scale of a big farm, in a real headless Chromium: 500 simulated
// workers (tests/fake_workers.h: real heartbeats over ZeroMQ to a real coordinator) are
// listed, only a window of them is in the DOM, sorting and filtering give what the data
// says, and the first render and a sort each take under a second, measured in the page.
// Then a worker's page with its samples/s chart, served by GET /api/workers/{id}.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "tests/fake_workers.h"
#include "tests/farm.h"
#include "tests/webdriver.h"

namespace synthfarm::testing {
namespace {

using nlohmann::json;

constexpr int kWorkers = 500;
// The rows in view (40% of a 900 px window at 33 px) plus a margin of 10 above and below.
constexpr int kMaxRowsInDom = 60;

// The workers the API lists, once every one is there and the quiet ones are lost.
json settled_workers(const Farm& farm, const FakeWorkersOptions& sim) {
  int lost_expected = 0;
  for (int i = 0; i < sim.workers; ++i) lost_expected += FakeWorkers::goes_lost(sim, i) ? 1 : 0;
  json workers;
  eventually(
      [&] {
        workers = farm.get("/api/workers").second["workers"];
        const auto lost = std::count_if(workers.begin(), workers.end(), [](const json& w) { return !w["alive"]; });
        return workers.size() == static_cast<size_t>(sim.workers) && lost == lost_expected;
      },
      std::chrono::seconds(30));
  return workers;
}

// Ids of the rows in the DOM, top to bottom.
const char* kRowIds = "return [...document.querySelectorAll('#workers-body tr[data-worker-id]')].map(r => r.dataset.workerId);";

TEST(DashboardWorkers, FiveHundredWorkersRenderSortAndFilterInUnderASecond) {
  Farm farm({.workers = 0, .coordinator_args = {"--history-interval-ms", "500"}});
  FakeWorkersOptions sim;
  sim.telemetry = farm.telemetry();
  sim.workers = kWorkers;
  sim.lost_after_beats = 2;
  auto workers = FakeWorkers::start(sim);
  ASSERT_TRUE(workers) << workers.error();
  const json listed = settled_workers(farm, sim);
  ASSERT_EQ(listed.size(), static_cast<size_t>(kWorkers)) << farm.logs();

  // One worker with its history through the API; an unknown one is a 404 naming it.
  const std::string some = FakeWorkers::profile(sim, 3).worker_id;
  json one;
  eventually([&] { one = farm.get("/api/workers/" + some).second; return one["history"]["t"].size() >= 2; },
             std::chrono::seconds(10));
  EXPECT_EQ(one["id"], some);
  EXPECT_EQ(one["host"], "host-03");
  EXPECT_EQ(one["threads"], 8);
  ASSERT_GE(one["history"]["t"].size(), 2u) << one;
  EXPECT_NEAR(one["history"]["samples_per_sec"].back().get<double>(), FakeWorkers::profile(sim, 3).samples_per_sec, 1e-3);
  auto [status, missing] = farm.get("/api/workers/nobody-here");
  EXPECT_EQ(status, 404);
  EXPECT_NE(missing["error"].get<std::string>().find("nobody-here"), std::string::npos) << missing;

  WebDriver browser(farm.dir());
  browser.open(farm.login_url());
  const std::string count = "document.querySelector('[data-testid=workers-count]')";
  ASSERT_EQ(browser.wait_for("return Number(" + count + ".dataset.total);", kWorkers, std::chrono::seconds(20)),
            kWorkers);
  EXPECT_EQ(browser.run("return " + count + ".textContent;"), "450 alive · 500 total");

  // The first full render, timed by the page itself (performance.now() around it, layout
  // included), and only a window of rows in the DOM.
  const json first = browser.run(
      "const m = performance.getEntriesByName('workers-first-render')[0];"
      "return m ? {ms: m.duration, workers: m.detail.workers, rows: m.detail.rows} : null;");
  ASSERT_TRUE(first.is_object()) << "no workers-first-render measure";
  EXPECT_EQ(first["workers"], kWorkers) << "the first render had every worker";
  EXPECT_LT(first["ms"].get<double>(), 1000.0);
  const auto rows = browser.run(kRowIds);
  EXPECT_GE(rows.size(), 10u);
  EXPECT_LE(rows.size(), static_cast<size_t>(kMaxRowsInDom)) << "the table is not virtualised";

  // Sort by samples/s, descending (two clicks), each click timed in the page around the
  // synchronous sort and redraw, layout included.
  const json sorted = browser.run(R"(
    const button = document.querySelector('[data-testid=workers-sort-rate]');
    const time = () => { const t0 = performance.now(); button.click(); void document.body.offsetHeight;
                         return performance.now() - t0; };
    const asc = time(), desc = time();
    return {asc, desc, aria: button.closest('th').getAttribute('aria-sort'),
            ids: [...document.querySelectorAll('#workers-body tr[data-worker-id]')].map(r => r.dataset.workerId)};)");
  EXPECT_LT(sorted["asc"].get<double>(), 1000.0);
  EXPECT_LT(sorted["desc"].get<double>(), 1000.0);
  EXPECT_EQ(sorted["aria"], "descending");
  // The data's order: rendering workers by rate, highest first, ties by id; the rest after.
  std::vector<json> expected(listed.begin(), listed.end());
  auto rate = [](const json& w) { return w["state"] == "rendering" ? w["samples_per_sec"].get<double>() : -1.0; };
  std::sort(expected.begin(), expected.end(), [&](const json& a, const json& b) {
    if (rate(a) != rate(b)) return rate(a) > rate(b);
    return a["id"].get<std::string>() < b["id"].get<std::string>();
  });
  const auto shown = sorted["ids"];
  ASSERT_GE(shown.size(), 10u);
  for (size_t i = 0; i < shown.size(); ++i) EXPECT_EQ(shown[i], expected[i]["id"]) << "row " << i;
  std::cout << "in-page: first render of " << first["workers"] << " workers " << first["ms"] << " ms ("
            << first["rows"] << " rows in the DOM); sort ascending " << sorted["asc"] << " ms, descending "
            << sorted["desc"] << " ms\n";
  browser.run("document.querySelector('[data-testid=workers-card]').scrollIntoView(); return null;");
  browser.screenshot(std::filesystem::path(SYNTHFARM_BINARY_DIR) / "dashboard-workers.png");

  // Scrolled to the end: the last rows are drawn in place of the first, still a window.
  browser.run("const s = document.querySelector('[data-testid=workers-scroll]'); s.scrollTop = s.scrollHeight; return null;");
  EXPECT_EQ(browser.wait_for("const rows = document.querySelectorAll('#workers-body tr[data-worker-id]');"
                             "return rows[rows.length - 1].dataset.workerId;",
                             expected.back()["id"], std::chrono::seconds(5)),
            expected.back()["id"]);
  EXPECT_LE(browser.run(kRowIds).size(), static_cast<size_t>(kMaxRowsInDom));

  // Filters: by host text, then by state.
  browser.run(R"(const f = document.querySelector('[data-testid=workers-filter]'); f.value = 'HOST-07';
                 f.dispatchEvent(new Event('input')); return null;)");
  EXPECT_EQ(browser.run("return Number(" + count + ".dataset.shown);"), kWorkers / sim.hosts);
  EXPECT_EQ(browser.run("return [...document.querySelectorAll('#workers-body tr[data-worker-id] .c-host')]"
                        ".every(td => td.textContent === 'host-07');"),
            true);
  browser.run(R"(const f = document.querySelector('[data-testid=workers-filter]'); f.value = '';
                 f.dispatchEvent(new Event('input'));
                 const s = document.querySelector('[data-testid=workers-state-filter]'); s.value = 'lost';
                 s.dispatchEvent(new Event('change')); return null;)");
  EXPECT_EQ(browser.run("return Number(" + count + ".dataset.shown);"), kWorkers / sim.lost_every);
  EXPECT_EQ(browser.run("return [...document.querySelectorAll('#workers-body [data-testid=worker-state]')]"
                        ".every(b => b.textContent === 'lost');"),
            true);
  EXPECT_EQ(browser.run("return " + count + ".textContent;"), "50 of 500 shown · 450 alive");
  browser.run(R"(const s = document.querySelector('[data-testid=workers-state-filter]'); s.value = 'all';
                 s.dispatchEvent(new Event('change')); return null;)");

  // A worker's page: its figures and its samples/s over time.
  const std::string top = shown[0];
  browser.run("document.querySelector('#workers-body tr[data-worker-id=\"" + top + "\"] td').click(); return null;");
  EXPECT_EQ(browser.wait_for("const p = document.querySelector('[data-testid=worker-page]');"
                             "return p && !p.hidden ? p.querySelector('[data-testid=worker-page-id]').textContent : null;",
                             top, std::chrono::seconds(10)),
            top);
  EXPECT_EQ(browser.run("return location.hash;"), "#worker=" + top);
  const json top_listed = *std::find_if(listed.begin(), listed.end(), [&](const json& w) { return w["id"] == top; });
  EXPECT_EQ(browser.wait_for("const e = document.querySelector('[data-testid=worker-page-host]'); return e.textContent;",
                             top_listed["host"], std::chrono::seconds(5)),
            top_listed["host"]);
  EXPECT_EQ(browser.run("return document.querySelector('[data-testid=worker-page-threads]').textContent;"),
            std::to_string(top_listed["threads"].get<int>()));
  EXPECT_EQ(browser.run("return document.querySelector('[data-testid=worker-page-job]').textContent;"),
            top_listed["job"]);
  const std::string chart = "document.querySelector('[data-testid=worker-chart]')";
  EXPECT_EQ(browser.wait_for("return Number(" + chart + ".dataset.points) >= 2;", true, std::chrono::seconds(10)), true)
      << "the worker's history is drawn";
  EXPECT_NEAR(browser.run("return JSON.parse(" + chart + ".dataset.last)[0];").get<double>(),
              top_listed["samples_per_sec"].get<double>(), 1e-3);
  browser.screenshot(std::filesystem::path(SYNTHFARM_BINARY_DIR) / "dashboard-worker.png");

  // Its job link selects the job (which the coordinator does not know: the workers are simulated).
  browser.run("document.querySelector('[data-testid=worker-page-job]').click(); return null;");
  EXPECT_EQ(browser.wait_for("return document.querySelector('[data-testid=detail-id]').textContent;", top_listed["job"],
                             std::chrono::seconds(5)),
            top_listed["job"]);
}

}  // namespace
}  // namespace synthfarm::testing
