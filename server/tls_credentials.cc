#include "server/tls_credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/files/file_contents.h"
#include "lib/model/status_macros.h"

namespace fer {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of a PEM chain or bundle; null when there is none.
std::unique_ptr<X509, X509Free> FirstCertificate(const std::string& pem) {
  return std::unique_ptr<X509, X509Free>(
      PEM_read_bio_X509(MemoryBio(pem).get(), nullptr, nullptr, nullptr));
}

// The three files' contents, checked.
struct Contents {
  std::string cert;
  std::string key;
  std::string client_ca;
};

absl::Status CheckIdentity(const Contents& pems, const TlsFiles& files) {
  const std::unique_ptr<X509, X509Free> cert = FirstCertificate(pems.cert);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_cert_file ", files.cert, " holds no PEM certificate"));
  }
  const std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(MemoryBio(pems.key).get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key_file ", files.key, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("the certificate in --tls_cert_file ",
                                                   files.cert, " is not for the key in ",
                                                   "--tls_key_file ", files.key));
  }
  return absl::OkStatus();
}

absl::StatusOr<Contents> ReadChecked(const TlsFiles& files) {
  Contents pems;
  FER_ASSIGN_OR_RETURN(pems.cert, ReadFileContents(files.cert, "--tls_cert_file"));
  FER_ASSIGN_OR_RETURN(pems.key, ReadFileContents(files.key, "--tls_key_file"));
  FER_RETURN_IF_ERROR(CheckIdentity(pems, files));
  if (!files.client_ca.empty()) {
    FER_ASSIGN_OR_RETURN(pems.client_ca, ReadFileContents(files.client_ca, "--tls_client_ca_file"));
    if (FirstCertificate(pems.client_ca) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls_client_ca_file ", files.client_ca, " holds no PEM certificate"));
    }
  }
  return pems;
}

// One string that differs whenever any of the files does.
std::string Fingerprint(const Contents& pems) {
  return absl::StrCat(pems.cert.size(), ":", pems.cert, pems.key.size(), ":", pems.key,
                      pems.client_ca);
}

absl::StatusOr<std::string> MakePrivateFolder() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/ferserve-tls-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create a folder like ", pattern));
  }
  return pattern;  // mkdtemp makes it mode 0700
}

}  // namespace

TlsCredentials::TlsCredentials(TlsFiles files, const Log& log)
    : files_(std::move(files)), log_(log), refusals_(log) {}

absl::StatusOr<std::unique_ptr<TlsCredentials>> TlsCredentials::Create(
    const TlsFiles& files, absl::Duration reload_interval, const Log& log) {
  FER_ASSIGN_OR_RETURN(const Contents pems, ReadChecked(files));
  std::unique_ptr<TlsCredentials> tls(new TlsCredentials(files, log));
  const bool mutual = !files.client_ca.empty();
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  if (reload_interval > absl::ZeroDuration()) {
    FER_ASSIGN_OR_RETURN(tls->folder_, MakePrivateFolder());
    FER_RETURN_IF_ERROR(tls->Publish(pems.cert, pems.key, pems.client_ca));
    // gRPC reads the published copies every second; they change only when a
    // checked set is published.
    const std::string current = tls->folder_ + "/current/";
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        current + "key.pem", current + "cert.pem", mutual ? current + "ca.pem" : "", 1);
    tls->reloader_ =
        std::make_unique<PeriodicTask>(reload_interval, [raw = tls.get()] { raw->Reload(); });
  } else {
    provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
        pems.client_ca,
        std::vector<grpc::experimental::IdentityKeyCertPair>{{pems.key, pems.cert}});
  }
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (mutual) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(options);
  return tls;
}

TlsCredentials::~TlsCredentials() {
  reloader_.reset();
  if (!folder_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }
}

// Copies a checked set into a new generation folder and points "current" at
// it with one rename, so that gRPC never reads a key and a certificate of
// different sets for long: a read that straddles the switch is corrected at
// its next read. The generation before the previous one is removed.
absl::Status TlsCredentials::Publish(const std::string& cert, const std::string& key,
                                     const std::string& client_ca) {
  const std::string name = std::to_string(++generation_);
  const std::string dir = folder_ + "/" + name;
  if (::mkdir(dir.c_str(), 0700) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", dir));
  }
  FER_RETURN_IF_ERROR(WriteFileAtomically(dir + "/cert.pem", cert));
  FER_RETURN_IF_ERROR(WriteFileAtomically(dir + "/key.pem", key));
  if (!client_ca.empty()) FER_RETURN_IF_ERROR(WriteFileAtomically(dir + "/ca.pem", client_ca));
  const std::string link = folder_ + "/current";
  const std::string temp_link = link + ".new";
  ::unlink(temp_link.c_str());
  if (::symlink(name.c_str(), temp_link.c_str()) != 0 ||
      ::rename(temp_link.c_str(), link.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot point ", link, " at ", dir));
  }
  std::error_code ignored;
  std::filesystem::remove_all(folder_ + "/" + std::to_string(generation_ - 2), ignored);
  published_ = Fingerprint({cert, key, client_ca});
  return absl::OkStatus();
}

void TlsCredentials::Reload() {
  absl::StatusOr<Contents> pems = ReadChecked(files_);
  if (!pems.ok()) {
    refusals_.Report("TLS files not reloaded, serving the previous ones: ",
                     pems.status().message());
    return;
  }
  refusals_.Clear();
  if (Fingerprint(*pems) == published_) return;
  if (absl::Status published = Publish(pems->cert, pems->key, pems->client_ca); !published.ok()) {
    log_(absl::StrCat("TLS files not reloaded: ", published.message()));
    return;
  }
  log_(absl::StrCat("TLS certificates reloaded from ", files_.cert));
}

}  // namespace fer
