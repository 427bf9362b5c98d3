#!/usr/bin/env bash
# Installs what vigil's build and tests need on a fresh Debian machine (idempotent).
# Packages: clang/llvm (BPF objects), libbpf-dev (headers), bpftool, auditd (auditctl,
# ausearch, aureport: the interop oracle), liburing-dev and fio (io_uring clients).
set -euo pipefail
pkgs=(clang llvm libbpf-dev bpftool auditd liburing-dev fio)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing ${missing[*]} and not root; install them with apt-get" >&2
  exit 0
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
