// A headless Chromium driven over WebDriver (chromedriver) with plain HTTP, for the
// dashboard's browser tests. One browser per object; its profile lives under `dir`.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/fixtures.h"

namespace synthfarm::testing {

class WebDriver {
 public:
  using json = nlohmann::json;
  explicit WebDriver(const std::filesystem::path& dir);
  ~WebDriver();
  WebDriver(const WebDriver&) = delete;
  WebDriver& operator=(const WebDriver&) = delete;

  void open(const std::string& url);
  json run(const std::string& script);
  // Polls `script` until it returns `expected`; returns the last value.
  json wait_for(const std::string& script, const json& expected, std::chrono::seconds timeout);
  void screenshot(const std::filesystem::path& file);
  // Clicks the first element `selector` matches as a user would: chromedriver scrolls it
  // into view and refuses (throws) when it is hidden, disabled or covered.
  void click(const std::string& selector);
  // A mouse click at (x, y) CSS pixels from the top left corner of that element (a cell
  // of a canvas, say).
  void click_at(const std::string& selector, int x, int y);
  // Answers the open alert or confirm dialog (accept: OK); returns its text.
  std::string answer_dialog(bool accept);
  // A Chrome DevTools Protocol command through chromedriver (goog/cdp/execute), e.g.
  // "Runtime.getHeapUsage"; its result object.
  json cdp(const std::string& command, const json& params = json::object());

 private:
  std::string path(const std::string& tail) const { return "/session/" + session_ + tail; }
  json call(const std::string& method, const std::string& p, const json& body);
  std::string element(const std::string& selector);  // WebDriver's id of the element

  int port_;
  std::filesystem::path profile_;
  std::unique_ptr<ChildProcess> driver_;
  std::string session_;
};

// A script that returns the trimmed text of the first element `selector` matches, or null.
std::string text_of(const std::string& selector);

}  // namespace synthfarm::testing
