#ifndef FERSERVE_TESTS_E2E_TEST_CERTIFICATES_H_
#define FERSERVE_TESTS_E2E_TEST_CERTIFICATES_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/file_contents.h"
#include "tests/process_temp_dir.h"

namespace fer::testing {

// Certificates made with the openssl command line: a CA, a server
// certificate for localhost/127.0.0.1 and a client certificate, both signed
// by the CA.
class TestCertificates {
 public:
  TestCertificates() : dir_(ProcessTempDir() + "pki_" + std::to_string(counter_++)) {
    const std::string script =
        "set -e; mkdir -p " + dir_ + "; cd " + dir_ +
        "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj /CN=test-ca "
        "-days 1 2>/dev/null"
        "; for who in server client; do openssl req -newkey rsa:2048 -nodes -keyout $who.key "
        "-out $who.csr -subj /CN=$who 2>/dev/null; done"
        "; printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext"
        "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 1 -extfile san.ext 2>/dev/null"
        "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out client.pem -days 1 2>/dev/null";
    ok_ = std::system(script.c_str()) == 0;
  }
  ~TestCertificates() { std::system(("rm -rf " + dir_).c_str()); }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string pem(const std::string& name) const { return ReadFileContents(path(name)); }

 private:
  static inline int counter_ = 0;
  std::string dir_;
  bool ok_ = false;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_TEST_CERTIFICATES_H_
