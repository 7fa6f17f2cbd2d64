#include "ingress/controller.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/files.h"
#include "common/log.h"
#include "common/strings.h"
#include "pki/pki.h"
#include "proxy/exec.h"

namespace k3dpp::ingress {
namespace {

const client::Resource kIngresses{"networking.k8s.io/v1", "ingresses"};
const client::Resource kIngressClasses{"networking.k8s.io/v1", "ingressclasses"};
constexpr const char* kManagedBy = "ingress-controller.k3dpp.io";

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("ingress");
  return l;
}

std::vector<const json*> raw(const std::vector<client::ObjectPtr>& v) {
  std::vector<const json*> out;
  out.reserve(v.size());
  for (const auto& p : v) {
    if (p) out.push_back(p.get());
  }
  return out;
}

std::string str_at(const json& obj, const char* key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool node_ready(const json& node) {
  for (const auto& c : node.value("status", json::object()).value("conditions", json::array())) {
    if (str_at(c, "type") == "Ready") return str_at(c, "status") == "True";
  }
  return false;
}

std::string internal_ip(const json& node) {
  for (const auto& a : node.value("status", json::object()).value("addresses", json::array())) {
    if (str_at(a, "type") == "InternalIP") return str_at(a, "address");
  }
  return {};
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Cluster objects

json ingress_class_object() {
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "IngressClass"},
          {"metadata",
           {{"name", kClassName},
            {"annotations", {{kDefaultClassAnnotation, "true"}}},
            {"labels", {{"app.kubernetes.io/name", "k3dpp-ingress"}, {"app.kubernetes.io/managed-by", "k3dpp"}}}}},
          {"spec", {{"controller", kControllerName}}}};
}

json ingress_service_object() {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", kServiceName},
            {"namespace", kServiceNamespace},
            {"labels", {{"app.kubernetes.io/name", "k3dpp-ingress"}, {"app.kubernetes.io/managed-by", "k3dpp"}}}}},
          {"spec",
           {{"type", "LoadBalancer"},
            {"ports",
             json::array({{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 80}},
                          {{"name", "https"}, {"port", 443}, {"protocol", "TCP"}, {"targetPort", 443}}})}}}};
}

json ingress_endpoint_slice(const std::vector<const json*>& nodes, int http_port, int https_port) {
  std::vector<std::pair<std::string, std::string>> eps;  // (ip, node)
  for (const json* n : nodes) {
    if (!n) continue;
    const json labels = (*n)["metadata"].value("labels", json::object());
    if (str_at(labels, "node-role.kubernetes.io/control-plane") != "true") continue;
    const std::string ip = internal_ip(*n);
    if (ip.empty()) continue;
    eps.emplace_back(ip, str_at((*n)["metadata"], "name"));
  }
  std::sort(eps.begin(), eps.end());
  // Ready servers; all of them while none is Ready (a starting cluster, a lapsed Lease of the only
  // server): an endpoint-less LoadBalancer service would make every node refuse :80/:443.
  std::set<std::string> ready_names;
  for (const json* n : nodes) {
    if (n && node_ready(*n)) ready_names.insert(str_at((*n)["metadata"], "name"));
  }
  bool any_ready = false;
  for (const auto& e : eps) any_ready = any_ready || ready_names.count(e.second) > 0;
  json endpoints = json::array();
  for (const auto& [ip, name] : eps) {
    const bool ready = !any_ready || ready_names.count(name) > 0;
    endpoints.push_back({{"addresses", json::array({ip})},
                         {"conditions", {{"ready", ready}, {"serving", ready}, {"terminating", false}}},
                         {"nodeName", name}});
  }
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", kServiceName},
            {"namespace", kServiceNamespace},
            {"labels", {{"kubernetes.io/service-name", kServiceName}, {"endpointslice.kubernetes.io/managed-by", kManagedBy}}}}},
          {"addressType", "IPv4"},
          {"endpoints", endpoints},
          {"ports", json::array({{{"name", "http"}, {"port", http_port}, {"protocol", "TCP"}},
                                 {{"name", "https"}, {"port", https_port}, {"protocol", "TCP"}}})}};
}

json ingress_status_from_service(const json& service) {
  json out = json::array();
  const json st = service.value("status", json::object()).value("loadBalancer", json::object());
  for (const auto& i : st.value("ingress", json::array())) {
    json e = json::object();
    if (!str_at(i, "ip").empty()) e["ip"] = str_at(i, "ip");
    if (!str_at(i, "hostname").empty()) e["hostname"] = str_at(i, "hostname");
    if (!e.empty()) out.push_back(e);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// nginx

NginxProcess::NginxProcess(std::string binary, std::string conf, std::string log_file)
    : binary_(std::move(binary)), conf_(std::move(conf)), log_file_(std::move(log_file)) {}

NginxProcess::~NginxProcess() { stop(); }

Result<pid_t> NginxProcess::spawn() {
  std::vector<std::string> args = {binary_, "-c", conf_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  pid_t pid = ::fork();
  if (pid < 0) {
    if (log_fd >= 0) ::close(log_fd);
    return fail(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // k3dpp-node blocks the termination signals in every thread; nginx needs HUP/QUIT/TERM.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (log_fd >= 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::setpgid(0, 0);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  if (log_fd >= 0) ::close(log_fd);
  return pid;
}

Status NginxProcess::start() {
  if (supervisor_.joinable()) return {};
  auto pid = spawn();
  if (!pid) return Unexpected<Error>{pid.error()};
  pid_ = *pid;
  stopping_ = false;
  logger()->info("nginx started (pid {}, config {})", *pid, conf_);
  supervisor_ = std::thread([this] { supervise(); });
  return {};
}

void NginxProcess::supervise() {
  while (!stopping_) {
    pid_t pid = pid_.load();
    int status = 0;
    pid_t r = ::waitpid(pid, &status, 0);
    if (r < 0 && errno == EINTR) continue;
    pid_ = 0;
    if (stopping_) break;
    logger()->warn("nginx (pid {}) exited (status {}); restarting in 1 s", pid, status);
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::seconds(1), [&] { return stopping_.load(); });
    if (stopping_) break;
    auto np = spawn();
    if (!np) {
      logger()->error("nginx restart: {}", np.error().message);
      continue;
    }
    pid_ = *np;
  }
}

Status NginxProcess::reload() {
  pid_t pid = pid_.load();
  if (pid <= 0) return fail("nginx is not running");
  if (::kill(pid, SIGHUP) != 0) return fail("signal nginx (pid " + std::to_string(pid) + "): " + std::strerror(errno));
  return {};
}

void NginxProcess::stop() {
  if (!supervisor_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  pid_t pid = pid_.load();
  if (pid > 0) {
    ::kill(pid, SIGQUIT);  // graceful: workers finish their requests
    bool gone = false;
    for (int i = 0; i < 50 && !gone; ++i) {
      gone = pid_.load() == 0 || ::kill(pid, 0) != 0;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!gone) ::kill(-pid, SIGKILL);
  }
  supervisor_.join();
  pid_ = 0;
}

// ------------------------------------------------------------------------------------------------
// Controller

IngressController::IngressController(client::ApiClient& client, ControllerOptions options)
    : client_(client),
      opts_(std::move(options)),
      ingresses_(std::make_unique<client::Informer>(client, kIngresses)),
      classes_(std::make_unique<client::Informer>(client, kIngressClasses)),
      services_(std::make_unique<client::Informer>(client, client::res::kServices)),
      slices_(std::make_unique<client::Informer>(client, client::res::kEndpointSlices)),
      secrets_(std::make_unique<client::Informer>(client, client::res::kSecrets)),
      nodes_(std::make_unique<client::Informer>(client, client::res::kNodes)) {
  client::InformerHandlers h;
  h.on_add = [this](const json&) { mark_dirty(); };
  h.on_update = [this](const json&, const json&) { mark_dirty(); };
  h.on_delete = [this](const json&) { mark_dirty(); };
  for (auto* i : {ingresses_.get(), classes_.get(), services_.get(), slices_.get(), nodes_.get()}) i->add_handlers(h);
  // Secrets change often (service-account tokens, helm releases); only TLS ones matter here.
  client::InformerHandlers sh;
  auto is_tls = [](const json& s) { return str_at(s, "type") == "kubernetes.io/tls"; };
  sh.on_add = [this, is_tls](const json& s) {
    if (is_tls(s)) mark_dirty();
  };
  sh.on_update = [this, is_tls](const json& a, const json& b) {
    if (is_tls(a) || is_tls(b)) mark_dirty();
  };
  sh.on_delete = [this, is_tls](const json& s) {
    if (is_tls(s)) mark_dirty();
  };
  secrets_->add_handlers(sh);
  if (opts_.run_nginx) nginx_ = std::make_unique<NginxProcess>(opts_.nginx, opts_.dir + "/nginx.conf", opts_.error_log);
}

IngressController::~IngressController() { stop(); }

void IngressController::start() {
  if (thread_.joinable()) return;
  for (auto* i : {ingresses_.get(), classes_.get(), services_.get(), slices_.get(), secrets_.get(), nodes_.get()})
    i->start();
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

void IngressController::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
  }
  for (auto* i : {ingresses_.get(), classes_.get(), services_.get(), slices_.get(), secrets_.get(), nodes_.get()})
    i->request_stop();
  for (auto* i : {ingresses_.get(), classes_.get(), services_.get(), slices_.get(), secrets_.get(), nodes_.get()})
    i->stop();
  if (nginx_) nginx_->stop();
}

size_t IngressController::applies() const {
  std::lock_guard lk(mu_);
  return applies_;
}

std::string IngressController::applied_text() const {
  std::lock_guard lk(mu_);
  return applied_;
}

void IngressController::mark_dirty() {
  {
    std::lock_guard lk(mu_);
    dirty_ = true;
  }
  cv_.notify_all();
}

Status IngressController::ensure_cluster_objects() {
  auto created = [](const Result<json>& r) { return r || r.error().is("AlreadyExists"); };
  auto c = client_.create(kIngressClasses, "", ingress_class_object());
  if (!created(c)) return c.error().wrap("create IngressClass " + std::string(kClassName));
  auto s = client_.create(client::res::kServices, kServiceNamespace, ingress_service_object());
  if (!created(s)) return s.error().wrap("create Service " + std::string(kServiceNamespace) + "/" + kServiceName);
  return {};
}

Status IngressController::sync_endpoint_slice() {
  json want = ingress_endpoint_slice(raw(nodes_->list()), opts_.http_port, opts_.https_port);
  auto cur = slices_->get(kServiceNamespace, kServiceName);
  if (!cur) {
    auto r = client_.create(client::res::kEndpointSlices, kServiceNamespace, want);
    if (!r && !r.error().is("AlreadyExists")) return r.error().wrap("create EndpointSlice");
    return {};
  }
  if (cur->value("endpoints", json::array()) == want["endpoints"] && cur->value("ports", json::array()) == want["ports"])
    return {};
  json next = *cur;
  next["endpoints"] = want["endpoints"];
  next["ports"] = want["ports"];
  auto r = client_.update(client::res::kEndpointSlices, kServiceNamespace, next);
  if (!r && !r.error().is("Conflict")) return r.error().wrap("update EndpointSlice");
  return {};
}

Status IngressController::sync_statuses() {
  auto svc = services_->get(kServiceNamespace, kServiceName);
  const json want = svc ? ingress_status_from_service(*svc) : json::array();
  const auto classes = raw(classes_->list());
  for (const auto& ing : ingresses_->list()) {
    if (!ing || !handles(*ing, classes)) continue;
    const json have = ing->value("status", json::object()).value("loadBalancer", json::object()).value("ingress", json::array());
    if (have == want) continue;
    json next = *ing;
    if (want.empty()) {
      next["status"]["loadBalancer"] = json::object();
    } else {
      next["status"]["loadBalancer"]["ingress"] = want;
    }
    auto r = client_.update_status(kIngresses, str_at((*ing)["metadata"], "namespace"), next);
    if (!r && !r.error().is("Conflict") && !r.error().is("NotFound"))
      return r.error().wrap("update status of ingress " + client::object_key(*ing));
  }
  return {};
}

Status IngressController::apply(const IngressConfig& cfg, const std::string& text) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* sub : {"certs", "tmp"}) {
    fs::create_directories(opts_.dir + "/" + sub, ec);
    if (ec) return fail("create " + opts_.dir + "/" + sub + ": " + ec.message());
  }
  fs::permissions(opts_.dir + "/certs", fs::perms::owner_all, ec);
  const std::string certs = opts_.dir + "/certs/";
  if (!files::exists(certs + "default.pem")) {
    // The certificate of hosts without a usable TLS Secret (ingress-nginx's "fake certificate").
    auto ca = pki::generate_ca("k3dpp-ingress-default-ca");
    if (!ca) return ca.error().wrap("default certificate");
    auto leaf = pki::issue_serving(*ca, "K3DPP INGRESS DEFAULT CERT", {"ingress.local"});
    if (!leaf) return leaf.error().wrap("default certificate");
    if (auto w = files::write_atomic(certs + "default.pem", leaf->cert_pem + leaf->key_pem, 0600); !w) return w;
  }
  std::set<std::string> keep = {"default.pem"};
  for (const auto& c : cfg.certs) {
    keep.insert(c.name + ".pem");
    if (auto w = files::write_atomic(certs + c.name + ".pem", c.cert_pem + "\n" + c.key_pem, 0600); !w) return w;
  }
  const std::string conf = opts_.dir + "/nginx.conf";
  const std::string candidate = opts_.dir + "/nginx.conf.new";
  if (auto w = files::write_atomic(candidate, text, 0644); !w) return w;
  if (opts_.run_nginx) {
    auto check = proxy::run_program({opts_.nginx, "-t", "-q", "-c", candidate});
    if (!check) return check.error().wrap("nginx -t");
    if (check->exit_code != 0)
      return fail("nginx -t rejected the configuration (kept the running one): " +
                  std::string(strings::trim(check->output)));
  }
  fs::rename(candidate, conf, ec);
  if (ec) return fail("rename " + candidate + ": " + ec.message());
  if (nginx_) {
    auto st = nginx_->running() ? nginx_->reload() : nginx_->start();
    if (!st) return st;
  }
  for (const auto& e : fs::directory_iterator(opts_.dir + "/certs", ec)) {
    if (!keep.count(e.path().filename().string())) fs::remove(e.path(), ec);
  }
  return {};
}

void IngressController::run(std::stop_token stop) {
  auto lg = logger();
  const auto sync_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto* i : {ingresses_.get(), classes_.get(), services_.get(), slices_.get(), secrets_.get(), nodes_.get()}) {
    while (!stop.stop_requested() && !i->synced() && std::chrono::steady_clock::now() < sync_deadline)
      i->wait_for_sync(std::chrono::milliseconds(100));
  }
  std::set<std::string> warned;
  while (!stop.stop_requested()) {
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, stop, std::chrono::seconds(30), [this] { return dirty_; });
      if (stop.stop_requested()) break;
      dirty_ = false;
    }
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, stop, opts_.debounce, [] { return false; });
      dirty_ = false;
    }
    if (stop.stop_requested()) break;
    bool failed = false;
    try {
      if (opts_.manage_cluster_objects) {
        if (!objects_ok_) {
          if (auto st = ensure_cluster_objects(); !st) {
            lg->warn("{}", st.error().message);
            failed = true;
          } else {
            objects_ok_ = true;
            lg->info("IngressClass {} (default) and Service {}/{} in place", kClassName, kServiceNamespace, kServiceName);
          }
        }
        if (auto st = sync_endpoint_slice(); !st) {
          lg->warn("{}", st.error().message);
          failed = true;
        }
      }
      Inputs in;
      auto ingresses = ingresses_->list(), classes = classes_->list(), services = services_->list(),
           slices = slices_->list(), secrets = secrets_->list(
                                         {}, [](const json& s) { return str_at(s, "type") == "kubernetes.io/tls"; });
      in.ingresses = raw(ingresses);
      in.classes = raw(classes);
      in.services = raw(services);
      in.slices = raw(slices);
      in.secrets = raw(secrets);
      IngressConfig cfg = build_config(in);
      for (const auto& w : cfg.warnings) {
        if (warned.insert(w).second) lg->warn("{}", w);
      }
      RenderOptions ro;
      ro.dir = opts_.dir;
      ro.pid_file = opts_.dir + "/nginx.pid";
      ro.error_log = opts_.error_log;
      ro.http_port = opts_.http_port;
      ro.https_port = opts_.https_port;
      std::string text = render_nginx_conf(cfg, ro);
      bool changed;
      {
        std::lock_guard lk(mu_);
        changed = text != applied_;
      }
      if (changed || (nginx_ && !nginx_->running())) {
        const auto t0 = std::chrono::steady_clock::now();
        if (auto st = apply(cfg, text); !st) {
          lg->error("ingress configuration not applied: {}", st.error().message);
          failed = true;
        } else {
          const auto ms =
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
          lg->info("ingress configuration applied: {} hosts, {} upstreams, {} certificates ({} ms)", cfg.hosts.size(),
                   cfg.upstreams.size(), cfg.certs.size(), ms);
          std::lock_guard lk(mu_);
          applied_ = std::move(text);
          ++applies_;
        }
      }
      if (opts_.manage_cluster_objects) {
        if (auto st = sync_statuses(); !st) {
          lg->warn("{}", st.error().message);
          failed = true;
        }
      }
    } catch (const std::exception& e) {
      lg->error("ingress sync: {}", e.what());
      failed = true;
    }
    if (failed) {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, stop, opts_.retry, [] { return false; });
      dirty_ = true;
    }
  }
}

}  // namespace k3dpp::ingress
