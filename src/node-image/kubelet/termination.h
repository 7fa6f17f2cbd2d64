// The termination message of an exited container, as the kubelet fills
// status.containerStatuses[].state.terminated.message:
//   - the file the container wrote at its terminationMessagePath (default /dev/termination-log),
//     which the kubelet mounts from the node (at most 4096 bytes are read);
//   - with terminationMessagePolicy FallbackToLogsOnError, a failed container (exit code != 0)
//     that wrote nothing there gets the end of its log instead (last 80 lines, at most 2048 bytes);
//   - appended to the runtime's own message after ": " when both exist.
#pragma once

#include <string>

#include "cri/cri_client.h"

namespace k3dpp::kubelet {

namespace rt = ::runtime::v1;

inline constexpr size_t kMaxTerminationMessageBytes = 4096;
inline constexpr size_t kMaxTerminationLogBytes = 2048;
inline constexpr size_t kMaxTerminationLogLines = 80;

// Node path (below the pods root) of the termination-message file of one container attempt:
// <pods_root>/<uid>/containers/<container>/termination-<attempt>.
std::string termination_file_path(const std::string& pods_root, const std::string& uid, const std::string& container,
                                  uint32_t attempt);

// The last `max_lines` lines (at most `max_bytes`, cut at the front) of a CRI-format log file,
// partial entries joined. Empty when the file is missing.
std::string tail_of_cri_log(const std::string& path, size_t max_lines, size_t max_bytes);

// Adds the termination message to an exited container's status message (see the top of this
// file). node_root prefixes every node path (tests). Uses the status' annotations
// (io.kubernetes.container.terminationMessagePath/Policy), mounts and log path.
void add_termination_message(rt::ContainerStatus& status, const std::string& node_root = "");

}  // namespace k3dpp::kubelet
