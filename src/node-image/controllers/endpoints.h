// Endpoints and EndpointSlices from a Service's selector and its pods' readiness, pure: what the
// endpoints and endpointslice controllers of Kubernetes compute for one Service.
#pragma once

#include <string>
#include <vector>

#include "controllers/util.h"

namespace k3dpp::controllers {

inline constexpr const char* kServiceNameLabel = "kubernetes.io/service-name";
inline constexpr const char* kManagedByLabel = "endpointslice.kubernetes.io/managed-by";
inline constexpr const char* kEndpointSliceController = "endpointslice-controller.k8s.io";

// The resolved port of one service port on one pod (named targetPorts looked up in the pod's
// container ports); nullopt-like -1 when a named port is missing.
int resolve_target_port(const json& service_port, const json& pod);

// The Endpoints object (subsets grouped by resolved port set; ready pods in addresses, others in
// notReadyAddresses; terminating and IP-less pods left out). pods: every pod of the namespace.
json desired_endpoints(const json& service, const std::vector<const json*>& pods);

// The EndpointSlices' content (one entry per distinct resolved port set, or one empty placeholder):
// each {"ports": [...], "endpoints": [...]} plus labels; names and metadata are left to the caller.
struct SliceContent {
  json ports;      // array (may be empty)
  json endpoints;  // array
};
std::vector<SliceContent> desired_slices(const json& service, const std::vector<const json*>& pods);

// Labels every slice of the service carries (the service's own labels plus service-name and
// managed-by; headless services get service.kubernetes.io/headless).
json slice_labels(const json& service);

}  // namespace k3dpp::controllers
