// Tokens, sessions and login codes against a real redis-server.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "auth/authenticator.h"
#include "auth/quota.h"
#include "auth/sessions.h"
#include "auth/tokens.h"
#include "tests/fixtures.h"

namespace synthfarm::auth {
namespace {

TEST(Secrets, TokensAreLongRandomAndPrefixed) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = random_secret(kTokenPrefix);
    ASSERT_EQ(t.size(), kTokenPrefix.size() + 64);  // 32 bytes, 256 bits, as hex
    EXPECT_EQ(t.rfind(kTokenPrefix, 0), 0u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef", kTokenPrefix.size()), std::string::npos);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(Secrets, Sha256MatchesTheStandardVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Secrets, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Roles, ParseAndOrder) {
  EXPECT_EQ(parse_role("viewer"), Role::kViewer);
  EXPECT_EQ(parse_role("submitter"), Role::kSubmitter);
  EXPECT_EQ(parse_role("admin"), Role::kAdmin);
  EXPECT_EQ(parse_role("root"), std::nullopt);
  EXPECT_LT(Role::kViewer, Role::kSubmitter);
  EXPECT_LT(Role::kSubmitter, Role::kAdmin);
  EXPECT_EQ(role_name(Role::kSubmitter), "submitter");
}

TEST(Roles, TokenNamesAreChecked) {
  EXPECT_EQ(token_name_problem("ci-bot.2_a"), std::nullopt);
  EXPECT_NE(token_name_problem(""), std::nullopt);
  EXPECT_NE(token_name_problem(std::string(65, 'a')), std::nullopt);
  auto bad = token_name_problem("a b");
  ASSERT_TRUE(bad.has_value());
  EXPECT_NE(bad->find("' '"), std::string::npos) << *bad;
}

class AuthRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = testing::RedisServer::start();
    auto endpoint = queue::RedisEndpoint::parse(server_->url());
    ASSERT_TRUE(endpoint);
    redis_ = queue::RedisClient::create(*endpoint);
  }
  // Every value stored under the prefix, to check no secret is kept in the clear.
  std::string everything_stored() {
    std::string all;
    auto keys = redis_->command({"KEYS", "sf:*"});
    for (const auto& k : keys->elements) {
      all += k.str + "\n";
      auto type = redis_->command({"TYPE", k.str});
      if (type->str == "hash") {
        auto fields = redis_->command({"HGETALL", k.str});
        for (const auto& e : fields->elements) all += e.str + "\n";
      } else if (type->str == "string") {
        all += redis_->command({"GET", k.str})->str + "\n";
      }
    }
    return all;
  }
  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<queue::RedisClient> redis_;
};

TEST_F(AuthRedisTest, CreateListRevoke) {
  TokenStore store(*redis_, "sf");
  auto token = store.create("ci-bot", Role::kSubmitter, 1234);
  ASSERT_TRUE(token) << token.error();
  auto dup = store.create("ci-bot", Role::kAdmin, 1235);
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().find("'ci-bot' exists"), std::string::npos) << dup.error();
  ASSERT_TRUE(store.create("alice", Role::kViewer, 1236));

  auto list = store.list();
  ASSERT_TRUE(list) << list.error();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alice");
  EXPECT_EQ((*list)[1].name, "ci-bot");
  EXPECT_EQ((*list)[1].role, Role::kSubmitter);
  EXPECT_EQ((*list)[1].created_ms, 1234);
  EXPECT_EQ((*list)[1].hash, sha256_hex(*token));
  // Only the hash is stored.
  EXPECT_EQ(everything_stored().find(*token), std::string::npos);

  EXPECT_EQ(store.revoke("ci-bot"), true);
  EXPECT_EQ(store.revoke("ci-bot"), false);
  EXPECT_EQ(store.list()->size(), 1u);
  // The name is free again.
  EXPECT_TRUE(store.create("ci-bot", Role::kAdmin, 1237));
}

TEST_F(AuthRedisTest, AuthenticatorFindsNewTokensAtOnceAndForgetsRevokedOnes) {
  TokenStore store(*redis_, "sf");
  Authenticator auth("sf");
  auto first = store.create("first", Role::kViewer, 1);
  ASSERT_TRUE(first);
  auto p = auth.by_token(*redis_, *first);
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->name, "first");
  EXPECT_EQ((*p)->role, Role::kViewer);
  EXPECT_FALSE((*p)->session);

  // A token made right after the table was cached is found on the first try, at once.
  auto second = store.create("second", Role::kAdmin, 2);
  p = auth.by_token(*redis_, *second);
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->role, Role::kAdmin);

  EXPECT_FALSE(auth.by_token(*redis_, "sft_0123")->has_value());
  EXPECT_FALSE(auth.by_token(*redis_, *first + "0")->has_value());

  ASSERT_TRUE(store.revoke("first"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(auth.by_token(*redis_, *first)->has_value());
}

TEST_F(AuthRedisTest, SessionsStandForTheirTokenUntilItIsRevoked) {
  TokenStore store(*redis_, "sf");
  SessionStore sessions(*redis_, "sf");
  Authenticator auth("sf");
  auto token = store.create("browser", Role::kSubmitter, 1);
  ASSERT_TRUE(token);
  auto session = sessions.create(sha256_hex(*token), std::chrono::seconds(60));
  ASSERT_TRUE(session) << session.error();
  EXPECT_EQ(session->id.size(), 64u);
  EXPECT_EQ(session->csrf.size(), 64u);
  EXPECT_NE(session->id, session->csrf);

  auto p = auth.by_session(*redis_, session->id);
  ASSERT_TRUE(p && p->has_value());
  EXPECT_EQ((*p)->name, "browser");
  EXPECT_TRUE((*p)->session);
  EXPECT_EQ((*p)->csrf, session->csrf);
  // Neither the session id nor the token is stored in the clear.
  std::string stored = everything_stored();
  EXPECT_EQ(stored.find(session->id), std::string::npos);
  EXPECT_EQ(stored.find(*token), std::string::npos);

  EXPECT_FALSE(auth.by_session(*redis_, session->id + "0")->has_value());
  ASSERT_TRUE(store.revoke("browser"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(auth.by_session(*redis_, session->id)->has_value());

  auto other = store.create("other", Role::kViewer, 2);
  auto s2 = sessions.create(sha256_hex(*other), std::chrono::seconds(60));
  ASSERT_TRUE(sessions.remove(s2->id));
  EXPECT_FALSE(auth.by_session(*redis_, s2->id)->has_value());
}

TEST_F(AuthRedisTest, SessionsExpire) {
  SessionStore sessions(*redis_, "sf");
  auto s = sessions.create("abc", std::chrono::seconds(1));
  ASSERT_TRUE(s);
  auto ttl = redis_->command({"TTL", "sf:auth:session:" + sha256_hex(s->id)});
  EXPECT_EQ(ttl->as_int(), 1);
}

TEST_F(AuthRedisTest, LoginCodesWorkOnce) {
  SessionStore sessions(*redis_, "sf");
  auto code = sessions.create_login_code("hash-of-token", std::chrono::seconds(600));
  ASSERT_TRUE(code);
  auto first = sessions.redeem_login_code(*code);
  ASSERT_TRUE(first && first->has_value());
  EXPECT_EQ(**first, "hash-of-token");
  auto again = sessions.redeem_login_code(*code);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
  EXPECT_FALSE(sessions.redeem_login_code("nonsense")->has_value());
}

TEST_F(AuthRedisTest, QuotasRefuseWithoutTakingAndResetEachHour) {
  QuotaLimits limits{3, 100};
  const int64_t t = 10 * 3600 * 1000 + 600 * 1000;  // 10:10
  for (int i = 0; i < 2; ++i) {
    auto r = take_quota(*redis_, "sf", "bot", 40, limits, t);
    ASSERT_TRUE(r) << r.error();
    EXPECT_FALSE(r->has_value());
  }
  auto samples = take_quota(*redis_, "sf", "bot", 40, limits, t);
  ASSERT_TRUE(samples && samples->has_value());
  EXPECT_NE((*samples)->message.find("80 samples"), std::string::npos) << (*samples)->message;
  EXPECT_EQ((*samples)->retry_after_s, 50 * 60);
  // Refused takes nothing: a small job still fits, then the jobs limit refuses.
  EXPECT_FALSE(take_quota(*redis_, "sf", "bot", 20, limits, t)->has_value());
  auto jobs = take_quota(*redis_, "sf", "bot", 1, limits, t);
  ASSERT_TRUE(jobs && jobs->has_value());
  EXPECT_NE((*jobs)->message.find("limit is 3"), std::string::npos) << (*jobs)->message;
  // Other tokens and the next hour have their own budgets.
  EXPECT_FALSE(take_quota(*redis_, "sf", "other", 40, limits, t)->has_value());
  EXPECT_FALSE(take_quota(*redis_, "sf", "bot", 40, limits, t + 3600 * 1000)->has_value());
  EXPECT_FALSE(take_quota(*redis_, "sf", "bot", 1000, QuotaLimits{}, t)->has_value())
      << "no limits";
}

}  // namespace
}  // namespace synthfarm::auth
