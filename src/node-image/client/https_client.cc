#include "client/https_client.h"

#include <curl/curl.h>

#include <mutex>

namespace k3dpp::client {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  std::string body;
  const std::function<bool(std::string_view)>* sink = nullptr;
  std::stop_token stop;
  bool aborted = false;
};

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (t->sink != nullptr) {
    long code = 0;
    (void)code;
    if (!(*t->sink)(std::string_view(data, len))) {
      t->aborted = true;
      return 0;
    }
    return len;
  }
  t->body.append(data, len);
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->stop.stop_requested()) {
    t->aborted = true;
    return 1;
  }
  return 0;
}

void set_blob(CURL* c, CURLoption opt, const std::string& pem) {
  curl_blob b{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(c, opt, &b);
}

}  // namespace

HttpsClient::HttpsClient(HttpsOptions options) : opts_(std::move(options)) { global_init(); }

namespace {

struct Easy {
  CURL* c = curl_easy_init();
  curl_slist* headers = nullptr;
  ~Easy() {
    if (headers != nullptr) curl_slist_free_all(headers);
    if (c != nullptr) curl_easy_cleanup(c);
  }
};

void setup(Easy& e, const HttpsOptions& o, const std::string& url, Transfer& t) {
  curl_easy_setopt(e.c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e.c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e.c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e.c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e.c, CURLOPT_SSLCERTTYPE, "PEM");
  curl_easy_setopt(e.c, CURLOPT_SSLKEYTYPE, "PEM");
  if (!o.cert_pem.empty()) {
    set_blob(e.c, CURLOPT_SSLCERT_BLOB, o.cert_pem);
  } else if (!o.cert_file.empty()) {
    curl_easy_setopt(e.c, CURLOPT_SSLCERT, o.cert_file.c_str());
  }
  if (!o.key_pem.empty()) {
    set_blob(e.c, CURLOPT_SSLKEY_BLOB, o.key_pem);
  } else if (!o.key_file.empty()) {
    curl_easy_setopt(e.c, CURLOPT_SSLKEY, o.key_file.c_str());
  }
  if (!o.ca_pem.empty()) {
    set_blob(e.c, CURLOPT_CAINFO_BLOB, o.ca_pem);
  } else if (!o.ca_file.empty()) {
    curl_easy_setopt(e.c, CURLOPT_CAINFO, o.ca_file.c_str());
  } else {
    curl_easy_setopt(e.c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e.c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  e.headers = curl_slist_append(e.headers, "Accept: application/json");
  e.headers = curl_slist_append(e.headers, "User-Agent: k3dpp-node/" K3DPP_VERSION);
}

}  // namespace

HttpsClient::~HttpsClient() {
  for (void* c : idle_) curl_easy_cleanup(static_cast<CURL*>(c));
}

Result<RawResponse> HttpsClient::request(const std::string& method, const std::string& target,
                                         const std::string& content_type, const std::string& body) {
  // A pooled handle keeps its connection across curl_easy_reset; the options are set anew.
  CURL* pooled = nullptr;
  {
    std::lock_guard lk(idle_mu_);
    if (!idle_.empty()) {
      pooled = static_cast<CURL*>(idle_.back());
      idle_.pop_back();
    }
  }
  if (pooled != nullptr) curl_easy_reset(pooled);
  Easy e{pooled != nullptr ? pooled : curl_easy_init()};
  if (e.c == nullptr) return fail("curl_easy_init failed", "Unavailable");
  Transfer t;
  setup(e, opts_, opts_.server + target, t);
  curl_easy_setopt(e.c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(e.c, CURLOPT_TIMEOUT, opts_.timeout_seconds);
  if (!content_type.empty()) e.headers = curl_slist_append(e.headers, ("Content-Type: " + content_type).c_str());
  if (method != "GET") {
    curl_easy_setopt(e.c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(e.c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(e.c, CURLOPT_HTTPHEADER, e.headers);
  CURLcode rc = curl_easy_perform(e.c);
  if (rc != CURLE_OK) {
    return fail(method + " " + opts_.server + target + ": " + curl_easy_strerror(rc), "Unavailable");
  }
  long code = 0;
  curl_easy_getinfo(e.c, CURLINFO_RESPONSE_CODE, &code);
  {
    std::lock_guard lk(idle_mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(e.c);
      e.c = nullptr;  // kept: ~Easy frees only the header list
    }
  }
  return RawResponse{static_cast<int>(code), std::move(t.body)};
}

Result<RawResponse> HttpsClient::stream(const std::string& target,
                                        const std::function<bool(std::string_view)>& on_chunk,
                                        std::stop_token stop) {
  Easy e;
  if (e.c == nullptr) return fail("curl_easy_init failed", "Unavailable");
  Transfer t;
  // Collect the body until we know the status: only a 2xx body is streamed to on_chunk.
  int status = 0;
  std::function<bool(std::string_view)> sink = [&](std::string_view chunk) {
    if (status == 0) {
      long code = 0;
      curl_easy_getinfo(e.c, CURLINFO_RESPONSE_CODE, &code);
      status = static_cast<int>(code);
    }
    if (status < 200 || status >= 300) {
      t.body.append(chunk);
      return true;
    }
    return on_chunk(chunk);
  };
  t.sink = &sink;
  t.stop = stop;
  setup(e, opts_, opts_.server + target, t);
  curl_easy_setopt(e.c, CURLOPT_HTTPHEADER, e.headers);
  curl_easy_setopt(e.c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e.c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(e.c, CURLOPT_XFERINFODATA, &t);
  CURLcode rc = curl_easy_perform(e.c);
  long code = 0;
  curl_easy_getinfo(e.c, CURLINFO_RESPONSE_CODE, &code);
  if (rc != CURLE_OK && !t.aborted) {
    return fail("watch " + opts_.server + target + ": " + curl_easy_strerror(rc), "Unavailable");
  }
  return RawResponse{static_cast<int>(code), std::move(t.body)};
}

}  // namespace k3dpp::client
