#!/usr/bin/env bash
# Builds the k3dpp images without any registry:
#   k3dpp/node:<version> (+ :latest)  containerd, runc, CNI plugins, iptables, etcd (HA), k3dpp-node
#   k3dpp/lb:<version>   (+ :latest)  nginx with the stream module, k3dpp-lb
#   k3dpp.local/pause:3.10            static pause program, also saved into the node image
#   k3dpp/registry:<version> (+ :latest)  Debian's docker-registry (Docker Distribution 2.8), for
#                                     `k3dpp registry create`; rebuilt only when its inputs change
#
# How: debootstrap (minbase) a Debian rootfs once, install each image's packages into a copy of
# it with apt-get in a chroot, trim it, and cache the result under a key made from the package
# list; that rootfs is `docker import`ed once as k3dpp/<kind>-rootfs:<key>. Every build then
# adds our files as one small layer (docker cp + docker commit), so a rebuild after a code
# change takes seconds. See images/README.md.
#
# Usage: images/build.sh [--build-dir DIR] [--only node|lb|registry]
#   --build-dir DIR  CMake build directory holding k3dpp-node and k3dpp-lb (default <repo>/build)
#   --only KIND      build only the node (with the pause image), the lb or the registry image
#                    (the registry needs no k3dpp binary)
# Environment:
#   K3DPP_IMAGE_CACHE    cache directory (default /var/cache/k3dpp/images)
#   K3DPP_NODE_BINARY    use this k3dpp-node instead of the one in the build directory
#   K3DPP_LB_BINARY      use this k3dpp-lb instead of the one in the build directory
#   K3DPP_DEBIAN_MIRROR  Debian mirror (default: first URIs: line of /etc/apt/sources.list.d/*.sources)
# Needs root, a running docker daemon, debootstrap and gcc.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
images_dir=$repo/images
# now, elapsed, debian_mirror, base_rootfs, chroot_{mount,umount}_proc, chroot_{prepare,unprepare}
source "$images_dir/lib.sh"
build_dir=$repo/build
only=all

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
say() { echo "build.sh: $*" >&2; }

while (($#)); do
  case $1 in
    --build-dir) [ $# -ge 2 ] || die "--build-dir needs a directory"; build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --only) [ $# -ge 2 ] || die "--only needs node, lb or registry"; only=$2; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case $only in all|node|lb|registry) ;; *) die "--only must be node, lb or registry, not '$only'" ;; esac

version=$(sed -n 's/^project(k3dpp VERSION \([0-9][0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
[ -n "$version" ] || die "cannot read the version from project(k3dpp VERSION x.y.z) in $repo/CMakeLists.txt"
# K3DPP_IMAGE_TAG builds k3dpp/node:TAG and k3dpp/lb:TAG instead of :<version> (+ :latest), so
# several checkouts can test their own images side by side (the CLI honours K3DPP_NODE_IMAGE and
# K3DPP_LB_IMAGE).
tag=${K3DPP_IMAGE_TAG:-$version}

cache=${K3DPP_IMAGE_CACHE:-/var/cache/k3dpp/images}
suite=bookworm
mirror=$(debian_mirror)
pause_image=k3dpp.local/pause:3.10
# Bump when the way a cached rootfs is prepared changes (trim rules, chroot setup), so old
# caches are not reused.
recipe_version=1

# nginx: the bundled ingress controller's proxy (http + ssl are in the nginx binary package).
node_packages=(containerd runc crun containernetworking-plugins iptables iproute2 ca-certificates procps etcd-server nginx)
# bookworm: nginx-light and nginx-core are only metapackages over the `nginx` binary package;
# nginx-light does not pull in the stream module, nginx-core pulls it with mail, geoip, xslt,
# image-filter. The smallest set with the stream proxy is nginx + libnginx-mod-stream.
lb_packages=(nginx libnginx-mod-stream)
# The Docker Distribution registry (/usr/bin/docker-registry, user docker-registry).
registry_packages=(docker-registry)

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "docker daemon not reachable (scripts/start-dockerd.sh starts it)"
command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"

t_start=$(now)

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

# Mount points we made inside chroots; unmounted on any exit.
mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  [ -z "${stage:-}" ] || rm -rf "$stage"
}
trap cleanup EXIT

# --- binaries --------------------------------------------------------------------------------
find_binary() { # $1 = target name, $2 = env override; prints the path
  local name=$1 override=$2 path
  if [ -n "$override" ]; then
    [ -x "$override" ] || die "$name: $override (from the environment) is not an executable file"
    echo "$override"; return
  fi
  for path in "$build_dir/src/node-image/cmd/$name" "$build_dir/src/lb-proxy/$name" "$build_dir/bin/$name"; do
    [ -x "$path" ] && { echo "$path"; return; }
  done
  path=$(find "$build_dir" -maxdepth 5 -type f -name "$name" -perm -u+x 2>/dev/null | head -n 1)
  [ -n "$path" ] && { echo "$path"; return; }
  die "$name not found in $build_dir. Build it first:
    cmake -G Ninja -S $repo -B $build_dir && cmake --build $build_dir --target $name
  (or pass --build-dir DIR)"
}

# Debian packages providing the shared libraries a binary needs (ldd + dpkg -S on this host,
# which is the same Debian release as the image). Host .so files are never copied.
runtime_packages() { # $1 = binary
  local bin=$1 out lib cand pkg owners
  local -a libs=() cands=()
  out=$(ldd "$bin" 2>&1) || { [[ $out == *"not a dynamic executable"* ]] && return 0; die "ldd $bin failed: $out"; }
  if grep -q 'not found' <<<"$out"; then
    die "$bin needs libraries that are not installed on this host:
$(grep 'not found' <<<"$out")"
  fi
  mapfile -t libs < <(awk '/=> \// {print $3} /^[[:space:]]*\/[^ ]+ \(/ {print $1}' <<<"$out" | sort -u)
  # dpkg knows a file under the path its package shipped it at (/lib or /usr/lib on this
  # merged-/usr system), so ask for every spelling in one dpkg -S call (it reads its whole
  # database each time).
  lib_candidates() { printf '%s\n' "$1" "$(readlink -f "$1")" "/usr${1#/usr}" "${1#/usr}" | sort -u; }
  for lib in "${libs[@]}"; do mapfile -t -O "${#cands[@]}" cands < <(lib_candidates "$lib"); done
  owners=$(dpkg -S "${cands[@]}" 2>/dev/null || true)
  for lib in "${libs[@]}"; do
    pkg=
    while IFS= read -r cand; do
      pkg=$(awk -v p="$cand" '{ i = index($0, ": /"); if (substr($0, i + 2) == p) { split(substr($0, 1, i - 1), a, /[:,]/); print a[1]; exit } }' <<<"$owners")
      [ -n "$pkg" ] && break
    done < <(lib_candidates "$lib")
    [ -n "$pkg" ] || die "$bin links $lib, which no Debian package owns (a locally built library?); the image can only contain packaged libraries"
    echo "$pkg"
  done | sort -u
}

# --- rootfs cache ----------------------------------------------------------------------------
# base_rootfs (12-character cache key) and the chroot helpers are in images/lib.sh.

# Removes what a container never reads; the dpkg database stays so apt still works in a node.
trim_rootfs() { # $1 = rootfs
  local r=$1
  mkdir -p "$r/etc/dpkg/dpkg.cfg.d"
  cat >"$r/etc/dpkg/dpkg.cfg.d/90-k3dpp-trim" <<'EOF'
# k3dpp images: later package installs skip documentation and translations too.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r"/usr/share/lintian/*
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
  rm -f "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
  find "$r/var/log" -type f -delete 2>/dev/null || true
}

# Sets rootfs_dir to a rootfs with the given packages installed and trimmed, cached by a key
# over everything that determines its content. (Not called in $(...): the EXIT trap must see
# the chroot mounts.)
package_rootfs() { # $1 = kind, rest = packages
  local kind=$1; shift
  local pkgs key dir tmp t0 old
  pkgs=$(printf '%s\n' "$@" | sort -u)
  key=$(printf '%s\n' "recipe=$recipe_version" "$suite" "$mirror" "$pkgs" |
    cat - /etc/apt/sources.list.d/*.sources 2>/dev/null | sha256sum | cut -c1-16)
  dir=$cache/rootfs-$kind-$key
  if [ -f "$dir.done" ]; then
    say "$kind: cached rootfs $dir"
    touch "$dir.done"
    rootfs_dir=$dir; return
  fi
  base_rootfs 12
  t0=$(now)
  tmp=$cache/tmp.$kind.$$
  rm -rf "$dir" "$tmp"
  cp -a "$base_dir" "$tmp"
  chroot_prepare "$tmp"
  chroot_mount_proc "$tmp"
  say "$kind: apt-get install ${pkgs//$'\n'/ } (log $cache/apt-$kind.log)"
  {
    chroot "$tmp" apt-get update &&
      chroot "$tmp" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends $pkgs &&
      chroot "$tmp" apt-get clean
  } >"$cache/apt-$kind.log" 2>&1 || die "$kind: apt-get failed, see $cache/apt-$kind.log"
  chroot_umount_proc "$tmp"
  chroot_unprepare "$tmp"
  : >"$tmp/etc/resolv.conf"
  trim_rootfs "$tmp"
  # Files our images replace are removed here, so the import tar has no duplicate entries.
  [ "$kind" != node ] || rm -f "$tmp/etc/containerd/config.toml"
  chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' >"$tmp.packages"
  mv "$tmp" "$dir"
  mv "$tmp.packages" "$dir.packages"
  touch "$dir.done"
  say "$kind: packages installed and trimmed in $(elapsed "$t0"), $(du -sh "$dir" | cut -f1)"
  # Keep the two most recently used rootfs of this kind.
  for old in $(ls -t "$cache"/rootfs-"$kind"-*.done 2>/dev/null | tail -n +3); do
    old=${old%.done}
    say "$kind: pruning old cache $old"
    rm -rf "$old" "$old.done" "$old.packages"
  done
  rootfs_dir=$dir
}

# Two layers per image: the cached rootfs, imported once per cache key as
# k3dpp/<kind>-rootfs:<key>, and a small layer with our files added with `docker cp` +
# `docker commit`. A code change re-sends only our files (seconds), and rebuilds do not pile
# up copies of the whole rootfs in docker's storage.
rootfs_image() { # $1 = kind, $2 = rootfs dir; sets base_image
  local kind=$1 dir=$2 t0 old
  base_image=k3dpp/$kind-rootfs:${dir##*-}
  if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    t0=$(now)
    tar --numeric-owner -C "$dir" -cf - . | docker import - "$base_image" >/dev/null ||
      die "docker import of $dir as $base_image failed"
    say "$kind: imported the rootfs as $base_image in $(elapsed "$t0")"
    # Older rootfs images of this kind: untag (docker keeps the layer while an image uses it).
    for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "k3dpp/$kind-rootfs" | grep -vx "$base_image"); do
      docker rmi "$old" >/dev/null 2>&1 || true
    done
  fi
}

# Adds the staged files to the rootfs image and commits the result as image:tag, also tagged
# :latest.
commit_image() { # $1 = kind, $2 = rootfs dir, $3 = stage dir, $4 = image:tag, rest = --change options
  local kind=$1 dir=$2 stagedir=$3 image=$4 cid previous latest=${4%:*}:latest
  shift 4
  rootfs_image "$kind" "$dir"
  previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
  cid=$(docker create --entrypoint /bin/true "$base_image") ||
    die "cannot create a build container from $base_image"
  if ! tar --numeric-owner --owner=0 --group=0 -C "$stagedir" -cf - . | docker cp - "$cid:/"; then
    docker rm -f "$cid" >/dev/null 2>&1
    die "cannot copy our files into the build container"
  fi
  if ! docker commit "$@" "$cid" "$image" >/dev/null; then
    docker rm -f "$cid" >/dev/null 2>&1
    die "docker commit of $image failed"
  fi
  docker rm -f "$cid" >/dev/null
  [ -n "${K3DPP_IMAGE_TAG:-}" ] || docker tag "$image" "$latest"
  # The image this build replaced, if nothing else refers to it now.
  if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$image")" ] &&
     [ -z "$(docker image inspect -f '{{join .RepoTags ","}}' "$previous" 2>/dev/null)" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
  fi
}

image_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1 / 1e6}'; }

stage=$(mktemp -d "$cache/stage.XXXXXX")
common_changes=(
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  -c "LABEL org.opencontainers.image.version=$version"
  -c "LABEL k3dpp.version=$version"
)

install_binary() { # $1 = source, $2 = destination; strips debug info on the way
  install -d "$(dirname "$2")"
  strip --strip-unneeded -o "$2" "$1" 2>/dev/null || cp "$1" "$2"
  chmod 0755 "$2"
}

# --- pause image -----------------------------------------------------------------------------
build_pause() { # saves the pause image to $1
  command -v gcc >/dev/null || die "gcc not found (needed for the static pause binary)"
  local dir=$stage/pause-build src_hash
  # Rebuilt only when pause.c changes, so the image (and pause.tar) stay the same otherwise.
  src_hash=$(sha256sum "$images_dir/pause/pause.c" | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "k3dpp.pause.source"}}' "$pause_image" 2>/dev/null)" != "$src_hash" ]; then
    mkdir -p "$dir/root"
    gcc -static -Os -s -Wall -Wextra -Werror -o "$dir/root/pause" "$images_dir/pause/pause.c" ||
      die "cannot compile images/pause/pause.c (is libc6-dev installed?)"
    tar --numeric-owner --owner=0 --group=0 -C "$dir/root" -cf - pause |
      docker import -c 'ENTRYPOINT ["/pause"]' -c "LABEL k3dpp.pause.source=$src_hash" - "$pause_image" >/dev/null ||
      die "docker import of $pause_image failed"
    say "pause: built $pause_image"
  fi
  install -d "$(dirname "$1")"
  docker save "$pause_image" >"$1"
  rm -rf "$dir"
}

# --- node image ------------------------------------------------------------------------------
build_node() {
  local t0 bin libs rootfs s=$stage/node
  t0=$(now)
  bin=$(find_binary k3dpp-node "${K3DPP_NODE_BINARY:-}")
  libs=$(runtime_packages "$bin")
  say "node: k3dpp-node from $bin needs packages: $(echo $libs)"
  package_rootfs node "${node_packages[@]}" $libs
  rootfs=$rootfs_dir
  mkdir -p "$s"
  install_binary "$bin" "$s/usr/local/bin/k3dpp-node"
  install -D -m 0755 "$images_dir/node/k3dpp-entrypoint" "$s/usr/local/bin/k3dpp-entrypoint"
  install -D -m 0644 "$images_dir/node/containerd-config.toml" "$s/etc/containerd/config.toml"
  install -d -m 0755 "$s/etc/cni/net.d" "$s/etc/k3dpp" "$s/var/lib/k3dpp"
  build_pause "$s/usr/share/k3dpp/images/pause.tar"
  commit_image node "$rootfs" "$s" "k3dpp/node:$tag" "${common_changes[@]}" \
    -c 'ENTRYPOINT ["/usr/local/bin/k3dpp-entrypoint"]'
  say "node: k3dpp/node:$tag ($(image_size "k3dpp/node:$tag")) built in $(elapsed "$t0")"
}

# --- lb image --------------------------------------------------------------------------------
build_lb() {
  local t0 bin libs rootfs s=$stage/lb
  t0=$(now)
  bin=$(find_binary k3dpp-lb "${K3DPP_LB_BINARY:-}")
  libs=$(runtime_packages "$bin")
  say "lb: k3dpp-lb from $bin needs packages: $(echo $libs)"
  package_rootfs lb "${lb_packages[@]}" $libs
  rootfs=$rootfs_dir
  mkdir -p "$s"
  install_binary "$bin" "$s/usr/local/bin/k3dpp-lb"
  install -D -m 0644 "$images_dir/lb/ports.json" "$s/etc/k3dpp-lb/ports.json"
  commit_image lb "$rootfs" "$s" "k3dpp/lb:$tag" "${common_changes[@]}" \
    -c 'ENTRYPOINT ["/usr/local/bin/k3dpp-lb", "run", "--config", "/etc/k3dpp-lb/ports.json"]'
  say "lb: k3dpp/lb:$tag ($(image_size "k3dpp/lb:$tag")) built in $(elapsed "$t0")"
}

# --- registry image --------------------------------------------------------------------------
# No binary of ours: the image is the package rootfs plus images/registry/config.yml. It carries
# a key over its inputs, so a build with unchanged inputs commits nothing (running registries
# keep their image).
build_registry() {
  local t0 rootfs key image=k3dpp/registry:$tag s=$stage/registry
  t0=$(now)
  package_rootfs registry "${registry_packages[@]}"
  rootfs=$rootfs_dir
  key=$( { echo "recipe=$recipe_version"; echo "${rootfs##*-}"; cat "$images_dir/registry/config.yml"; } |
    sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "k3dpp.registry.key"}}' "$image" 2>/dev/null)" = "$key" ]; then
    [ -n "${K3DPP_IMAGE_TAG:-}" ] || docker tag "$image" k3dpp/registry:latest
    say "registry: $image up to date"
    return
  fi
  install -D -m 0644 "$images_dir/registry/config.yml" "$s/etc/docker/registry/config.yml"
  commit_image registry "$rootfs" "$s" "$image" "${common_changes[@]}" \
    -c "LABEL k3dpp.registry.key=$key" -c 'USER docker-registry' -c 'EXPOSE 5000/tcp' \
    -c 'ENTRYPOINT ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]'
  say "registry: $image ($(image_size "$image")) built in $(elapsed "$t0")"
}

case $only in
  node) build_node ;;
  lb) build_lb ;;
  registry) build_registry ;;
  all) build_node; build_lb; build_registry ;;
esac
say "done in $(elapsed "$t_start")"
