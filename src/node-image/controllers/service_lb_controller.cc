// The service load balancer controller (k3s servicelb): writes status.loadBalancer.ingress of
// LoadBalancer Services as plan_load_balancers() decides, and says why when a service stays pending
// (Warning event). The forwarding itself is the proxy's (every node, on the service's port).
#include <set>

#include "controllers/internal.h"
#include "controllers/service_lb.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

// One key: any service or node change can move a port from one service to another.
constexpr const char* kAll = "all";

json current_ingress(const json& svc) {
  auto st = svc.find("status");
  if (st == svc.end() || !st->is_object()) return json::array();
  auto lb = st->find("loadBalancer");
  if (lb == st->end() || !lb->is_object()) return json::array();
  auto ing = lb->find("ingress");
  return ing != lb->end() && ing->is_array() ? *ing : json::array();
}

class ServiceLbController : public Controller {
 public:
  explicit ServiceLbController(Context ctx)
      : Controller(ctx, "service-lb", 1),
        services_(ctx.informers.get(client::res::kServices)),
        nodes_(ctx.informers.get(client::res::kNodes)) {}

  void setup() override {
    auto any = [this](const json&) { enqueue(kAll); };
    services_.add_handlers({any, [this](const json&, const json&) { enqueue(kAll); }, any});
    nodes_.add_handlers({any,
                         [this](const json& old, const json& now) {
                           // Heartbeats change nothing we use; addresses and readiness do.
                           if (load_balancer_addresses({&old}) != load_balancer_addresses({&now}) ||
                               ready_of(old) != ready_of(now))
                             enqueue(kAll);
                         },
                         any});
  }

  void start() override {
    Controller::start();
    enqueue(kAll);
  }

 private:
  static std::string ready_of(const json& node) {
    for (const auto& c : jvalue(jvalue(node, "status", json::object()), "conditions", json::array())) {
      if (jvalue(c, "type", "") == "Ready") return jvalue(c, "status", "");
    }
    return {};
  }

  std::optional<std::chrono::milliseconds> sync(const std::string&) override {
    auto svc_ptrs = services_.list();
    auto node_ptrs = nodes_.list();
    std::vector<const json*> svcs, nodes;
    for (const auto& s : svc_ptrs) svcs.push_back(s.get());
    for (const auto& n : node_ptrs) nodes.push_back(n.get());

    std::optional<std::chrono::milliseconds> again;
    std::set<std::string> managed;
    for (const auto& plan : plan_load_balancers(svcs, nodes, node_reserved_ports())) {
      const std::string key = client::object_key(plan.ns, plan.name);
      managed.insert(key);
      auto svc = services_.get(key);
      if (!svc) continue;
      if (plan.ingress.empty() && plan.conflict.empty()) again = std::chrono::milliseconds(2000);  // no node yet
      report(*svc, plan.conflict);
      if (current_ingress(*svc) == plan.ingress) continue;
      if (auto r = write_ingress(*svc, plan.ingress); r) again = r;
      if (!plan.ingress.empty()) {
        log_->info("service {} load balancer on {}", key, plan.ingress.dump());
        ctx_.recorder.record(with_kind(*svc), "Normal", "EnsuredLoadBalancer", "Ensured load balancer");
      }
    }
    // A service that is no longer ours (type changed, class set) loses the ingress we gave it.
    for (const auto& s : svc_ptrs) {
      const std::string key = client::object_key(*s);
      if (managed.count(key) || !current_ingress(*s).size() || is_managed_load_balancer(*s)) continue;
      if (!spec_class(*s).empty()) continue;  // another implementation's
      if (auto r = write_ingress(*s, json::array()); r) again = r;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = conflicts_.begin(); it != conflicts_.end();) {
        it = managed.count(it->first) ? std::next(it) : conflicts_.erase(it);
      }
    }
    return again;
  }

  static std::string spec_class(const json& svc) {
    const json spec = jvalue(svc, "spec", json::object());
    auto it = spec.find("loadBalancerClass");
    return it != spec.end() && it->is_string() ? it->get<std::string>() : std::string();
  }

  static json with_kind(const json& svc) {
    json o = svc;
    o["kind"] = "Service";
    o["apiVersion"] = "v1";
    return o;
  }

  // One Warning event each time a service becomes pending for a (new) reason; a log line too.
  void report(const json& svc, const std::string& conflict) {
    const std::string key = client::object_key(svc);
    {
      std::lock_guard<std::mutex> l(mu_);
      std::string& last = conflicts_[key];
      if (last == conflict) return;
      last = conflict;
    }
    if (conflict.empty()) return;
    log_->warn("service {} stays pending: {}", key, conflict);
    ctx_.recorder.record(with_kind(svc), "Warning", "SyncLoadBalancerFailed",
                         "Error syncing load balancer: failed to ensure load balancer: " + conflict);
  }

  std::optional<std::chrono::milliseconds> write_ingress(const json& svc, const json& ingress) {
    json next = svc;
    json lb = json::object();
    if (!ingress.empty()) lb["ingress"] = ingress;
    next["status"]["loadBalancer"] = lb;
    auto r = ctx_.client.update_status(client::res::kServices, meta_str(svc, "namespace"), next);
    if (!r && r.error().kind != "NotFound") {
      log_->debug("service {} status: {}", client::object_key(svc), r.error().message);
      // Conflicts (a newer resourceVersion) come back through the informer; retry anyway.
      return std::chrono::milliseconds(500);
    }
    return std::nullopt;
  }

  client::Informer& services_;
  client::Informer& nodes_;
  std::mutex mu_;
  std::map<std::string, std::string> conflicts_;  // service key → last reported conflict
};

}  // namespace

std::unique_ptr<Controller> make_service_lb_controller(Context ctx) { return std::make_unique<ServiceLbController>(ctx); }

}  // namespace k3dpp::controllers
