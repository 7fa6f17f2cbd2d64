#include <doctest/doctest.h>

#include <algorithm>

#include "controllers/pod_index.h"

using namespace k3dpp::controllers;

namespace {

json pod(const std::string& name, const std::string& owner_uid, const json& labels = {{"app", "web"}}) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", "default"}, {"uid", name + "-uid"}, {"labels", labels},
                          {"creationTimestamp", "2025-01-01T00:00:00Z"}}},
            {"spec", {{"containers", json::array()}}},
            {"status", {{"phase", "Pending"}}}};
  if (!owner_uid.empty()) {
    p["metadata"]["ownerReferences"] = json::array(
        {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "rs"}, {"uid", owner_uid}, {"controller", true}}});
  }
  return p;
}

json running_ready(json p, const std::string& at) {
  p["status"] = {{"phase", "Running"},
                 {"conditions", json::array({{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", at}}})}};
  return p;
}

k3dpp::client::ObjectPtr ptr(const json& j) { return std::make_shared<const json>(j); }

std::vector<std::string> names(const std::vector<PodFactsPtr>& v) {
  std::vector<std::string> out;
  for (const auto& f : v) out.push_back(f->name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("pod facts are what the JSON helpers say") {
  json p = running_ready(pod("a", "rs-1", {{"app", "web"}, {"tier", "fe"}}), "2025-01-01T00:00:10Z");
  p["spec"]["nodeName"] = "n1";
  PodFacts f = pod_facts(p);
  CHECK(f.name == "a");
  CHECK(f.ns == "default");
  CHECK(f.owner_uid == "rs-1");
  CHECK(f.owner_kind == "ReplicaSet");
  CHECK(f.active == pod_is_active(p));
  CHECK(f.scheduled);
  CHECK(f.phase_rank == 2);
  CHECK(f.ready());
  CHECK(f.available(5, *parse_rfc3339("2025-01-01T00:00:20Z")));
  CHECK_FALSE(f.available(15, *parse_rfc3339("2025-01-01T00:00:20Z")));
  CHECK(&f.labels() == &p["metadata"]["labels"]);
  CHECK(f.labels_key == "app=web\x1ftier=fe");

  json t = pod("b", "");
  t["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z";
  PodFacts g = pod_facts(t);
  CHECK(g.owner_uid.empty());
  CHECK(g.deleting);
  CHECK_FALSE(g.active);
  CHECK_FALSE(g.ready());
  CHECK(g.phase_rank == 0);
}

TEST_CASE("same_for_owner: a binding changes nothing the owners count; readiness, labels, owner, deletion do") {
  json p = pod("a", "rs-1");
  json bound = p;
  bound["spec"]["nodeName"] = "n1";
  bound["status"]["conditions"] = json::array({{{"type", "PodScheduled"}, {"status", "True"}}});
  bound["metadata"]["resourceVersion"] = "7";
  CHECK(same_for_owner(p, bound));
  CHECK_FALSE(same_for_owner(bound, running_ready(bound, "2025-01-01T00:00:10Z")));
  CHECK_FALSE(same_for_owner(running_ready(bound, "2025-01-01T00:00:10Z"), running_ready(bound, "2025-01-01T00:00:11Z")));
  json relabeled = p;
  relabeled["metadata"]["labels"]["app"] = "other";
  CHECK_FALSE(same_for_owner(p, relabeled));
  CHECK_FALSE(same_for_owner(p, pod("a", "rs-2")));
  CHECK_FALSE(same_for_owner(p, pod("a", "")));
  json deleting = p;
  deleting["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z";
  CHECK_FALSE(same_for_owner(p, deleting));
}

TEST_CASE("pod index: pods by controller uid, orphans by namespace, moves and deletes") {
  PodIndex idx;
  auto a = ptr(pod("a", "rs-1")), b = ptr(pod("b", "rs-1")), c = ptr(pod("c", "rs-2")), o = ptr(pod("o", ""));
  for (const auto& p : {a, b, c, o}) idx.apply(nullptr, p);
  CHECK(names(idx.owned_by("rs-1")) == std::vector<std::string>{"a", "b"});
  CHECK(names(idx.owned_by("rs-2")) == std::vector<std::string>{"c"});
  CHECK(names(idx.orphans("default")) == std::vector<std::string>{"o"});
  CHECK(idx.orphans("other").empty());
  CHECK(idx.owned_by("").empty());

  // Adopted by rs-2; a released by rs-1.
  auto o2 = ptr(pod("o", "rs-2")), a2 = ptr(pod("a", ""));
  idx.apply(o, o2);
  idx.apply(a, a2);
  CHECK(names(idx.owned_by("rs-1")) == std::vector<std::string>{"b"});
  CHECK(names(idx.owned_by("rs-2")) == std::vector<std::string>{"c", "o"});
  CHECK(names(idx.orphans("default")) == std::vector<std::string>{"a"});

  // An update in place replaces the facts.
  auto b2 = ptr(running_ready(pod("b", "rs-1"), "2025-01-01T00:00:10Z"));
  idx.apply(b, b2);
  REQUIRE(idx.get("default", "b"));
  CHECK(idx.get("default", "b")->ready());
  CHECK(idx.owned_by("rs-1").size() == 1);
  CHECK(idx.counts_owned_by("rs-1").active == 1);
  CHECK(idx.counts_owned_by("rs-1").available == 1);
  CHECK(idx.counts_owned_by("rs-2").active == 2);
  CHECK(idx.counts_owned_by("rs-2").available == 0);
  json gone = running_ready(pod("c", "rs-2"), "2025-01-01T00:00:10Z");
  gone["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:20Z";
  auto c2 = ptr(gone);
  idx.apply(c, c2);  // terminating: no longer counted
  CHECK(idx.counts_owned_by("rs-2").active == 1);
  CHECK(idx.counts_owned_by("rs-2").available == 0);

  auto v = idx.view("rs-1", "default", {"b", "nope", "o"});
  CHECK(names(v.owned) == std::vector<std::string>{"b"});
  CHECK(names(v.orphans) == std::vector<std::string>{"a"});
  REQUIRE(v.named.size() == 3);
  CHECK(v.named[0] == idx.get("default", "b"));
  CHECK(v.named[1] == nullptr);
  CHECK(v.named[2]->owner_uid == "rs-2");

  idx.apply(b2, nullptr);
  idx.apply(a2, nullptr);
  CHECK(idx.owned_by("rs-1").empty());
  CHECK(idx.orphans("default").empty());
  CHECK(idx.counts_owned_by("rs-1").active == 0);
  CHECK_FALSE(idx.get("default", "b"));
  CHECK(idx.get("default", "c"));
}
