// Tests for server-side Tables: golden tables per kind (testdata/*.in.json rendered against
// testdata/*.golden.txt), the Table's shape, and format_age at every boundary.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "node-image/printers/printers.h"

using nlohmann::json;
using k3dpp::printers::format_age;
using k3dpp::printers::to_table;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

const std::string kTestData = K3DPP_PRINTERS_TESTDATA;

std::chrono::system_clock::time_point at(const std::string& text) {
  std::chrono::system_clock::time_point t;
  REQUIRE(k3dpp::printers::parse_time(text, t));
  return t;
}

// Every golden is rendered at this instant.
std::chrono::system_clock::time_point now() { return at("2025-11-16T12:00:00Z"); }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One line of headers (priority-1 columns marked with *), then one line of cells per row.
std::string render(const json& table) {
  std::string out;
  std::vector<std::string> headers;
  for (const auto& c : table["columnDefinitions"]) {
    headers.push_back((c["priority"].get<int>() > 0 ? "*" : "") + upper(c["name"].get<std::string>()));
  }
  auto line = [&](const std::vector<std::string>& parts) {
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? " | " : "") + parts[i];
    out += "\n";
  };
  line(headers);
  for (const auto& row : table["rows"]) {
    std::vector<std::string> cells;
    for (const auto& cell : row["cells"]) cells.push_back(cell.is_string() ? cell.get<std::string>() : cell.dump());
    CHECK(cells.size() == headers.size());
    line(cells);
  }
  return out;
}

json table_for(const std::string& name) {
  const json in = json::parse(read_file(kTestData + "/" + name + ".in.json"));
  std::vector<json> objects = in["objects"].get<std::vector<json>>();
  return to_table(in["group"].get<std::string>(), in["kind"].get<std::string>(), objects, now(), "4242");
}

void check_golden(const std::string& name) {
  const std::string actual = render(table_for(name));
  const std::string golden_path = kTestData + "/" + name + ".golden.txt";
  if (std::getenv("K3DPP_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden_path) << actual;
  }
  const std::string expected = read_file(golden_path);
  CHECK_MESSAGE(actual == expected, "golden " << name << "\n--- expected\n" << expected << "--- actual\n" << actual);
}

}  // namespace

TEST_CASE("golden tables") {
  for (const char* name :
       {"pods", "nodes", "services", "deployments", "replicasets", "pvs", "pvcs", "storageclasses", "namespaces",
        "endpoints", "endpointslices", "configmaps", "secrets", "serviceaccounts", "leases", "events", "events-v1",
        "jobs", "cronjobs", "statefulsets", "daemonsets", "roles", "rolebindings"}) {
    CAPTURE(name);
    check_golden(name);
  }
}

TEST_CASE("table shape: kind, metadata, column definitions, row objects, conditions") {
  const json t = table_for("pods");
  CHECK(t["kind"] == "Table");
  CHECK(t["apiVersion"] == "meta.k8s.io/v1");
  CHECK(t["metadata"] == json({{"resourceVersion", "4242"}}));
  const json& name_col = t["columnDefinitions"][0];
  CHECK(name_col["name"] == "Name");
  CHECK(name_col["type"] == "string");
  CHECK(name_col["format"] == "name");
  CHECK(name_col["priority"] == 0);
  CHECK(name_col["description"].get<std::string>().rfind("Name must be unique within a namespace.", 0) == 0);
  const json& restarts = t["columnDefinitions"][3];
  CHECK(restarts == json({{"name", "Restarts"},
                          {"type", "string"},
                          {"format", ""},
                          {"priority", 0},
                          {"description",
                           "The number of times the containers in this pod have been restarted and when the last "
                           "container in this pod has restarted."}}));
  CHECK(t["columnDefinitions"][5]["priority"] == 1);

  const json& first = t["rows"][0];
  CHECK(first["object"]["kind"] == "PartialObjectMetadata");
  CHECK(first["object"]["apiVersion"] == "meta.k8s.io/v1");
  CHECK(first["object"]["metadata"]["name"] == "nginx-pod");
  CHECK(first["object"]["metadata"]["labels"] == json({{"version", "v1"}, {"zone", "prod"}}));
  CHECK(first["object"]["metadata"]["resourceVersion"] == "101");
  CHECK_FALSE(first["object"]["metadata"].contains("managedFields"));
  CHECK_FALSE(first["object"].contains("spec"));
  CHECK_FALSE(first.contains("conditions"));

  // Succeeded and Failed pods carry the Completed row condition.
  const json& completed = t["rows"][3];
  REQUIRE(completed["cells"][0] == "nginx-deployment-75578ddfcc-zz7w4");
  CHECK(completed["conditions"] == json::parse(R"([{"type":"Completed","status":"True","reason":"Succeeded",
                                                   "message":"The pod has completed successfully."}])"));
  const json& oom = t["rows"][10];
  REQUIRE(oom["cells"][0] == "oom");
  CHECK(oom["conditions"][0]["reason"] == "Failed");
  CHECK(oom["conditions"][0]["message"] == "The pod failed.");

  // Integer and boolean cells stay JSON numbers and booleans.
  CHECK(table_for("replicasets")["rows"][0]["cells"][1].is_number_integer());
  CHECK(table_for("storageclasses")["rows"][0]["cells"][4].is_boolean());
  CHECK(table_for("deployments")["rows"][0]["cells"][2].is_number_integer());
}

TEST_CASE("row objects: none, metadata, full object; continue token; empty list") {
  const json pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","managedFields":[{}]},"spec":{}})");
  const json none = to_table("", "Pod", {pod}, now(), "7", false);
  CHECK_FALSE(none["rows"][0].contains("object"));
  const json full = to_table("", "Pod", {pod}, now(), "7", k3dpp::printers::IncludeObject::kObject, "tok");
  CHECK(full["rows"][0]["object"] == pod);
  CHECK(full["metadata"] == json({{"resourceVersion", "7"}, {"continue", "tok"}}));
  const json empty = to_table("apps", "Deployment", {}, now(), "9");
  CHECK(empty["rows"] == json::array());
  CHECK(empty["columnDefinitions"].size() == 8);
}

TEST_CASE("default table for kinds without a printer") {
  CHECK_FALSE(k3dpp::printers::has_printer("apiextensions.k8s.io", "CustomResourceDefinition"));
  CHECK(k3dpp::printers::has_printer("", "Pod"));
  CHECK(k3dpp::printers::has_printer("storage.k8s.io", "StorageClass"));
  const json cols = k3dpp::printers::column_definitions("rbac.authorization.k8s.io", "ClusterRole");
  REQUIRE(cols.size() == 2);
  CHECK(cols[1]["name"] == "Created At");
  CHECK(cols[1]["type"] == "date");
  const json t = to_table("example.com", "Widget", {json::parse(R"({"metadata":{"name":"w"}})")}, now(), "1");
  CHECK(t["rows"][0]["cells"] == json::array({"w", "0001-01-01T00:00:00Z"}));
}

TEST_CASE("malformed objects do not throw") {
  for (const char* kind : {"Pod", "Node", "Service", "Endpoints", "PersistentVolume", "Event", "Namespace"}) {
    CAPTURE(kind);
    for (const char* text : {R"(null)", R"([])", R"("x")", R"({"metadata":5,"spec":[],"status":"s"})",
                             R"({"spec":{"containers":5,"ports":[1,2],"readinessGates":{}},"status":{"containerStatuses":[null,3]}})"}) {
      CAPTURE(text);
      json t;
      CHECK_NOTHROW(t = to_table("", kind, {json::parse(text)}, now(), "1"));
      CHECK(t["rows"][0]["cells"].size() == t["columnDefinitions"].size());
    }
  }
}

TEST_CASE("format_age follows duration.HumanDuration at every boundary") {
  struct Case {
    std::chrono::system_clock::duration d;
    const char* want;
  };
  const Case cases[] = {
      {-seconds(5), "<invalid>"},
      {-seconds(2), "<invalid>"},
      {-milliseconds(1999), "0s"},  // int(-1.999) == -1
      {-seconds(1), "0s"},
      {-milliseconds(500), "0s"},
      {seconds(0), "0s"},
      {milliseconds(999), "0s"},
      {seconds(1), "1s"},
      {seconds(45), "45s"},
      {seconds(119), "119s"},
      {seconds(120), "2m"},
      {seconds(121), "2m1s"},
      {minutes(5) + seconds(30), "5m30s"},
      {seconds(599), "9m59s"},
      {minutes(9), "9m"},
      {minutes(10), "10m"},
      {minutes(10) + seconds(59), "10m"},
      {minutes(179), "179m"},
      {minutes(180), "3h"},
      {hours(3) + minutes(15), "3h15m"},
      {hours(5), "5h"},
      {hours(7) + minutes(59), "7h59m"},
      {hours(8), "8h"},
      {hours(47) + minutes(59), "47h"},
      {hours(48), "2d"},
      {hours(24 * 3 + 4), "3d4h"},
      {hours(24 * 8 - 1), "7d23h"},
      {hours(24 * 8), "8d"},
      {hours(24 * 45), "45d"},
      {hours(24 * 729 + 23), "729d"},
      {hours(24 * 730), "2y"},
      {hours(24 * 760), "2y30d"},
      {hours(24 * 365 * 8 - 24), "7y364d"},
      {hours(24 * 365 * 8), "8y"},
      {hours(24 * 365 * 20 + 24 * 100), "20y"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.want);
    CHECK(format_age(c.d) == c.want);
  }
}

TEST_CASE("RFC3339 parsing and formatting") {
  using k3dpp::printers::format_time;
  using k3dpp::printers::parse_time;
  std::chrono::system_clock::time_point t;
  REQUIRE(parse_time("1970-01-01T00:00:00Z", t));
  CHECK(t.time_since_epoch() == std::chrono::system_clock::duration::zero());
  REQUIRE(parse_time("2024-02-29T23:59:59.5Z", t));
  CHECK(format_time(t) == "2024-02-29T23:59:59Z");
  CHECK(at("2024-03-01T01:00:00+01:00") == at("2024-03-01T00:00:00Z"));
  CHECK(at("2024-03-01T00:00:00-02:30") == at("2024-03-01T02:30:00Z"));
  CHECK(at("2025-11-16T11:50:44.123456Z") - at("2025-11-16T11:50:44Z") == std::chrono::microseconds(123456));
  for (const char* bad : {"", "2024-01-01", "2024-01-01T00:00:00", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00Zjunk",
                          "2024-01-01T00:00:00.Z", "yesterday", "2024-01-01T00:00:00+0100"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_time(bad, t));
  }
}

TEST_CASE("custom resource tables: Name, then the CRD's columns typed as Kubernetes types them") {
  using k3dpp::printers::CustomColumn;
  std::vector<CustomColumn> cols = {{"Spec", "string", "", "", ".spec.cronSpec", 0},
                                    {"Replicas", "integer", "", "the replicas", ".spec.replicas", 0},
                                    {"Ready", "string", "", "", ".status.conditions[0].status", 1},
                                    {"Age", "date", "", "", ".metadata.creationTimestamp", 0}};
  auto now = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 56);
  std::chrono::system_clock::time_point created;
  REQUIRE(k3dpp::printers::parse_time("2025-12-20T00:00:00Z", created));
  nlohmann::json obj = {{"metadata", {{"name", "c1"}, {"creationTimestamp", k3dpp::printers::format_time(created)},
                                      {"managedFields", nlohmann::json::array()}}},
                        {"spec", {{"cronSpec", "* * * * */5"}, {"replicas", 3}}}};
  auto t = k3dpp::printers::to_custom_table(cols, {obj}, created + std::chrono::minutes(5), "42",
                                            k3dpp::printers::IncludeObject::kMetadata);
  (void)now;
  CHECK(t["columnDefinitions"][0]["name"] == "Name");
  CHECK(t["columnDefinitions"][1]["description"] ==
        "Custom resource definition column (in JSONPath format): .spec.cronSpec");
  CHECK(t["columnDefinitions"][2]["description"] == "the replicas");
  CHECK(t["columnDefinitions"][3]["priority"] == 1);
  CHECK(t["rows"][0]["cells"] == nlohmann::json::array({"c1", "* * * * */5", 3, nullptr, "5m"}));
  CHECK_FALSE(t["rows"][0]["object"]["metadata"].contains("managedFields"));
  CHECK(t["metadata"]["resourceVersion"] == "42");
}

TEST_CASE("printer-column JSONPaths: fields, indexes, quoted keys and equality filters") {
  auto obj = nlohmann::json::parse(R"({"metadata":{"labels":{"app.kubernetes.io/name":"x"}},
    "status":{"conditions":[{"type":"Issuing","status":"False"},{"type":"Ready","status":"True"}]}})");
  using k3dpp::printers::json_path_value;
  REQUIRE(json_path_value(obj, R"(.status.conditions[?(@.type == "Ready")].status)"));
  CHECK(*json_path_value(obj, R"(.status.conditions[?(@.type == "Ready")].status)") == "True");
  CHECK(*json_path_value(obj, ".status.conditions[0].type") == "Issuing");
  CHECK(*json_path_value(obj, ".status.conditions[-1].type") == "Ready");
  CHECK(*json_path_value(obj, "{.metadata.labels['app.kubernetes.io/name']}") == "x");
  CHECK(json_path_value(obj, R"(.status.conditions[?(@.type == "Gone")].status)") == nullptr);
  CHECK(json_path_value(obj, ".spec.missing") == nullptr);
  CHECK(json_path_value(obj, ".status.conditions[9]") == nullptr);
}
