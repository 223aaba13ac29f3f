#!/usr/bin/env bash
# make run: nginx with ngx_http_mi_module in the foreground on 127.0.0.1:8080.
#
# With an access key and a secret in the environment, under the names of
# NCP's SDKs (NCLOUD_ACCESS_KEY_ID or NCLOUD_ACCESS_KEY, and
# NCLOUD_SECRET_ACCESS_KEY or NCLOUD_SECRET_KEY) or this script's older
# NCP_ACCESS_KEY and NCP_SECRET_KEY, it forwards to the real API,
# https://mi.apigw.ntruss.com, over verified TLS, as the README's production
# configuration does: the API's name resolved again while nginx runs (with
# the first nameserver of /etc/resolv.conf) by the module's mi_resolve, in
# an upstream with a keepalive pool, on every nginx.  Without them it
# starts the bundled mock gateway (t/mock/mi-mock.pl), which checks every
# signature, so one curl shows a signed round trip.  Both use the README's
# timeouts and retries.
#
# Everything it writes lives under ./run (or $MI_RUN_DIR); MI_PORT and
# MI_MOCK_PORT change the ports.  With MI_RUN_CHECK=1 it writes the
# configuration, tests it and stops there.  Ctrl-C stops nginx and the
# mock, and the script (and make) exits 0.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run=${MI_RUN_DIR:-$top/run}
port=${MI_PORT:-8080}
mock_port=${MI_MOCK_PORT:-8081}
module=$top/build/ngx_http_mi_module.so

mkdir -p "$run"
# workers (nobody) must reach the temp dirs nginx creates in here
chmod 0711 "$run"
umask 077

# the SDKs' names first, then the older ones
env_access_key=${NCLOUD_ACCESS_KEY_ID:-${NCLOUD_ACCESS_KEY:-${NCP_ACCESS_KEY:-}}}
env_secret_key=${NCLOUD_SECRET_ACCESS_KEY:-${NCLOUD_SECRET_KEY:-${NCP_SECRET_KEY:-}}}

if [ -n "$env_access_key" ] && [ -n "$env_secret_key" ]; then
    mode=real
    access_key=$env_access_key
    case $access_key in
        *[!A-Za-z0-9_-]*)
            echo "run: the access key (NCLOUD_ACCESS_KEY_ID) has characters" \
                 "an access key never has" >&2
            exit 1 ;;
    esac
    printf '%s\n' "$env_secret_key" > "$run/secret"

    ns=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
    case ${ns:-} in
        "") echo "run: no nameserver in /etc/resolv.conf" >&2; exit 1 ;;
        *:*) ns="[$ns]" ;;
    esac

    resolver_conf="
    resolver $ns valid=30s ipv6=off;
    resolver_timeout 5s;"
    tls_conf="
            proxy_ssl_server_name on;
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 4;
            proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;"

    # conf/mi-gateway.conf's upstream: the same on every nginx
    upstream_conf="$resolver_conf

    upstream mi.apigw.ntruss.com {
        mi_resolve mi.apigw.ntruss.com:443;
        keepalive 16;
        keepalive_timeout 20s;
    }"
    proxy_conf="
            proxy_pass https://mi.apigw.ntruss.com;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";$tls_conf"
else
    mode=mock
    access_key=DEMO_ACCESS_KEY
    secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    printf '%s\n' "$secret" > "$run/secret"
    printf '%s %s\n' "$access_key" "$secret" > "$run/mock.keys"

    upstream_conf="
    upstream mi_mock {
        server 127.0.0.1:$mock_port;
        keepalive 16;
    }"
    proxy_conf="
            proxy_pass http://mi_mock;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";"
fi

# The README's timeouts and retries (t/dist/060-make-run.t checks they
# match).
retry_conf="
            proxy_connect_timeout       5s;
            proxy_send_timeout          10s;
            proxy_read_timeout          30s;
            proxy_next_upstream         error timeout;
            proxy_next_upstream_tries   3;
            proxy_next_upstream_timeout 10s;"

cat > "$run/nginx.conf" <<CONF
load_module $module;
pcre_jit on;
daemon off;
worker_processes auto;
pid $run/nginx.pid;
error_log $run/error.log info;

events {
    worker_connections 1024;
}

http {
    include $top/conf/mi-log-format.conf;
    access_log $run/access.log mi_json;

    client_body_temp_path $run/body;
    proxy_temp_path $run/proxy;
    fastcgi_temp_path $run/fastcgi;
    uwsgi_temp_path $run/uwsgi;
    scgi_temp_path $run/scgi;
$upstream_conf

    server {
        listen 127.0.0.1:$port;

        mi_sign on;
        mi_access_key $access_key;
        mi_secret_key_file $run/secret;

        location /api/v1/ {$proxy_conf$retry_conf
            include $top/conf/mi-request-id.conf;
        }

        location = /metrics {
            mi_metrics;
        }

        location = /health {
            mi_health;
        }
    }
}
CONF

pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
# stopped as asked: not an error
trap 'exit 0' INT TERM

if [ "$mode" = mock ]; then
    MI_MOCK_QUIET=1 perl "$top/t/mock/mi-mock.pl" --port "$mock_port" \
        --keys "$run/mock.keys" --log "$run/mock.log" &
    pids+=($!)
fi

nginx -t -q -p "$run/" -c "$run/nginx.conf" -e "$run/error.log"

[ "${MI_RUN_CHECK:-}" = 1 ] && exit 0

p=/api/v1/workspaces/my-workspace/projects/1234/assets/5678/scene-summary
if [ "$mode" = mock ]; then
    upstream="the bundled mock gateway on 127.0.0.1:$mock_port (MI_MOCK_PORT)"
else
    upstream="https://mi.apigw.ntruss.com (NCLOUD_ACCESS_KEY_ID, NCLOUD_SECRET_ACCESS_KEY)"
fi
cat <<MSG
ngx_http_mi_module listens on http://127.0.0.1:$port (MI_PORT)
upstream: $upstream
files and logs: $run/ (MI_RUN_DIR): error.log, access.log (JSON)
metrics: http://127.0.0.1:$port/metrics  readiness: http://127.0.0.1:$port/health

Try it from another shell:
  curl -s -X POST http://127.0.0.1:$port$p \\
       -H 'Content-Type: application/json' -d '{"sceneIds":[1,2]}'

Stop with Ctrl-C: it stops nginx$([ "$mode" = mock ] && echo " and the mock").
MSG

if [ -t 0 ]; then
    # Ctrl-C goes to the terminal's foreground process group, make's too,
    # and make reports an interrupted recipe as an error whatever it
    # exits with.  With job control, nginx runs as a foreground job of its
    # own: it alone gets the Ctrl-C, stops, and this script cleans up and
    # exits 0 with it.
    set -m
    nginx -p "$run/" -c "$run/nginx.conf" -e "$run/error.log" || exit
    printf "\nstopped.\n"    # after the ^C the terminal echoed
else
    nginx -p "$run/" -c "$run/nginx.conf" -e "$run/error.log" &
    pids+=($!)
    wait "${pids[-1]}"
fi
