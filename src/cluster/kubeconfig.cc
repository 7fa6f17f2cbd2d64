#include "cluster/kubeconfig.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/files.h"
#include "common/strings.h"

namespace k3dpp::cluster {
namespace {

std::string emit(YAML::Node n) {
  // Empty top-level lists/maps as "[]"/"{}" on the key's line, like kubectl writes them.
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      YAML::Node v = it->second;
      if ((v.IsSequence() || v.IsMap()) && v.size() == 0) v.SetStyle(YAML::EmitterStyle::Flow);
    }
  }
  YAML::Emitter out;
  out << n;
  return std::string(out.c_str()) + "\n";
}

YAML::Node named_entry(const YAML::Node& list, const std::string& name) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& e : list) {
    if (e["name"] && e["name"].as<std::string>() == name) return e;
  }
  return YAML::Node();
}

// Replaces (same name) or appends each entry of `add` in `base[key]`.
// With update false, an entry of the same name that differs is a conflict (k3d merge -u=false).
void upsert(YAML::Node base, const std::string& key, const YAML::Node& add, bool update = true) {
  if (!add || !add.IsSequence()) return;
  YAML::Node list = base[key];
  if (!list || !list.IsSequence()) {
    base[key] = YAML::Node(YAML::NodeType::Sequence);
    list = base[key];
  }
  for (const auto& it : add) {
    const YAML::Node& e = it;
    std::string name = e["name"].as<std::string>();
    bool replaced = false;
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i]["name"] && list[i]["name"].as<std::string>() == name) {
        if (!update && YAML::Dump(list[i]) != YAML::Dump(e)) {
          throw std::runtime_error(key + " entry '" + name + "' exists and differs (--update replaces it)");
        }
        list[i] = e;
        replaced = true;
        break;
      }
    }
    if (!replaced) list.push_back(e);
  }
}

void remove_named(YAML::Node base, const std::string& key, const std::string& name) {
  YAML::Node list = base[key];
  if (!list || !list.IsSequence()) return;
  YAML::Node kept(YAML::NodeType::Sequence);
  for (const auto& it : list) {
    const YAML::Node& e = it;
    if (e["name"] && e["name"].as<std::string>() == name) continue;
    kept.push_back(e);
  }
  base[key] = kept;
}

YAML::Node empty_flow_map() {
  YAML::Node m(YAML::NodeType::Map);
  m.SetStyle(YAML::EmitterStyle::Flow);
  return m;
}

YAML::Node load_or_empty(const std::string& text) {
  if (strings::trim(text).empty()) {
    YAML::Node n(YAML::NodeType::Map);
    n["apiVersion"] = "v1";
    n["clusters"] = YAML::Node(YAML::NodeType::Sequence);
    n["contexts"] = YAML::Node(YAML::NodeType::Sequence);
    n["current-context"] = "";
    n["kind"] = "Config";
    n["preferences"] = empty_flow_map();
    n["users"] = YAML::Node(YAML::NodeType::Sequence);
    return n;
  }
  YAML::Node n = YAML::Load(text);
  if (!n.IsMap()) throw std::runtime_error("not a kubeconfig (top level is not a mapping)");
  return n;
}

}  // namespace

std::string base64_decode(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    if (c == '=' ) break;
    auto pos = kAlphabet.find(static_cast<char>(c));
    if (pos == std::string::npos) continue;  // skip whitespace and newlines
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

Result<std::string> make_cluster_kubeconfig(const std::string& admin_yaml, const std::string& cluster,
                                            const std::string& host, uint16_t port) {
  try {
    YAML::Node src = YAML::Load(admin_yaml);
    if (!src.IsMap() || !src["clusters"] || !src["clusters"].IsSequence() || src["clusters"].size() == 0 ||
        !src["users"] || !src["users"].IsSequence() || src["users"].size() == 0) {
      return fail("admin kubeconfig has no cluster or user entry", "Invalid");
    }
    std::string name = "k3dpp-" + cluster;
    std::string user = "admin@" + name;
    std::string h = (host.empty() || host == "0.0.0.0") ? "127.0.0.1" : host;

    YAML::Node cl(YAML::NodeType::Map);
    const YAML::Node& scl = src["clusters"][0]["cluster"];
    if (scl["certificate-authority-data"]) cl["certificate-authority-data"] = scl["certificate-authority-data"].as<std::string>();
    cl["server"] = "https://" + h + ":" + std::to_string(port);
    YAML::Node cl_entry(YAML::NodeType::Map);
    cl_entry["cluster"] = cl;
    cl_entry["name"] = name;

    YAML::Node ctx(YAML::NodeType::Map);
    ctx["cluster"] = name;
    ctx["user"] = user;
    YAML::Node ctx_entry(YAML::NodeType::Map);
    ctx_entry["context"] = ctx;
    ctx_entry["name"] = name;

    YAML::Node us(YAML::NodeType::Map);
    const YAML::Node& sus = src["users"][0]["user"];
    for (const char* k : {"client-certificate-data", "client-key-data", "token"}) {
      if (sus[k]) us[k] = sus[k].as<std::string>();
    }
    YAML::Node us_entry(YAML::NodeType::Map);
    us_entry["name"] = user;
    us_entry["user"] = us;

    YAML::Node out(YAML::NodeType::Map);
    out["apiVersion"] = "v1";
    out["clusters"].push_back(cl_entry);
    out["contexts"].push_back(ctx_entry);
    out["current-context"] = name;
    out["kind"] = "Config";
    out["preferences"] = empty_flow_map();
    out["users"].push_back(us_entry);
    return emit(out);
  } catch (const std::exception& e) {
    return fail(std::string("cannot parse admin kubeconfig: ") + e.what(), "Invalid");
  }
}

Result<std::string> merge_kubeconfig(const std::string& existing, const std::string& add, bool switch_context) {
  return merge_kubeconfig(existing, add, switch_context, true);
}

Result<std::string> merge_kubeconfig(const std::string& existing, const std::string& add, bool switch_context,
                                     bool update) {
  try {
    YAML::Node base = load_or_empty(existing);
    YAML::Node a = YAML::Load(add);
    upsert(base, "clusters", a["clusters"], update);
    upsert(base, "contexts", a["contexts"], update);
    upsert(base, "users", a["users"], update);
    if (!base["apiVersion"]) base["apiVersion"] = "v1";
    if (!base["kind"]) base["kind"] = "Config";
    if (switch_context && a["current-context"]) {
      base["current-context"] = a["current-context"].as<std::string>();
    } else if (!base["current-context"]) {
      base["current-context"] = "";
    }
    return emit(base);
  } catch (const std::exception& e) {
    return fail(std::string("cannot merge kubeconfig: ") + e.what(), "Invalid");
  }
}

Result<std::string> remove_cluster_from_kubeconfig(const std::string& existing, const std::string& cluster) {
  try {
    YAML::Node base = load_or_empty(existing);
    std::string name = "k3dpp-" + cluster;
    remove_named(base, "clusters", name);
    remove_named(base, "contexts", name);
    remove_named(base, "users", "admin@" + name);
    if (base["current-context"] && base["current-context"].as<std::string>() == name) base["current-context"] = "";
    return emit(base);
  } catch (const std::exception& e) {
    return fail(std::string("cannot update kubeconfig: ") + e.what(), "Invalid");
  }
}

std::string default_kubeconfig_path() {
  const char* kc = std::getenv("KUBECONFIG");
  if (kc && *kc) {
    for (const auto& p : strings::split(kc, ':')) {
      if (!p.empty()) return p;
    }
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.kube/config";
}

Status merge_into_file(const std::string& path, const std::string& add, bool switch_context) {
  return merge_into_file(path, add, switch_context, true, false);
}

Status merge_into_file(const std::string& path, const std::string& add, bool switch_context, bool update,
                       bool overwrite) {
  std::string existing;
  if (!overwrite && files::exists(path)) {
    auto r = files::read(path);
    if (!r) return r.error();
    existing = *r;
  }
  auto merged = merge_kubeconfig(existing, add, switch_context, update);
  if (!merged) return merged.error().wrap(path);
  std::error_code ec;
  auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());
  }
  return files::write_atomic(path, *merged, 0600);
}

Status remove_from_file(const std::string& path, const std::string& cluster) {
  if (!files::exists(path)) return {};
  auto r = files::read(path);
  if (!r) return r.error();
  auto out = remove_cluster_from_kubeconfig(*r, cluster);
  if (!out) return out.error().wrap(path);
  return files::write_atomic(path, *out, 0600);
}

Result<ClientCreds> client_credentials(const std::string& kubeconfig_yaml) {
  try {
    YAML::Node kc = YAML::Load(kubeconfig_yaml);
    std::string ctx_name = kc["current-context"] ? kc["current-context"].as<std::string>() : "";
    YAML::Node ctx = named_entry(kc["contexts"], ctx_name);
    YAML::Node cl, us;
    if (ctx) {
      cl = named_entry(kc["clusters"], ctx["context"]["cluster"].as<std::string>());
      us = named_entry(kc["users"], ctx["context"]["user"].as<std::string>());
    } else {
      if (kc["clusters"] && kc["clusters"].size() > 0) cl = kc["clusters"][0];
      if (kc["users"] && kc["users"].size() > 0) us = kc["users"][0];
    }
    if (!cl || !us) return fail("kubeconfig has no cluster or user for its context", "Invalid");
    ClientCreds c;
    c.server = cl["cluster"]["server"].as<std::string>("");
    c.ca_pem = base64_decode(cl["cluster"]["certificate-authority-data"].as<std::string>(""));
    c.cert_pem = base64_decode(us["user"]["client-certificate-data"].as<std::string>(""));
    c.key_pem = base64_decode(us["user"]["client-key-data"].as<std::string>(""));
    if (c.server.empty() || c.ca_pem.empty() || c.cert_pem.empty() || c.key_pem.empty()) {
      return fail("kubeconfig lacks server, CA or client certificate data", "Invalid");
    }
    return c;
  } catch (const std::exception& e) {
    return fail(std::string("cannot parse kubeconfig: ") + e.what(), "Invalid");
  }
}

}  // namespace k3dpp::cluster
