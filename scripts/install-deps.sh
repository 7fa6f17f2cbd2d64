#!/usr/bin/env bash
# Installs everything k3dpp needs to build, test and run on Debian 12, from Debian's packages.
# Idempotent: safe to run again. Needs root.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries
  libcurl4-openssl-dev nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  doctest-dev libssl-dev libboost-dev libboost-system-dev libsqlite3-dev zlib1g-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libre2-dev  # CRD schema `pattern`s: linear-time regular expressions
  libabsl-dev tzdata  # CronJob time zones (Abseil's time zone library over the system's tzdata)
  # container engine and image building
  docker.io debootstrap iptables iproute2 curl ca-certificates procps busybox-static
  podman catatonit golang-github-containernetworking-plugin-dnsname
  # etcd for HA servers (the etcd store tests start one on 127.0.0.1; the node image has its own)
  etcd-server etcd-client
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all packages present" >&2
