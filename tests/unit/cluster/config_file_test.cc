// k3d Simple config files: every field read into its flag value, every refusal named with its line.
#include <doctest/doctest.h>
#include <stdlib.h>

#include "cluster/config_file.h"

using namespace k3dpp::cluster;

namespace {

const char* kFull = R"(apiVersion: k3d.io/v1alpha5
kind: Simple
metadata:
  name: mycluster
servers: 1
agents: 2
kubeAPI:
  host: "myhost.my.domain"
  hostIP: "127.0.0.1"
  hostPort: "6445"
image: k3dpp/node:test
network: my-custom-net
subnet: "172.28.0.0/16"
token: superSecretToken
volumes:
  - volume: /my/host/path:/path/in/node
    nodeFilters:
      - server:0
      - agent:*
ports:
  - port: 8080:80
    nodeFilters:
      - loadbalancer
  - port: 9090:90
env:
  - envVar: bar=baz
    nodeFilters:
      - server:0
registries:
  create:
    name: registry.localhost
    host: "0.0.0.0"
    hostPort: "5000"
  use:
    - k3dpp-myotherregistry:5000
hostAliases:
  - ip: 1.2.3.4
    hostnames:
      - my.host.local
      - that.other.local
options:
  k3d:
    wait: false
    timeout: "60s"
    disableLoadbalancer: false
    disableImageVolume: false
    disableRollback: true
    loadbalancer:
      configOverrides:
        - settings.workerConnections=2048
  k3s:
    extraArgs:
      - arg: "--tls-san=my.host.domain"
        nodeFilters:
          - server:*
    nodeLabels:
      - label: foo=bar
        nodeFilters:
          - agent:1
  kubeconfig:
    updateDefaultKubeconfig: true
    switchCurrentContext: false
  runtime:
    serversMemory: 2g
    agentsMemory: 1g
    labels:
      - label: bar=baz
        nodeFilters:
          - agent:1
    ulimits:
      - name: nofile
        soft: 26677
        hard: 26677
)";

std::string refusal(const std::string& yaml) {
  auto r = parse_config_file("apiVersion: k3d.io/v1alpha5\nkind: Simple\n" + yaml, "c.yaml");
  REQUIRE_FALSE(r);
  CHECK(r.error().is("Invalid"));
  return r.error().message;
}

}  // namespace

TEST_CASE("every field of k3d's Simple config becomes its flag value") {
  auto c = parse_config_file(kFull, "full.yaml");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
  CHECK(c->path == "full.yaml");
  CHECK(*c->name == "mycluster");
  CHECK(*c->servers == 1);
  CHECK(*c->agents == 2);
  CHECK(*c->api_port == "127.0.0.1:6445");
  CHECK(*c->api_host == "myhost.my.domain");
  CHECK(*c->image == "k3dpp/node:test");
  CHECK(*c->network == "my-custom-net");
  CHECK(*c->subnet == "172.28.0.0/16");
  CHECK(*c->token == "superSecretToken");
  CHECK(c->volumes == std::vector<std::string>{"/my/host/path:/path/in/node@server:0;agent:*"});
  CHECK(c->ports == std::vector<std::string>{"8080:80@loadbalancer", "9090:90"});
  CHECK(c->env == std::vector<std::string>{"bar=baz@server:0"});
  CHECK(*c->registry_create == "registry.localhost:0.0.0.0:5000");
  CHECK(c->registry_use == std::vector<std::string>{"k3dpp-myotherregistry:5000"});
  CHECK(c->host_aliases == std::vector<std::string>{"1.2.3.4:my.host.local,that.other.local"});
  CHECK(*c->wait == false);
  CHECK(*c->timeout == "60s");
  CHECK(*c->no_lb == false);
  CHECK(*c->no_rollback == true);
  CHECK(c->lb_config_overrides == std::vector<std::string>{"settings.workerConnections=2048"});
  CHECK(c->k3s_args == std::vector<std::string>{"--tls-san=my.host.domain@server:*"});
  CHECK(c->node_labels == std::vector<std::string>{"foo=bar@agent:1"});
  CHECK(*c->update_default_kubeconfig == true);
  CHECK(*c->switch_context == false);
  CHECK(*c->servers_memory == "2g");
  CHECK(*c->agents_memory == "1g");
  CHECK(c->runtime_labels == std::vector<std::string>{"bar=baz@agent:1"});
  CHECK(c->runtime_ulimits == std::vector<std::string>{"nofile=26677:26677"});
  REQUIRE(c->notes.size() == 1);
  CHECK(c->notes[0].find("options.k3d.disableImageVolume: k3dpp clusters have no image volume") == 0);
}

TEST_CASE("a minimal file sets nothing else; k3dpp.io/v1alpha1 and kind simple are accepted") {
  auto c = parse_config_file("apiVersion: k3dpp.io/v1alpha1\nkind: simple\n", "m.yaml");
  REQUIRE(c);
  CHECK_FALSE(c->name);
  CHECK_FALSE(c->servers);
  CHECK_FALSE(c->wait);
  CHECK(c->ports.empty());
  CHECK(c->notes.empty());
}

TEST_CASE("environment variables are expanded as k3d does") {
  ::setenv("K3DPP_TEST_SERVERS", "3", 1);
  ::unsetenv("K3DPP_TEST_UNSET");
  CHECK(expand_env("servers: ${K3DPP_TEST_SERVERS} $K3DPP_TEST_SERVERS/x ${K3DPP_TEST_UNSET}.$ $1 ${") ==
        "servers: 3 3/x .$ $1 ${");
  auto c = parse_config_file("apiVersion: k3d.io/v1alpha5\nkind: Simple\nservers: ${K3DPP_TEST_SERVERS}\n", "e.yaml");
  REQUIRE(c);
  CHECK(*c->servers == 3);
}

TEST_CASE("refused fields are named with their line and what to do instead") {
  CHECK(refusal("files:\n  - source: a.yaml\n    destination: /x\n") ==
        "c.yaml:3: files: not supported by k3dpp: nodes have no auto-deploy manifests directory; apply the manifests "
        "with kubectl after create, or mount host files with volumes");
  CHECK(refusal("registries:\n  config: |\n    mirrors: {}\n").find("c.yaml:4: registries.config: not supported by k3dpp") == 0);
  CHECK(refusal("registries:\n  create:\n    name: r\n    proxy:\n      remoteURL: https://registry-1.docker.io\n")
            .find("c.yaml:6: registries.create.proxy: not supported by k3dpp") == 0);
  CHECK(refusal("registries:\n  create:\n    name: r\n    volumes: [/a:/b]\n")
            .find("c.yaml:6: registries.create.volumes: not supported by k3dpp") == 0);
  CHECK(refusal("registries:\n  create:\n    name: r\n    image: registry:2\n")
            .find("c.yaml:6: registries.create.image: not supported by k3dpp") == 0);
  CHECK(refusal("registries:\n  create:\n    name: r\n    enforcePortMatch: true\n")
            .find("c.yaml:6: registries.create.enforcePortMatch: not supported by k3dpp") == 0);
  CHECK(refusal("options:\n  runtime:\n    gpuRequest: all\n") ==
        "c.yaml:5: options.runtime.gpuRequest: not supported by k3dpp: nodes get no GPUs");
  CHECK(refusal("options:\n  runtime:\n    hostPidMode: true\n")
            .find("c.yaml:5: options.runtime.hostPidMode: not supported by k3dpp") == 0);
  CHECK(refusal("options:\n  k3d:\n    nodeHookActions:\n      - stage: preStart\n")
            .find("c.yaml:5: options.k3d.nodeHookActions: not supported by k3dpp") == 0);
  CHECK(refusal("ports:\n  - port: 80:80\n    removal: true\n")
            .find("c.yaml:5: ports[0].removal: not supported by k3dpp") == 0);
  // Accepted when they ask for nothing: empty lists, false.
  auto ok = parse_config_file(
      "apiVersion: k3d.io/v1alpha5\nkind: Simple\nfiles: []\nregistries:\n  config: \"\"\noptions:\n  runtime:\n"
      "    gpuRequest: \"\"\n    hostPidMode: false\n  k3d:\n    nodeHookActions: []\n",
      "ok.yaml");
  CHECK_MESSAGE(ok, (ok ? "" : ok.error().message));
}

TEST_CASE("unknown fields, wrong types, wrong versions and kinds are errors with a line") {
  CHECK(refusal("serverz: 1\n") == "c.yaml:3: serverz: unknown field (not in k3d's Simple config k3d.io/v1alpha5)");
  CHECK(refusal("options:\n  k3d:\n    wiat: true\n").find("c.yaml:5: options.k3d.wiat: unknown field") == 0);
  CHECK(refusal("servers: two\n") == "c.yaml:3: servers: want a non-negative integer (got 'two')");
  CHECK(refusal("agents: -1\n").find("c.yaml:3: agents: want a non-negative integer") == 0);
  CHECK(refusal("options:\n  k3d:\n    wait: maybe\n") == "c.yaml:5: options.k3d.wait: want true or false");
  CHECK(refusal("ports: 8080:80\n") == "c.yaml:3: ports: want a list");
  CHECK(refusal("ports:\n  - nodeFilters: [loadbalancer]\n") == "c.yaml:4: ports[0].port: missing");
  CHECK(refusal("env:\n  - envVar: [a]\n") == "c.yaml:4: env[0].envVar: want a string");
  CHECK(refusal("kubeAPI:\n  hostIP: 127.0.0.1\n") == "c.yaml:4: kubeAPI.hostPort: missing (kubeAPI.hostIP needs a hostPort)");
  CHECK(refusal("hostAliases:\n  - ip: 1.2.3.4\n") == "c.yaml:4: hostAliases[0].hostnames: want at least one host name");
  CHECK(refusal("options:\n  runtime:\n    ulimits:\n      - name: nofile\n        soft: 1\n")
            .find("options.runtime.ulimits[0].hard: missing") != std::string::npos);
  CHECK(refusal("metadata:\n  name: x\n  labels: {}\n").find("c.yaml:5: metadata.labels: unknown field") == 0);

  auto v4 = parse_config_file("apiVersion: k3d.io/v1alpha4\nkind: Simple\n", "old.yaml");
  REQUIRE_FALSE(v4);
  CHECK(v4.error().message ==
        "old.yaml:1: apiVersion: 'k3d.io/v1alpha4' is not supported by k3dpp: migrate the file to k3d.io/v1alpha5 (k3d "
        "config migrate)");
  auto kind = parse_config_file("apiVersion: k3d.io/v1alpha5\nkind: Cluster\n", "k.yaml");
  REQUIRE_FALSE(kind);
  CHECK(kind.error().message == "k.yaml:2: kind: 'Cluster' is not supported by k3dpp: only kind Simple is");
  CHECK(parse_config_file("kind: Simple\n", "n.yaml").error().message.find("apiVersion: missing") != std::string::npos);
  CHECK(parse_config_file("", "e.yaml").error().message == "e.yaml: empty config file");
  auto bad = parse_config_file("apiVersion: k3d.io/v1alpha5\nkind: Simple\nservers: [1\n", "y.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("y.yaml:") == 0);
  CHECK(bad.error().message.find("invalid YAML") != std::string::npos);
  CHECK(parse_config_file("- a\n- b\n", "l.yaml").error().message == "l.yaml:1: (document): want a mapping");
}

TEST_CASE("config init's file parses back to its defaults") {
  auto text = default_config_file("default", "k3dpp/node:9.9.9");
  auto c = parse_config_file(text, "init.yaml");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
  CHECK(*c->name == "default");
  CHECK(*c->servers == 1);
  CHECK(*c->agents == 0);
  CHECK(*c->image == "k3dpp/node:9.9.9");
  CHECK(*c->wait == true);
  CHECK(*c->timeout == "120s");
  CHECK(*c->update_default_kubeconfig == true);
}
