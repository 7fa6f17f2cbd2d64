// The served resource types, with the names, verbs and subresources a Kubernetes 1.32 server reports.
#include "node-image/schema/schema.h"

#include "node-image/schema/custom_types.h"

#include <algorithm>

namespace k3dpp::schema {
namespace {

using Verbs = std::vector<std::string>;

const Verbs kAll = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
const Verbs kNoCollection = {"create", "delete", "get", "list", "patch", "update", "watch"};
const Verbs kGetPatchUpdate = {"get", "patch", "update"};

Subresource status_of(const std::string& kind) { return {"status", "", "", kind, kGetPatchUpdate}; }
Subresource scale() { return {"scale", "autoscaling", "v1", "Scale", kGetPatchUpdate}; }

ResourceType make(std::string group, std::string kind, std::string plural, std::string singular,
                  bool namespaced, std::vector<std::string> short_names = {},
                  std::vector<std::string> categories = {}, Verbs verbs = kAll,
                  std::vector<Subresource> subs = {}) {
  ResourceType t;
  t.group = std::move(group);
  t.version = "v1";
  t.kind = std::move(kind);
  t.plural = std::move(plural);
  t.singular = std::move(singular);
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.categories = std::move(categories);
  t.verbs = std::move(verbs);
  t.subresources = std::move(subs);
  return t;
}

std::vector<ResourceType> build_types() {
  std::vector<ResourceType> v;
  const std::vector<std::string> all = {"all"};
  // core/v1
  v.push_back(make("", "Binding", "bindings", "binding", true, {}, {}, {"create"}));
  v.push_back(make("", "ConfigMap", "configmaps", "configmap", true, {"cm"}));
  v.push_back(make("", "Endpoints", "endpoints", "endpoints", true, {"ep"}));
  v.push_back(make("", "Event", "events", "event", true, {"ev"}));
  v.push_back(make("", "LimitRange", "limitranges", "limitrange", true, {"limits"}));
  v.push_back(make("", "Namespace", "namespaces", "namespace", false, {"ns"}, {}, kNoCollection,
                   {{"finalize", "", "", "Namespace", {"update"}}, status_of("Namespace")}));
  v.push_back(make("", "Node", "nodes", "node", false, {"no"}, {}, kAll,
                   {{"proxy", "", "", "NodeProxyOptions", {"create", "delete", "get", "patch", "update"}},
                    status_of("Node")}));
  v.push_back(make("", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim",
                   true, {"pvc"}, {}, kAll, {status_of("PersistentVolumeClaim")}));
  v.push_back(make("", "PersistentVolume", "persistentvolumes", "persistentvolume", false, {"pv"},
                   {}, kAll, {status_of("PersistentVolume")}));
  v.push_back(make("", "Pod", "pods", "pod", true, {"po"}, all, kAll,
                   {{"attach", "", "", "PodAttachOptions", {"create", "get"}},
                    {"binding", "", "", "Binding", {"create"}},
                    {"ephemeralcontainers", "", "", "Pod", kGetPatchUpdate},
                    {"eviction", "policy", "v1", "Eviction", {"create"}},
                    {"exec", "", "", "PodExecOptions", {"create", "get"}},
                    {"log", "", "", "Pod", {"get"}},
                    {"portforward", "", "", "PodPortForwardOptions", {"create", "get"}},
                    {"proxy", "", "", "PodProxyOptions", {"create", "delete", "get", "patch", "update"}},
                    status_of("Pod")}));
  v.push_back(make("", "ReplicationController", "replicationcontrollers", "replicationcontroller",
                   true, {"rc"}, all, kAll, {scale(), status_of("ReplicationController")}));
  v.push_back(make("", "ResourceQuota", "resourcequotas", "resourcequota", true, {"quota"}, {}, kAll,
                   {status_of("ResourceQuota")}));
  v.push_back(make("", "Secret", "secrets", "secret", true));
  v.push_back(make("", "ServiceAccount", "serviceaccounts", "serviceaccount", true, {"sa"}, {}, kAll,
                   {{"token", "authentication.k8s.io", "v1", "TokenRequest", {"create"}}}));
  v.push_back(make("", "Service", "services", "service", true, {"svc"}, all, kAll,
                   {{"proxy", "", "", "ServiceProxyOptions", {"create", "delete", "get", "patch", "update"}},
                    status_of("Service")}));
  // apps/v1
  v.push_back(make("apps", "ControllerRevision", "controllerrevisions", "controllerrevision", true));
  v.push_back(make("apps", "DaemonSet", "daemonsets", "daemonset", true, {"ds"}, all, kAll,
                   {status_of("DaemonSet")}));
  v.push_back(make("apps", "Deployment", "deployments", "deployment", true, {"deploy"}, all, kAll,
                   {scale(), status_of("Deployment")}));
  v.push_back(make("apps", "ReplicaSet", "replicasets", "replicaset", true, {"rs"}, all, kAll,
                   {scale(), status_of("ReplicaSet")}));
  v.push_back(make("apps", "StatefulSet", "statefulsets", "statefulset", true, {"sts"}, all, kAll,
                   {scale(), status_of("StatefulSet")}));
  // events.k8s.io/v1
  v.push_back(make("events.k8s.io", "Event", "events", "event", true, {"ev"}));
  // batch/v1
  v.push_back(make("batch", "CronJob", "cronjobs", "cronjob", true, {"cj"}, all, kAll,
                   {status_of("CronJob")}));
  v.push_back(make("batch", "Job", "jobs", "job", true, {}, all, kAll, {status_of("Job")}));
  // networking.k8s.io/v1
  v.push_back(make("networking.k8s.io", "Ingress", "ingresses", "ingress", true, {"ing"}, {}, kAll,
                   {status_of("Ingress")}));
  v.push_back(make("networking.k8s.io", "IngressClass", "ingressclasses", "ingressclass", false));
  // policy/v1
  v.push_back(make("policy", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget",
                   true, {"pdb"}, {}, kAll, {status_of("PodDisruptionBudget")}));
  // storage.k8s.io/v1
  v.push_back(make("storage.k8s.io", "StorageClass", "storageclasses", "storageclass", false, {"sc"}));
  // coordination.k8s.io/v1
  v.push_back(make("coordination.k8s.io", "Lease", "leases", "lease", true));
  // discovery.k8s.io/v1
  v.push_back(make("discovery.k8s.io", "EndpointSlice", "endpointslices", "endpointslice", true));
  // apiextensions.k8s.io/v1
  v.push_back(make("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions",
                   "customresourcedefinition", false, {"crd", "crds"}, {"api-extensions"}, kAll,
                   {status_of("CustomResourceDefinition")}));
  return v;
}

}  // namespace

std::string ResourceType::api_version() const {
  return group.empty() ? version : group + "/" + version;
}
std::string ResourceType::list_kind() const { return kind + "List"; }
std::string ResourceType::group_resource() const {
  return group.empty() ? plural : plural + "." + group;
}
const Subresource* ResourceType::find_subresource(std::string_view name) const {
  for (const auto& s : subresources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const std::vector<ResourceType>& all_types() {
  static const std::vector<ResourceType> types = build_types();
  return types;
}

const ResourceType* find_by_plural(std::string_view group, std::string_view version,
                                   std::string_view plural) {
  for (const auto& t : all_types()) {
    if (t.group == group && t.version == version && t.plural == plural) return &t;
  }
  return find_custom(group, version, plural).get();
}

const ResourceType* find_by_kind(std::string_view api_version, std::string_view kind) {
  for (const auto& t : all_types()) {
    if (t.kind == kind && t.api_version() == api_version) return &t;
  }
  for (const auto& t : custom_types())
    if (t->kind == kind && t->api_version() == api_version) return t.get();
  return nullptr;
}

std::vector<std::string> group_versions() {
  std::vector<std::string> out;
  for (const auto& t : all_types()) {
    std::string gv = t.api_version();
    if (std::find(out.begin(), out.end(), gv) == out.end()) out.push_back(gv);
  }
  for (const auto& t : custom_types()) {
    std::string gv = t->api_version();
    if (std::find(out.begin(), out.end(), gv) == out.end()) out.push_back(gv);
  }
  return out;
}

}  // namespace k3dpp::schema
