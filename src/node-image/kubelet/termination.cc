#include "kubelet/termination.h"

#include <deque>
#include <fstream>

#include "kubelet/logs.h"

namespace k3dpp::kubelet {

std::string termination_file_path(const std::string& pods_root, const std::string& uid, const std::string& container,
                                  uint32_t attempt) {
  return pods_root + "/" + uid + "/containers/" + container + "/termination-" + std::to_string(attempt);
}

std::string tail_of_cri_log(const std::string& path, size_t max_lines, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::deque<std::string> lines;
  std::string line, current;
  while (std::getline(in, line)) {
    auto e = parse_cri_log_line(line);
    if (!e) continue;
    current += e->message;
    if (e->partial) continue;
    lines.push_back(current + "\n");
    current.clear();
    if (lines.size() > max_lines) lines.pop_front();
  }
  if (!current.empty()) {
    lines.push_back(current);
    if (lines.size() > max_lines) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += l;
  if (out.size() > max_bytes) out = out.substr(out.size() - max_bytes);
  return out;
}

void add_termination_message(rt::ContainerStatus& status, const std::string& node_root) {
  if (status.state() != rt::CONTAINER_EXITED) return;
  const auto& ann = status.annotations();
  auto path_it = ann.find("io.kubernetes.container.terminationMessagePath");
  std::string tm_path = path_it != ann.end() ? path_it->second : "/dev/termination-log";
  auto policy_it = ann.find("io.kubernetes.container.terminationMessagePolicy");
  bool fallback = policy_it != ann.end() && policy_it->second == "FallbackToLogsOnError" && status.exit_code() != 0;

  std::string message;
  for (const auto& m : status.mounts()) {
    if (m.container_path() != tm_path) continue;
    std::ifstream in(node_root + m.host_path(), std::ios::binary);
    if (!in) break;
    std::string buf(kMaxTerminationMessageBytes, '\0');
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    buf.resize(static_cast<size_t>(in.gcount()));
    message = buf;
    break;
  }
  if (message.empty() && fallback && !status.log_path().empty()) {
    message = tail_of_cri_log(node_root + status.log_path(), kMaxTerminationLogLines, kMaxTerminationLogBytes);
  }
  if (message.empty()) return;
  std::string full = status.message();
  if (!full.empty()) full += ": ";
  status.set_message(full + message);
}

}  // namespace k3dpp::kubelet
