// k3dpp-node --node-label / --node-taint: parsed like k3s's flags, put on the Node at registration.
#include <doctest/doctest.h>

#include "agent/node_info.h"

using namespace k3dpp::agent;

TEST_CASE("node labels and taints parse like k3s's --node-label and --node-taint") {
  auto l = parse_node_label("example.com/tier=web");
  REQUIRE(l);
  CHECK(l->first == "example.com/tier");
  CHECK(l->second == "web");
  l = parse_node_label("flag");
  REQUIRE(l);
  CHECK(l->second.empty());
  CHECK_FALSE(parse_node_label("-bad=x"));
  CHECK_FALSE(parse_node_label("k=bad value"));
  CHECK_FALSE(parse_node_label(""));

  auto t = parse_node_taint("dedicated=gpu:NoSchedule");
  REQUIRE(t);
  CHECK(*t == nlohmann::json{{"key", "dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}});
  t = parse_node_taint("special:NoExecute");
  REQUIRE(t);
  CHECK(*t == nlohmann::json{{"key", "special"}, {"effect", "NoExecute"}});
  CHECK(parse_node_taint("k=v").error().message.find("expected KEY[=VALUE]:EFFECT") != std::string::npos);
  CHECK(parse_node_taint("k=v:Sometimes").error().message.find("effect must be") != std::string::npos);
}

TEST_CASE("the Node carries the extra labels (never replacing its own) and the taints") {
  NodeFacts f;
  f.name = "n1";
  f.control_plane = true;
  f.extra_labels = {{"tier", "web"}, {"kubernetes.io/hostname", "evil"}};
  f.taints = nlohmann::json::array({{{"key", "dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}}});
  auto labels = node_labels(f);
  CHECK(labels["tier"] == "web");
  CHECK(labels["kubernetes.io/hostname"] == "n1");
  CHECK(labels["node-role.kubernetes.io/control-plane"] == "true");
  auto node = node_object(f);
  CHECK(node["metadata"]["labels"]["tier"] == "web");
  CHECK(node["spec"]["taints"] == f.taints);
  NodeFacts plain;
  plain.name = "n2";
  CHECK(node_object(plain)["spec"] == nlohmann::json::object());
}
