#include "kubelet/cni.h"

#include <arpa/inet.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/strings.h"

namespace k3dpp::kubelet {

using json = nlohmann::ordered_json;

Result<std::string> render_cni_conflist(const std::string& pod_cidr) {
  auto slash = pod_cidr.find('/');
  long long bits = -1;
  in_addr addr{};
  if (slash == std::string::npos || inet_pton(AF_INET, pod_cidr.substr(0, slash).c_str(), &addr) != 1 ||
      !strings::parse_int(pod_cidr.substr(slash + 1), bits) || bits < 8 || bits > 30) {
    return fail("invalid podCIDR \"" + pod_cidr + "\": want an IPv4 CIDR with a prefix of 8 to 30 bits", "Invalid");
  }
  json bridge = {
      {"type", "bridge"},
      {"bridge", "cni0"},
      {"isGateway", true},
      {"hairpinMode", true},
      {"ipMasq", false},
      {"ipam",
       {{"type", "host-local"},
        {"ranges", json::array({json::array({{{"subnet", pod_cidr}}})})},
        {"routes", json::array({{{"dst", "0.0.0.0/0"}}})}}},
  };
  json portmap = {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}};
  json conf = {{"cniVersion", "1.0.0"}, {"name", kCniNetworkName}, {"plugins", json::array({bridge, portmap})}};
  return conf.dump(2) + "\n";
}

Result<bool> write_cni_conflist(const std::string& pod_cidr, const std::string& path) {
  auto content = render_cni_conflist(pod_cidr);
  if (!content) return content.error();
  if (files::exists(path)) {
    auto cur = files::read(path);
    if (cur && *cur == *content) return false;
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  auto st = files::write_atomic(path, *content, 0644);
  if (!st) return st.error().wrap("writing CNI config " + path);
  return true;
}

}  // namespace k3dpp::kubelet
