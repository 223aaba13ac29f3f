#!/usr/bin/env bash
# Writes deploy/kubernetes/configmap.yaml from conf/ (make k8s-configmap),
# so that the pods run exactly the files the README installs.  make test
# fails if the committed ConfigMap differs from what this writes.
#
#   k8s-configmap.sh [OUTPUT]      (default: standard output)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/dev/stdout}

# A pod has no systemd-resolved: the site's resolver line becomes an
# include of the line the nginx container writes at start from the pod's
# /etc/resolv.conf (deployment.yaml).  The line must be there, once.
resolver_line='resolver 127.0.0.53 valid=30s ipv6=off;'
resolver_conf=/run/mi-gateway/resolver.conf

pod_resolver() {
    awk -v line="$resolver_line" -v conf="$resolver_conf" '
        $0 == line {
            print "# the cluster DNS, written by the pod at start"
            print "include " conf ";"
            n++
            next
        }
        { print }
        END { exit n > 1 }'
}

[ "$(grep -cxF -- "$resolver_line" "$top/conf/mi-gateway.conf")" = 1 ] || {
    echo "k8s-configmap.sh: conf/mi-gateway.conf: expected the line" \
         "\"$resolver_line\" once" >&2
    exit 1
}

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
        pod_resolver < "$top/conf/$f" | sed 's/^\(.\)/    \1/'
    done
} > "$out"
