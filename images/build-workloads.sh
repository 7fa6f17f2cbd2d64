#!/usr/bin/env bash
# Builds the workload images the course (and the e2e suite) runs, without any registry, under
# the names the course's manifests use (docker.io/library/... is plain `nginx:1.24` in docker):
#   nginx:latest, nginx:1.24, nginx:1.26  Debian bookworm minbase + Debian's nginx, laid out
#                                         like the official image; the tags differ in the
#                                         Server header, /etc/k3dpp-nginx-version and the page
#   busybox:latest                        the host's static /bin/busybox + applet symlinks
#   debian:bookworm, debian:latest        the minbase rootfs with apt sources, CMD bash
# and `docker save`s each repository (all its tags) to <cache>/workloads/saved/<name>.tar for
# `k3dpp image import` / `ctr images import`.
#
# How: debootstrap (minbase) once, into <cache>/workloads/ (not shared with images/build.sh);
# a copy per kind gets this host's apt sources, its packages (apt-get in a chroot) and a trim,
# cached under a key over everything that determines it; that rootfs is `docker import`ed once
# per key. The nginx tags are one small `docker build` layer each on top of it (our config,
# page, entrypoint; docker build because docker import/commit reject STOPSIGNAL). Every image
# carries its input key as a label: a rebuild with unchanged inputs imports and saves nothing.
#
# Usage: images/build-workloads.sh [--only nginx|busybox|debian] [--no-save] [--refresh]
#   --only NAME   build only this image (with all its tags)
#   --no-save     skip writing the docker save tarballs
#   --refresh     redo the apt step of the cached rootfs (picks up new Debian updates; the
#                 images change only if a package version did)
# Environment:
#   K3DPP_IMAGE_CACHE    cache root (default /var/cache/k3dpp/images); ours is <root>/workloads
#   K3DPP_DEBIAN_MIRROR  Debian mirror (default: first URIs: line of /etc/apt/sources.list.d/*.sources)
# Needs root, a running docker daemon, debootstrap and busybox-static.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
wl_dir=$repo/images/workloads
# now, elapsed, debian_mirror, base_rootfs, chroot_{mount,umount}_proc, chroot_{prepare,unprepare}
source "$repo/images/lib.sh"
only=all
save=1
refresh=0

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "build-workloads.sh: ERROR: $*" >&2; exit 1; }
say() { echo "build-workloads.sh: $*" >&2; }

while (($#)); do
  case $1 in
    --only) [ $# -ge 2 ] || die "--only needs nginx, busybox or debian"; only=$2; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    --no-save) save=0; shift ;;
    --refresh) refresh=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
case $only in all|nginx|busybox|debian) ;; *) die "--only must be nginx, busybox or debian, not '$only'" ;; esac

cache=${K3DPP_IMAGE_CACHE:-/var/cache/k3dpp/images}/workloads
saved=$cache/saved
suite=bookworm
mirror=$(debian_mirror)
# Bump when the way a rootfs or an image is prepared changes (setup steps below, labels), so
# old caches and images are not reused.
recipe_version=2

nginx_packages=(nginx libnginx-mod-http-headers-more-filter)
# tag -> the nginx version the tag reports (Server header, NGINX_VERSION, version file). The
# binary is Debian's nginx in all of them; only what a client or `ls` sees differs.
declare -A nginx_versions=([1.24]=1.24.0 [1.26]=1.26.3 [latest]=1.27.5)
nginx_tags=(1.24 1.26 latest)
nginx_uid=101
path_env='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "docker daemon not reachable (scripts/start-dockerd.sh starts it)"

t_start=$(now)

mkdir -p "$cache" "$saved"
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

mounted=()
stage=
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
  [ -z "$stage" ] || rm -rf "$stage"
}
trap cleanup EXIT
stage=$(mktemp -d "$cache/stage.XXXXXX")

sources_text() { cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true; }
key_of() { sha256sum | cut -c1-16; }
label_of() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
image_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f MB", $1 / 1e6}'; }

# Removes an image id that no tag refers to any more (what a rebuild replaced).
drop_if_untagged() { # $1 = image id (may be empty)
  [ -n "$1" ] || return 0
  [ -z "$(docker image inspect -f '{{join .RepoTags ","}}' "$1" 2>/dev/null)" ] || return 0
  docker rmi "$1" >/dev/null 2>&1 || true
}

# --- rootfs cache ----------------------------------------------------------------------------
# base_rootfs (16-character cache key, our own base under <cache>/workloads) and the chroot
# helpers are in images/lib.sh.

# What a container never reads goes; the dpkg database and apt sources stay, so apt works in
# the container (its lists are empty until `apt update`).
trim_rootfs() { # $1 = rootfs
  local r=$1
  mkdir -p "$r/etc/dpkg/dpkg.cfg.d" "$r/etc/apt/apt.conf.d"
  cat >"$r/etc/dpkg/dpkg.cfg.d/90-k3dpp-trim" <<'EOF'
# k3dpp workload images: package installs inside the container skip docs and translations too.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cat >"$r/etc/apt/apt.conf.d/90-k3dpp-clean" <<'EOF'
// k3dpp workload images: downloaded .debs are removed after each install and no binary
// package caches are kept, so `apt install` in a container does not grow it needlessly.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r"/usr/share/lintian/*
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb
  mkdir -p "$r/var/lib/apt/lists/partial"
  rm -f "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
  find "$r/var/log" -type f -delete 2>/dev/null || true
  : >"$r/etc/resolv.conf"
  # The runtime provides these; an image with the build host's name in them would be wrong.
  rm -f "$r/etc/hostname"
}

# Per-kind setup after the packages are in (runs with the chroot's /proc mounted).
setup_nginx_rootfs() { # $1 = rootfs
  local r=$1
  # The official image runs its workers as nginx (uid/gid 101); Debian's package uses www-data.
  chroot "$r" groupadd --system --gid "$nginx_uid" nginx
  chroot "$r" useradd --system --uid "$nginx_uid" --gid nginx --no-create-home \
    --home-dir /nonexistent --shell /usr/sbin/nologin --comment 'nginx user' nginx
  rm -f "$r/etc/nginx/sites-enabled/default"
  rm -rf "$r/var/www"
  mkdir -p "$r/usr/share/nginx/html" "$r/etc/nginx/conf.d" "$r/docker-entrypoint.d"
}
finish_nginx_rootfs() { # $1 = rootfs; after the trim (which empties /var/log)
  mkdir -p "$1/var/log/nginx"
  ln -sfn /dev/stdout "$1/var/log/nginx/access.log"
  ln -sfn /dev/stderr "$1/var/log/nginx/error.log"
}

# Sets rootfs_dir to the cached rootfs of a kind (up to date with the archive when built,
# packages installed, set up, trimmed) and content_key to a key over its recipe and package
# versions (what the images built from it are labelled with).
package_rootfs() { # $1 = kind, rest = packages (may be none)
  local kind=$1; shift
  local pkgs key dir tmp t0 old
  pkgs=$(printf '%s\n' "$@" | sort -u)
  key=$( { printf '%s\n' "recipe=$recipe_version" "$kind" "$suite" "$mirror" "$pkgs"; sources_text; } | key_of)
  dir=$cache/rootfs-$kind-$key
  rootfs_dir=$dir
  if [ -f "$dir.done" ] && [ "$refresh" = 0 ]; then
    touch "$dir.done"
    content_key=$( { echo "$key"; cat "$dir.packages"; } | key_of)
    return
  fi
  base_rootfs 16
  t0=$(now)
  tmp=$cache/tmp.$kind.$$
  rm -rf "$dir" "$tmp"
  cp -a "$base_dir" "$tmp"
  # This host's sources (bookworm, -updates, -security): the mirror pods reach, and apt in the
  # container sees the same archive the image was built from.
  chroot_prepare "$tmp"
  chroot_mount_proc "$tmp"
  # debootstrap takes the release's packages only: upgrading from -updates/-security here is
  # what makes `apt upgrade` in a fresh container say "0 upgraded", as the course shows.
  say "$kind: apt-get upgrade${pkgs:+ + install ${pkgs//$'\n'/ }} (log $cache/apt-$kind.log)"
  {
    chroot "$tmp" apt-get update &&
      chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get upgrade -y &&
      { [ -z "$pkgs" ] || chroot "$tmp" env DEBIAN_FRONTEND=noninteractive \
          apt-get install -y --no-install-recommends $pkgs; } &&
      chroot "$tmp" apt-get clean
  } >"$cache/apt-$kind.log" 2>&1 || die "$kind: apt-get failed, see $cache/apt-$kind.log"
  [ "$kind" != nginx ] || setup_nginx_rootfs "$tmp"
  chroot_umount_proc "$tmp"
  chroot_unprepare "$tmp"
  trim_rootfs "$tmp"
  [ "$kind" != nginx ] || finish_nginx_rootfs "$tmp"
  chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' >"$tmp.packages"
  mv "$tmp" "$dir"
  mv "$tmp.packages" "$dir.packages"
  touch "$dir.done"
  content_key=$( { echo "$key"; cat "$dir.packages"; } | key_of)
  say "$kind: rootfs ready in $(elapsed "$t0"), $(du -sh "$dir" | cut -f1)"
  for old in $(ls -t "$cache"/rootfs-"$kind"-*.done 2>/dev/null | tail -n +3); do
    old=${old%.done}
    say "$kind: pruning old cache $old"
    rm -rf "$old" "$old.done" "$old.packages"
  done
}

import_rootfs() { # $1 = rootfs dir, $2 = image:tag, rest = --change options
  local dir=$1 image=$2
  shift 2
  tar --numeric-owner -C "$dir" -cf - . | docker import "$@" - "$image" >/dev/null ||
    die "docker import of $dir as $image failed"
}

# --- debian ----------------------------------------------------------------------------------
build_debian() {
  local t0 key previous
  t0=$(now)
  package_rootfs debian
  key=$content_key
  if [ "$(label_of debian:bookworm k3dpp.workload.key)" = "$key" ]; then
    say "debian: debian:bookworm up to date"
  else
    previous=$(image_id debian:bookworm)
    import_rootfs "$rootfs_dir" debian:bookworm \
      -c "ENV $path_env" -c 'CMD ["bash"]' \
      -c "LABEL k3dpp.workload.key=$key" -c "LABEL k3dpp.workload.recipe=$recipe_version"
    docker tag debian:bookworm debian:latest
    drop_if_untagged "$previous"
    say "debian: imported debian:bookworm in $(elapsed "$t0")"
  fi
  docker tag debian:bookworm debian:latest
}

# --- busybox ---------------------------------------------------------------------------------
build_busybox() {
  local t0 bb key root previous applet
  t0=$(now)
  bb=/bin/busybox
  [ -x "$bb" ] || die "$bb not found (apt-get install busybox-static)"
  file_is_static "$bb" || die "$bb is not statically linked (install busybox-static, not busybox)"
  key=$( { echo "recipe=$recipe_version"; sha256sum "$bb"; } | key_of)
  if [ "$(label_of busybox:latest k3dpp.workload.key)" = "$key" ]; then
    say "busybox: busybox:latest up to date"
    return
  fi
  root=$stage/busybox
  mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/home" "$root/tmp" "$root/var/spool/mail" \
    "$root/var/www" "$root/usr/sbin" "$root/dev" "$root/proc" "$root/sys"
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  cp "$bb" "$root/bin/busybox"
  chmod 0755 "$root/bin/busybox"
  # Every applet in /bin, as the official image has them (relative links, so they work
  # wherever the rootfs is mounted).
  while IFS= read -r applet; do
    if [ -n "$applet" ] && [ "$applet" != busybox ]; then ln -s busybox "$root/bin/$applet"; fi
  done < <("$bb" --list)
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/usr/sbin:/bin/false' \
    'bin:x:2:2:bin:/bin:/bin/false' 'sys:x:3:3:sys:/dev:/bin/false' 'www-data:x:33:33:www-data:/var/www:/bin/false' \
    'nobody:x:65534:65534:nobody:/home:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'bin:x:2:' 'sys:x:3:' 'adm:x:4:' 'tty:x:5:' 'disk:x:6:' \
    'wheel:x:10:root' 'www-data:x:33:' 'users:x:100:' 'nogroup:x:65534:' >"$root/etc/group"
  printf '%s\n' 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
  chmod 0640 "$root/etc/shadow"
  : >"$root/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  previous=$(image_id busybox:latest)
  tar --numeric-owner --owner=0 --group=0 -C "$root" -cf - . |
    docker import -c "ENV $path_env" -c 'CMD ["sh"]' \
      -c "LABEL k3dpp.workload.key=$key" -c "LABEL k3dpp.workload.recipe=$recipe_version" \
      - busybox:latest >/dev/null || die "docker import of busybox:latest failed"
  drop_if_untagged "$previous"
  rm -rf "$root"
  say "busybox: imported busybox:latest ($("$bb" 2>&1 | head -n 1 | cut -d' ' -f1-2), $(busybox_applets "$bb") applets) in $(elapsed "$t0")"
}
file_is_static() { ! ldd "$1" >/dev/null 2>&1; }
busybox_applets() { "$1" --list | wc -l; }

# --- nginx -----------------------------------------------------------------------------------
build_nginx() {
  local t0 rkey files_key base tag version key ctx previous old
  t0=$(now)
  package_rootfs nginx "${nginx_packages[@]}"
  rkey=$content_key
  files_key=$(cd "$wl_dir/nginx" && find . -type f | LC_ALL=C sort | xargs sha256sum | key_of)
  base=k3dpp-wl/nginx-rootfs:$rkey
  for tag in "${nginx_tags[@]}"; do
    version=${nginx_versions[$tag]}
    key=$(printf '%s\n' "recipe=$recipe_version" "$rkey" "$files_key" "$tag" "$version" | key_of)
    if [ "$(label_of "nginx:$tag" k3dpp.workload.key)" = "$key" ]; then
      say "nginx: nginx:$tag up to date"
      continue
    fi
    if [ -z "$(image_id "$base")" ]; then
      local t1; t1=$(now)
      import_rootfs "$rootfs_dir" "$base" -c "ENV $path_env"
      say "nginx: imported the rootfs as $base in $(elapsed "$t1")"
      for old in $(docker images --format '{{.Repository}}:{{.Tag}}' k3dpp-wl/nginx-rootfs | grep -vx "$base"); do
        docker rmi "$old" >/dev/null 2>&1 || true
      done
    fi
    ctx=$stage/nginx-$tag
    mkdir -p "$ctx/root/etc/nginx/conf.d" "$ctx/root/usr/share/nginx/html"
    install -m 0755 "$wl_dir/nginx/docker-entrypoint.sh" "$ctx/root/docker-entrypoint.sh"
    install -m 0644 "$wl_dir/nginx/nginx.conf" "$ctx/root/etc/nginx/nginx.conf"
    install -m 0644 "$wl_dir/nginx/conf.d/default.conf" "$ctx/root/etc/nginx/conf.d/default.conf"
    install -m 0644 "$wl_dir/nginx/50x.html" "$ctx/root/usr/share/nginx/html/50x.html"
    sed -e "s/@TAG@/$tag/g" -e "s/@VERSION@/$version/g" "$wl_dir/nginx/index.html.in" \
      >"$ctx/root/usr/share/nginx/html/index.html"
    chmod 0644 "$ctx/root/usr/share/nginx/html/index.html"
    printf '# Written by images/build-workloads.sh for nginx:%s.\nmore_set_headers "Server: nginx/%s";\n' \
      "$tag" "$version" >"$ctx/root/etc/nginx/k3dpp-version.conf"
    printf '%s\n' "$version" >"$ctx/root/etc/k3dpp-nginx-version"
    cat >"$ctx/Dockerfile" <<EOF
FROM $base
COPY root/ /
ENV $path_env NGINX_VERSION=$version
LABEL k3dpp.workload.key=$key k3dpp.workload.recipe=$recipe_version k3dpp.nginx.tag=$tag
EXPOSE 80
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/docker-entrypoint.sh"]
CMD ["nginx", "-g", "daemon off;"]
EOF
    previous=$(image_id "nginx:$tag")
    # The classic builder: FROM a local image needs no registry, and there is no RUN step.
    DOCKER_BUILDKIT=0 docker build -q --no-cache -t "nginx:$tag" "$ctx" >"$cache/docker-build-nginx.log" 2>&1 ||
      die "docker build of nginx:$tag failed: $(tail -n 5 "$cache/docker-build-nginx.log")"
    drop_if_untagged "$previous"
    say "nginx: built nginx:$tag (reports nginx/$version)"
  done
  say "nginx: done in $(elapsed "$t0")"
}

# --- saved tarballs --------------------------------------------------------------------------
# <saved>/<repo>.tar holds every tag of the repository (layers shared), rewritten only when an
# image id changed; <repo>.tar.ids records the ids it holds.
save_repo() { # $1 = file name, rest = image:tag
  local name=$1 ids t0 tar=$saved/$1.tar
  shift
  ids=$(for i in "$@"; do echo "$i $(image_id "$i")"; done)
  if [ -f "$tar" ] && [ "$(cat "$tar.ids" 2>/dev/null)" = "$ids" ]; then
    return
  fi
  t0=$(now)
  docker save -o "$tar.tmp" "$@" || die "docker save $* failed"
  chmod 0644 "$tar.tmp"
  mv "$tar.tmp" "$tar"
  printf '%s\n' "$ids" >"$tar.ids"
  say "saved $* to $tar in $(elapsed "$t0")"
}

want() { [ "$only" = all ] || [ "$only" = "$1" ]; }
if want debian; then build_debian; fi
if want busybox; then build_busybox; fi
if want nginx; then build_nginx; fi

if [ "$save" = 1 ]; then
  if want debian; then save_repo debian debian:bookworm debian:latest; fi
  if want busybox; then save_repo busybox busybox:latest; fi
  if want nginx; then save_repo nginx nginx:latest nginx:1.24 nginx:1.26; fi
fi

{
  printf '%-18s %-10s %s\n' IMAGE SIZE SAVED
  for i in debian:bookworm debian:latest busybox:latest nginx:latest nginx:1.24 nginx:1.26; do
    r=${i%%:*}
    want "$r" || continue
    s=-
    if [ -f "$saved/$r.tar" ]; then s="$saved/$r.tar ($(du -m "$saved/$r.tar" | cut -f1) MiB, all tags)"; fi
    printf '%-18s %-10s %s\n' "$i" "$(image_size "$i")" "$s"
  done
} >&2
say "done in $(elapsed "$t_start")"
