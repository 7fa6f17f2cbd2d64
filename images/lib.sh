# Shared by images/build.sh and images/build-workloads.sh (sourced, never run): timing, the
# Debian mirror, the cached debootstrap base and chroot preparation for apt-get.
# The sourcing script defines say and die, and sets: cache (its cache directory), suite, mirror,
# and the array mounted=() whose entries its EXIT trap unmounts.
# shellcheck shell=bash

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# The mirror this host's apt uses (first URIs: line of /etc/apt/sources.list.d/*.sources), unless
# K3DPP_DEBIAN_MIRROR names one.
debian_mirror() {
  local m=${K3DPP_DEBIAN_MIRROR:-$(awk '$1 == "URIs:" {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
  echo "${m:-http://deb.debian.org/debian}"
}

# Sets base_dir to $cache/base-$suite-KEY, a `debootstrap --variant=minbase` made once. KEY is the
# first $1 hex characters of a hash over suite and mirror (each script keeps its cache's names).
base_rootfs() { # $1 = key length
  local key dir tmp t0
  command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
  key=$(printf '%s\n' "$suite" "$mirror" minbase | sha256sum | cut -c1-"$1")
  dir=$cache/base-$suite-$key
  if [ ! -f "$dir.done" ]; then
    t0=$(now)
    tmp=$cache/tmp.base.$$
    rm -rf "$dir" "$tmp"
    say "debootstrap --variant=minbase $suite from $mirror (log $cache/debootstrap.log)"
    debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
      die "debootstrap failed, see $cache/debootstrap.log"
    mv "$tmp" "$dir"
    touch "$dir.done"
    say "debootstrap done in $(elapsed "$t0")"
  fi
  base_dir=$dir
}

chroot_mount_proc() { # $1 = rootfs
  mount -t proc proc "$1/proc"
  mounted+=("$1/proc")
}

chroot_umount_proc() { # $1 = rootfs
  umount "$1/proc"
  local keep=() m
  for m in "${mounted[@]}"; do [ "$m" = "$1/proc" ] || keep+=("$m"); done
  mounted=("${keep[@]}")
}

# Makes a copied rootfs ready for apt-get in a chroot: this host's apt sources (bookworm,
# -updates, -security, so library versions match the host), maintainer scripts may not start
# services (policy-rc.d), and the host's resolver. chroot_unprepare undoes the policy.
chroot_prepare() { # $1 = rootfs
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    rm -f "$1/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$1/etc/apt/sources.list.d/"
  fi
  printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
  chmod 0755 "$1/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$1/etc/resolv.conf"
}
chroot_unprepare() { rm -f "$1/usr/sbin/policy-rc.d"; }
