#pragma once

// What k3dpp-node server writes to /var/lib/k3dpp/server/admin.kubeconfig (fake data;
// the *-data fields are base64 of short PEM-looking strings).
inline const char* kAdminKubeconfig = R"(apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0EtUEVN
contexts:
- name: default
  context:
    cluster: default
    user: default
current-context: default
users:
- name: default
  user:
    client-certificate-data: Q0VSVC1QRU0=
    client-key-data: S0VZLVBFTQ==
)";
