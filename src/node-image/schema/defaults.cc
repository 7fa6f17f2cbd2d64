// Defaulting as Kubernetes 1.32 does it (scheme defaults, the registry's create-time fields the
// output shows, and the ServiceAccount/Priority/DefaultTolerationSeconds admission plugins for pods).
#include <string>

#include "node-image/schema/schema.h"
#include "node-image/schema/custom_types.h"
#include "common/json_read.h"

namespace k3dpp::schema {
namespace {

// Sets obj[key] = value when the key is absent or null.
void def(json& obj, const char* key, json value) {
  if (!obj.contains(key) || obj[key].is_null()) obj[key] = std::move(value);
}

json& object_at(json& obj, const char* key) {
  if (!obj.contains(key) || !obj[key].is_object()) obj[key] = json::object();
  return obj[key];
}

bool has_tag_or_digest(const std::string& image) {
  if (image.find('@') != std::string::npos) return true;
  auto slash = image.rfind('/');
  std::string last = slash == std::string::npos ? image : image.substr(slash + 1);
  return last.find(':') != std::string::npos;
}

std::string pull_policy(const std::string& image) {
  if (image.find('@') != std::string::npos) return "IfNotPresent";
  auto slash = image.rfind('/');
  std::string last = slash == std::string::npos ? image : image.substr(slash + 1);
  auto colon = last.find(':');
  if (!has_tag_or_digest(image) || (colon != std::string::npos && last.substr(colon + 1) == "latest")) {
    return "Always";
  }
  return "IfNotPresent";
}

void default_probe(json& probe) {
  if (!probe.is_object()) return;
  def(probe, "timeoutSeconds", 1);
  def(probe, "periodSeconds", 10);
  def(probe, "successThreshold", 1);
  def(probe, "failureThreshold", 3);
  if (probe.contains("httpGet") && probe["httpGet"].is_object()) {
    def(probe["httpGet"], "path", "/");
    def(probe["httpGet"], "scheme", "HTTP");
  }
}

void default_lifecycle_handler(json& h) {
  if (h.is_object() && h.contains("httpGet") && h["httpGet"].is_object()) {
    def(h["httpGet"], "path", "/");
    def(h["httpGet"], "scheme", "HTTP");
  }
}

void default_container(json& c, bool host_network) {
  if (!c.is_object()) return;
  if (c.contains("image") && c["image"].is_string()) {
    def(c, "imagePullPolicy", pull_policy(c["image"].get<std::string>()));
  }
  def(c, "terminationMessagePath", "/dev/termination-log");
  def(c, "terminationMessagePolicy", "File");
  json& res = object_at(c, "resources");
  // Requests default to limits.
  if (res.contains("limits") && res["limits"].is_object()) {
    json& req = object_at(res, "requests");
    for (auto it = res["limits"].begin(); it != res["limits"].end(); ++it) {
      if (!req.contains(it.key())) req[it.key()] = it.value();
    }
  }
  if (c.contains("ports") && c["ports"].is_array()) {
    for (auto& p : c["ports"]) {
      if (!p.is_object()) continue;
      def(p, "protocol", "TCP");
      if (host_network && p.contains("containerPort")) def(p, "hostPort", p["containerPort"]);
    }
  }
  if (c.contains("env") && c["env"].is_array()) {
    for (auto& e : c["env"]) {
      if (e.is_object() && e.contains("valueFrom") && e["valueFrom"].is_object() &&
          e["valueFrom"].contains("fieldRef") && e["valueFrom"]["fieldRef"].is_object()) {
        def(e["valueFrom"]["fieldRef"], "apiVersion", "v1");
      }
    }
  }
  for (const char* p : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    if (c.contains(p)) default_probe(c[p]);
  }
  if (c.contains("lifecycle") && c["lifecycle"].is_object()) {
    for (const char* h : {"postStart", "preStop"}) {
      if (c["lifecycle"].contains(h)) default_lifecycle_handler(c["lifecycle"][h]);
    }
  }
}

void default_items_field_refs(json& items) {
  if (!items.is_array()) return;
  for (auto& i : items) {
    if (i.is_object() && i.contains("fieldRef") && i["fieldRef"].is_object()) {
      def(i["fieldRef"], "apiVersion", "v1");
    }
  }
}

void default_volume(json& v) {
  if (!v.is_object()) return;
  bool has_source = false;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it.key() != "name" && !it.value().is_null()) has_source = true;
  }
  if (!has_source) v["emptyDir"] = json::object();
  for (const char* k : {"secret", "configMap", "downwardAPI", "projected"}) {
    if (v.contains(k) && v[k].is_object()) def(v[k], "defaultMode", 420);
  }
  if (v.contains("hostPath") && v["hostPath"].is_object()) def(v["hostPath"], "type", "");
  if (v.contains("downwardAPI") && v["downwardAPI"].is_object() && v["downwardAPI"].contains("items")) {
    default_items_field_refs(v["downwardAPI"]["items"]);
  }
  if (v.contains("projected") && v["projected"].is_object() && v["projected"].contains("sources") &&
      v["projected"]["sources"].is_array()) {
    for (auto& s : v["projected"]["sources"]) {
      if (!s.is_object()) continue;
      if (s.contains("serviceAccountToken") && s["serviceAccountToken"].is_object()) {
        def(s["serviceAccountToken"], "expirationSeconds", 3600);
      }
      if (s.contains("downwardAPI") && s["downwardAPI"].is_object() && s["downwardAPI"].contains("items")) {
        default_items_field_refs(s["downwardAPI"]["items"]);
      }
    }
  }
}

// SetDefaults_PodSpec and the containers/volumes in it (pods and templates).
void default_pod_spec(json& spec) {
  if (!spec.is_object()) return;
  def(spec, "dnsPolicy", "ClusterFirst");
  def(spec, "restartPolicy", "Always");
  def(spec, "terminationGracePeriodSeconds", 30);
  def(spec, "securityContext", json::object());
  def(spec, "schedulerName", "default-scheduler");
  bool host_network = spec.contains("hostNetwork") && spec["hostNetwork"] == true;
  for (const char* list : {"initContainers", "containers"}) {
    if (spec.contains(list) && spec[list].is_array()) {
      for (auto& c : spec[list]) default_container(c, host_network);
    }
  }
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    for (auto& v : spec["volumes"]) default_volume(v);
  }
}

void default_template(json& owner_spec) {
  if (!owner_spec.is_object() || !owner_spec.contains("template") || !owner_spec["template"].is_object()) {
    return;
  }
  json& tmpl = owner_spec["template"];
  json& meta = object_at(tmpl, "metadata");
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = nullptr;
  if (tmpl.contains("spec")) default_pod_spec(tmpl["spec"]);
}

bool tolerates(const json& tolerations, const std::string& key) {
  if (!tolerations.is_array()) return false;
  for (const auto& t : tolerations) {
    if (!t.is_object()) continue;
    std::string effect = jvalue(t, "effect", "");
    if (!effect.empty() && effect != "NoExecute") continue;
    std::string k = jvalue(t, "key", "");
    std::string op = jvalue(t, "operator", "Equal");
    if (k == key || (k.empty() && op == "Exists")) return true;
  }
  return false;
}

bool has_quantity(const json& res, const char* list, const char* name) {
  return res.is_object() && res.contains(list) && res[list].is_object() && res[list].contains(name);
}

// Pod QoS class as the kubelet/apiserver compute it (containers and init containers).
std::string qos_class(const json& spec) {
  bool any = false, guaranteed = true;
  for (const char* list : {"initContainers", "containers"}) {
    if (!spec.contains(list) || !spec[list].is_array()) continue;
    for (const auto& c : spec[list]) {
      json res = jvalue(c, "resources", json::object());
      for (const char* r : {"cpu", "memory"}) {
        bool req = has_quantity(res, "requests", r), lim = has_quantity(res, "limits", r);
        if (req || lim) any = true;
        if (!lim || !req || res["requests"][r] != res["limits"][r]) guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

void default_pod(json& obj) {
  json& spec = object_at(obj, "spec");
  default_pod_spec(spec);
  def(spec, "enableServiceLinks", true);
  // ServiceAccount admission; the deprecated serviceAccount mirrors it on output.
  def(spec, "serviceAccountName", jvalue(spec, "serviceAccount", std::string("default")));
  def(spec, "serviceAccount", spec["serviceAccountName"]);
  // Priority admission (no PriorityClass: priority 0, PreemptLowerPriority).
  def(spec, "priority", 0);
  def(spec, "preemptionPolicy", "PreemptLowerPriority");
  // DefaultTolerationSeconds admission.
  json& tol = spec["tolerations"];
  if (!tol.is_array()) tol = json::array();
  for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
    if (!tolerates(tol, key)) {
      tol.push_back({{"key", key}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", 300}});
    }
  }
  json& status = object_at(obj, "status");
  def(status, "phase", "Pending");
  def(status, "qosClass", qos_class(spec));
}

void default_service(json& obj) {
  json& spec = object_at(obj, "spec");
  def(spec, "type", "ClusterIP");
  std::string type = spec["type"].is_string() ? spec["type"].get<std::string>() : "ClusterIP";
  def(spec, "sessionAffinity", "None");
  if (spec["sessionAffinity"] == "ClientIP") {
    json& cfg = object_at(spec, "sessionAffinityConfig");
    json& cip = object_at(cfg, "clientIP");
    def(cip, "timeoutSeconds", 10800);
  }
  if (spec.contains("ports") && spec["ports"].is_array()) {
    for (auto& p : spec["ports"]) {
      if (!p.is_object()) continue;
      def(p, "protocol", "TCP");
      if (p.contains("port")) def(p, "targetPort", p["port"]);
    }
  }
  if (type != "ExternalName") {
    def(spec, "ipFamilies", json::array({"IPv4"}));
    def(spec, "ipFamilyPolicy", "SingleStack");
    def(spec, "internalTrafficPolicy", "Cluster");
  }
  if (type == "NodePort" || type == "LoadBalancer") def(spec, "externalTrafficPolicy", "Cluster");
  if (type == "LoadBalancer") def(spec, "allocateLoadBalancerNodePorts", true);
  json& status = object_at(obj, "status");
  if (!status.contains("loadBalancer")) status["loadBalancer"] = json::object();
}

void default_job_spec(json& spec) {
  if (!spec.is_object()) return;
  bool has_p = spec.contains("parallelism") && !spec["parallelism"].is_null();
  bool has_c = spec.contains("completions") && !spec["completions"].is_null();
  if (!has_p && !has_c) {
    spec["parallelism"] = 1;
    spec["completions"] = 1;
  } else if (!has_p) {
    spec["parallelism"] = 1;
  }
  def(spec, "backoffLimit", 6);
  def(spec, "completionMode", "NonIndexed");
  def(spec, "suspend", false);
  // Failed when a podFailurePolicy is set (only Failed pods are matched against it).
  bool pfp = spec.contains("podFailurePolicy") && spec["podFailurePolicy"].is_object();
  def(spec, "podReplacementPolicy", pfp ? "Failed" : "TerminatingOrFailed");
  if (spec.contains("completionMode") && spec["completionMode"] == "Indexed") {
    // backoffLimitPerIndex stays unset unless given.
  }
  default_template(spec);
}

}  // namespace

void apply_defaults(const ResourceType& type, json& obj) {
  if (!obj.is_object()) return;
  if (type.custom) {  // custom kinds: their schema's defaults
    if (type.custom->schema) type.custom->schema->apply_defaults(obj);
    return;
  }
  const std::string& k = type.kind;
  if (k == "CustomResourceDefinition" && type.group == "apiextensions.k8s.io") {
    default_crd(obj);
    return;
  }
  if (k == "Pod") {
    default_pod(obj);
  } else if (k == "Deployment") {
    json& spec = object_at(obj, "spec");
    def(spec, "replicas", 1);
    json& strategy = object_at(spec, "strategy");
    def(strategy, "type", "RollingUpdate");
    if (strategy["type"] == "RollingUpdate") {
      json& ru = object_at(strategy, "rollingUpdate");
      def(ru, "maxUnavailable", "25%");
      def(ru, "maxSurge", "25%");
    }
    def(spec, "revisionHistoryLimit", 10);
    def(spec, "progressDeadlineSeconds", 600);
    default_template(spec);
  } else if (k == "ReplicaSet" || k == "ReplicationController") {
    json& spec = object_at(obj, "spec");
    def(spec, "replicas", 1);
    if (k == "ReplicationController" && spec.contains("template") && spec["template"].is_object()) {
      json labels = jvalue(jvalue(spec["template"], "metadata", json::object()), "labels", json::object());
      if (!labels.empty()) {
        def(spec, "selector", labels);
        json& meta = object_at(obj, "metadata");
        def(meta, "labels", labels);
      }
    }
    default_template(spec);
  } else if (k == "StatefulSet") {
    json& spec = object_at(obj, "spec");
    def(spec, "replicas", 1);
    def(spec, "podManagementPolicy", "OrderedReady");
    json& us = object_at(spec, "updateStrategy");
    def(us, "type", "RollingUpdate");
    if (us["type"] == "RollingUpdate") {
      json& ru = object_at(us, "rollingUpdate");
      def(ru, "partition", 0);
    }
    def(spec, "revisionHistoryLimit", 10);
    json& pol = object_at(spec, "persistentVolumeClaimRetentionPolicy");
    def(pol, "whenDeleted", "Retain");
    def(pol, "whenScaled", "Retain");
    if (spec.contains("volumeClaimTemplates") && spec["volumeClaimTemplates"].is_array()) {
      for (auto& t : spec["volumeClaimTemplates"]) {
        if (!t.is_object()) continue;
        def(t, "apiVersion", "v1");
        def(t, "kind", "PersistentVolumeClaim");
        json& ts = object_at(t, "spec");
        def(ts, "volumeMode", "Filesystem");
        json& st = object_at(t, "status");
        def(st, "phase", "Pending");
      }
    }
    default_template(spec);
  } else if (k == "DaemonSet") {
    json& spec = object_at(obj, "spec");
    json& us = object_at(spec, "updateStrategy");
    def(us, "type", "RollingUpdate");
    if (us["type"] == "RollingUpdate") {
      json& ru = object_at(us, "rollingUpdate");
      def(ru, "maxUnavailable", 1);
      def(ru, "maxSurge", 0);
    }
    def(spec, "revisionHistoryLimit", 10);
    default_template(spec);
  } else if (k == "Job") {
    default_job_spec(object_at(obj, "spec"));
    // SetDefaults_Job: a Job without labels takes its template's.
    const json& tl = jvalue(jvalue(obj["spec"], "template", json::object()), "metadata", json::object()).value(
        "labels", json::object());
    json& meta = object_at(obj, "metadata");
    if (tl.is_object() && !tl.empty() && (!meta.contains("labels") || !meta["labels"].is_object() || meta["labels"].empty())) {
      meta["labels"] = tl;
    }
  } else if (k == "CronJob") {
    json& spec = object_at(obj, "spec");
    def(spec, "concurrencyPolicy", "Allow");
    def(spec, "suspend", false);
    def(spec, "successfulJobsHistoryLimit", 3);
    def(spec, "failedJobsHistoryLimit", 1);
    if (spec.contains("jobTemplate") && spec["jobTemplate"].is_object()) {
      json& jt = spec["jobTemplate"];
      json& meta = object_at(jt, "metadata");
      if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = nullptr;
      if (jt.contains("spec")) default_template(jt["spec"]);
    }
  } else if (k == "Service") {
    default_service(obj);
  } else if (k == "Endpoints") {
    if (obj.contains("subsets") && obj["subsets"].is_array()) {
      for (auto& s : obj["subsets"]) {
        if (!s.is_object() || !s.contains("ports") || !s["ports"].is_array()) continue;
        for (auto& p : s["ports"]) {
          if (p.is_object()) def(p, "protocol", "TCP");
        }
      }
    }
  } else if (k == "EndpointSlice") {
    if (obj.contains("ports") && obj["ports"].is_array()) {
      for (auto& p : obj["ports"]) {
        if (p.is_object()) def(p, "protocol", "TCP");
      }
    }
  } else if (k == "PersistentVolumeClaim") {
    json& spec = object_at(obj, "spec");
    def(spec, "volumeMode", "Filesystem");
    json& status = object_at(obj, "status");
    def(status, "phase", "Pending");
  } else if (k == "PersistentVolume") {
    json& spec = object_at(obj, "spec");
    def(spec, "persistentVolumeReclaimPolicy", "Retain");
    def(spec, "volumeMode", "Filesystem");
    if (spec.contains("hostPath") && spec["hostPath"].is_object()) def(spec["hostPath"], "type", "");
    json& status = object_at(obj, "status");
    def(status, "phase", "Pending");
  } else if (k == "StorageClass") {
    def(obj, "reclaimPolicy", "Delete");
    def(obj, "volumeBindingMode", "Immediate");
  } else if (k == "Namespace") {
    json& spec = object_at(obj, "spec");
    def(spec, "finalizers", json::array({"kubernetes"}));
    json& status = object_at(obj, "status");
    def(status, "phase", "Active");
  } else if (k == "Secret") {
    def(obj, "type", "Opaque");
  } else if (k == "Node") {
    json& status = object_at(obj, "status");
    if (status.contains("capacity") && !status.contains("allocatable")) {
      status["allocatable"] = status["capacity"];
    }
  }
}

// ---- create-time preparation (PrepareForCreate) ------------------------------------------------

namespace {

void prepare_job(json& obj) {
  json& spec = object_at(obj, "spec");
  if (spec.contains("manualSelector") && spec["manualSelector"] == true) return;
  const json& meta = obj["metadata"];
  std::string name = jvalue(meta, "name", ""), uid = jvalue(meta, "uid", "");
  json& tmeta = object_at(object_at(spec, "template"), "metadata");
  json& labels = object_at(tmeta, "labels");
  // Labels the user set already stay (a conflicting value fails validation).
  for (const char* k : {"batch.kubernetes.io/job-name", "job-name"}) def(labels, k, name);
  for (const char* k : {"batch.kubernetes.io/controller-uid", "controller-uid"}) def(labels, k, uid);
  json& sel = object_at(spec, "selector");
  json& ml = object_at(sel, "matchLabels");
  def(ml, "batch.kubernetes.io/controller-uid", uid);
  json& job_meta = obj["metadata"];
  if (!job_meta.contains("labels") || !job_meta["labels"].is_object() || job_meta["labels"].empty()) {
    job_meta["labels"] = labels;
  }
}

}  // namespace

void prepare_create(const ResourceType& type, json& obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return;
  if (type.group == "batch" && type.kind == "Job") prepare_job(obj);
}

}  // namespace k3dpp::schema
