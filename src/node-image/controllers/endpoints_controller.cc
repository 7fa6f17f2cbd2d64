// The endpoints and endpointslice controllers: keep Endpoints `<svc>` and the EndpointSlices
// labelled kubernetes.io/service-name=<svc> equal to desired_endpoints()/desired_slices().
// Also mirrors the `kubernetes` Endpoints (written by the API server) into an EndpointSlice.
#include <set>

#include "controllers/endpoints.h"
#include "controllers/internal.h"
#include "common/json_read.h"

namespace k3dpp::controllers {

namespace {

bool has_selector(const json& svc) {
  return svc.contains("spec") && svc["spec"].contains("selector") && svc["spec"]["selector"].is_object() &&
         !svc["spec"]["selector"].empty();
}

json sorted_endpoints(json eps) {
  std::sort(eps.begin(), eps.end(), [](const json& a, const json& b) { return a.dump() < b.dump(); });
  return eps;
}

class EndpointsController : public Controller {
 public:
  explicit EndpointsController(Context ctx)
      : Controller(ctx, "endpoints", 2),
        services_(ctx.informers.get(client::res::kServices)),
        pods_(ctx.informers.get(client::res::kPods)),
        endpoints_(ctx.informers.get(client::res::kEndpoints)),
        slices_(ctx.informers.get(client::res::kEndpointSlices)) {}

  void setup() override {
    auto svc = [this](const json& o) { enqueue(client::object_key(o)); };
    services_.add_handlers({svc, [svc](const json&, const json& o) { svc(o); }, svc});
    pods_.add_handlers({[this](const json& p) { pod_changed(p, nullptr); },
                        [this](const json& old, const json& p) { pod_changed(p, &old); },
                        [this](const json& p) { pod_changed(p, nullptr); }});
    auto ep = [this](const json& o) { enqueue(client::object_key(o)); };
    endpoints_.add_handlers({ep, [ep](const json&, const json& o) { ep(o); }, ep});
    auto sl = [this](const json& o) {
      std::string svc_name = labels_of(o).value(kServiceNameLabel, "");
      if (!svc_name.empty()) enqueue(client::object_key(meta_str(o, "namespace"), svc_name));
    };
    slices_.add_handlers({sl, [sl](const json&, const json& o) { sl(o); }, sl});
  }

 private:
  void pod_changed(const json& pod, const json* old) {
    std::string ns = meta_str(pod, "namespace");
    for (const auto& s : services_.list(ns)) {
      if (!has_selector(*s)) continue;
      const json& sel = (*s)["spec"]["selector"];
      auto matches = [&](const json& p) {
        const json& l = labels_of(p);
        for (auto it = sel.begin(); it != sel.end(); ++it) {
          if (!l.contains(it.key()) || l[it.key()] != it.value()) return false;
        }
        return true;
      };
      if (matches(pod) || (old != nullptr && matches(*old))) enqueue(client::object_key(*s));
    }
  }

  std::optional<std::chrono::milliseconds> sync(const std::string& key) override {
    auto [ns, name] = split_key(key);
    auto svc = services_.get(key);
    if (!svc) {
      // Service gone: its Endpoints and our slices go too.
      if (endpoints_.get(key)) {
        auto r = ctx_.client.remove(client::res::kEndpoints, ns, name);
        if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(1000);
      }
      for (const auto& s : our_slices(ns, name)) {
        auto r = ctx_.client.remove(client::res::kEndpointSlices, ns, meta_str(*s, "name"));
        if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(1000);
      }
      return std::nullopt;
    }
    if (!has_selector(*svc)) {
      if (ns == "default" && name == "kubernetes") return mirror_kubernetes(*svc);
      return std::nullopt;  // endpoints of a selector-less service are the user's
    }
    auto all = pods_.list(ns);
    std::vector<const json*> pods;
    for (const auto& p : all) pods.push_back(p.get());

    std::optional<std::chrono::milliseconds> again;
    if (auto r = sync_endpoints(*svc, desired_endpoints(*svc, pods)); r) again = r;
    if (auto r = sync_slices(*svc, desired_slices(*svc, pods)); r) again = r;
    return again;
  }

  std::optional<std::chrono::milliseconds> sync_endpoints(const json& svc, json want) {
    std::string ns = meta_str(svc, "namespace"), name = meta_str(svc, "name");
    auto cur = endpoints_.get(ns, name);
    if (!cur) {
      auto r = ctx_.client.create(client::res::kEndpoints, ns, want);
      if (!r && r.error().kind != "AlreadyExists") {
        log_->debug("endpoints {}/{}: {}", ns, name, r.error().message);
        return std::chrono::milliseconds(500);
      }
      return std::nullopt;
    }
    json cur_subsets = jvalue(*cur, "subsets", json::array());
    json want_subsets = jvalue(want, "subsets", json::array());
    json cur_labels = labels_of(*cur);
    json want_labels = jvalue(want["metadata"], "labels", json::object());
    if (cur_subsets == want_subsets && cur_labels == want_labels) return std::nullopt;
    json next = *cur;
    if (want_subsets.empty()) {
      next.erase("subsets");
    } else {
      next["subsets"] = want_subsets;
    }
    next["metadata"]["labels"] = want_labels;
    auto r = ctx_.client.update(client::res::kEndpoints, ns, next);
    if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(200);
    return std::nullopt;
  }

  std::vector<client::ObjectPtr> our_slices(const std::string& ns, const std::string& svc_name) {
    return slices_.list(ns, [&](const json& s) {
      const json& l = labels_of(s);
      return l.value(kServiceNameLabel, "") == svc_name && l.value(kManagedByLabel, "") == kEndpointSliceController;
    });
  }

  json slice_object(const json& svc, const std::string& slice_name, const SliceContent& c) {
    json s = {{"apiVersion", "discovery.k8s.io/v1"},
              {"kind", "EndpointSlice"},
              {"metadata",
               {{"name", slice_name},
                {"namespace", meta_str(svc, "namespace")},
                {"labels", slice_labels(svc)},
                {"ownerReferences",
                 json::array({{{"apiVersion", "v1"},
                               {"kind", "Service"},
                               {"name", meta_str(svc, "name")},
                               {"uid", meta_str(svc, "uid")},
                               {"controller", true},
                               {"blockOwnerDeletion", true}}})}}},
              {"addressType", "IPv4"},
              {"endpoints", c.endpoints},
              {"ports", c.ports}};
    return s;
  }

  std::optional<std::chrono::milliseconds> sync_slices(const json& svc, const std::vector<SliceContent>& want) {
    std::string ns = meta_str(svc, "namespace"), name = meta_str(svc, "name");
    auto have = our_slices(ns, name);
    std::vector<bool> used(have.size(), false);
    std::vector<const SliceContent*> unmatched;
    json labels = slice_labels(svc);
    // Keep slices whose content already matches exactly.
    for (const auto& w : want) {
      bool found = false;
      for (size_t i = 0; i < have.size() && !found; ++i) {
        if (used[i]) continue;
        const json& h = *have[i];
        if (jvalue(h, "ports", json::array()) == w.ports &&
            sorted_endpoints(jvalue(h, "endpoints", json::array())) == sorted_endpoints(w.endpoints) &&
            labels_of(h) == labels) {
          used[i] = found = true;
        }
      }
      if (!found) unmatched.push_back(&w);
    }
    bool retry = false;
    for (const SliceContent* w : unmatched) {
      // Reuse a leftover slice (update) before creating a new one.
      size_t idx = have.size();
      for (size_t i = 0; i < have.size(); ++i) {
        if (!used[i]) {
          idx = i;
          break;
        }
      }
      if (idx < have.size()) {
        used[idx] = true;
        json next = slice_object(svc, meta_str(*have[idx], "name"), *w);
        next["metadata"]["resourceVersion"] = meta_str(*have[idx], "resourceVersion");
        auto r = ctx_.client.update(client::res::kEndpointSlices, ns, next);
        if (!r) retry = true;
      } else {
        auto r = ctx_.client.create(client::res::kEndpointSlices, ns, slice_object(svc, name + "-" + random_suffix(), *w));
        if (!r) {
          log_->debug("endpointslice for {}/{}: {}", ns, name, r.error().message);
          retry = true;
        }
      }
    }
    for (size_t i = 0; i < have.size(); ++i) {
      if (used[i]) continue;
      auto r = ctx_.client.remove(client::res::kEndpointSlices, ns, meta_str(*have[i], "name"));
      if (!r && r.error().kind != "NotFound") retry = true;
    }
    if (retry) return std::chrono::milliseconds(300);
    return std::nullopt;
  }

  // The API server keeps Endpoints default/kubernetes; give it its EndpointSlice "kubernetes".
  std::optional<std::chrono::milliseconds> mirror_kubernetes(const json& svc) {
    auto ep = endpoints_.get("default", "kubernetes");
    if (!ep) return std::nullopt;
    json endpoints = json::array();
    json ports = json::array();
    for (const auto& s : jvalue(*ep, "subsets", json::array())) {
      for (const auto& a : jvalue(s, "addresses", json::array())) {
        endpoints.push_back({{"addresses", json::array({jvalue(a, "ip", "")})},
                             {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}}});
      }
      if (ports.empty()) {
        for (const auto& p : jvalue(s, "ports", json::array())) {
          ports.push_back({{"name", jvalue(p, "name", "")}, {"port", jvalue(p, "port", 0)}, {"protocol", jvalue(p, "protocol", "TCP")}});
        }
      }
    }
    json want = {{"apiVersion", "discovery.k8s.io/v1"},
                 {"kind", "EndpointSlice"},
                 {"metadata", {{"name", "kubernetes"}, {"namespace", "default"}, {"labels", {{kServiceNameLabel, "kubernetes"}}}}},
                 {"addressType", "IPv4"},
                 {"endpoints", endpoints},
                 {"ports", ports}};
    (void)svc;
    auto cur = slices_.get("default", "kubernetes");
    if (!cur) {
      auto r = ctx_.client.create(client::res::kEndpointSlices, "default", want);
      if (!r && r.error().kind != "AlreadyExists") return std::chrono::milliseconds(1000);
      return std::nullopt;
    }
    if (jvalue(*cur, "endpoints", json::array()) == endpoints && jvalue(*cur, "ports", json::array()) == ports) {
      return std::nullopt;
    }
    json next = *cur;
    next["endpoints"] = endpoints;
    next["ports"] = ports;
    auto r = ctx_.client.update(client::res::kEndpointSlices, "default", next);
    if (!r && r.error().kind != "NotFound") return std::chrono::milliseconds(500);
    return std::nullopt;
  }

  client::Informer& services_;
  client::Informer& pods_;
  client::Informer& endpoints_;
  client::Informer& slices_;
};

}  // namespace

std::unique_ptr<Controller> make_endpoints_controller(Context ctx) { return std::make_unique<EndpointsController>(ctx); }

}  // namespace k3dpp::controllers
