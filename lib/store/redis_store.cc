#include "lib/store/redis_store.h"

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fer {
namespace {

absl::Status BadUrl(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("bad Redis store URL: ", why));
}

absl::StatusOr<std::string> PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= s.size()) return BadUrl("truncated %-escape");
    if (!absl::SimpleHexAtoi(s.substr(i + 1, 2), &value)) return BadUrl("bad %-escape");
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

// Escapes glob characters so that SCAN MATCH takes `prefix` literally.
std::string GlobEscape(absl::string_view prefix) {
  std::string out;
  for (const char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

absl::Status ParseRedisUrl(absl::string_view url, RedisEndpoint* endpoint) {
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "rediss://")) {
    endpoint->tls = true;
  } else if (absl::ConsumePrefix(&rest, "redis://")) {
    endpoint->tls = false;
  } else {
    return BadUrl("expected redis:// or rediss://");
  }
  absl::string_view path;
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (const size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = credentials.find(':');
    if (colon == absl::string_view::npos) {
      auto password = PercentDecode(credentials);  // redis://password@host
      if (!password.ok()) return password.status();
      endpoint->password = *password;
    } else {
      auto user = PercentDecode(credentials.substr(0, colon));
      auto password = PercentDecode(credentials.substr(colon + 1));
      if (!user.ok()) return user.status();
      if (!password.ok()) return password.status();
      endpoint->user = *user;
      endpoint->password = *password;
    }
  }
  absl::string_view host = rest;
  endpoint->port = 6379;
  if (absl::ConsumePrefix(&host, "[")) {  // [ipv6]:port
    const size_t close = host.find(']');
    if (close == absl::string_view::npos) return BadUrl("unclosed [ in host");
    absl::string_view after = host.substr(close + 1);
    host = host.substr(0, close);
    if (absl::ConsumePrefix(&after, ":") && !absl::SimpleAtoi(after, &endpoint->port)) {
      return BadUrl(absl::StrCat("bad port '", after, "'"));
    }
  } else if (const size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    if (!absl::SimpleAtoi(host.substr(colon + 1), &endpoint->port)) {
      return BadUrl(absl::StrCat("bad port '", host.substr(colon + 1), "'"));
    }
    host = host.substr(0, colon);
  }
  if (host.empty()) return BadUrl("missing host");
  if (endpoint->port <= 0 || endpoint->port > 65535) return BadUrl("port out of range");
  endpoint->host = std::string(host);
  endpoint->db = 0;
  if (!path.empty() && (!absl::SimpleAtoi(path, &endpoint->db) || endpoint->db < 0)) {
    return BadUrl(absl::StrCat("bad database number '", path, "'"));
  }
  return absl::OkStatus();
}

RedisBackend::RedisBackend(const RedisEndpoint& endpoint, int max_idle_connections)
    : endpoint_(endpoint), max_idle_(max_idle_connections) {}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisBackend::Acquire(bool* reused) {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<RedisConnection> c = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return c;
    }
  }
  *reused = false;
  return RedisConnection::Connect(endpoint_);
}

void RedisBackend::Release(std::unique_ptr<RedisConnection> connection) {
  absl::MutexLock lock(&mu_);
  if (connection->broken()) {
    idle_.clear();  // The server likely went away for all of them.
    return;
  }
  if (static_cast<int>(idle_.size()) < max_idle_) idle_.push_back(std::move(connection));
}

absl::Status RedisBackend::WithConnection(
    const std::function<absl::Status(RedisConnection&, bool* retry_ok)>& op) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto connection = Acquire(&reused);
    if (!connection.ok()) return connection.status();
    bool retry_ok = true;
    absl::Status status = op(**connection, &retry_ok);
    const bool broken = (*connection)->broken();
    Release(std::move(*connection));
    if (status.ok() || !broken || !reused || !retry_ok || attempt > 0) return status;
  }
}

absl::Status RedisBackend::ReplyError(const RedisReply& reply, absl::string_view command) const {
  const std::string message =
      absl::StrCat("profile store ", endpoint_.Describe(), ": ", command, " failed: ", reply.str);
  if (absl::StartsWith(reply.str, "LOADING") || absl::StartsWith(reply.str, "BUSY") ||
      absl::StartsWith(reply.str, "MASTERDOWN") || absl::StartsWith(reply.str, "TRYAGAIN")) {
    return absl::UnavailableError(message);
  }
  if (absl::StartsWith(reply.str, "NOAUTH") || absl::StartsWith(reply.str, "NOPERM") ||
      absl::StartsWith(reply.str, "WRONGPASS")) {
    return absl::PermissionDeniedError(message);
  }
  if (absl::StartsWith(reply.str, "OOM") || absl::StartsWith(reply.str, "READONLY")) {
    return absl::ResourceExhaustedError(message);
  }
  return absl::InternalError(message);
}

absl::Status RedisBackend::Ping() {
  return WithConnection([&](RedisConnection& c, bool*) -> absl::Status {
    auto reply = c.Command({"PING"});
    if (!reply.ok()) return reply.status();
    if (reply->type == RedisReply::kError) return ReplyError(*reply, "PING");
    return absl::OkStatus();
  });
}

absl::StatusOr<RedisReply> RedisBackend::RawCommand(const std::vector<std::string>& args) {
  RedisReply out;
  absl::Status status = WithConnection([&](RedisConnection& c, bool*) -> absl::Status {
    auto reply = c.Command(args);
    if (!reply.ok()) return reply.status();
    out = std::move(*reply);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<std::optional<std::string>>> RedisBackend::MultiGet(
    const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> values;
  absl::Status status = WithConnection([&](RedisConnection& c, bool*) -> absl::Status {
    std::vector<std::string> args = {"MGET"};
    args.insert(args.end(), keys.begin(), keys.end());
    auto reply = c.Command(args);
    if (!reply.ok()) return reply.status();
    if (reply->type == RedisReply::kError) return ReplyError(*reply, "MGET");
    if (reply->type != RedisReply::kArray || reply->elements.size() != keys.size()) {
      return absl::InternalError("unexpected MGET reply");
    }
    values.clear();
    for (RedisReply& e : reply->elements) {
      if (e.type == RedisReply::kString) {
        values.emplace_back(std::move(e.str));
      } else {
        values.emplace_back(std::nullopt);
      }
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return values;
}

absl::Status RedisBackend::Transact(const std::string& guard_key, Decide decide) {
  return WithConnection([&](RedisConnection& c, bool* retry_ok) -> absl::Status {
    auto read = c.Pipeline({{"WATCH", guard_key}, {"GET", guard_key}});
    if (!read.ok()) return read.status();
    if ((*read)[0].type == RedisReply::kError) return ReplyError((*read)[0], "WATCH");
    if ((*read)[1].type == RedisReply::kError) return ReplyError((*read)[1], "GET");
    std::optional<std::string> guard;
    if ((*read)[1].type == RedisReply::kString) guard = std::move((*read)[1].str);
    // From here a failure may come after EXEC was sent: not retried blindly.
    *retry_ok = false;
    auto writes = decide(guard);
    if (!writes.ok()) {
      auto unwatch = c.Command({"UNWATCH"});
      return writes.status();
    }
    std::vector<std::vector<std::string>> commands = {{"MULTI"}};
    for (KvWrite& w : *writes) {
      if (w.value.has_value()) {
        commands.push_back({"SET", w.key, *w.value});
      } else {
        commands.push_back({"DEL", w.key});
      }
    }
    commands.push_back({"EXEC"});
    auto replies = c.Pipeline(commands);
    if (!replies.ok()) return replies.status();
    for (size_t i = 0; i + 1 < replies->size(); ++i) {
      if ((*replies)[i].type == RedisReply::kError) {
        return ReplyError((*replies)[i], commands[i][0]);
      }
    }
    const RedisReply& exec = replies->back();
    if (exec.type == RedisReply::kNil) {
      return absl::AbortedError(
          absl::StrCat("concurrent update of ", guard_key, "; transaction not applied"));
    }
    if (exec.type == RedisReply::kError) return ReplyError(exec, "EXEC");
    for (const RedisReply& e : exec.elements) {
      if (e.type == RedisReply::kError) return ReplyError(e, "EXEC");
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::string>> RedisBackend::ScanKeys(absl::string_view prefix) {
  std::set<std::string> keys;
  const std::string pattern = GlobEscape(prefix) + "*";
  absl::Status status = WithConnection([&](RedisConnection& c, bool*) -> absl::Status {
    keys.clear();
    std::string cursor = "0";
    do {
      auto reply = c.Command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (!reply.ok()) return reply.status();
      if (reply->type == RedisReply::kError) return ReplyError(*reply, "SCAN");
      if (reply->type != RedisReply::kArray || reply->elements.size() != 2) {
        return absl::InternalError("unexpected SCAN reply");
      }
      cursor = reply->elements[0].str;
      for (RedisReply& k : reply->elements[1].elements) keys.insert(std::move(k.str));
    } while (cursor != "0");
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return std::vector<std::string>(keys.begin(), keys.end());
}

}  // namespace fer
