#!/usr/bin/env bash
# Writes deploy/kubernetes/configmap.yaml from conf/ (make k8s-configmap),
# so that the pods run exactly the files the README installs.  make test
# fails if the committed ConfigMap differs from what this writes.
#
#   k8s-configmap.sh [OUTPUT]      (default: standard output)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/dev/stdout}

{
    cat <<'HEAD'
---
# Generated from conf/ by "make k8s-configmap": edit conf/, not this file.
# The Deployment mounts mi-gateway.conf as /etc/nginx/sites-enabled/ and
# mi-credentials.conf as /etc/nginx/conf.d/, Debian's layout.
apiVersion: v1
kind: ConfigMap
metadata:
  name: mi-gateway-conf
  labels:
    app.kubernetes.io/name: mi-gateway
data:
HEAD
    for f in mi-gateway.conf mi-credentials.conf; do
        printf '  %s: |\n' "$f"
        # a block scalar; empty lines stay empty (no trailing spaces)
        sed 's/^\(.\)/    \1/' "$top/conf/$f"
    done
} > "$out"
