#include "protocol/curve.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "protocol/control.h"
#include "protocol/telemetry.h"
#include "tests/fixtures.h"

namespace synthfarm::protocol {
namespace {

namespace fs = std::filesystem;

CurveKeyPair fresh_curve_keys() {
  auto keys = generate_curve_key_pair();
  EXPECT_TRUE(keys) << keys.error();
  return keys ? *keys : CurveKeyPair{};
}

std::string curve_test_endpoint() {
  return "tcp://127.0.0.1:" + std::to_string(testing::free_tcp_port());
}

void write_text(const fs::path& path, const std::string& text,
                fs::perms perms = fs::perms::owner_read | fs::perms::owner_write) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  fs::permissions(path, perms, fs::perm_options::replace);
}

unsigned file_mode(const fs::path& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 07777;
}

// Refusals as the coordinator would hear of them (on the ZAP handler's thread).
struct RefusalLog {
  std::mutex mutex;
  std::vector<CurveRefusal> refusals;
  std::function<void(const CurveRefusal&)> listener() {
    return [this](const CurveRefusal& r) {
      std::lock_guard lock(mutex);
      refusals.push_back(r);
    };
  }
  std::vector<CurveRefusal> all() {
    std::lock_guard lock(mutex);
    return refusals;
  }
};

// A server key pair and an allow-list file in `dir` listing `allowed`.
CurveServerConfig curve_server_allowing(const testing::TempDir& dir,
                                        const std::vector<std::string>& allowed,
                                        RefusalLog* log = nullptr) {
  std::string text = "# workers allowed in\n";
  for (const auto& key : allowed) text += key + "  # a worker\n";
  write_text(dir.path() / "allowed_workers", text);
  auto list = CurveAllowList::load((dir.path() / "allowed_workers").string());
  EXPECT_TRUE(list) << list.error();
  CurveServerConfig config{
      fresh_curve_keys(), list ? *list : std::shared_ptr<CurveAllowList>(), {}};
  if (log) config.on_refusal = log->listener();
  return config;
}

// Sends heartbeats until the sender's handshake has an outcome (or 5 s pass): a final
// state, or three handshakes the receiver cut short.
TelemetryLink send_until_handshake_settles(TelemetrySender& sender) {
  Heartbeat hb;
  hb.worker_id = "w-curve";
  for (int i = 0; i < 250; ++i) {
    sender.send(hb);
    auto link = sender.link();
    if (link.state != LinkState::kWaiting || link.dropped_handshakes >= 3) return link;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return sender.link();
}

// CURVE on one side only: whichever side reads the other's greeting first reports the
// mismatch and closes, so the sender sees either the mismatch or its handshakes cut short.
bool curve_mismatch_seen(const TelemetryLink& link) {
  return link.state == LinkState::kMismatch ||
         (link.state == LinkState::kWaiting && link.dropped_handshakes >= 3);
}

// ---- keys and key files -----------------------------------------------------------------

TEST(CurveKeys, KeyFilesRoundTripWithTheirModesAndAreNotOverwritten) {
  ASSERT_TRUE(curve_available()) << "this libzmq has no CURVE";
  testing::TempDir dir;
  const std::string prefix = (dir.path() / "worker-1").string();
  CurveKeyPair keys = fresh_curve_keys();
  EXPECT_TRUE(is_z85_key(keys.public_key));
  EXPECT_TRUE(is_z85_key(keys.secret_key));
  ASSERT_TRUE(write_curve_key_files(prefix, keys, false));
  EXPECT_EQ(file_mode(prefix + ".key"), 0600u);
  EXPECT_EQ(file_mode(prefix + ".pub"), 0644u);

  auto read = read_curve_key_file(prefix + ".key");
  ASSERT_TRUE(read) << read.error();
  EXPECT_EQ(*read, keys);
  auto pub = read_curve_public_key(prefix + ".pub");
  ASSERT_TRUE(pub) << pub.error();
  EXPECT_EQ(*pub, keys.public_key);
  auto literal = read_curve_public_key(keys.public_key);
  ASSERT_TRUE(literal) << literal.error();
  EXPECT_EQ(*literal, keys.public_key);

  CurveKeyPair other = fresh_curve_keys();
  auto again = write_curve_key_files(prefix, other, false);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().find(prefix + ".key already exists"), std::string::npos) << again.error();
  EXPECT_EQ(*read_curve_key_file(prefix + ".key"), keys) << "the old key pair must be left alone";

  ASSERT_TRUE(write_curve_key_files(prefix, other, true));
  EXPECT_EQ(*read_curve_key_file(prefix + ".key"), other);
  EXPECT_EQ(file_mode(prefix + ".key"), 0600u);
  EXPECT_EQ(file_mode(prefix + ".pub"), 0644u);
}

TEST(CurveKeys, ASecretKeyFileOthersMayReadIsRefusedByPath) {
  testing::TempDir dir;
  const std::string prefix = (dir.path() / "coordinator").string();
  ASSERT_TRUE(write_curve_key_files(prefix, fresh_curve_keys(), false));
  fs::permissions(prefix + ".key", fs::perms::group_read, fs::perm_options::add);
  auto read = read_curve_key_file(prefix + ".key");
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().find(prefix + ".key"), std::string::npos) << read.error();
  EXPECT_NE(read.error().find("mode 0640"), std::string::npos) << read.error();
  EXPECT_NE(read.error().find("chmod 600"), std::string::npos) << read.error();
}

TEST(CurveKeys, KeyFileErrorsNameTheFileAndLine) {
  testing::TempDir dir;
  CurveKeyPair a = fresh_curve_keys(), b = fresh_curve_keys();
  const fs::path path = dir.path() / "bad.key";
  auto error_of = [&](const std::string& text) {
    write_text(path, text);
    auto read = read_curve_key_file(path.string());
    return read ? std::string("(read)") : read.error();
  };
  EXPECT_NE(error_of("# comment\npublic: short\n")
                .find(path.string() + ":2: the public key is not 40 Z85"),
            std::string::npos);
  EXPECT_NE(error_of("public: " + a.public_key + "\nsecret: " + b.secret_key + "\n")
                .find("not the secret key's"),
            std::string::npos);
  EXPECT_NE(error_of("public: " + a.public_key + "\n").find("no 'secret:' line"),
            std::string::npos);
  EXPECT_NE(
      error_of("publik: " + a.public_key + "\n").find(path.string() + ":1: expected 'public: KEY'"),
      std::string::npos);
  auto missing = read_curve_key_file((dir.path() / "absent.key").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("absent.key"), std::string::npos) << missing.error();
  auto neither = read_curve_public_key("not-a-key-nor-a-file");
  ASSERT_FALSE(neither);
  EXPECT_NE(neither.error().find("neither a Z85 public key"), std::string::npos) << neither.error();
}

// ---- the allow-list ---------------------------------------------------------------------

TEST(CurveAllowListTest, ParsesKeysAndCommentsAndNamesBadLines) {
  CurveKeyPair a = fresh_curve_keys(), b = fresh_curve_keys();
  auto keys = CurveAllowList::parse("# render nodes\n\n" + a.public_key + "   # render-01\n  " +
                                        b.public_key + "\n" + a.public_key + "\n",
                                    "allowed");
  ASSERT_TRUE(keys) << keys.error();
  EXPECT_EQ(*keys, (std::set<std::string>{a.public_key, b.public_key}));

  auto secret = CurveAllowList::parse(a.public_key + "\nsecret: " + a.secret_key + "\n", "allowed");
  ASSERT_FALSE(secret);
  EXPECT_NE(secret.error().find("allowed:2: a line of a .key file"), std::string::npos)
      << secret.error();
  auto junk = CurveAllowList::parse("\n\nnot-a-key\n", "allowed");
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().find("allowed:3: 'not-a-key' is not a Z85 public key"), std::string::npos)
      << junk.error();
  auto trailing = CurveAllowList::parse(a.public_key + " render-01\n", "allowed");
  ASSERT_FALSE(trailing);
  EXPECT_NE(trailing.error().find("allowed:1: only a '# comment'"), std::string::npos)
      << trailing.error();
}

TEST(CurveAllowListTest, ReReadsTheFileWhenItChangesAndKeepsTheLastGoodList) {
  testing::TempDir dir;
  CurveKeyPair a = fresh_curve_keys(), b = fresh_curve_keys();
  const fs::path path = dir.path() / "allowed_workers";
  write_text(path, a.public_key + "\n");
  std::vector<std::pair<bool, std::string>> reloads;  // the test's thread only
  auto list = CurveAllowList::load(
      path.string(), [&](bool ok, const std::string& m) { reloads.emplace_back(ok, m); });
  ASSERT_TRUE(list) << list.error();
  EXPECT_TRUE((*list)->allows(a.public_key));
  EXPECT_FALSE((*list)->allows(b.public_key));
  EXPECT_TRUE(reloads.empty()) << "nothing changed, nothing re-read";

  // Replaced by rename, as an editor or a config tool does it.
  write_text(dir.path() / "allowed_workers.new", b.public_key + "\n");
  fs::rename(dir.path() / "allowed_workers.new", path);
  EXPECT_TRUE((*list)->allows(b.public_key));
  EXPECT_FALSE((*list)->allows(a.public_key)) << "a removed key is refused at the next handshake";
  ASSERT_EQ(reloads.size(), 1u);
  EXPECT_TRUE(reloads[0].first) << reloads[0].second;

  // A broken edit is reported once and the previous list stays in force.
  write_text(path, "oops, not a key\n");
  EXPECT_TRUE((*list)->allows(b.public_key));
  EXPECT_TRUE((*list)->allows(b.public_key));
  ASSERT_EQ(reloads.size(), 2u);
  EXPECT_FALSE(reloads[1].first);
  EXPECT_NE(reloads[1].second.find(path.string() + ":1:"), std::string::npos) << reloads[1].second;
  EXPECT_NE(reloads[1].second.find("previous 1 key(s) stay in force"), std::string::npos)
      << reloads[1].second;
}

// ---- real sockets -----------------------------------------------------------------------

TEST(CurveTelemetry, AnAllowedKeyDeliversTelemetry) {
  testing::TempDir dir;
  CurveKeyPair worker = fresh_curve_keys();
  CurveServerConfig server = curve_server_allowing(dir, {worker.public_key});
  const std::string endpoint = curve_test_endpoint();
  auto receiver = TelemetryReceiver::bind(endpoint, server);
  ASSERT_TRUE(receiver) << receiver.error();
  auto sender =
      TelemetrySender::connect(endpoint, CurveClientConfig{worker, server.keys.public_key});
  ASSERT_TRUE(sender) << sender.error();
  Heartbeat hb;
  hb.worker_id = "w-allowed";
  std::optional<Telemetry> got;
  for (int i = 0; i < 50 && !got; ++i) {
    (*sender)->send(hb);
    got = (*receiver)->receive(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(std::get<Heartbeat>(*got).worker_id, "w-allowed");
  EXPECT_EQ((*sender)->link().state, LinkState::kUp);
  EXPECT_EQ((*receiver)->rejected(), 0u);
}

TEST(CurveTelemetry, AnUnknownKeyIsRefusedCountedAndToldWhy) {
  testing::TempDir dir;
  RefusalLog log;
  CurveKeyPair listed = fresh_curve_keys(), stranger = fresh_curve_keys();
  CurveServerConfig server = curve_server_allowing(dir, {listed.public_key}, &log);
  const std::string endpoint = curve_test_endpoint();
  auto receiver = TelemetryReceiver::bind(endpoint, server);
  ASSERT_TRUE(receiver) << receiver.error();
  auto sender =
      TelemetrySender::connect(endpoint, CurveClientConfig{stranger, server.keys.public_key});
  ASSERT_TRUE(sender) << sender.error();
  TelemetryLink link = send_until_handshake_settles(**sender);
  EXPECT_EQ(link.state, LinkState::kRefused) << link.detail;
  EXPECT_EQ(link.detail, "ZAP status 400");
  sender->reset();  // nothing more is tried
  EXPECT_FALSE((*receiver)->receive(std::chrono::milliseconds(300)))
      << "a refused client delivers nothing";
  EXPECT_EQ((*receiver)->rejected(), 1u);
  auto refusals = log.all();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].socket, "telemetry");
  EXPECT_EQ(refusals[0].address, "127.0.0.1");
  EXPECT_EQ(refusals[0].public_key, stranger.public_key);
  EXPECT_EQ(refusals[0].refused_total, 1u);
}

TEST(CurveTelemetry, APlainSenderDeliversNothingToACurveReceiver) {
  testing::TempDir dir;
  CurveServerConfig server = curve_server_allowing(dir, {fresh_curve_keys().public_key});
  const std::string endpoint = curve_test_endpoint();
  auto receiver = TelemetryReceiver::bind(endpoint, server);
  ASSERT_TRUE(receiver) << receiver.error();
  auto sender = TelemetrySender::connect(endpoint);
  ASSERT_TRUE(sender) << sender.error();
  TelemetryLink link = send_until_handshake_settles(**sender);
  EXPECT_TRUE(curve_mismatch_seen(link))
      << static_cast<int>(link.state) << " " << link.dropped_handshakes;
  EXPECT_FALSE((*receiver)->receive(std::chrono::milliseconds(300)));
  EXPECT_EQ((*receiver)->rejected(), 0u) << "a mismatch never reaches the ZAP handler";
}

TEST(CurveTelemetry, ACurveSenderSeesAPlainReceiverAsAMismatch) {
  const std::string endpoint = curve_test_endpoint();
  auto receiver = TelemetryReceiver::bind(endpoint);
  ASSERT_TRUE(receiver) << receiver.error();
  auto sender = TelemetrySender::connect(
      endpoint, CurveClientConfig{fresh_curve_keys(), fresh_curve_keys().public_key});
  ASSERT_TRUE(sender) << sender.error();
  TelemetryLink link = send_until_handshake_settles(**sender);
  EXPECT_TRUE(curve_mismatch_seen(link))
      << static_cast<int>(link.state) << " " << link.dropped_handshakes;
  EXPECT_FALSE((*receiver)->receive(std::chrono::milliseconds(300)));
}

// The coordinator cannot open a hello encrypted to another key, and closes the connection:
// the sender counts the handshakes cut short (the worker names --coordinator-key then).
TEST(CurveTelemetry, AWrongServerKeyCutsHandshakesShort) {
  testing::TempDir dir;
  CurveKeyPair worker = fresh_curve_keys();
  CurveServerConfig server = curve_server_allowing(dir, {worker.public_key});
  const std::string endpoint = curve_test_endpoint();
  auto receiver = TelemetryReceiver::bind(endpoint, server);
  ASSERT_TRUE(receiver) << receiver.error();
  auto sender =
      TelemetrySender::connect(endpoint, CurveClientConfig{worker, fresh_curve_keys().public_key});
  ASSERT_TRUE(sender) << sender.error();
  TelemetryLink link = send_until_handshake_settles(**sender);
  EXPECT_EQ(link.state, LinkState::kWaiting);
  EXPECT_GE(link.dropped_handshakes, 3u);
  EXPECT_FALSE((*receiver)->receive(std::chrono::milliseconds(300)));
  EXPECT_EQ((*receiver)->rejected(), 0u)
      << "the key list is never asked: the hello did not decrypt";
}

TEST(CurveTelemetry, ABadConfigIsAnErrorNotASocket) {
  CurveServerConfig server{CurveKeyPair{"short", "keys"}, nullptr, {}};
  auto receiver = TelemetryReceiver::bind(curve_test_endpoint(), server);
  ASSERT_FALSE(receiver);
  EXPECT_NE(receiver.error().find("Z85"), std::string::npos) << receiver.error();
  auto sender = TelemetrySender::connect(curve_test_endpoint(),
                                         CurveClientConfig{fresh_curve_keys(), "short"});
  ASSERT_FALSE(sender);
  EXPECT_NE(sender.error().find("server's public key"), std::string::npos) << sender.error();
}

TEST(CurveControl, AnAllowedSubscriberHearsACancelAndAnUnknownOneDoesNot) {
  testing::TempDir dir;
  RefusalLog log;
  CurveKeyPair listed = fresh_curve_keys(), stranger = fresh_curve_keys();
  CurveServerConfig server = curve_server_allowing(dir, {listed.public_key}, &log);
  const std::string endpoint = curve_test_endpoint();
  auto publisher = ControlPublisher::bind(endpoint, server);
  ASSERT_TRUE(publisher) << publisher.error();
  auto allowed =
      ControlSubscriber::connect({endpoint}, CurveClientConfig{listed, server.keys.public_key});
  auto refused =
      ControlSubscriber::connect({endpoint}, CurveClientConfig{stranger, server.keys.public_key});
  ASSERT_TRUE(allowed && refused);
  // PUB/SUB drops messages sent before a subscription is joined: publish until heard.
  std::optional<JobControl> heard, overheard;
  for (int i = 0; i < 100 && !heard; ++i) {
    (*publisher)->publish({"job-curve", JobControl::Action::kCancel, i});
    heard = (*allowed)->receive(std::chrono::milliseconds(20));
    if (!overheard) overheard = (*refused)->receive(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(heard);
  EXPECT_EQ(heard->job_id, "job-curve");
  for (int i = 0; i < 10 && !overheard; ++i) {
    (*publisher)->publish({"job-curve", JobControl::Action::kCancel, i});
    overheard = (*refused)->receive(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(overheard) << "an unlisted subscriber hears nothing";
  auto refusals = log.all();
  ASSERT_FALSE(refusals.empty());
  EXPECT_EQ(refusals[0].socket, "control");
  EXPECT_EQ(refusals[0].public_key, stranger.public_key);
}

}  // namespace
}  // namespace synthfarm::protocol
