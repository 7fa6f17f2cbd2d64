#include "agent/https_client.h"

#include <curl/curl.h>

#include <mutex>

#include "common/strings.h"

namespace k3dpp::agent {

namespace {
std::once_flag g_curl_init;

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    (*headers)[strings::to_lower(strings::trim(line.substr(0, colon)))] =
        std::string(strings::trim(line.substr(colon + 1)));
  }
  return size * n;
}

void set_blob(CURL* c, CURLoption opt, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(c, opt, &blob);
}
}  // namespace

HttpsClient::HttpsClient(std::string base_url) : base_url_(std::move(base_url)) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

HttpsClient::~HttpsClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpResult> HttpsClient::request(const std::string& method, const std::string& path,
                                        const std::string& body, const std::string& content_type) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) return fail("curl_easy_init failed", "Unavailable");
  curl_easy_reset(c);
  HttpResult out;
  std::string url = base_url_ + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  if (ca_pem_.empty()) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    set_blob(c, CURLOPT_CAINFO_BLOB, ca_pem_);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  if (!cert_pem_.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    set_blob(c, CURLOPT_SSLCERT_BLOB, cert_pem_);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    set_blob(c, CURLOPT_SSLKEY_BLOB, key_pem_);
  }
  curl_slist* hdrs = nullptr;
  hdrs = curl_slist_append(hdrs, "Accept: application/json");
  hdrs = curl_slist_append(hdrs, "Expect:");
  hdrs = curl_slist_append(hdrs, ("User-Agent: k3dpp-node/" K3DPP_VERSION));
  if (!bearer_.empty()) hdrs = curl_slist_append(hdrs, ("Authorization: Bearer " + bearer_).c_str());
  if (method != "GET" && method != "DELETE") {
    hdrs = curl_slist_append(hdrs, ("Content-Type: " + content_type).c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (method != "GET" && method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out.headers);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hdrs);
  if (rc != CURLE_OK) return fail(method + " " + url + ": " + curl_easy_strerror(rc), "Unavailable");
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  char* ip = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_LOCAL_IP, &ip) == CURLE_OK && ip) out.local_ip = ip;
  return out;
}

}  // namespace k3dpp::agent
