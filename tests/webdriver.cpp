#include "tests/webdriver.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <signal.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace synthfarm::testing {

WebDriver::WebDriver(const std::filesystem::path& dir) : port_(free_tcp_port()), profile_(dir / "chromium-profile") {
  driver_ = ChildProcess::spawn({"chromedriver", "--port=" + std::to_string(port_)}, dir / "chromedriver.log");
  if (!wait_for_tcp(port_, std::chrono::seconds(20))) throw std::runtime_error("chromedriver did not start");
  json caps = {{"capabilities",
                {{"alwaysMatch",
                  {{"browserName", "chrome"},
                   {"goog:chromeOptions",
                    {{"binary", "/usr/bin/chromium"},
                     {"args",
                      {"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                       "--disable-background-networking", "--disable-component-update", "--disable-sync",
                       "--disable-dev-shm-usage", "--window-size=1400,900",
                       "--user-data-dir=" + profile_.string()}}}}}}}}};
  auto session = call("POST", "/session", caps);
  session_ = session["value"]["sessionId"].get<std::string>();
}

WebDriver::~WebDriver() {
  try {
    if (!session_.empty()) call("DELETE", "/session/" + session_, nullptr);
  } catch (const std::exception&) {
    // chromedriver is stopped below either way
  }
  driver_->signal(SIGTERM);
  driver_->wait(std::chrono::seconds(5));
}

void WebDriver::open(const std::string& url) { call("POST", path("/url"), {{"url", url}}); }

WebDriver::json WebDriver::run(const std::string& script) {
  return call("POST", path("/execute/sync"), {{"script", script}, {"args", json::array()}})["value"];
}

WebDriver::json WebDriver::wait_for(const std::string& script, const json& expected, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  json value;
  while (std::chrono::steady_clock::now() < deadline) {
    value = run(script);
    if (value == expected) return value;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return value;
}

void WebDriver::screenshot(const std::filesystem::path& file) {
  std::string b64 = call("GET", path("/screenshot"), nullptr)["value"];
  std::string png(b64.size() * 3 / 4 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(png.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  png.resize(n > 0 ? static_cast<size_t>(n) : 0);
  // Base64 decoding pads with up to two zero bytes; a PNG ends at its IEND chunk.
  static const std::string kIend = "IEND\xae\x42\x60\x82";
  if (auto end = png.rfind(kIend); end != std::string::npos) png.resize(end + kIend.size());
  std::ofstream(file, std::ios::binary) << png;
}

// The W3C WebDriver key of an element reference.
static const char* const kElementKey = "element-6066-11e4-a52e-4f735466cecf";

std::string WebDriver::element(const std::string& selector) {
  auto found = call("POST", path("/element"), {{"using", "css selector"}, {"value", selector}});
  return found["value"][kElementKey].get<std::string>();
}

void WebDriver::click(const std::string& selector) {
  call("POST", path("/element/" + element(selector) + "/click"), json::object());
}

void WebDriver::click_at(const std::string& selector, int x, int y) {
  const std::string id = element(selector);
  // Pointer actions do not scroll: bring the element into the viewport first.
  call("POST", path("/execute/sync"),
       {{"script", "arguments[0].scrollIntoView({block: 'center'}); return null;"},
        {"args", json::array({json{{kElementKey, id}}})}});
  json rect = call("GET", path("/element/" + id + "/rect"), nullptr)["value"];
  // Pointer offsets count from the element's centre.
  const int dx = x - static_cast<int>(rect["width"].get<double>() / 2);
  const int dy = y - static_cast<int>(rect["height"].get<double>() / 2);
  json mouse = {{"type", "pointer"},
                {"id", "mouse"},
                {"parameters", {{"pointerType", "mouse"}}},
                {"actions",
                 {{{"type", "pointerMove"}, {"duration", 0}, {"origin", json{{kElementKey, id}}}, {"x", dx}, {"y", dy}},
                  {{"type", "pointerDown"}, {"button", 0}},
                  {{"type", "pointerUp"}, {"button", 0}}}}};
  call("POST", path("/actions"), {{"actions", json::array({mouse})}});
  call("DELETE", path("/actions"), nullptr);
}

std::string WebDriver::answer_dialog(bool accept) {
  std::string text = call("GET", path("/alert/text"), nullptr)["value"];
  call("POST", path(accept ? "/alert/accept" : "/alert/dismiss"), json::object());
  return text;
}

WebDriver::json WebDriver::cdp(const std::string& command, const json& params) {
  return call("POST", path("/goog/cdp/execute"), {{"cmd", command}, {"params", params}})["value"];
}

WebDriver::json WebDriver::call(const std::string& method, const std::string& p, const json& body) {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(60);
  httplib::Result res = method == "GET"      ? client.Get(p)
                        : method == "DELETE" ? client.Delete(p)
                                             : client.Post(p, body.dump(), "application/json");
  if (!res) throw std::runtime_error("webdriver " + method + " " + p + ": " + httplib::to_string(res.error()));
  auto reply = json::parse(res->body, nullptr, false);
  if (res->status != 200) throw std::runtime_error("webdriver " + p + ": " + res->body.substr(0, 500));
  return reply;
}

std::string text_of(const std::string& selector) {
  return "const e = document.querySelector('" + selector + "'); return e ? e.textContent.trim() : null;";
}

}  // namespace synthfarm::testing
