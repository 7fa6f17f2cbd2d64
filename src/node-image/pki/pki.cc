#include "pki/pki.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <memory>

namespace k3dpp::pki {

namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::string ossl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<X509Ptr> parse_cert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x) return fail("cannot parse certificate: " + ossl_error());
  return x;
}

Result<KeyPtr> parse_key(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr k(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!k) return fail("cannot parse private key: " + ossl_error());
  return k;
}

Result<KeyPtr> new_key() {
  KeyPtr k(EVP_EC_gen("P-256"));
  if (!k) return fail("cannot generate an EC P-256 key: " + ossl_error());
  return k;
}

Result<CertKey> to_pem(X509* x, EVP_PKEY* key) {
  BioPtr cb(BIO_new(BIO_s_mem()));
  BioPtr kb(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cb.get(), x) != 1) return fail("cannot write certificate PEM: " + ossl_error());
  if (PEM_write_bio_PrivateKey(kb.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return fail("cannot write key PEM: " + ossl_error());
  return CertKey{bio_string(cb.get()), bio_string(kb.get())};
}

Status add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return fail("cannot build extension " + value + ": " + ossl_error());
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return fail("cannot add extension: " + ossl_error());
  return {};
}

// A certificate skeleton: version 3, random positive 127-bit serial, validity, subject, pubkey.
Result<X509Ptr> new_cert(const std::string& cn, const std::vector<std::string>& orgs, int days,
                         EVP_PKEY* key) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return fail("RAND_bytes failed");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);  // tolerate clock skew between nodes
  X509_time_adj_ex(X509_getm_notAfter(x.get()), days, 0, nullptr);
  X509_NAME* name = X509_get_subject_name(x.get());
  for (const auto& o : orgs)
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1)
    return fail("invalid common name " + cn);
  X509_set_pubkey(x.get(), key);
  return x;
}

std::string normalize_ip(const std::string& s) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    inet_ntop(AF_INET, buf, out, sizeof out);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    inet_ntop(AF_INET6, buf, out, sizeof out);
    return out;
  }
  return s;
}

bool valid_dns_san(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '*' ||
           c == '_';
  });
}

}  // namespace

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::vector<std::string> normalize_sans(const std::vector<std::string>& sans) {
  std::vector<std::string> out;
  for (const auto& s : sans) {
    std::string e;
    if (is_ip(s)) {
      e = "IP:" + normalize_ip(s);
    } else if (valid_dns_san(s)) {
      e = "DNS:" + s;
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<CertKey> generate_ca(const std::string& cn, int days) {
  auto key = new_key();
  if (!key) return unexpected(key.error());
  auto x = new_cert(cn, {}, days, key->get());
  if (!x) return unexpected(x.error());
  X509* c = x->get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  K3DPP_TRY(add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE"));
  K3DPP_TRY(add_ext(c, c, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"));
  K3DPP_TRY(add_ext(c, c, NID_subject_key_identifier, "hash"));
  if (X509_sign(c, key->get(), EVP_sha256()) <= 0) return fail("cannot sign the CA: " + ossl_error());
  return to_pem(c, key->get());
}

Result<CertKey> issue(const CertKey& ca, const CertOptions& o) {
  auto ca_cert = parse_cert(ca.cert_pem);
  if (!ca_cert) return unexpected(ca_cert.error().wrap("CA"));
  auto ca_key = parse_key(ca.key_pem);
  if (!ca_key) return unexpected(ca_key.error().wrap("CA"));
  auto key = new_key();
  if (!key) return unexpected(key.error());
  auto x = new_cert(o.common_name, o.organizations, o.days, key->get());
  if (!x) return unexpected(x.error());
  X509* c = x->get();
  X509* issuer = ca_cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(issuer));
  K3DPP_TRY(add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE"));
  K3DPP_TRY(add_ext(c, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  std::string eku;
  if (o.server_auth) eku = "serverAuth";
  if (o.client_auth) eku += std::string(eku.empty() ? "" : ",") + "clientAuth";
  if (!eku.empty()) K3DPP_TRY(add_ext(c, issuer, NID_ext_key_usage, eku));
  K3DPP_TRY(add_ext(c, issuer, NID_authority_key_identifier, "keyid:always"));
  auto sans = normalize_sans(o.sans);
  if (!sans.empty()) {
    std::string v;
    for (const auto& s : sans) v += (v.empty() ? "" : ",") + s;
    K3DPP_TRY(add_ext(c, issuer, NID_subject_alt_name, v));
  }
  if (X509_sign(c, ca_key->get(), EVP_sha256()) <= 0)
    return fail("cannot sign the certificate: " + ossl_error());
  return to_pem(c, key->get());
}

Result<CertKey> issue_serving(const CertKey& ca, const std::string& cn,
                              const std::vector<std::string>& sans, int days) {
  CertOptions o;
  o.common_name = cn;
  o.sans = sans;
  o.days = days;
  o.server_auth = true;
  return issue(ca, o);
}

Result<CertKey> issue_client(const CertKey& ca, const std::string& cn,
                             const std::vector<std::string>& orgs, int days) {
  CertOptions o;
  o.common_name = cn;
  o.organizations = orgs;
  o.days = days;
  o.client_auth = true;
  return issue(ca, o);
}

Status verify(const std::string& ca_pem, const std::string& cert_pem) {
  auto ca = parse_cert(ca_pem);
  if (!ca) return unexpected(ca.error().wrap("CA"));
  auto cert = parse_cert(cert_pem);
  if (!cert) return unexpected(cert.error());
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca->get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert->get(), nullptr);
  int ok = X509_verify_cert(ctx);
  std::string err = ok == 1 ? "" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  ERR_clear_error();
  if (ok != 1) return fail("certificate does not verify against the CA: " + err);
  return {};
}

Result<std::vector<std::string>> subject_alt_names(const std::string& cert_pem) {
  auto cert = parse_cert(cert_pem);
  if (!cert) return unexpected(cert.error());
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {0};
      int len = ASN1_STRING_length(s);
      if (len == 4 || len == 16)
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf);
      out.push_back(std::string("IP:") + buf);
    }
  }
  GENERAL_NAMES_free(names);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {
Result<std::vector<std::string>> subject_entries(const std::string& cert_pem, int nid) {
  auto cert = parse_cert(cert_pem);
  if (!cert) return unexpected(cert.error());
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert->get());
  int idx = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0) {
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
    if (len >= 0) out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  return out;
}
}  // namespace

Result<std::string> common_name(const std::string& cert_pem) {
  auto e = subject_entries(cert_pem, NID_commonName);
  if (!e) return unexpected(e.error());
  if (e->empty()) return fail("certificate has no common name");
  return e->front();
}

Result<std::vector<std::string>> organizations(const std::string& cert_pem) {
  return subject_entries(cert_pem, NID_organizationName);
}

Result<std::chrono::system_clock::time_point> not_after(const std::string& cert_pem) {
  auto cert = parse_cert(cert_pem);
  if (!cert) return unexpected(cert.error());
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert->get()), &tm) != 1) return fail("bad notAfter");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Result<std::string> fingerprint_sha256(const std::string& cert_pem) {
  auto cert = parse_cert(cert_pem);
  if (!cert) return unexpected(cert.error());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert->get(), EVP_sha256(), md, &n) != 1) return fail("X509_digest failed");
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

bool key_matches(const std::string& cert_pem, const std::string& key_pem) {
  auto cert = parse_cert(cert_pem);
  auto key = parse_key(key_pem);
  if (!cert || !key) return false;
  bool ok = X509_check_private_key(cert->get(), key->get()) == 1;
  ERR_clear_error();
  return ok;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  size_t n = 0;
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
  EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params);
  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  EVP_MAC_final(ctx, md, &n, sizeof md);
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace k3dpp::pki
