#include "cluster/probes.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster/pipeline.h"
#include "common/log.h"

namespace k3dpp::cluster {
namespace {

Result<sockaddr_in> make_addr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  std::string host = ip.empty() ? "0.0.0.0" : ip;
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) return fail("invalid IPv4 address '" + host + "'", "Invalid");
  return a;
}

size_t on_body(char* ptr, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(ptr, size * n);
  return size * n;
}

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

Status check_port_free(const std::string& ip, uint16_t port, const std::string& proto) {
  auto addr = make_addr(ip, port);
  if (!addr) return addr.error();
  int fd = ::socket(AF_INET, proto == "udp" ? SOCK_DGRAM : SOCK_STREAM, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr));
  int err = errno;
  ::close(fd);
  std::string where = (ip.empty() ? "0.0.0.0" : ip) + ":" + std::to_string(port) + "/" + proto;
  if (rc != 0) {
    if (err == EADDRINUSE) return fail("host port " + where + " is already in use", "Conflict");
    return fail("cannot bind host port " + where + ": " + std::strerror(err), "Conflict");
  }
  return {};
}

Result<uint16_t> pick_free_port(const std::string& ip) {
  auto addr = make_addr(ip, 0);
  if (!addr) return addr.error();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    int err = errno;
    ::close(fd);
    return fail("cannot pick a free port on " + ip + ": " + std::strerror(err));
  }
  sockaddr_in got{};
  socklen_t len = sizeof(got);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len);
  ::close(fd);
  return static_cast<uint16_t>(ntohs(got.sin_port));
}

Result<HttpResponse> https_get(const std::string& url, const ClientCreds& creds) {
  curl_init_once();
  CURL* c = curl_easy_init();
  if (!c) return fail("curl_easy_init failed");
  HttpResponse resp;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_blob ca{const_cast<char*>(creds.ca_pem.data()), creds.ca_pem.size(), CURL_BLOB_COPY};
  curl_blob cert{const_cast<char*>(creds.cert_pem.data()), creds.cert_pem.size(), CURL_BLOB_COPY};
  curl_blob key{const_cast<char*>(creds.key_pem.data()), creds.key_pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
  curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
  curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
  curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
  curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    return fail("GET " + url + ": " + (errbuf[0] ? std::string(errbuf) : curl_easy_strerror(rc)), "Unavailable");
  }
  return resp;
}

HostProbes real_probes() {
  HostProbes p;
  p.port_free = check_port_free;
  p.pick_free_port = pick_free_port;
  p.https_get = https_get;
  p.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  p.now = [] { return std::chrono::steady_clock::now(); };
  return p;
}

Status wait_api_ready(const HostProbes& p, const ClientCreds& creds, std::chrono::steady_clock::time_point deadline) {
  auto log = log::get("cluster");
  std::string last;
  while (true) {
    auto r = p.https_get(creds.server + "/readyz", creds);
    if (r && r->status == 200) return {};
    K3DPP_TRY(check_cancelled());
    last = r ? "HTTP " + std::to_string(r->status) + " " + r->body : r.error().message;
    log->debug("readyz not yet: {}", last);
    if (p.now() >= deadline) return fail("API server at " + creds.server + " not ready in time (last: " + last + ")", "Timeout");
    p.sleep(std::chrono::milliseconds(500));
  }
}

bool node_json_ready(const std::string& json) {
  try {
    auto j = nlohmann::json::parse(json);
    for (const auto& c : j.at("status").at("conditions")) {
      if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
    }
  } catch (const std::exception&) {
  }
  return false;
}

Status wait_nodes_ready(const HostProbes& p, const ClientCreds& creds, const std::vector<std::string>& nodes,
                        std::chrono::steady_clock::time_point deadline) {
  auto log = log::get("cluster");
  for (const auto& n : nodes) {
    std::string last;
    while (true) {
      auto r = p.https_get(creds.server + "/api/v1/nodes/" + n, creds);
      if (r && r->status == 200 && node_json_ready(r->body)) break;
      K3DPP_TRY(check_cancelled());
      last = r ? (r->status == 200 ? std::string("not Ready") : "HTTP " + std::to_string(r->status)) : r.error().message;
      log->debug("node {} not ready yet: {}", n, last);
      if (p.now() >= deadline) return fail("node '" + n + "' not Ready in time (last: " + last + ")", "Timeout");
      p.sleep(std::chrono::milliseconds(1000));
    }
  }
  return {};
}

}  // namespace k3dpp::cluster
