#!/usr/bin/env bash
# make bench: requests per second through nginx with plain proxy_pass and
# through the module (sign only; sign and validate; a validated POST body),
# against a static nginx backend, so that what differs is the gateway.
# Loopback only; every process started here is stopped by PID.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-5}
conns=${BENCH_CONNECTIONS:-32}
dir=$(mktemp -d /tmp/mi-bench-XXXXXX)
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

plain=$(free_port)
sign=$(free_port)
mi=$(free_port)
be=$(free_port)
head -c 32 /dev/urandom | base64 > "$dir/secret"
chmod 600 "$dir/secret"

common="daemon off; worker_processes 1; pcre_jit on; error_log $dir/error.log warn;
events { worker_connections 1024; }"
temp="client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;
fastcgi_temp_path $dir/f; uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
access_log off;"

cat > "$dir/backend.conf" <<CONF
pid $dir/backend.pid; $common
http { $temp
    server {
        listen 127.0.0.1:$be;
        location / {
            client_max_body_size 10m;
            client_body_buffer_size 64k;
            return 200 '{"code":"0","message":"success","result":{}}';
        }
    }
}
CONF

cat > "$dir/gateway.conf" <<CONF
load_module $top/build/ngx_http_mi_module.so;
pid $dir/gateway.pid; $common
http { $temp
    upstream backend { server 127.0.0.1:$be; keepalive 32; }
    client_body_buffer_size 64k;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    mi_access_key BENCH_ACCESS_KEY;
    mi_secret_key_file $dir/secret;

    server {
        listen 127.0.0.1:$plain;
        location / {
            proxy_pass http://backend;
        }
    }

    # the server blocks differ in the module's directives only: no rewrite,
    # so each signs the client's own request-target as production does
    server {
        listen 127.0.0.1:$sign;
        mi_sign on;
        mi_validate off;
        location / {
            proxy_pass http://backend;
        }
    }

    server {
        listen 127.0.0.1:$mi;
        mi_sign on;
        location / {
            proxy_pass http://backend;
        }

        # the metrics zone: every request of the signing servers is counted
        location = /metrics {
            mi_metrics;
        }
    }
}
CONF

nginx -p "$dir/" -c "$dir/backend.conf" -e "$dir/error.log" & pids+=($!)
nginx -p "$dir/" -c "$dir/gateway.conf" -e "$dir/error.log" & pids+=($!)

for port in $plain $sign $mi $be; do
    for _ in $(seq 100); do
        (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break
        sleep 0.05
    done
done

P=/api/v1/workspaces/my-workspace/projects/1234/assets/5678
ids=$(seq -s, 1 100)
cat > "$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"sceneIds":[$ids]}'
wrk.headers["Content-Type"] = "application/json"
LUA

# The gateway's worker: its CPU time per request is the number to compare;
# requests per second on two shared cores mostly measure the scheduler.
gw_worker=$(pgrep -P "${pids[1]}" | head -1)

cpu_ns() {
    awk '{print $1}' "/proc/$gw_worker/schedstat"
}

# The requests measured, each as: name url [wrk options]; each pass of the
# benchmark calls its measuring function on every one.
each_scenario() {
    "$1" plain-get  "http://127.0.0.1:$plain$P/scene-summary/status"
    "$1" sign-get   "http://127.0.0.1:$sign$P/scene-summary/status"
    "$1" mi-get     "http://127.0.0.1:$mi$P/scene-summary/status"
    "$1" plain-post "http://127.0.0.1:$plain$P/scene-summary" -s "$dir/post.lua"
    "$1" mi-post    "http://127.0.0.1:$mi$P/scene-summary" -s "$dir/post.lua"
}

# What each module scenario is compared with.
each_pair() {
    "$1" sign-get plain-get
    "$1" mi-get plain-get
    "$1" mi-post plain-post
}

run() {
    local name=$1 url=$2; shift 2
    local out rps p99 n before after us errors
    before=$(cpu_ns)
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "$@" "$url")
    after=$(cpu_ns)
    rps=$(awk '/^Requests\/sec/ {print $2}' <<< "$out")
    p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
    n=$(awk '/requests in/ {print $1}' <<< "$out")
    us=$(awk -v a="$before" -v b="$after" -v n="$n" \
         'BEGIN { printf "%.2f", (b - a) / n / 1000 }')
    errors=$(grep -E 'Non-2xx|Socket errors' <<< "$out" || true)
    printf '%-12s %10s req/s  p99 %7s  gateway CPU %6s us/req %s\n' \
        "$name" "$rps" "$p99" "$us" "$errors"
    echo "$us" > "$dir/$name.us"
}

ratio() {
    awk -v a="$(cat "$dir/$1.us")" -v b="$(cat "$dir/$2.us")" \
        'BEGIN { printf "%-24s %+6.1f%% gateway CPU per request\n",
                 "'"$1"' vs '"$2"'", (a / b - 1) * 100 }'
}

echo "wrk: 1 thread, $conns connections, ${secs}s each; nginx: 1 worker each"
# a warm-up pass so that keepalive upstream connections exist
wrk -t1 -c"$conns" -d1s "http://127.0.0.1:$plain$P/scene-summary/status" >/dev/null

each_scenario run
echo
each_pair ratio

# --- instructions per request, counted by callgrind: the same for the same
# binary and inputs whatever else the machine does.  The gateway runs as a
# single process under valgrind; counting is on only while wrk runs.

kill "${pids[1]}"
wait "${pids[1]}" 2>/dev/null || true

perl -pe 's{^pid \S+;}{pid '"$dir"'/cg.pid; master_process off;}' \
    "$dir/gateway.conf" > "$dir/cg.conf"

valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$dir/cg.out" \
    nginx -p "$dir/" -c "$dir/cg.conf" -e "$dir/error.log" \
    > "$dir/valgrind.log" 2>&1 &
cg=$!
pids+=($cg)

for _ in $(seq 200); do
    (echo > /dev/tcp/127.0.0.1/$mi) 2>/dev/null && break
    sleep 0.1
done

count() {
    local name=$1 url=$2; shift 2
    local out n ir
    wrk -t1 -c1 -d1s "$@" "$url" > /dev/null     # warm: keepalive upstream
    callgrind_control -i on "$cg" > /dev/null 2>&1
    callgrind_control -z "$cg" > /dev/null 2>&1
    out=$(wrk -t1 -c1 -d"${CG_SECONDS:-3}s" "$@" "$url")
    rm -f "$dir"/cg.out.*
    callgrind_control -d "$cg" > /dev/null 2>&1
    callgrind_control -i off "$cg" > /dev/null 2>&1
    n=$(awk '/requests in/ {print $1}' <<< "$out")
    ir=$(cat "$dir"/cg.out.* | awk '/^(summary|totals):/ {print $2; exit}')
    if [ -n "${CG_KEEP:-}" ]; then
        mkdir -p "$CG_KEEP"
        cp "$dir"/cg.out.* "$CG_KEEP/$name.callgrind"
    fi
    printf '%-12s %8d requests  %9.0f instructions/request\n' \
        "$name" "$n" "$(awk -v i="$ir" -v n="$n" 'BEGIN {print i / n}')"
    awk -v i="$ir" -v n="$n" 'BEGIN {print i / n}' > "$dir/$name.ir"
}

iratio() {
    awk -v a="$(cat "$dir/$1.ir")" -v b="$(cat "$dir/$2.ir")" \
        'BEGIN { printf "%-24s %+6.1f%% instructions per request (%+.0f)\n",
                 "'"$1"' vs '"$2"'", (a / b - 1) * 100, a - b }'
}

echo
echo "callgrind: the gateway alone, 1 connection, ${CG_SECONDS:-3}s each"
each_scenario count
echo
each_pair iratio
