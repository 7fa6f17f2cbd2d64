// Certificates for the cluster: an EC P-256 CA, serving certificates with SANs, client
// certificates (CN = user, O = groups), checks, HMAC and fingerprints. OpenSSL 3 EVP APIs.
// Keys and certificates travel as PEM strings.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace k3dpp::pki {

struct CertKey {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8 "PRIVATE KEY"
};

struct CertOptions {
  std::string common_name;
  std::vector<std::string> organizations;  // subject O entries (groups for client certs)
  std::vector<std::string> sans;           // IPs and DNS names, mixed; IPs are detected
  int days = 365;
  bool server_auth = false;  // extendedKeyUsage serverAuth
  bool client_auth = false;  // extendedKeyUsage clientAuth
};

// Self-signed CA (basicConstraints CA:TRUE, keyCertSign), EC P-256, SHA-256.
Result<CertKey> generate_ca(const std::string& common_name, int days = 3650);
// A leaf certificate signed by the CA, with a fresh P-256 key.
Result<CertKey> issue(const CertKey& ca, const CertOptions& options);
Result<CertKey> issue_serving(const CertKey& ca, const std::string& common_name,
                              const std::vector<std::string>& sans, int days = 365);
Result<CertKey> issue_client(const CertKey& ca, const std::string& common_name,
                             const std::vector<std::string>& organizations, int days = 365);

// Verifies cert against the CA (chain, validity period, signature) with X509_verify_cert.
Status verify(const std::string& ca_pem, const std::string& cert_pem);
// The subjectAltName entries of a certificate, as "DNS:name" / "IP:addr" (IPv6 in canonical form).
Result<std::vector<std::string>> subject_alt_names(const std::string& cert_pem);
// The SAN list an input list would produce (same normalisation as subject_alt_names), sorted.
std::vector<std::string> normalize_sans(const std::vector<std::string>& sans);
Result<std::string> common_name(const std::string& cert_pem);
Result<std::vector<std::string>> organizations(const std::string& cert_pem);
Result<std::chrono::system_clock::time_point> not_after(const std::string& cert_pem);
// Lower-case hex SHA-256 of the certificate's DER.
Result<std::string> fingerprint_sha256(const std::string& cert_pem);
// True if key_pem is the private key of cert_pem.
bool key_matches(const std::string& cert_pem, const std::string& key_pem);

// Lower-case hex HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Compares in time independent of where the strings differ (length leaks, contents do not).
bool constant_time_equal(std::string_view a, std::string_view b);
// True if s is an IPv4 or IPv6 literal.
bool is_ip(const std::string& s);

}  // namespace k3dpp::pki
