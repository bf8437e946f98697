#!/usr/bin/env bash
# kubectl for rendering the manifests, without a cluster and without installing anything
# system-wide. Debian 12 has no kustomize package; its kubernetes-client package (kubectl
# 1.20, which embeds kustomize v2.0.3) is downloaded and unpacked into ops/k8s/.tools/
# (git ignores it), so it conflicts with no kubectl already installed.
#
#   ops/k8s/tools.sh install              fetch and unpack it (once; again does nothing)
#   ops/k8s/tools.sh kustomize DIR        render an overlay, e.g. ops/k8s/overlays/prod
#   ops/k8s/tools.sh kubectl ARGS...      that kubectl (a cluster's commands need a kubeconfig)
#   ops/k8s/tools.sh path                 print the kubectl path
#
# The manifests stay within what kustomize v2.0.3 reads, so the newest kubectl renders
# them as well (`kubectl kustomize DIR`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=$here/.tools
kubectl=$tools/kubernetes-client/usr/bin/kubectl

install_kubectl() {
  [[ -x $kubectl ]] && return 0
  mkdir -p "$tools"
  # Two test runs at once unpack once.
  exec 9>"$tools/.lock"
  flock 9
  [[ -x $kubectl ]] && return 0
  local download
  download=$(mktemp -d "$tools/download.XXXXXX")
  # apt's download user must be able to write there.
  chmod 755 "$download"
  if ! (cd "$download" && apt-get download kubernetes-client >"$download/apt.log" 2>&1); then
    # A machine whose package lists were never fetched knows no candidate yet.
    if [[ $(id -u) -eq 0 ]] && apt-get update -qq >>"$download/apt.log" 2>&1 &&
      (cd "$download" && apt-get download kubernetes-client >>"$download/apt.log" 2>&1); then
      :
    else
      echo "tools.sh: apt-get download kubernetes-client failed:" >&2
      cat "$download/apt.log" >&2
      echo "tools.sh: run 'apt-get update' (as root) and try again" >&2
      rm -rf "$download"
      return 1
    fi
  fi
  local deb
  deb=$(ls "$download"/kubernetes-client_*.deb)
  rm -rf "$tools/kubernetes-client"
  dpkg-deb -x "$deb" "$tools/kubernetes-client"
  basename "$deb" >"$tools/kubernetes-client/PACKAGE"
  rm -rf "$download"
  echo "tools.sh: $(cat "$tools/kubernetes-client/PACKAGE") unpacked into $tools/kubernetes-client" >&2
}

case "${1:-}" in
  install)
    install_kubectl
    "$kubectl" version --client --short 2>/dev/null || "$kubectl" version --client
    ;;
  kustomize)
    [[ $# -eq 2 ]] || { echo "usage: $0 kustomize DIR" >&2; exit 2; }
    [[ -f $2/kustomization.yaml ]] || { echo "tools.sh: $2 has no kustomization.yaml" >&2; exit 2; }
    install_kubectl
    "$kubectl" kustomize "$2"
    ;;
  kubectl)
    shift
    install_kubectl
    "$kubectl" "$@"
    ;;
  path)
    install_kubectl
    echo "$kubectl"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
