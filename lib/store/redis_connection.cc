#include "lib/store/redis_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace fer {
namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buffer[256];
  ERR_error_string_n(e, buffer, sizeof(buffer));
  ERR_clear_error();
  return buffer;
}

RedisReply Convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::kString;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::kArray;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::kInteger;
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::kStatus;
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::kError;
      break;
    default:
      out.type = RedisReply::kNil;
      break;
  }
  if (r->str != nullptr) out.str.assign(r->str, r->len);
  out.integer = r->integer;
  for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
  return out;
}

// Blocks SIGPIPE on this thread while alive, discarding one raised meanwhile:
// a write to a peer that went away must fail with EPIPE, not kill the process.
// (OpenSSL writes with write(2), which has no MSG_NOSIGNAL.)
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending_);
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!sigismember(&pending_, SIGPIPE)) {
      sigset_t now;
      sigpending(&now);
      if (sigismember(&now, SIGPIPE)) {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        const timespec zero = {0, 0};
        sigtimedwait(&pipe, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pending_;
  sigset_t old_;
};

bool IsIpAddress(const std::string& host) {
  in6_addr addr;
  return inet_pton(AF_INET, host.c_str(), &addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

// A TCP connection to host:port (the first of its addresses that accepts
// within `timeout`); the socket is non-blocking. The error says why not.
absl::StatusOr<int> ConnectTcp(const std::string& host, int port, absl::Duration timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &addresses);
  if (gai != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve host: ", gai_strerror(gai)));
  }
  const int timeout_ms = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
  std::string error = "no address";
  int connected = -1;
  for (addrinfo* a = addresses; a != nullptr && connected < 0; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      do {
        rc = poll(&p, 1, timeout_ms);
      } while (rc < 0 && errno == EINTR);
      if (rc <= 0) {
        error = rc == 0 ? absl::StrCat("connect timed out after ", timeout_ms, " ms")
                        : absl::StrCat("poll: ", std::strerror(errno));
        close(fd);
        continue;
      }
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (rc != 0) {
      error = absl::StrCat("connect: ", std::strerror(errno));
      close(fd);
      continue;
    }
    connected = fd;
  }
  freeaddrinfo(addresses);
  if (connected < 0) return absl::UnavailableError(error);
  return connected;
}

// Blocking I/O on `fd`, each send and receive bounded by `timeout`, without
// Nagle's delay.
void UseBlockingIoWithTimeout(int fd, absl::Duration timeout) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int64_t us = std::max<int64_t>(1000, absl::ToInt64Microseconds(timeout));
  timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

std::string RedisEndpoint::Describe() const {
  return absl::StrCat(tls ? "rediss://" : "redis://", host, ":", port, "/", db);
}

RedisConnection::RedisConnection(const RedisEndpoint& endpoint) : endpoint_(endpoint) {}

RedisConnection::~RedisConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ssl_ctx_ != nullptr) SSL_CTX_free(ssl_ctx_);
  if (fd_ >= 0) close(fd_);
  if (reader_ != nullptr) redisReaderFree(reader_);
}

absl::Status RedisConnection::Fail(absl::string_view what) {
  broken_ = true;
  return absl::UnavailableError(
      absl::StrCat("profile store ", endpoint_.Describe(), " unavailable: ", what));
}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const RedisEndpoint& endpoint) {
  std::unique_ptr<RedisConnection> c(new RedisConnection(endpoint));
  if (absl::Status s = c->Open(); !s.ok()) return s;
  if (!endpoint.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!endpoint.user.empty()) auth.push_back(endpoint.user);
    auth.push_back(endpoint.password);
    auto reply = c->Command(auth);
    if (!reply.ok()) return reply.status();
    if (reply->type == RedisReply::kError) {
      return absl::PermissionDeniedError(absl::StrCat("profile store ", endpoint.Describe(),
                                                      " refused the password: ", reply->str));
    }
  }
  auto reply = c->Command({"SELECT", std::to_string(endpoint.db)});
  if (!reply.ok()) return reply.status();
  if (reply->type == RedisReply::kError) {
    const bool auth = reply->str.rfind("NOAUTH", 0) == 0;
    const std::string message = absl::StrCat("profile store ", endpoint.Describe(), " refused ",
                                             auth ? "access" : "SELECT", ": ", reply->str);
    return auth ? absl::PermissionDeniedError(message) : absl::FailedPreconditionError(message);
  }
  return c;
}

absl::Status RedisConnection::Open() {
  reader_ = redisReaderCreate();
  if (reader_ == nullptr) return absl::ResourceExhaustedError("cannot allocate a Redis reader");
  absl::StatusOr<int> fd = ConnectTcp(endpoint_.host, endpoint_.port, endpoint_.connect_timeout);
  if (!fd.ok()) return Fail(fd.status().message());
  fd_ = *fd;
  UseBlockingIoWithTimeout(fd_, endpoint_.command_timeout);
  return endpoint_.tls ? StartTls() : absl::OkStatus();
}

// Verifies the server's certificate (against the endpoint's CA file or the
// system's) and its name, and presents the client certificate if one is set.
absl::Status RedisConnection::StartTls() {
  ssl_ctx_ = SSL_CTX_new(TLS_client_method());
  if (ssl_ctx_ == nullptr) return Fail(OpenSslError());
  SSL_CTX_set_min_proto_version(ssl_ctx_, TLS1_2_VERSION);
  SSL_CTX_set_verify(ssl_ctx_, SSL_VERIFY_PEER, nullptr);
  const int ca_ok =
      endpoint_.tls_ca_file.empty()
          ? SSL_CTX_set_default_verify_paths(ssl_ctx_)
          : SSL_CTX_load_verify_locations(ssl_ctx_, endpoint_.tls_ca_file.c_str(), nullptr);
  if (ca_ok != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load TLS CA file '", endpoint_.tls_ca_file, "': ", OpenSslError()));
  }
  if (!endpoint_.tls_cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(ssl_ctx_, endpoint_.tls_cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ssl_ctx_, endpoint_.tls_key_file.c_str(), SSL_FILETYPE_PEM) !=
           1)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load TLS client certificate '", endpoint_.tls_cert_file, "' / key '",
                     endpoint_.tls_key_file, "': ", OpenSslError()));
  }
  ssl_ = SSL_new(ssl_ctx_);
  if (ssl_ == nullptr) return Fail(OpenSslError());
  SSL_set_fd(ssl_, fd_);
  const std::string& name =
      endpoint_.tls_server_name.empty() ? endpoint_.host : endpoint_.tls_server_name;
  if (IsIpAddress(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set1_host(ssl_, name.c_str());
  }
  ScopedSigpipeBlock no_sigpipe;
  if (SSL_connect(ssl_) != 1) {
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      broken_ = true;
      return absl::FailedPreconditionError(
          absl::StrCat("profile store ", endpoint_.Describe(),
                       ": TLS certificate rejected: ", X509_verify_cert_error_string(verify)));
    }
    return Fail(absl::StrCat("TLS handshake failed: ", OpenSslError()));
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::WriteAll(const std::string& data) {
  ScopedSigpipeBlock no_sigpipe;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n;
    if (ssl_ != nullptr) {
      n = SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done));
      if (n <= 0) return Fail(absl::StrCat("TLS write failed: ", OpenSslError()));
    } else {
      n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return Fail(errno == EAGAIN || errno == EWOULDBLOCK
                        ? std::string("write timed out")
                        : absl::StrCat("write: ", std::strerror(errno)));
      }
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisReply> RedisConnection::ReadReply() {
  char buffer[16384];
  while (true) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
      return Fail("malformed reply (protocol error)");
    }
    if (raw != nullptr) {
      RedisReply reply = Convert(static_cast<redisReply*>(raw));
      freeReplyObject(raw);
      return reply;
    }
    ssize_t n;
    if (ssl_ != nullptr) {
      n = SSL_read(ssl_, buffer, sizeof(buffer));
      if (n <= 0) {
        const int err = SSL_get_error(ssl_, static_cast<int>(n));
        if (err == SSL_ERROR_ZERO_RETURN) return Fail("connection closed by the server");
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return Fail(absl::StrCat("command timed out after ",
                                   absl::FormatDuration(endpoint_.command_timeout)));
        }
        return Fail(absl::StrCat("TLS read failed: ", OpenSslError()));
      }
    } else {
      n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return Fail("connection closed by the server");
      if (n < 0) {
        return Fail(errno == EAGAIN || errno == EWOULDBLOCK
                        ? absl::StrCat("command timed out after ",
                                       absl::FormatDuration(endpoint_.command_timeout))
                        : absl::StrCat("read: ", std::strerror(errno)));
      }
    }
    if (redisReaderFeed(reader_, buffer, static_cast<size_t>(n)) != REDIS_OK) {
      return Fail("malformed reply (protocol error)");
    }
  }
}

absl::StatusOr<std::vector<RedisReply>> RedisConnection::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  if (broken_) return Fail("connection is broken");
  std::string out;
  for (const std::vector<std::string>& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    char* formatted = nullptr;
    const int len = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), argv.data(),
                                           lengths.data());
    if (len < 0) return absl::ResourceExhaustedError("cannot format a Redis command");
    out.append(formatted, static_cast<size_t>(len));
    redisFreeCommand(formatted);
  }
  if (absl::Status s = WriteAll(out); !s.ok()) return s;
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    auto reply = ReadReply();
    if (!reply.ok()) return reply.status();
    replies.push_back(std::move(*reply));
  }
  return replies;
}

absl::StatusOr<RedisReply> RedisConnection::Command(const std::vector<std::string>& args) {
  auto replies = Pipeline({args});
  if (!replies.ok()) return replies.status();
  return std::move(replies->front());
}

}  // namespace fer
