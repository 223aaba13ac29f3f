#!/usr/bin/env bash
# make run: nginx with ngx_http_mi_module in the foreground on 127.0.0.1:8080.
#
# With NCP_ACCESS_KEY and NCP_SECRET_KEY set it forwards to the real API,
# https://mi.apigw.ntruss.com, over verified TLS with a keepalive upstream.
# Without them it starts the bundled mock gateway (t/mock/mi-mock.pl), which
# checks every signature, so one curl shows a signed round trip.
#
# Everything it writes lives under ./run (or $MI_RUN_DIR).
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

if [ -n "${NCP_ACCESS_KEY:-}" ] && [ -n "${NCP_SECRET_KEY:-}" ]; then
    mode=real
    access_key=$NCP_ACCESS_KEY
    case $access_key in
        *[!A-Za-z0-9_-]*)
            echo "run: NCP_ACCESS_KEY has characters an access key never has" >&2
            exit 1 ;;
    esac
    printf '%s\n' "$NCP_SECRET_KEY" > "$run/secret"

    upstream_conf="
    upstream mi.apigw.ntruss.com {
        server mi.apigw.ntruss.com:443;
        keepalive 16;
    }"
    proxy_conf="
            proxy_pass https://mi.apigw.ntruss.com;
            proxy_ssl_server_name on;
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 4;
            proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;"
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
            proxy_pass http://mi_mock;"
fi

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

        location /api/v1/ {$proxy_conf
            proxy_http_version 1.1;
            proxy_set_header Connection "";
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
trap 'exit 130' INT TERM

if [ "$mode" = mock ]; then
    MI_MOCK_QUIET=1 perl "$top/t/mock/mi-mock.pl" --port "$mock_port" \
        --keys "$run/mock.keys" --log "$run/mock.log" &
    pids+=($!)
fi

nginx -t -q -p "$run/" -c "$run/nginx.conf" -e "$run/error.log"

p=/api/v1/workspaces/my-workspace/projects/1234/assets/5678/scene-summary
cat <<MSG
ngx_http_mi_module on http://127.0.0.1:$port ($mode upstream$(
    [ "$mode" = mock ] && echo ": the bundled mock on 127.0.0.1:$mock_port"))
logs: $run/error.log, $run/access.log (JSON)$([ "$mode" = mock ] && echo ", $run/mock.log")
metrics: http://127.0.0.1:$port/metrics  readiness: http://127.0.0.1:$port/health

Try it from another shell:
  curl -s -X POST http://127.0.0.1:$port$p \\
       -H 'Content-Type: application/json' -d '{"sceneIds":[1,2]}'

Ctrl-C stops nginx$([ "$mode" = mock ] && echo " and the mock").
MSG

nginx -p "$run/" -c "$run/nginx.conf" -e "$run/error.log" &
pids+=($!)
wait "${pids[-1]}"
