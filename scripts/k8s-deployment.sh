#!/usr/bin/env bash
# Writes deploy/kubernetes/deployment.yaml with its images tagged with the
# module's version, debian/changelog's (make k8s-deployment after a new
# changelog entry): the image is Debian's nginx with the package of that
# version.  Only the tags change.  make test fails if the committed file
# differs from what this writes.
#
#   k8s-deployment.sh [OUTPUT]     (default: standard output)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
in=$top/deploy/kubernetes/deployment.yaml
out=${1:-/dev/stdout}

# as config reads it: the first entry's, without epoch and revision
version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$top/debian/changelog")
version=${version#*:}
version=${version%-*}

image='^\( *image: [^ ]*/mi-gateway:\)[^ ]*$'

if [ -z "$version" ] || ! grep -q -- "$image" "$in"; then
    echo "k8s-deployment.sh: no version in debian/changelog, or no" \
         "mi-gateway image in $in" >&2
    exit 1
fi

# the whole file first: OUTPUT may be the file itself
tagged=$(mktemp)
trap 'rm -f "$tagged"' EXIT
sed "s|$image|\\1$version|" "$in" > "$tagged"
cat "$tagged" > "$out"
