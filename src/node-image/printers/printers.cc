// Server-side Tables. Column sets, cell values and priorities follow Kubernetes' printers
// (pkg/printers/internalversion) as served by kube-apiserver 1.32, which always generates the
// wide cells; kubectl drops the priority-1 columns itself unless -o wide.
#include "node-image/printers/printers.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/strings.h"

namespace k3dpp::printers {

using json = nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

// ---------------------------------------------------------------------------------------------
// Safe access to stored JSON: a missing or mistyped field reads as empty, like a zero Go field.

const json& null_json() {
  static const json kNull;
  return kNull;
}

const json& field(const json& j, const char* key) {
  if (!j.is_object()) return null_json();
  auto it = j.find(key);
  return it == j.end() ? null_json() : *it;
}

template <typename... Keys>
const json& path(const json& j, const char* first, Keys... rest) {
  const json& v = field(j, first);
  if constexpr (sizeof...(rest) == 0) {
    return v;
  } else {
    return path(v, rest...);
  }
}

std::string str(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_integer()) return std::to_string(j.get<long long>());
  if (j.is_number_float()) return j.dump();
  return {};
}

long long integer(const json& j) {
  if (j.is_number_integer()) return j.get<long long>();
  if (j.is_number_float()) return static_cast<long long>(j.get<double>());
  return 0;
}

bool boolean(const json& j) { return j.is_boolean() && j.get<bool>(); }

const json& arr(const json& j) {
  static const json kEmpty = json::array();
  return j.is_array() ? j : kEmpty;
}

size_t count(const json& j) {
  if (j.is_array() || j.is_object()) return j.size();
  return 0;
}

bool present(const json& j) { return !j.is_null(); }

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  return k3dpp::strings::join(parts, sep);
}

// ---------------------------------------------------------------------------------------------
// Shared cell formatting.

struct Ctx {
  Clock::time_point now;
};

std::optional<Clock::time_point> timestamp(const json& j) {
  Clock::time_point t;
  if (j.is_string() && parse_time(j.get<std::string>(), t)) return t;
  return std::nullopt;
}

// translateTimestampSince: "<unknown>" for a zero (missing) time.
std::string since(const Ctx& ctx, const json& ts) {
  auto t = timestamp(ts);
  if (!t) return "<unknown>";
  return format_age(ctx.now - *t);
}

std::string age(const Ctx& ctx, const json& obj) {
  return since(ctx, path(obj, "metadata", "creationTimestamp"));
}

std::string name_of(const json& obj) { return str(path(obj, "metadata", "name")); }

// labels.FormatLabels: sorted k=v pairs, "<none>" when empty.
std::string format_labels(const json& m) {
  if (!m.is_object() || m.empty()) return "<none>";
  std::vector<std::string> parts;
  for (auto it = m.begin(); it != m.end(); ++it) parts.push_back(it.key() + "=" + str(it.value()));
  std::sort(parts.begin(), parts.end());
  return join(parts, ",");
}

// labels.Selector.String() of metav1.LabelSelectorAsSelector: requirements sorted by key,
// values sorted. Empty string for nil or empty selectors. nullopt when invalid.
std::optional<std::string> selector_string(const json& sel) {
  if (!sel.is_object()) return std::string();
  std::vector<std::pair<std::string, std::string>> reqs;  // key, rendered requirement
  const json& ml = field(sel, "matchLabels");
  if (ml.is_object()) {
    for (auto it = ml.begin(); it != ml.end(); ++it) {
      reqs.emplace_back(it.key(), it.key() + "=" + str(it.value()));
    }
  }
  for (const auto& expr : arr(field(sel, "matchExpressions"))) {
    const std::string key = str(field(expr, "key"));
    const std::string op = str(field(expr, "operator"));
    std::set<std::string> values;
    for (const auto& v : arr(field(expr, "values"))) values.insert(str(v));
    std::vector<std::string> vs(values.begin(), values.end());
    if (op == "In" || op == "NotIn") {
      if (vs.empty()) return std::nullopt;
      reqs.emplace_back(key, key + (op == "In" ? " in (" : " notin (") + join(vs, ",") + ")");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!vs.empty()) return std::nullopt;
      reqs.emplace_back(key, (op == "Exists" ? "" : "!") + key);
    } else {
      return std::nullopt;
    }
  }
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(r.second);
  return join(parts, ",");
}

// metav1.FormatLabelSelector: "<none>" for nil or empty, "<error>" when invalid.
std::string format_label_selector(const json& sel) {
  if (!sel.is_object()) return "<none>";
  auto s = selector_string(sel);
  if (!s) return "<error>";
  if (s->empty()) return "<none>";
  return *s;
}

// layoutContainerCells: names and images, comma-joined.
std::pair<std::string, std::string> containers_cells(const json& containers) {
  std::vector<std::string> names, images;
  for (const auto& c : arr(containers)) {
    names.push_back(str(field(c, "name")));
    images.push_back(str(field(c, "image")));
  }
  return {join(names, ","), join(images, ",")};
}

std::string bool_ptr(const json& j) {
  if (!j.is_boolean()) return "<unset>";
  return j.get<bool>() ? "True" : "False";
}

// helper.GetAccessModesAsString: fixed order, duplicates dropped.
std::string access_modes(const json& modes) {
  std::set<std::string> have;
  for (const auto& m : arr(modes)) have.insert(str(m));
  std::vector<std::string> out;
  if (have.count("ReadWriteOnce")) out.push_back("RWO");
  if (have.count("ReadOnlyMany")) out.push_back("ROX");
  if (have.count("ReadWriteMany")) out.push_back("RWX");
  if (have.count("ReadWriteOncePod")) out.push_back("RWOP");
  return join(out, ",");
}

std::string join_host_port(const std::string& host, const std::string& port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port;
  return host + ":" + port;
}

std::string list_with_more(const std::vector<std::string>& list, bool more, long long total,
                           long long max) {
  std::string ret = join(list, ",");
  if (more) return ret + " + " + std::to_string(total - max) + " more...";
  if (ret.empty()) return "<unset>";
  return ret;
}

// ---------------------------------------------------------------------------------------------
// Column definitions.

struct Column {
  const char* name;
  const char* type;
  const char* format;
  const char* description;
  int priority;
};

// Descriptions of the two columns every printer has, and of the default table.
constexpr const char* kNameDesc =
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the name to be generated automatically. Name is "
    "primarily intended for creation idempotence and configuration definition. Cannot be updated. "
    "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
constexpr const char* kAgeDesc =
    "CreationTimestamp is a timestamp representing the server time when this object was created. "
    "It is not guaranteed to be set in happens-before order across separate operations. Clients "
    "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the "
    "system. Read-only. Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
constexpr const char* kContainersDesc = "Names of each container in the template.";
constexpr const char* kImagesDesc = "Images referenced by each container in the template.";

Column name_col() { return {"Name", "string", "name", kNameDesc, 0}; }
Column age_col() { return {"Age", "string", "", kAgeDesc, 0}; }
Column col(const char* name, const char* type, const char* desc, int priority = 0) {
  return {name, type, "", desc, priority};
}

using Cells = std::vector<json>;
using CellFn = std::function<Cells(const json& obj, const Ctx& ctx)>;
using ConditionsFn = std::function<json(const json& obj)>;

struct Printer {
  std::vector<Column> columns;
  CellFn cells;
  ConditionsFn conditions;  // optional row conditions
};

// ---------------------------------------------------------------------------------------------
// Pods.

bool condition_true(const json& conditions, const std::string& type) {
  for (const auto& c : arr(conditions)) {
    if (str(field(c, "type")) == type && str(field(c, "status")) == "True") return true;
  }
  return false;
}

void later(std::optional<Clock::time_point>& latest, const json& terminated) {
  if (!terminated.is_object()) return;
  auto t = timestamp(field(terminated, "finishedAt"));
  if (t && (!latest || *latest < *t)) latest = t;
}

Cells pod_cells(const json& pod, const Ctx& ctx) {
  const json& spec = field(pod, "spec");
  const json& status = field(pod, "status");
  long long restarts = 0;
  long long restartable_init_restarts = 0;
  long long total = static_cast<long long>(count(field(spec, "containers")));
  long long ready = 0;
  std::optional<Clock::time_point> last_restart, last_restartable_init_restart;

  const std::string phase = str(field(status, "phase"));
  std::string reason = phase;
  if (!str(field(status, "reason")).empty()) reason = str(field(status, "reason"));
  for (const auto& c : arr(field(status, "conditions"))) {
    if (str(field(c, "type")) == "PodScheduled" && str(field(c, "reason")) == "SchedulingGated") {
      reason = "SchedulingGated";
    }
  }

  // Sidecars: init containers with restartPolicy Always count as containers.
  std::set<std::string> restartable;
  const json& init_specs = field(spec, "initContainers");
  for (const auto& c : arr(init_specs)) {
    if (str(field(c, "restartPolicy")) == "Always") {
      restartable.insert(str(field(c, "name")));
      ++total;
    }
  }

  bool initializing = false;
  const json& init_statuses = arr(field(status, "initContainerStatuses"));
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const json& c = init_statuses[i];
    const bool is_restartable = restartable.count(str(field(c, "name"))) > 0;
    restarts += integer(field(c, "restartCount"));
    later(last_restart, path(c, "lastState", "terminated"));
    if (is_restartable) {
      restartable_init_restarts += integer(field(c, "restartCount"));
      later(last_restartable_init_restart, path(c, "lastState", "terminated"));
    }
    const json& terminated = path(c, "state", "terminated");
    const json& waiting = path(c, "state", "waiting");
    if (terminated.is_object() && integer(field(terminated, "exitCode")) == 0) continue;
    if (is_restartable && boolean(field(c, "started"))) {
      if (boolean(field(c, "ready"))) ++ready;
      continue;
    }
    if (terminated.is_object()) {
      const std::string r = str(field(terminated, "reason"));
      if (r.empty()) {
        const long long signal = integer(field(terminated, "signal"));
        reason = signal != 0 ? "Init:Signal:" + std::to_string(signal)
                             : "Init:ExitCode:" + std::to_string(integer(field(terminated, "exitCode")));
      } else {
        reason = "Init:" + r;
      }
    } else if (waiting.is_object() && !str(field(waiting, "reason")).empty() &&
               str(field(waiting, "reason")) != "PodInitializing") {
      reason = "Init:" + str(field(waiting, "reason"));
    } else {
      reason = "Init:" + std::to_string(i) + "/" + std::to_string(count(init_specs));
    }
    initializing = true;
    break;
  }

  if (!initializing || condition_true(field(status, "conditions"), "Initialized")) {
    restarts = restartable_init_restarts;
    last_restart = last_restartable_init_restart;
    bool has_running = false;
    const json& statuses = arr(field(status, "containerStatuses"));
    for (size_t k = statuses.size(); k-- > 0;) {
      const json& c = statuses[k];
      restarts += integer(field(c, "restartCount"));
      later(last_restart, path(c, "lastState", "terminated"));
      const json& waiting = path(c, "state", "waiting");
      const json& terminated = path(c, "state", "terminated");
      if (waiting.is_object() && !str(field(waiting, "reason")).empty()) {
        reason = str(field(waiting, "reason"));
      } else if (terminated.is_object() && !str(field(terminated, "reason")).empty()) {
        reason = str(field(terminated, "reason"));
      } else if (terminated.is_object()) {
        const long long signal = integer(field(terminated, "signal"));
        reason = signal != 0 ? "Signal:" + std::to_string(signal)
                             : "ExitCode:" + std::to_string(integer(field(terminated, "exitCode")));
      } else if (boolean(field(c, "ready")) && path(c, "state", "running").is_object()) {
        has_running = true;
        ++ready;
      }
    }
    if (reason == "Completed" && has_running) {
      reason = condition_true(field(status, "conditions"), "Ready") ? "Running" : "NotReady";
    }
  }

  const bool deleting = present(path(pod, "metadata", "deletionTimestamp"));
  if (deleting && str(field(status, "reason")) == "NodeLost") {
    reason = "Unknown";
  } else if (deleting && phase != "Succeeded" && phase != "Failed") {
    reason = "Terminating";
  }

  std::string restarts_cell = std::to_string(restarts);
  if (restarts != 0 && last_restart) {
    restarts_cell += " (" + format_age(ctx.now - *last_restart) + " ago)";
  }

  std::string ip;
  const json& ips = arr(field(status, "podIPs"));
  if (!ips.empty()) ip = str(field(ips[0], "ip"));
  if (ip.empty() && ips.empty()) ip = str(field(status, "podIP"));
  if (ip.empty()) ip = "<none>";
  std::string node = str(field(spec, "nodeName"));
  if (node.empty()) node = "<none>";
  std::string nominated = str(field(status, "nominatedNodeName"));
  if (nominated.empty()) nominated = "<none>";
  std::string gates = "<none>";
  const json& readiness_gates = arr(field(spec, "readinessGates"));
  if (!readiness_gates.empty()) {
    long long true_count = 0;
    for (const auto& g : readiness_gates) {
      const std::string type = str(field(g, "conditionType"));
      for (const auto& c : arr(field(status, "conditions"))) {
        if (str(field(c, "type")) == type) {
          if (str(field(c, "status")) == "True") ++true_count;
          break;
        }
      }
    }
    gates = std::to_string(true_count) + "/" + std::to_string(readiness_gates.size());
  }

  return {name_of(pod),
          std::to_string(ready) + "/" + std::to_string(total),
          reason,
          restarts_cell,
          age(ctx, pod),
          ip,
          node,
          nominated,
          gates};
}

json pod_conditions(const json& pod) {
  const std::string phase = str(path(pod, "status", "phase"));
  if (phase == "Succeeded") {
    return json::array({{{"type", "Completed"},
                         {"status", "True"},
                         {"reason", "Succeeded"},
                         {"message", "The pod has completed successfully."}}});
  }
  if (phase == "Failed") {
    return json::array(
        {{{"type", "Completed"}, {"status", "True"}, {"reason", "Failed"}, {"message", "The pod failed."}}});
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Nodes.

std::string node_address(const json& node, const std::string& type) {
  for (const auto& a : arr(path(node, "status", "addresses"))) {
    if (str(field(a, "type")) == type) return str(field(a, "address"));
  }
  return "<none>";
}

std::string or_unknown(std::string s) { return s.empty() ? "<unknown>" : s; }

Cells node_cells(const json& node, const Ctx& ctx) {
  // The last Ready condition wins, like the map Kubernetes builds.
  std::optional<std::string> ready_status;
  for (const auto& c : arr(path(node, "status", "conditions"))) {
    if (str(field(c, "type")) == "Ready") ready_status = str(field(c, "status"));
  }
  std::vector<std::string> status;
  if (ready_status) status.push_back(*ready_status == "True" ? "Ready" : "NotReady");
  if (status.empty()) status.push_back("Unknown");
  if (boolean(path(node, "spec", "unschedulable"))) status.push_back("SchedulingDisabled");

  std::set<std::string> roles;
  const json& labels = path(node, "metadata", "labels");
  if (labels.is_object()) {
    const std::string prefix = "node-role.kubernetes.io/";
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      const std::string& k = it.key();
      if (k.rfind(prefix, 0) == 0) {
        if (k.size() > prefix.size()) roles.insert(k.substr(prefix.size()));
      } else if (k == "kubernetes.io/role" && !str(it.value()).empty()) {
        roles.insert(str(it.value()));
      }
    }
  }
  std::string roles_cell = join(std::vector<std::string>(roles.begin(), roles.end()), ",");
  if (roles_cell.empty()) roles_cell = "<none>";

  const json& info = path(node, "status", "nodeInfo");
  return {name_of(node),
          join(status, ","),
          roles_cell,
          age(ctx, node),
          str(field(info, "kubeletVersion")),
          node_address(node, "InternalIP"),
          node_address(node, "ExternalIP"),
          or_unknown(str(field(info, "osImage"))),
          or_unknown(str(field(info, "kernelVersion"))),
          or_unknown(str(field(info, "containerRuntimeVersion")))};
}

// ---------------------------------------------------------------------------------------------
// Workloads.

// spec.replicas as the API server stores it after defaulting (1 when absent).
long long replicas_or_one(const json& spec) {
  const json& r = field(spec, "replicas");
  return r.is_number() ? integer(r) : 1;
}

Cells deployment_cells(const json& d, const Ctx& ctx) {
  const json& spec = field(d, "spec");
  const json& status = field(d, "status");
  auto [names, images] = containers_cells(path(spec, "template", "spec", "containers"));
  auto sel = selector_string(field(spec, "selector"));
  return {name_of(d),
          std::to_string(integer(field(status, "readyReplicas"))) + "/" +
              std::to_string(replicas_or_one(spec)),
          integer(field(status, "updatedReplicas")),
          integer(field(status, "availableReplicas")),
          age(ctx, d),
          names,
          images,
          sel ? *sel : std::string("<invalid>")};
}

Cells replicaset_cells(const json& rs, const Ctx& ctx) {
  const json& spec = field(rs, "spec");
  const json& status = field(rs, "status");
  auto [names, images] = containers_cells(path(spec, "template", "spec", "containers"));
  return {name_of(rs),
          replicas_or_one(spec),
          integer(field(status, "replicas")),
          integer(field(status, "readyReplicas")),
          age(ctx, rs),
          names,
          images,
          format_label_selector(field(spec, "selector"))};
}

Cells replicationcontroller_cells(const json& rc, const Ctx& ctx) {
  const json& spec = field(rc, "spec");
  const json& status = field(rc, "status");
  auto [names, images] = containers_cells(path(spec, "template", "spec", "containers"));
  return {name_of(rc),
          replicas_or_one(spec),
          integer(field(status, "replicas")),
          integer(field(status, "readyReplicas")),
          age(ctx, rc),
          names,
          images,
          format_labels(field(spec, "selector"))};
}

Cells statefulset_cells(const json& ss, const Ctx& ctx) {
  const json& spec = field(ss, "spec");
  auto [names, images] = containers_cells(path(spec, "template", "spec", "containers"));
  return {name_of(ss),
          std::to_string(integer(path(ss, "status", "readyReplicas"))) + "/" +
              std::to_string(replicas_or_one(spec)),
          age(ctx, ss),
          names,
          images};
}

Cells daemonset_cells(const json& ds, const Ctx& ctx) {
  const json& spec = field(ds, "spec");
  const json& status = field(ds, "status");
  auto [names, images] = containers_cells(path(spec, "template", "spec", "containers"));
  return {name_of(ds),
          integer(field(status, "desiredNumberScheduled")),
          integer(field(status, "currentNumberScheduled")),
          integer(field(status, "numberReady")),
          integer(field(status, "updatedNumberScheduled")),
          integer(field(status, "numberAvailable")),
          format_labels(path(spec, "template", "spec", "nodeSelector")),
          age(ctx, ds),
          names,
          images,
          format_label_selector(field(spec, "selector"))};
}

// hasJobCondition: the first condition of the type decides.
bool job_condition(const json& conditions, const std::string& type) {
  for (const auto& c : arr(conditions)) {
    if (str(field(c, "type")) == type) return str(field(c, "status")) == "True";
  }
  return false;
}

Cells job_cells(const json& job, const Ctx& ctx) {
  const json& spec = field(job, "spec");
  const json& status = field(job, "status");
  const long long succeeded = integer(field(status, "succeeded"));
  std::string completions;
  if (field(spec, "completions").is_number()) {
    completions = std::to_string(succeeded) + "/" + std::to_string(integer(field(spec, "completions")));
  } else {
    const long long parallelism = integer(field(spec, "parallelism"));
    completions = std::to_string(succeeded) + "/1";
    if (parallelism > 1) completions += " of " + std::to_string(parallelism);
  }
  std::string duration;
  auto start = timestamp(field(status, "startTime"));
  auto done = timestamp(field(status, "completionTime"));
  if (start && !done) duration = format_age(ctx.now - *start);
  if (start && done) duration = format_age(*done - *start);
  const json& conds = field(status, "conditions");
  std::string state = "Running";
  if (job_condition(conds, "Complete")) {
    state = "Complete";
  } else if (job_condition(conds, "Failed")) {
    state = "Failed";
  } else if (present(path(job, "metadata", "deletionTimestamp"))) {
    state = "Terminating";
  } else if (job_condition(conds, "Suspended")) {
    state = "Suspended";
  } else if (job_condition(conds, "FailureTarget")) {
    state = "FailureTarget";
  } else if (job_condition(conds, "SuccessCriteriaMet")) {
    state = "SuccessCriteriaMet";
  }
  auto [names, images] = containers_cells(path(spec, "template", "spec", "containers"));
  return {name_of(job), state,  completions, duration, age(ctx, job),
          names,        images, format_label_selector(field(spec, "selector"))};
}

Cells cronjob_cells(const json& cj, const Ctx& ctx) {
  const json& spec = field(cj, "spec");
  const json& status = field(cj, "status");
  std::string last = "<none>";
  if (present(field(status, "lastScheduleTime"))) last = since(ctx, field(status, "lastScheduleTime"));
  std::string tz = field(spec, "timeZone").is_string() ? str(field(spec, "timeZone")) : "<none>";
  const json& job_spec = path(spec, "jobTemplate", "spec");
  auto [names, images] = containers_cells(path(job_spec, "template", "spec", "containers"));
  return {name_of(cj),
          str(field(spec, "schedule")),
          tz,
          bool_ptr(field(spec, "suspend")),
          static_cast<long long>(count(field(status, "active"))),
          last,
          age(ctx, cj),
          names,
          images,
          format_label_selector(field(job_spec, "selector"))};
}

Cells controllerrevision_cells(const json& cr, const Ctx& ctx) {
  std::string controller = "<none>";
  for (const auto& ref : arr(path(cr, "metadata", "ownerReferences"))) {
    if (!boolean(field(ref, "controller"))) continue;
    const std::string api_version = str(field(ref, "apiVersion"));
    const auto slash = api_version.find('/');
    const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    const std::string kind = str(field(ref, "kind"));
    const std::string ref_name = str(field(ref, "name"));
    if (group.empty() && kind.empty()) {
      controller = ref_name;
    } else {
      controller = k3dpp::strings::to_lower(group.empty() ? kind : kind + "." + group) + "/" + ref_name;
    }
    break;
  }
  return {name_of(cr), controller, integer(field(cr, "revision")), age(ctx, cr)};
}

Cells podtemplate_cells(const json& pt, const Ctx&) {
  auto [names, images] = containers_cells(path(pt, "template", "spec", "containers"));
  return {name_of(pt), names, images, format_labels(path(pt, "template", "metadata", "labels"))};
}

// ---------------------------------------------------------------------------------------------
// Services and networking.

std::string load_balancer_ips(const json& status) {
  std::set<std::string> result;
  for (const auto& ing : arr(path(status, "loadBalancer", "ingress"))) {
    if (!str(field(ing, "ip")).empty()) {
      result.insert(str(field(ing, "ip")));
    } else if (!str(field(ing, "hostname")).empty()) {
      result.insert(str(field(ing, "hostname")));
    }
  }
  return join(std::vector<std::string>(result.begin(), result.end()), ",");
}

std::vector<std::string> strings_of(const json& a) {
  std::vector<std::string> out;
  for (const auto& v : arr(a)) out.push_back(str(v));
  return out;
}

Cells service_cells(const json& svc, const Ctx& ctx) {
  const json& spec = field(svc, "spec");
  std::string type = str(field(spec, "type"));
  if (type.empty()) type = "ClusterIP";
  std::string cluster_ip = "<none>";
  const json& ips = arr(field(spec, "clusterIPs"));
  if (!ips.empty()) {
    cluster_ip = str(ips[0]);
  } else if (!str(field(spec, "clusterIP")).empty()) {
    cluster_ip = str(field(spec, "clusterIP"));
  }
  const std::vector<std::string> external_ips = strings_of(field(spec, "externalIPs"));
  std::string external;
  if (type == "ClusterIP" || type == "NodePort") {
    external = external_ips.empty() ? "<none>" : join(external_ips, ",");
  } else if (type == "LoadBalancer") {
    const std::string lb = load_balancer_ips(field(svc, "status"));
    if (!external_ips.empty()) {
      std::vector<std::string> all;
      if (!lb.empty()) all = k3dpp::strings::split(lb, ',');
      all.insert(all.end(), external_ips.begin(), external_ips.end());
      external = join(all, ",");
    } else {
      external = lb.empty() ? "<pending>" : lb;
    }
  } else if (type == "ExternalName") {
    external = str(field(spec, "externalName"));
  } else {
    external = "<unknown>";
  }
  std::vector<std::string> ports;
  for (const auto& p : arr(field(spec, "ports"))) {
    std::string protocol = str(field(p, "protocol"));
    if (protocol.empty()) protocol = "TCP";
    const long long node_port = integer(field(p, "nodePort"));
    std::string piece = std::to_string(integer(field(p, "port")));
    if (node_port > 0) piece += ":" + std::to_string(node_port);
    ports.push_back(piece + "/" + protocol);
  }
  std::string ports_cell = join(ports, ",");
  if (ports_cell.empty()) ports_cell = "<none>";
  return {name_of(svc), type,          cluster_ip, external, ports_cell, age(ctx, svc),
          format_labels(field(spec, "selector"))};
}

std::string format_endpoints(const json& ep) {
  const json& subsets = arr(field(ep, "subsets"));
  if (subsets.empty()) return "<none>";
  std::vector<std::string> list;
  const size_t max = 3;
  bool more = false;
  long long total = 0;
  for (const auto& ss : subsets) {
    const json& addresses = arr(field(ss, "addresses"));
    const json& ports = arr(field(ss, "ports"));
    if (ports.empty()) {
      total += static_cast<long long>(addresses.size());
      for (const auto& a : addresses) {
        if (list.size() == max) {
          more = true;
          break;
        }
        list.push_back(str(field(a, "ip")));
      }
      continue;
    }
    for (const auto& port : ports) {
      total += static_cast<long long>(addresses.size());
      for (const auto& a : addresses) {
        if (list.size() == max) {
          more = true;
          break;
        }
        list.push_back(join_host_port(str(field(a, "ip")), std::to_string(integer(field(port, "port")))));
      }
    }
  }
  std::string ret = join(list, ",");
  if (more) return ret + " + " + std::to_string(total - static_cast<long long>(max)) + " more...";
  return ret;
}

Cells endpoints_cells(const json& ep, const Ctx& ctx) {
  return {name_of(ep), format_endpoints(ep), age(ctx, ep)};
}

Cells endpointslice_cells(const json& es, const Ctx& ctx) {
  const long long max = 3;
  std::vector<std::string> ports;
  bool more_ports = false;
  long long port_count = 0;
  for (const auto& p : arr(field(es, "ports"))) {
    if (static_cast<long long>(ports.size()) < max) {
      std::string num = "*";
      if (field(p, "port").is_number()) {
        num = std::to_string(integer(field(p, "port")));
      } else if (field(p, "name").is_string()) {
        num = str(field(p, "name"));
      }
      ports.push_back(num);
    } else {
      more_ports = true;
    }
    ++port_count;
  }
  std::vector<std::string> addrs;
  bool more_addrs = false;
  long long addr_count = 0;
  for (const auto& e : arr(field(es, "endpoints"))) {
    for (const auto& a : arr(field(e, "addresses"))) {
      if (static_cast<long long>(addrs.size()) < max) {
        addrs.push_back(str(a));
      } else {
        more_addrs = true;
      }
      ++addr_count;
    }
  }
  return {name_of(es), str(field(es, "addressType")), list_with_more(ports, more_ports, port_count, max),
          list_with_more(addrs, more_addrs, addr_count, max), age(ctx, es)};
}

Cells ingress_cells(const json& ing, const Ctx& ctx) {
  const json& spec = field(ing, "spec");
  std::string cls = field(spec, "ingressClassName").is_string() ? str(field(spec, "ingressClassName")) : "<none>";
  const json& rules = arr(field(spec, "rules"));
  std::vector<std::string> hosts;
  const size_t max = 3;
  bool more = false;
  for (const auto& r : rules) {
    if (hosts.size() == max) more = true;
    if (!more && !str(field(r, "host")).empty()) hosts.push_back(str(field(r, "host")));
  }
  std::string hosts_cell = hosts.empty() ? "*" : join(hosts, ",");
  if (!hosts.empty() && more) hosts_cell += " + " + std::to_string(rules.size() - max) + " more...";
  const std::string ports = count(field(spec, "tls")) != 0 ? "80, 443" : "80";
  return {name_of(ing), cls, hosts_cell, load_balancer_ips(field(ing, "status")), ports, age(ctx, ing)};
}

Cells ingressclass_cells(const json& ic, const Ctx& ctx) {
  const json& params = path(ic, "spec", "parameters");
  std::string parameters = "<none>";
  if (params.is_object()) {
    parameters = str(field(params, "kind"));
    if (field(params, "apiGroup").is_string()) parameters += "." + str(field(params, "apiGroup"));
    parameters += "/" + str(field(params, "name"));
  }
  return {name_of(ic), str(path(ic, "spec", "controller")), parameters, age(ctx, ic)};
}

Cells networkpolicy_cells(const json& np, const Ctx& ctx) {
  const json& sel = path(np, "spec", "podSelector");
  return {name_of(np), format_label_selector(sel.is_object() ? sel : json::object()), age(ctx, np)};
}

// ---------------------------------------------------------------------------------------------
// Config, identity, events, coordination.

Cells namespace_cells(const json& ns, const Ctx& ctx) {
  return {name_of(ns), str(path(ns, "status", "phase")), age(ctx, ns)};
}

Cells configmap_cells(const json& cm, const Ctx& ctx) {
  return {name_of(cm), static_cast<long long>(count(field(cm, "data")) + count(field(cm, "binaryData"))),
          age(ctx, cm)};
}

Cells secret_cells(const json& s, const Ctx& ctx) {
  return {name_of(s), str(field(s, "type")), static_cast<long long>(count(field(s, "data"))), age(ctx, s)};
}

Cells serviceaccount_cells(const json& sa, const Ctx& ctx) {
  return {name_of(sa), static_cast<long long>(count(field(sa, "secrets"))), age(ctx, sa)};
}

Cells lease_cells(const json& l, const Ctx& ctx) {
  return {name_of(l), str(path(l, "spec", "holderIdentity")), age(ctx, l)};
}

// Events: core/v1 and events.k8s.io/v1 carry the same data under different field names.
struct EventView {
  const json* first;
  const json* last;
  const json* event_time;
  const json* series;
  const json* count;
  const json* regarding;
  const json* source;
  const json* reporting_controller;
  const json* reporting_instance;
  const json* message;
};

Cells event_cells_from(const json& ev, const EventView& v, const Ctx& ctx) {
  std::string first = since(ctx, *v.first);
  if (!timestamp(*v.first)) first = since(ctx, *v.event_time);
  std::string last = since(ctx, *v.last);
  if (!timestamp(*v.last)) last = first;
  long long n = integer(*v.count);
  if (v.series->is_object()) {
    last = since(ctx, field(*v.series, "lastObservedTime"));
    n = integer(field(*v.series, "count"));
  } else if (n == 0) {
    n = 1;
  }
  const std::string kind = k3dpp::strings::to_lower(str(field(*v.regarding, "kind")));
  const std::string involved = str(field(*v.regarding, "name"));
  const std::string target = involved.empty() ? kind : kind + "/" + involved;
  std::string component = str(field(*v.source, "component"));
  if (component.empty()) component = str(*v.reporting_controller);
  std::string host = str(field(*v.source, "host"));
  if (host.empty()) host = str(*v.reporting_instance);
  const std::string source = host.empty() ? component : component + ", " + host;
  return {last,
          str(field(ev, "type")),
          str(field(ev, "reason")),
          target,
          str(field(*v.regarding, "fieldPath")),
          source,
          std::string(k3dpp::strings::trim(str(*v.message))),
          first,
          n,
          name_of(ev)};
}

Cells core_event_cells(const json& ev, const Ctx& ctx) {
  return event_cells_from(
      ev,
      {&field(ev, "firstTimestamp"), &field(ev, "lastTimestamp"), &field(ev, "eventTime"), &field(ev, "series"),
       &field(ev, "count"), &field(ev, "involvedObject"), &field(ev, "source"), &field(ev, "reportingComponent"),
       &field(ev, "reportingInstance"), &field(ev, "message")},
      ctx);
}

Cells events_api_event_cells(const json& ev, const Ctx& ctx) {
  return event_cells_from(
      ev,
      {&field(ev, "deprecatedFirstTimestamp"), &field(ev, "deprecatedLastTimestamp"), &field(ev, "eventTime"),
       &field(ev, "series"), &field(ev, "deprecatedCount"), &field(ev, "regarding"), &field(ev, "deprecatedSource"),
       &field(ev, "reportingController"), &field(ev, "reportingInstance"), &field(ev, "note")},
      ctx);
}

std::string subjects(const json& list, const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& s : arr(list)) {
    if (str(field(s, "kind")) != kind) continue;
    if (kind == "ServiceAccount") {
      out.push_back(str(field(s, "namespace")) + "/" + str(field(s, "name")));
    } else {
      out.push_back(str(field(s, "name")));
    }
  }
  return join(out, ", ");
}

Cells rolebinding_cells(const json& rb, const Ctx& ctx) {
  const json& ref = field(rb, "roleRef");
  const json& subs = field(rb, "subjects");
  return {name_of(rb), str(field(ref, "kind")) + "/" + str(field(ref, "name")), age(ctx, rb),
          subjects(subs, "User"), subjects(subs, "Group"), subjects(subs, "ServiceAccount")};
}

Cells priorityclass_cells(const json& pc, const Ctx& ctx) {
  return {name_of(pc), integer(field(pc, "value")), boolean(field(pc, "globalDefault")), age(ctx, pc),
          str(field(pc, "preemptionPolicy"))};
}

Cells runtimeclass_cells(const json& rc, const Ctx& ctx) {
  return {name_of(rc), str(field(rc, "handler")), age(ctx, rc)};
}

// ---------------------------------------------------------------------------------------------
// Storage.

std::string annotation(const json& obj, const char* key, bool& found) {
  const json& a = path(obj, "metadata", "annotations");
  found = a.is_object() && a.contains(key);
  return found ? str(a[key]) : std::string();
}

constexpr const char* kBetaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class";

std::string unset_or(const json& j) { return j.is_string() ? str(j) : "<unset>"; }

Cells pv_cells(const json& pv, const Ctx& ctx) {
  const json& spec = field(pv, "spec");
  std::string claim;
  const json& ref = field(spec, "claimRef");
  if (ref.is_object()) claim = str(field(ref, "namespace")) + "/" + str(field(ref, "name"));
  std::string phase = str(path(pv, "status", "phase"));
  if (present(path(pv, "metadata", "deletionTimestamp"))) phase = "Terminating";
  bool found = false;
  std::string cls = annotation(pv, kBetaStorageClassAnnotation, found);
  if (!found) cls = str(field(spec, "storageClassName"));
  return {name_of(pv),
          str(path(spec, "capacity", "storage")),
          access_modes(field(spec, "accessModes")),
          str(field(spec, "persistentVolumeReclaimPolicy")),
          phase,
          claim,
          cls,
          unset_or(field(spec, "volumeAttributesClassName")),
          str(path(pv, "status", "reason")),
          age(ctx, pv),
          unset_or(field(spec, "volumeMode"))};
}

Cells pvc_cells(const json& pvc, const Ctx& ctx) {
  const json& spec = field(pvc, "spec");
  const json& status = field(pvc, "status");
  std::string phase = str(field(status, "phase"));
  if (present(path(pvc, "metadata", "deletionTimestamp"))) phase = "Terminating";
  std::string capacity, modes;
  const std::string volume = str(field(spec, "volumeName"));
  if (!volume.empty()) {
    modes = access_modes(field(status, "accessModes"));
    capacity = str(path(status, "capacity", "storage"));
  }
  bool found = false;
  std::string cls = annotation(pvc, kBetaStorageClassAnnotation, found);
  if (!found) cls = str(field(spec, "storageClassName"));
  return {name_of(pvc), phase, volume, capacity, modes, cls,
          unset_or(field(spec, "volumeAttributesClassName")), age(ctx, pvc),
          unset_or(field(spec, "volumeMode"))};
}

Cells storageclass_cells(const json& sc, const Ctx& ctx) {
  std::string name = name_of(sc);
  bool found = false;
  if (annotation(sc, "storageclass.kubernetes.io/is-default-class", found) == "true" ||
      annotation(sc, "storageclass.beta.kubernetes.io/is-default-class", found) == "true") {
    name += " (default)";
  }
  std::string reclaim = str(field(sc, "reclaimPolicy"));
  if (reclaim.empty()) reclaim = "Delete";
  std::string binding = str(field(sc, "volumeBindingMode"));
  if (binding.empty()) binding = "Immediate";
  return {name, str(field(sc, "provisioner")), reclaim, binding, boolean(field(sc, "allowVolumeExpansion")),
          age(ctx, sc)};
}

// ---------------------------------------------------------------------------------------------
// The registry.

const std::map<std::string, Printer>& registry() {
  static const std::map<std::string, Printer> kPrinters = [] {
    std::map<std::string, Printer> m;
    const Column containers = col("Containers", "string", kContainersDesc, 1);
    const Column images = col("Images", "string", kImagesDesc, 1);

    m["/Pod"] = {{name_col(),
                  col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
                  col("Status", "string", "The aggregate status of the containers in this pod."),
                  col("Restarts", "string",
                      "The number of times the containers in this pod have been restarted and when the last "
                      "container in this pod has restarted."),
                  age_col(),
                  col("IP", "string", "IP address allocated to the pod. Routable at least within the cluster.", 1),
                  col("Node", "string", "The node the pod is scheduled onto.", 1),
                  col("Nominated Node", "string", "The node the scheduler nominated for this pod when preempting.", 1),
                  col("Readiness Gates", "string", "Pod conditions evaluated for pod readiness.", 1)},
                 pod_cells,
                 pod_conditions};
    m["/PodTemplate"] = {{name_col(), col("Containers", "string", kContainersDesc),
                          col("Images", "string", kImagesDesc),
                          col("Pod Labels", "string", "The labels for the pod template.")},
                         podtemplate_cells,
                         nullptr};
    m["/ReplicationController"] = {
        {name_col(), col("Desired", "integer", "Number of desired replicas."),
         col("Current", "integer", "Most recently observed number of replicas."),
         col("Ready", "integer", "Number of ready replicas."), age_col(), containers, images,
         col("Selector", "string", "Label query over the pods that should match the replica count.", 1)},
        replicationcontroller_cells,
        nullptr};
    m["apps/ReplicaSet"] = {
        {name_col(), col("Desired", "integer", "Number of desired pods."),
         col("Current", "integer", "Most recently observed number of replicas."),
         col("Ready", "integer", "Number of pods targeted by this ReplicaSet that are ready."), age_col(),
         containers, images,
         col("Selector", "string", "Label query over pods that should match the replica count.", 1)},
        replicaset_cells,
        nullptr};
    m["apps/DaemonSet"] = {
        {name_col(), col("Desired", "integer", "Number of nodes that should be running the daemon pod."),
         col("Current", "integer", "Number of nodes running at least one daemon pod that should."),
         col("Ready", "integer", "Number of nodes with a ready daemon pod."),
         col("Up-to-date", "integer", "Number of nodes running the updated daemon pod."),
         col("Available", "integer", "Number of nodes with an available daemon pod."),
         col("Node Selector", "string", "Selector that must match a node's labels for the pod to run there."),
         age_col(), containers, images,
         col("Selector", "string", "Label query over pods that are managed by the daemon set.", 1)},
        daemonset_cells,
        nullptr};
    m["batch/Job"] = {{name_col(), col("Status", "string", "Status of the job."),
                       col("Completions", "string", "The number of pods which reached phase Succeeded."),
                       col("Duration", "string", "Time required to complete the job."), age_col(), containers,
                       images,
                       col("Selector", "string", "A label query over pods that should match the pod count.", 1)},
                      job_cells,
                      nullptr};
    m["batch/CronJob"] = {
        {name_col(), col("Schedule", "string", "The schedule in Cron format."),
         col("Timezone", "string", "The time zone name for the given schedule."),
         col("Suspend", "boolean", "Whether subsequent executions are suspended."),
         col("Active", "integer", "Currently running jobs."),
         col("Last Schedule", "string", "When the job was last successfully scheduled."), age_col(), containers,
         images, col("Selector", "string", "A label query over pods that should match the pod count.", 1)},
        cronjob_cells,
        nullptr};
    m["/Service"] = {{name_col(), col("Type", "string", "How the Service is exposed."),
                      col("Cluster-IP", "string", "The IP address of the service, usually assigned randomly."),
                      col("External-IP", "string", "IP addresses for which nodes also accept traffic for this service."),
                      col("Port(s)", "string", "The ports exposed by this service."), age_col(),
                      col("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.", 1)},
                     service_cells,
                     nullptr};
    m["networking.k8s.io/Ingress"] = {
        {name_col(),
         col("Class", "string",
             "The name of the IngressClass resource that should be used for additional configuration"),
         col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
         col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
         col("Ports", "string", "Ports of TLS configurations that open"), age_col()},
        ingress_cells,
        nullptr};
    m["networking.k8s.io/IngressClass"] = {
        {name_col(), col("Controller", "string", "Controller that is responsible for handling this class"),
         col("Parameters", "string", "A reference to a resource with additional parameters"), age_col()},
        ingressclass_cells,
        nullptr};
    m["networking.k8s.io/NetworkPolicy"] = {
        {name_col(), col("Pod-Selector", "string", "Selects the pods to which this policy applies."), age_col()},
        networkpolicy_cells,
        nullptr};
    m["apps/StatefulSet"] = {{name_col(), col("Ready", "string", "Number of the pod with ready state"), age_col(),
                              containers, images},
                             statefulset_cells,
                             nullptr};
    m["/Endpoints"] = {{name_col(), col("Endpoints", "string", "The set of all endpoints of the service."), age_col()},
                       endpoints_cells,
                       nullptr};
    m["/Node"] = {{name_col(), col("Status", "string", "The status of the node"),
                   col("Roles", "string", "The roles of the node"), age_col(),
                   col("Version", "string", "Kubelet version reported by the node."),
                   col("Internal-IP", "string", "Addresses reachable to the node.", 1),
                   col("External-IP", "string", "Addresses reachable to the node.", 1),
                   col("OS-Image", "string", "OS image reported by the node.", 1),
                   col("Kernel-Version", "string", "Kernel version reported by the node.", 1),
                   col("Container-Runtime", "string", "Container runtime version reported by the node.", 1)},
                  node_cells,
                  nullptr};
    const std::vector<Column> event_columns = {
        col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
        col("Type", "string", "Type of this event (Normal, Warning)."),
        col("Reason", "string", "Short, machine understandable reason for the transition into the object's current status."),
        col("Object", "string", "The object that this event is about."),
        col("Subobject", "string", "The field of the object this event is about.", 1),
        col("Source", "string", "The component reporting this event.", 1),
        col("Message", "string", "A human-readable description of the status of this operation."),
        col("First Seen", "string", "The time at which the event was first recorded.", 1),
        col("Count", "string", "The number of times this event has occurred.", 1),
        {"Name", "string", "name", kNameDesc, 1}};
    m["/Event"] = {event_columns, core_event_cells, nullptr};
    m["events.k8s.io/Event"] = {event_columns, events_api_event_cells, nullptr};
    m["/Namespace"] = {{name_col(), col("Status", "string", "The status of the namespace"), age_col()},
                       namespace_cells,
                       nullptr};
    m["/Secret"] = {{name_col(), col("Type", "string", "Used to facilitate programmatic handling of secret data."),
                     col("Data", "string", "The number of data entries of the secret."), age_col()},
                    secret_cells,
                    nullptr};
    m["/ServiceAccount"] = {
        {name_col(), col("Secrets", "string", "The number of secrets this service account references."), age_col()},
        serviceaccount_cells,
        nullptr};
    m["/PersistentVolume"] = {
        {name_col(), col("Capacity", "string", "The capacity of the persistent volume."),
         col("Access Modes", "string", "All ways the volume can be mounted."),
         col("Reclaim Policy", "string", "What happens to the volume when released from its claim."),
         col("Status", "string", "The phase of the volume."),
         col("Claim", "string", "The claim bound to this volume."),
         col("StorageClass", "string", "StorageClass of the pv"),
         col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
         col("Reason", "string", "A brief CamelCase reason for a failure of the volume."), age_col(),
         col("VolumeMode", "string", "Whether the volume is used with a formatted filesystem or as a raw block device.", 1)},
        pv_cells,
        nullptr};
    m["/PersistentVolumeClaim"] = {
        {name_col(), col("Status", "string", "The phase of the claim."),
         col("Volume", "string", "The binding reference to the persistent volume backing this claim."),
         col("Capacity", "string", "The actual resources of the underlying volume."),
         col("Access Modes", "string", "The actual access modes the volume backing the claim has."),
         col("StorageClass", "string", "StorageClass of the pvc"),
         col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"), age_col(),
         col("VolumeMode", "string", "Whether the volume is used with a formatted filesystem or as a raw block device.", 1)},
        pvc_cells,
        nullptr};
    m["apps/Deployment"] = {
        {name_col(), col("Ready", "string", "Number of the pod with ready state"),
         col("Up-to-date", "string", "Total number of non-terminated pods with the desired template."),
         col("Available", "string", "Total number of available pods (ready for at least minReadySeconds)."),
         age_col(), containers, images,
         col("Selector", "string", "Label selector for pods.", 1)},
        deployment_cells,
        nullptr};
    m["/ConfigMap"] = {{name_col(), col("Data", "string", "The number of data entries of the config map."), age_col()},
                       configmap_cells,
                       nullptr};
    const std::vector<Column> binding_columns_role = {
        name_col(), col("Role", "string", "The role this binding references."), age_col(),
        col("Users", "string", "Users in the roleBinding", 1), col("Groups", "string", "Groups in the roleBinding", 1),
        col("ServiceAccounts", "string", "ServiceAccounts in the roleBinding", 1)};
    m["rbac.authorization.k8s.io/RoleBinding"] = {binding_columns_role, rolebinding_cells, nullptr};
    m["rbac.authorization.k8s.io/ClusterRoleBinding"] = {
        {name_col(), col("Role", "string", "The cluster role this binding references."), age_col(),
         col("Users", "string", "Users in the clusterRoleBinding", 1),
         col("Groups", "string", "Groups in the clusterRoleBinding", 1),
         col("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding", 1)},
        rolebinding_cells,
        nullptr};
    m["coordination.k8s.io/Lease"] = {
        {name_col(), col("Holder", "string", "The identity of the holder of the lease."), age_col()},
        lease_cells,
        nullptr};
    m["storage.k8s.io/StorageClass"] = {
        {name_col(), col("Provisioner", "string", "The volume plugin that provisions volumes of this class."),
         col("ReclaimPolicy", "string", "The reclaim policy of volumes provisioned for this class."),
         col("VolumeBindingMode", "string", "When volumes are provisioned and bound."),
         col("AllowVolumeExpansion", "string", "Whether volumes of this class may be expanded."), age_col()},
        storageclass_cells,
        nullptr};
    m["apps/ControllerRevision"] = {{name_col(), col("Controller", "string", "Controller of the object"),
                                     col("Revision", "string", "The revision of the state this object represents."),
                                     age_col()},
                                    controllerrevision_cells,
                                    nullptr};
    m["scheduling.k8s.io/PriorityClass"] = {
        {name_col(), col("Value", "integer", "The priority value of pods of this class."),
         col("Global-Default", "boolean", "Whether this class is the default for pods without a class."),
         age_col(), col("PreemptionPolicy", "string", "Whether pods of this class may preempt others.")},
        priorityclass_cells,
        nullptr};
    m["node.k8s.io/RuntimeClass"] = {{name_col(), col("Handler", "string", "The CRI handler of this class."), age_col()},
                                     runtimeclass_cells,
                                     nullptr};
    m["discovery.k8s.io/EndpointSlice"] = {
        {name_col(), col("AddressType", "string", "The type of addresses carried by this slice."),
         col("Ports", "string", "Network ports exposed by the endpoints of this slice."),
         col("Endpoints", "string", "Addresses of the endpoints of this slice."), age_col()},
        endpointslice_cells,
        nullptr};
    return m;
  }();
  return kPrinters;
}

const Printer* find_printer(const std::string& group, const std::string& kind) {
  const auto& m = registry();
  auto it = m.find(group + "/" + kind);
  return it == m.end() ? nullptr : &it->second;
}

json to_json(const std::vector<Column>& columns) {
  json out = json::array();
  for (const auto& c : columns) {
    out.push_back({{"name", c.name},
                   {"type", c.type},
                   {"format", c.format},
                   {"description", c.description},
                   {"priority", c.priority}});
  }
  return out;
}

std::vector<Column> default_columns() {
  return {name_col(), {"Created At", "date", "", kAgeDesc, 0}};
}

Cells default_cells(const json& obj) {
  auto t = timestamp(path(obj, "metadata", "creationTimestamp"));
  return {name_of(obj), t ? format_time(*t) : std::string("0001-01-01T00:00:00Z")};
}

json row_object(const json& obj, IncludeObject include) {
  if (include == IncludeObject::kObject) return obj;
  json meta = field(obj, "metadata").is_object() ? field(obj, "metadata") : json::object();
  meta.erase("managedFields");
  return {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta}};
}

}  // namespace

bool has_printer(const std::string& group, const std::string& kind) {
  return find_printer(group, kind) != nullptr;
}

json column_definitions(const std::string& group, const std::string& kind) {
  const Printer* p = find_printer(group, kind);
  return to_json(p ? p->columns : default_columns());
}

json to_table(const std::string& group, const std::string& kind, const std::vector<json>& objects,
              Clock::time_point now, const std::string& resource_version, bool include_object_metadata) {
  return to_table(group, kind, objects, now, resource_version,
                  include_object_metadata ? IncludeObject::kMetadata : IncludeObject::kNone);
}

json to_table(const std::string& group, const std::string& kind, const std::vector<json>& objects,
              Clock::time_point now, const std::string& resource_version, IncludeObject include,
              const std::string& continue_token) {
  const Printer* p = find_printer(group, kind);
  const Ctx ctx{now};
  json rows = json::array();
  for (const auto& obj : objects) {
    json row;
    row["cells"] = p ? json(p->cells(obj, ctx)) : json(default_cells(obj));
    if (p && p->conditions) {
      json conditions = p->conditions(obj);
      if (!conditions.is_null()) row["conditions"] = std::move(conditions);
    }
    if (include != IncludeObject::kNone) row["object"] = row_object(obj, include);
    rows.push_back(std::move(row));
  }
  json metadata = {{"resourceVersion", resource_version}};
  if (!continue_token.empty()) metadata["continue"] = continue_token;
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", std::move(metadata)},
          {"columnDefinitions", to_json(p ? p->columns : default_columns())},
          {"rows", std::move(rows)}};
}

}  // namespace k3dpp::printers
