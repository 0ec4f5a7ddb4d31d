#include "lib/store/redis_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "lib/store/profile_store.h"
#include "tests/poll_until.h"
#include "tests/store/hooked_backend.h"
#include "tests/store/profile_store_contract.h"
#include "tests/store/redis_server.h"

namespace fer::testing {
namespace {

std::unique_ptr<KvProfileStore> OpenRedis(const std::string& url,
                                          const ProfileStoreOptions& options = {}) {
  RedisEndpoint endpoint;
  EXPECT_TRUE(ParseRedisUrl(url, &endpoint).ok());
  endpoint.connect_timeout = options.connect_timeout;
  endpoint.command_timeout = options.command_timeout;
  return std::make_unique<KvProfileStore>(std::make_unique<RedisBackend>(endpoint, 4), options);
}

// One redis-server per test; every Open is an independent client.
class RedisEnv {
 public:
  static constexpr bool kIndependentInstances = true;
  RedisEnv() { EXPECT_TRUE(server_.ok()) << "redis-server did not start"; }
  KvProfileStore* Open(const ProfileStoreOptions& options) {
    stores_.push_back(OpenRedis(server_.url(), options));
    return stores_.back().get();
  }

 private:
  RedisServer server_;
  std::vector<std::unique_ptr<KvProfileStore>> stores_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Redis, ProfileStoreContract, RedisEnv);

TEST(RedisStoreTest, APutThatRacesAResealStillCommits) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  ProfileStoreOptions old_key;
  old_key.cipher = TestCipher('o', "key-2025");
  ASSERT_TRUE(OpenRedis(server.url(), old_key)->Put(SampleProfile("acme", "alice"), 0).ok());
  const ProfileStoreOptions options = RotatedKeyOptions();
  auto other_replica = OpenRedis(server.url(), options);
  RedisEndpoint endpoint;
  ASSERT_TRUE(ParseRedisUrl(server.url(), &endpoint).ok());
  auto backend = std::make_unique<HookedBackend>(std::make_shared<RedisBackend>(endpoint, 4));
  HookedBackend* hooks = backend.get();
  KvProfileStore store(std::move(backend), options);
  // The meta record is resealed (same version, new bytes) between the
  // Put's WATCH and its EXEC, so the first EXEC is refused.
  hooks->RunOnceInNextTransact(HookedBackend::When::kInsideTransact, [&] {
    auto report = other_replica->Reseal(NeverStop);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->resealed, 3);
  });
  auto version = store.Put(SampleProfile("acme", "alice", "weights-v2"), 1);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 2u);
  EXPECT_FALSE(hooks->hook_pending());
  EXPECT_EQ(store.Get("acme", "alice")->translator, "weights-v2");
  // A real conflict is still one.
  EXPECT_EQ(store.Put(SampleProfile("acme", "alice"), 1).status().code(),
            absl::StatusCode::kAborted);
}

TEST(RedisUrlTest, Parses) {
  RedisEndpoint e;
  ASSERT_TRUE(ParseRedisUrl("redis://10.0.0.5:7000/3", &e).ok());
  EXPECT_EQ(e.host, "10.0.0.5");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.db, 3);
  EXPECT_FALSE(e.tls);
  EXPECT_EQ(e.Describe(), "redis://10.0.0.5:7000/3");

  e = RedisEndpoint();
  ASSERT_TRUE(ParseRedisUrl("rediss://app:p%40ss@cache.internal", &e).ok());
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.user, "app");
  EXPECT_EQ(e.password, "p@ss");
  EXPECT_EQ(e.host, "cache.internal");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(e.db, 0);
  EXPECT_FALSE(absl::StrContains(e.Describe(), "p@ss"));

  e = RedisEndpoint();
  ASSERT_TRUE(ParseRedisUrl("redis://:secret@[::1]:6380/1", &e).ok());
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.password, "secret");
  EXPECT_TRUE(e.user.empty());

  for (const char* bad : {"http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x/1",
                          "redis://h/abc", "redis://h%zz@x"}) {
    EXPECT_EQ(ParseRedisUrl(bad, &e).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RedisStoreTest, OpenedByUrl) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  auto store = OpenProfileStore(server.url(), {});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Describe(), server.url());
  ASSERT_TRUE((*store)->Put(SampleProfile("acme", "alice"), 0).ok());
  EXPECT_EQ((*store)->Get("acme", "alice")->translator, "weights-v1");
}

TEST(RedisStoreTest, PasswordIsRequiredAndChecked) {
  RedisServer server({"--requirepass", "s3cret"});
  const std::string base = "127.0.0.1:" + std::to_string(server.port()) + "/0";
  auto good = OpenRedis("redis://:s3cret@" + base);
  ASSERT_TRUE(PollUntil([&] { return good->Ping().ok(); }, std::chrono::seconds(2)));
  ASSERT_TRUE(good->Put(SampleProfile("acme", "alice"), 0).ok());

  auto wrong = OpenRedis("redis://:nope@" + base);
  auto got = wrong->Get("acme", "alice");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied) << got.status();
  auto none = OpenRedis("redis://" + base);
  got = none->Get("acme", "alice");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied) << got.status();
  ProfileStoreOptions options;
  options.redis_password = "s3cret";
  auto by_option = OpenProfileStore("redis://" + base, options);
  EXPECT_TRUE((*by_option)->Get("acme", "alice").ok());
}

TEST(RedisStoreTest, StoreDownIsUnavailableAndRecoversAfterRestart) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  ProfileStoreOptions options;
  options.connect_timeout = absl::Milliseconds(300);
  options.command_timeout = absl::Milliseconds(500);
  auto store = OpenRedis(server.url(), options);
  ASSERT_TRUE(store->Put(SampleProfile("acme", "alice"), 0).ok());

  server.Stop();
  const std::string where = "127.0.0.1:" + std::to_string(server.port());
  auto got = store->Get("acme", "alice");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(got.status().message(), where)) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "unavailable")) << got.status();
  auto put = store->Put(SampleProfile("acme", "bob"), 0);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  auto append = store->AppendFeatures("acme", "bob", {{1, 2, 3, 4}});
  EXPECT_EQ(append.status().code(), absl::StatusCode::kUnavailable) << append.status();
  EXPECT_EQ(store->Delete("acme", "alice").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->ListKeys("fer/").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store->Ping().code(), absl::StatusCode::kUnavailable);

  server.Start();  // Same port, empty (no persistence).
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE(store->Ping().ok());
  EXPECT_EQ(store->Get("acme", "alice").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store->Put(SampleProfile("acme", "alice"), 0).ok());
  EXPECT_TRUE(store->Get("acme", "alice").ok());
}

TEST(RedisStoreTest, OpensWhileDownAndWorksOnceUp) {
  RedisServer server;
  server.Stop();
  ProfileStoreOptions options;
  options.connect_timeout = absl::Milliseconds(300);
  auto store = OpenProfileStore(server.url(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Ping().code(), absl::StatusCode::kUnavailable);
  server.Start();
  ASSERT_TRUE(server.ok());
  EXPECT_TRUE((*store)->Ping().ok());
}

TEST(RedisStoreTest, RestartUnderTrafficNeverCrashesAndRecovers) {
  RedisServer server;
  ASSERT_TRUE(server.ok());
  ProfileStoreOptions options;
  options.connect_timeout = absl::Milliseconds(200);
  options.command_timeout = absl::Milliseconds(500);
  options.max_features = 1000;
  auto a = OpenRedis(server.url(), options);
  auto b = OpenRedis(server.url(), options);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> unavailable{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      KvProfileStore* store = t % 2 ? a.get() : b.get();
      const std::string user = "user" + std::to_string(t % 2);
      while (!stop) {
        absl::Status s = t < 2 ? store->AppendFeatures("acme", user, {{1, 2}}).status()
                               : store->Get("acme", user).status();
        if (s.ok() || absl::IsNotFound(s)) {
          ++ok;
        } else if (absl::IsUnavailable(s)) {
          ++unavailable;
        } else {
          ++other;
          ADD_FAILURE() << s;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.Stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.Start();
  ASSERT_TRUE(server.ok());
  const int ok_at_restart = ok.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  for (std::thread& t : threads) t.join();
  EXPECT_GT(unavailable.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), ok_at_restart);  // Traffic resumed after the restart.
  EXPECT_TRUE(a->AppendFeatures("acme", "user0", {{3, 4}}).ok());
}

// Makes a CA and a server certificate for 127.0.0.1 under `dir` (openssl
// command line); false when that fails.
bool MakeTlsFiles(const std::string& dir, const std::string& ca_name) {
  const std::string script =
      "set -e; cd '" + dir +
      "'; "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-keyout " +
      ca_name + ".key -out " + ca_name + ".crt -days 1 -subj /CN=" + ca_name +
      " 2>/dev/null; "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null; "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > san.ext; "
      "openssl x509 -req -in server.csr -CA " +
      ca_name + ".crt -CAkey " + ca_name +
      ".key -CAcreateserial -out server.crt -days 1 -extfile san.ext 2>/dev/null";
  return std::system(("bash -c \"" + script + "\"").c_str()) == 0;
}

TEST(RedisStoreTest, TlsWithCaFile) {
  const std::string dir =
      std::string(::testing::TempDir()) + "redis_tls_" + std::to_string(FreePort());
  std::system(("mkdir -p '" + dir + "'").c_str());
  ASSERT_TRUE(MakeTlsFiles(dir, "ca"));
  ASSERT_EQ(std::system(("bash -c \"cd '" + dir +
                         "' && openssl req -x509 -newkey ec -pkeyopt "
                         "ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out "
                         "other.crt -days 1 -subj /CN=other 2>/dev/null\"")
                            .c_str()),
            0);
  const int tls_port = FreePort();
  RedisServer server({"--tls-port", std::to_string(tls_port), "--tls-cert-file",
                      dir + "/server.crt", "--tls-key-file", dir + "/server.key",
                      "--tls-ca-cert-file", dir + "/ca.crt", "--tls-auth-clients", "no"});
  ASSERT_TRUE(server.ok());
  const std::string url = "rediss://127.0.0.1:" + std::to_string(tls_port) + "/0";
  ProfileStoreOptions options;
  options.tls_ca_file = dir + "/ca.crt";
  auto store = OpenProfileStore(url, options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Ping().ok()) << (*store)->Ping();
  ASSERT_TRUE((*store)->Put(SampleProfile("acme", "alice"), 0).ok());
  EXPECT_EQ((*store)->Get("acme", "alice")->translator, "weights-v1");

  // A server certificate from another CA is refused.
  options.tls_ca_file = dir + "/other.crt";
  auto untrusting = OpenProfileStore(url, options);
  const absl::Status ping = (*untrusting)->Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kFailedPrecondition) << ping;
  EXPECT_TRUE(absl::StrContains(ping.message(), "certificate")) << ping;
  // A plain client on the TLS port gets no answer it can use.
  options.command_timeout = absl::Milliseconds(300);
  auto plain = OpenProfileStore("redis://127.0.0.1:" + std::to_string(tls_port) + "/0", options);
  EXPECT_EQ((*plain)->Ping().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace fer::testing
