#include <doctest/doctest.h>

#include "golden.h"
#include "kubelet/translate.h"

using namespace k3dpp;
using namespace k3dpp::kubelet;

namespace {

json nginx_pod() {
  return json::parse(R"json({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "nginx-pod", "namespace": "dev", "uid": "0b5f6c1e-1111-2222-3333-444455556666",
                 "labels": {"zone": "prod", "version": "v1"}, "annotations": {"note": "x"}},
    "spec": {
      "nodeName": "k3dpp-c-server-0",
      "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
      "containers": [{
        "name": "nginx", "image": "nginx:1.24",
        "command": ["/bin/sh", "-c"], "args": ["echo $(GREETING) from $(MY_POD); exec nginx $$(literal)"],
        "workingDir": "/srv",
        "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}],
        "env": [
          {"name": "GREETING", "value": "hello"},
          {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
          {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
          {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
          {"name": "ZONE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['zone']"}}},
          {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
          {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
          {"name": "MEM_LIMIT_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
          {"name": "COMBINED", "value": "$(GREETING)-$(UNKNOWN)"}
        ],
        "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"cpu": "250m", "memory": "32Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                            "runAsUser": 1000},
        "tty": true, "stdin": true
      }]
    },
    "status": {"phase": "Pending", "qosClass": "Burstable"}
  })json");
}

ObjectLookup fake_lookup() {
  return [](const std::string& plural, const std::string& ns, const std::string& name) -> Result<json> {
    if (plural == "configmaps" && ns == "dev" && name == "cfg") return json{{"data", {{"color", "blue"}}}};
    if (plural == "secrets" && ns == "dev" && name == "sec") return json{{"data", {{"password", "czNjcjN0"}}}};
    return fail(plural + " \"" + name + "\" not found", "NotFound");
  };
}

EnvContext ctx() {
  EnvContext c;
  c.pod_ip = "10.42.0.9";
  c.host_ip = "172.18.0.2";
  c.node_name = "k3dpp-c-server-0";
  c.lookup = fake_lookup();
  return c;
}

}  // namespace

TEST_CASE("sandbox config: hostname, DNS, hostPorts, log dir, labels, cgroup parent") {
  auto c = make_sandbox_config(nginx_pod(), 0);
  check_golden("sandbox_config.json", to_json(c));
  CHECK(c.dns_config().searches(0) == "dev.svc.cluster.local");
  CHECK(c.linux().cgroup_parent() == "/kubepods/burstable/pod0b5f6c1e-1111-2222-3333-444455556666");
}

TEST_CASE("sandbox config: hostNetwork and dnsPolicy") {
  json p = nginx_pod();
  p["spec"]["hostNetwork"] = true;
  auto c = make_sandbox_config(p, 1);
  CHECK(c.hostname().empty());
  CHECK_FALSE(c.has_dns_config());  // ClusterFirst on the host network: the node's resolv.conf
  CHECK(c.linux().security_context().namespace_options().network() == rt::NODE);
  CHECK(c.metadata().attempt() == 1);
  p["spec"]["dnsPolicy"] = "None";
  p["spec"]["dnsConfig"] = {{"nameservers", {"1.1.1.1"}}, {"options", {{{"name", "ndots"}, {"value", "2"}}}}};
  c = make_sandbox_config(p, 0);
  REQUIRE(c.has_dns_config());
  CHECK(c.dns_config().servers_size() == 1);
  CHECK(c.dns_config().servers(0) == "1.1.1.1");
  CHECK(c.dns_config().options(0) == "ndots:2");
  p["spec"]["dnsPolicy"] = "ClusterFirstWithHostNet";
  p["spec"]["dnsConfig"] = {{"options", {{{"name", "ndots"}, {"value", "1"}}}}};
  c = make_sandbox_config(p, 0);
  CHECK(c.dns_config().servers(0) == "10.43.0.10");
  CHECK(c.dns_config().options_size() == 1);
  CHECK(c.dns_config().options(0) == "ndots:1");  // the pod's option replaces the default
}

TEST_CASE("container config: command/args expansion, env, resources, security, tty") {
  json p = nginx_pod();
  auto env = resolve_env(p, p["spec"]["containers"][0], ctx());
  REQUIRE(env);
  auto c = make_container_config(p, p["spec"]["containers"][0], 2, *env);
  check_golden("container_config.json", to_json(c));
  CHECK(c.args(0) == "echo hello from nginx-pod; exec nginx $(literal)");
  CHECK(c.log_path() == "nginx/2.log");
  CHECK(c.linux().resources().cpu_quota() == 50000);
  CHECK(c.linux().resources().cpu_shares() == 256);
  CHECK(c.linux().resources().memory_limit_in_bytes() == 64 * 1024 * 1024);
}

TEST_CASE("env: values in order, later wins, missing references") {
  json p = nginx_pod();
  json c = p["spec"]["containers"][0];
  auto env = resolve_env(p, c, ctx());
  REQUIRE(env);
  std::map<std::string, std::string> m(env->begin(), env->end());
  CHECK(m["MY_IP"] == "10.42.0.9");
  CHECK(m["MY_NODE"] == "k3dpp-c-server-0");
  CHECK(m["ZONE"] == "prod");
  CHECK(m["COLOR"] == "blue");
  CHECK(m["PASSWORD"] == "s3cr3t");
  CHECK(m["MEM_LIMIT_MI"] == "64");
  CHECK(m["COMBINED"] == "hello-$(UNKNOWN)");
  CHECK(m["KUBERNETES_SERVICE_HOST"] == "10.43.0.1");
  CHECK(m["KUBERNETES_PORT_443_TCP"] == "tcp://10.43.0.1:443");

  c["env"] = json::array({{{"name", "X"}, {"valueFrom", {{"configMapKeyRef", {{"name", "nope"}, {"key", "k"}}}}}}});
  auto bad = resolve_env(p, c, ctx());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "configmap \"nope\" not found");
  CHECK(bad.error().kind == "CreateContainerConfigError");

  c["env"] = json::array({{{"name", "X"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "k"}}}}}}});
  bad = resolve_env(p, c, ctx());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "couldn't find key k in ConfigMap dev/cfg");

  c["env"] = json::array(
      {{{"name", "X"}, {"valueFrom", {{"secretKeyRef", {{"name", "nope"}, {"key", "k"}, {"optional", true}}}}}}});
  auto opt = resolve_env(p, c, ctx());
  REQUIRE(opt);

  c["env"] = json::array({{{"name", "A"}, {"value", "1"}}, {{"name", "A"}, {"value", "2"}}});
  c["envFrom"] = json::array({{{"configMapRef", {{"name", "cfg"}}}, {"prefix", "CM_"}}});
  auto e2 = resolve_env(p, c, ctx());
  REQUIRE(e2);
  std::map<std::string, std::string> m2(e2->begin(), e2->end());
  CHECK(m2["A"] == "2");
  CHECK(m2["CM_color"] == "blue");
}

TEST_CASE("quantities and QoS") {
  CHECK(*parse_quantity("100m") == doctest::Approx(0.1));
  CHECK(*parse_quantity("1.5") == doctest::Approx(1.5));
  CHECK(*parse_quantity("64Mi") == doctest::Approx(67108864.0));
  CHECK(*parse_quantity("1G") == doctest::Approx(1e9));
  CHECK(*parse_quantity("1e3") == doctest::Approx(1000.0));
  CHECK_FALSE(parse_quantity("abc"));
  CHECK_FALSE(parse_quantity("-1"));

  json p = {{"metadata", {{"uid", "u"}}}, {"spec", {{"containers", json::array({{{"name", "a"}}})}}}};
  CHECK(qos_class(p) == "BestEffort");
  CHECK(pod_cgroup_parent(p) == "/kubepods/besteffort/podu");
  p["spec"]["containers"][0]["resources"] = {{"limits", {{"cpu", "1"}, {"memory", "1Gi"}}},
                                             {"requests", {{"cpu", "1000m"}, {"memory", "1Gi"}}}};
  CHECK(qos_class(p) == "Guaranteed");
  CHECK(pod_cgroup_parent(p) == "/kubepods/podu");
  p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "500m";
  CHECK(qos_class(p) == "Burstable");

  json c = {{"resources", {{"requests", {{"cpu", "1m"}}}}}};
  CHECK(container_resources(c).cpu_shares() == 2);  // at least 2
  CHECK(container_resources(c).cpu_quota() == 0);   // no limit: no quota
}

TEST_CASE("expand_vars") {
  std::map<std::string, std::string> env{{"A", "x"}};
  CHECK(expand_vars("$(A)/$(B)/$$(A)/$", env) == "x/$(B)/$(A)/$");
  CHECK(expand_vars("$(A", env) == "$(A");
}

TEST_CASE("service env: Docker-link variables of a Service, as the kubelet writes them") {
  json svc = json::parse(R"json({
    "metadata": {"name": "nginx-svc", "namespace": "dev"},
    "spec": {"clusterIP": "10.43.126.13", "ports": [
      {"name": "web", "port": 8080, "targetPort": 80, "protocol": "TCP"},
      {"name": "dns-udp", "port": 53, "protocol": "UDP"}]}})json");
  auto env = service_env(svc);
  std::vector<std::pair<std::string, std::string>> want = {
      {"NGINX_SVC_SERVICE_HOST", "10.43.126.13"},
      {"NGINX_SVC_SERVICE_PORT", "8080"},
      {"NGINX_SVC_SERVICE_PORT_WEB", "8080"},
      {"NGINX_SVC_SERVICE_PORT_DNS_UDP", "53"},
      {"NGINX_SVC_PORT", "tcp://10.43.126.13:8080"},
      {"NGINX_SVC_PORT_8080_TCP", "tcp://10.43.126.13:8080"},
      {"NGINX_SVC_PORT_8080_TCP_PROTO", "tcp"},
      {"NGINX_SVC_PORT_8080_TCP_PORT", "8080"},
      {"NGINX_SVC_PORT_8080_TCP_ADDR", "10.43.126.13"},
      {"NGINX_SVC_PORT_53_UDP", "udp://10.43.126.13:53"},
      {"NGINX_SVC_PORT_53_UDP_PROTO", "udp"},
      {"NGINX_SVC_PORT_53_UDP_PORT", "53"},
      {"NGINX_SVC_PORT_53_UDP_ADDR", "10.43.126.13"}};
  CHECK(env == want);
  json headless = svc;
  headless["spec"]["clusterIP"] = "None";
  CHECK(service_env(headless).empty());
  json external = {{"metadata", {{"name", "ext"}}}, {"spec", {{"type", "ExternalName"}, {"externalName", "x.org"}}}};
  CHECK(service_env(external).empty());
}

TEST_CASE("env: the namespace's services come after KUBERNETES_*, before env; enableServiceLinks false drops them") {
  json p = nginx_pod();  // namespace dev
  json c = p["spec"]["containers"][0];
  c["env"] = json::array({{{"name", "NGINX_SVC_SERVICE_PORT"}, {"value", "overridden"}},
                          {{"name", "URL"}, {"value", "http://$(NGINX_SVC_SERVICE_HOST):$(NGINX_SVC_SERVICE_PORT)"}}});
  c.erase("envFrom");
  EnvContext cx = ctx();
  std::vector<std::string> asked;
  cx.services = [&](const std::string& ns) -> k3dpp::Result<std::vector<json>> {
    asked.push_back(ns);
    return std::vector<json>{
        {{"metadata", {{"name", "zeta"}, {"namespace", ns}}},
         {"spec", {{"clusterIP", "10.43.0.99"}, {"ports", json::array({{{"port", 1}}})}}}},
        {{"metadata", {{"name", "nginx-svc"}, {"namespace", ns}}},
         {"spec", {{"clusterIP", "10.43.126.13"}, {"ports", json::array({{{"port", 8080}, {"protocol", "TCP"}}})}}}}};
  };
  auto env = resolve_env(p, c, cx);
  REQUIRE(env);
  CHECK(asked == std::vector<std::string>{"dev"});
  std::vector<std::string> names;
  for (const auto& [k, v] : *env) names.push_back(k);
  auto pos = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  CHECK(pos("KUBERNETES_SERVICE_HOST") < pos("NGINX_SVC_SERVICE_HOST"));
  CHECK(pos("NGINX_SVC_SERVICE_HOST") < pos("ZETA_SERVICE_HOST"));  // sorted by service name
  std::map<std::string, std::string> m(env->begin(), env->end());
  CHECK(m["ZETA_PORT"] == "tcp://10.43.0.99:1");
  CHECK(m["NGINX_SVC_SERVICE_PORT"] == "overridden");                  // the spec's env wins
  CHECK(m["URL"] == "http://10.43.126.13:overridden");                 // and may refer to them

  p["spec"]["enableServiceLinks"] = false;
  auto off = resolve_env(p, c, cx);
  REQUIRE(off);
  std::map<std::string, std::string> m2(off->begin(), off->end());
  CHECK(m2.count("ZETA_SERVICE_HOST") == 0);
  CHECK(m2["KUBERNETES_SERVICE_HOST"] == "10.43.0.1");  // always there

  cx.services = [](const std::string&) -> k3dpp::Result<std::vector<json>> { return k3dpp::fail("down", "Unavailable"); };
  p["spec"].erase("enableServiceLinks");
  CHECK(resolve_env(p, c, cx));  // a failed listing does not block the container
}

TEST_CASE("runAsNonRoot: refused for root images, runAsUser 0 and non-numeric users, with Kubernetes' words") {
  json p = {{"metadata", {{"name", "np"}, {"namespace", "dev"}, {"uid", "u-1"}}},
            {"spec", {{"securityContext", {{"runAsNonRoot", true}}}}}};
  json c = {{"name", "app"}, {"image", "busybox"}};
  auto root = verify_run_as_non_root(p, c, std::nullopt, "");  // no user in the image: root
  REQUIRE_FALSE(root);
  CHECK(root.error().kind == "CreateContainerConfigError");
  CHECK(root.error().message ==
        "container has runAsNonRoot and image will run as root (pod: \"np_dev(u-1)\", container: app)");
  CHECK_FALSE(verify_run_as_non_root(p, c, 0, ""));
  CHECK(verify_run_as_non_root(p, c, 101, ""));
  auto named = verify_run_as_non_root(p, c, std::nullopt, "nginx");
  REQUIRE_FALSE(named);
  CHECK(named.error().message == "container has runAsNonRoot and image has non-numeric user (nginx), cannot verify "
                                 "user is non-root (pod: \"np_dev(u-1)\", container: app)");
  c["securityContext"] = {{"runAsUser", 1000}};  // an explicit non-root user settles it
  CHECK(verify_run_as_non_root(p, c, 0, ""));
  c["securityContext"] = {{"runAsUser", 0}};
  auto zero = verify_run_as_non_root(p, c, 1000, "");
  REQUIRE_FALSE(zero);
  CHECK(zero.error().message == "container's runAsUser breaks non-root policy (pod: \"np_dev(u-1)\", container: app)");
  c["securityContext"] = {{"runAsNonRoot", false}};  // the container's setting wins over the pod's
  CHECK(verify_run_as_non_root(p, c, 0, ""));
  p["spec"].erase("securityContext");
  c.erase("securityContext");
  CHECK(verify_run_as_non_root(p, c, 0, ""));  // not asked for
}
