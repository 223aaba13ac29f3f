#!/usr/bin/env bash
# make bench: the module against plain proxy_pass and an njs signer, in
# three passes over the same requests (GET, POST with 16 ids, POST with
# 5,000 ids) against a static nginx backend on loopback, and a fourth with
# a TLS upstream:
#
#   1. bench/micro: the module's own steps, ns per operation;
#   2. wrk, side by side: plain proxy_pass, the module (checks and
#      signing), the module signing only (mi_validate off), and an njs
#      signer (bench/njs-sign.js, no checks); the gateway's one worker on
#      CPU 0, wrk and the backend on the other CPU; ROUNDS interleaved
#      rounds, medians with min and max, and the ratios;
#   3. callgrind: instructions per request, which repeat exactly for the
#      same binary and input, with libcrypto's share apart;
#   4. the TLS-upstream workload (scripts/bench-tls.sh): the shipped site,
#      conf/mi-gateway.conf, against the same site with nginx's own
#      upstream and keepalive, and against bare proxy_pass with keepalive,
#      to the same TLS upstream.
#
# Every process started here is stopped by PID.  BENCH_SECONDS (per wrk
# run), BENCH_ROUNDS (0: no wrk pass) and BENCH_CONNECTIONS change the wrk
# passes, CG_SECONDS the callgrind pass; BENCH_MICRO=0 leaves out the
# first pass, BENCH_TLS=0 the last; BENCH_KEEP keeps the configurations
# and logs, CG_KEEP the callgrind profiles.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-5}
conns=${BENCH_CONNECTIONS:-32}
njs_module=/usr/lib/nginx/modules/ngx_http_js_module.so
dir=$(mktemp -d /tmp/mi-bench-XXXXXX)
chmod 755 "$dir"    # the workers (user nobody) write bodies under it
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "${BENCH_KEEP:-}" ]; then
        echo "bench: configurations and logs kept in $dir"
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT

# wrk, valgrind, and the benchmark-only packages: the njs module,
# simdjson, a C++ compiler
bash "$top/scripts/deps.sh" bench

ncpu=$(nproc)
gw_cpu=0
other_cpus=$([ "$ncpu" -gt 1 ] && echo "1-$((ncpu - 1))" || echo 0)

machine() {
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
         "$ncpu CPUs; $(nginx -v 2>&1 | sed 's/.*: //');" \
         "$(openssl version | cut -d' ' -f1-2); $(date -u '+%F %R UTC')"
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"
}

if [ "${BENCH_MICRO:-1}" != 0 ]; then
    echo "== bench/micro"
    machine
    make -s -C "$top" micro-build
    taskset -c "$gw_cpu" "$top/build/micro/micro"
    echo
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

plain=$(free_port)
mi=$(free_port)
sign=$(free_port)
njs=$(free_port)
be=$(free_port)
secret=$(head -c 32 /dev/urandom | base64)
echo "$secret" > "$dir/secret"
chmod 600 "$dir/secret"

common="daemon off; worker_processes 1; error_log $dir/error.log warn;
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

# The server blocks differ in how they sign only.  Bodies stay in memory
# (client_body_buffer_size 64k): written to temporary files, a 24 KB body
# costs the file system far more than any gateway's work, here hundreds
# of microseconds per request; test 115 shows the module never reads such
# a file back.
cat > "$dir/gateway.conf" <<CONF
load_module $top/build/ngx_http_mi_module.so;
load_module $njs_module;
pid $dir/gateway.pid; $common
http { $temp
    upstream backend { server 127.0.0.1:$be; keepalive 32; }
    client_body_buffer_size 64k;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    mi_access_key BENCH_ACCESS_KEY;
    mi_secret_key_file $dir/secret;

    js_import njs from $top/bench/njs-sign.js;
    js_var \$njs_ts_value;
    js_var \$njs_secret "$secret";
    js_var \$njs_access_key BENCH_ACCESS_KEY;
    js_set \$njs_ts njs.timestamp;
    js_set \$njs_sig njs.signature;

    server {
        listen 127.0.0.1:$plain;
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

    server {
        listen 127.0.0.1:$sign;
        mi_sign on;
        mi_validate off;
        location / {
            proxy_pass http://backend;
        }
    }

    server {
        listen 127.0.0.1:$njs;
        location / {
            proxy_set_header Connection "";
            proxy_set_header x-ncp-apigw-timestamp \$njs_ts;
            proxy_set_header x-ncp-iam-access-key \$njs_access_key;
            proxy_set_header x-ncp-apigw-signature-v2 \$njs_sig;
            proxy_pass http://backend;
        }
    }
}
CONF

taskset -c "$other_cpus" nginx -p "$dir/" -c "$dir/backend.conf" \
    -e "$dir/error.log" & pids+=($!)
taskset -c "$gw_cpu" nginx -p "$dir/" -c "$dir/gateway.conf" \
    -e "$dir/error.log" & pids+=($!)

wait_ports() {
    local port
    for port in "$@"; do
        for _ in $(seq 200); do
            (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && continue 2
            sleep 0.05
        done
        echo "bench: nothing listens on port $port" >&2
        cat "$dir/error.log" >&2
        exit 1
    done
}

wait_ports $plain $mi $sign $njs $be

P=/api/v1/workspaces/my-workspace/projects/1234/assets/5678

for n in 16 5000; do
    cat > "$dir/post$n.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"sceneIds":[$(seq -s, 1 $n)]}'
wrk.headers["Content-Type"] = "application/json"
LUA
done

# The requests: name, path, wrk options.
requests=(
    "GET|$P/scene-summary/status|"
    "POST-16|$P/scene-summary|-s $dir/post16.lua"
    "POST-5000|$P/indexes/1001/scene-summaries|-s $dir/post5000.lua"
)
configs=(plain mi sign njs)
declare -A port=([plain]=$plain [mi]=$mi [sign]=$sign [njs]=$njs)

# Each signer's requests must be answered 200: a refused or failed one
# would be cheaper than a signed one.
for r in "${requests[@]}"; do
    IFS='|' read -r name path opts <<< "$r"
    for c in "${configs[@]}"; do
        out=$(taskset -c "$other_cpus" wrk -t1 -c1 -d1s $opts \
              "http://127.0.0.1:${port[$c]}$path")
        if grep -qE 'Non-2xx|Socket errors' <<< "$out"; then
            echo "bench: $c $name: not all answered 200:" >&2
            echo "$out" >&2
            exit 1
        fi
    done
done

gw_worker=$(pgrep -P "${pids[1]}" | head -1)

if [ "$rounds" -gt 0 ]; then

echo "== wrk: $rounds interleaved rounds of ${secs}s, 1 thread," \
     "$conns connections; gateway worker on CPU $gw_cpu, wrk and backend" \
     "on CPU $other_cpus"
machine

: > "$dir/runs.tsv"

for round in $(seq "$rounds"); do
    for r in "${requests[@]}"; do
        IFS='|' read -r name path opts <<< "$r"

        # the order of the four turns round by round
        for i in 0 1 2 3; do
            c=${configs[$(( (i + round) % 4 ))]}
            before=$(awk '{print $1}' "/proc/$gw_worker/schedstat")
            out=$(taskset -c "$other_cpus" wrk -t1 -c"$conns" -d"${secs}s" \
                  $opts "http://127.0.0.1:${port[$c]}$path")
            after=$(awk '{print $1}' "/proc/$gw_worker/schedstat")
            rps=$(awk '/^Requests\/sec/ {print $2}' <<< "$out")
            n=$(awk '/requests in/ {print $1}' <<< "$out")
            printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$c" "$rps" \
                "$(( (after - before) / n ))" >> "$dir/runs.tsv"
        done
    done
done

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$dir/runs.tsv" <<'PY'
import statistics, sys
from collections import defaultdict

rps = defaultdict(dict)
cpu = defaultdict(list)
for line in open(sys.argv[1]):
    rnd, req, conf, r, ns = line.split()
    rps[(req, conf)][int(rnd)] = float(r)
    cpu[(req, conf)].append(int(ns) / 1000)

reqs = ['GET', 'POST-16', 'POST-5000']
confs = ['plain', 'mi', 'sign', 'njs']
names = {'plain': 'plain proxy_pass', 'mi': 'module, checks + signing',
         'sign': 'module, signing only', 'njs': 'njs signer'}

print()
print('%-10s %-26s %24s %16s' % ('request', 'gateway', 'req/s median (min-max)',
                                 'worker CPU us/req'))
for req in reqs:
    for conf in confs:
        v = list(rps[(req, conf)].values())
        print('%-10s %-26s %8.0f (%6.0f-%6.0f) %16.1f'
              % (req, names[conf], statistics.median(v), min(v), max(v),
                 statistics.median(cpu[(req, conf)])))
pairs = [('mi', 'plain'), ('sign', 'plain'), ('njs', 'plain'), ('mi', 'njs')]

def ratios(title, value, invert):
    print()
    print(title)
    for req in reqs:
        cols = []
        for a, b in pairs:
            va, vb = value[(req, a)], value[(req, b)]
            q = [(vb[k] / va[k]) if invert else (va[k] / vb[k])
                 for k in va if k in vb]
            cols.append('%s/%s %.2f (%.2f-%.2f)'
                        % (a, b, statistics.median(q), min(q), max(q)))
        print('  %-10s %s' % (req, '   '.join(cols)))

ratios('ratios of req/s, the median of the rounds\' ratios (min-max):',
       rps, False)

# The worker's CPU time per request, inverted: the req/s each would reach
# with a CPU of its own; less disturbed by a busy machine than req/s.
cpu_by_round = defaultdict(dict)
for line in open(sys.argv[1]):
    rnd, req, conf, r, ns = line.split()
    cpu_by_round[(req, conf)][int(rnd)] = int(ns)
ratios('ratios of 1 / worker CPU per request (the same, by CPU time):',
       cpu_by_round, True)
PY

fi

# --- instructions per request, counted by callgrind: the same for the same
# binary and inputs whatever else the machine does.  The gateway runs as a
# single process under valgrind; counting is on only while wrk runs.

kill "${pids[1]}"
wait "${pids[1]}" 2>/dev/null || true

perl -pe 's{^pid \S+;}{pid '"$dir"'/cg.pid; master_process off;}' \
    "$dir/gateway.conf" > "$dir/cg.conf"

taskset -c "$gw_cpu" valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$dir/cg.out" \
    nginx -p "$dir/" -c "$dir/cg.conf" -e "$dir/error.log" \
    > "$dir/valgrind.log" 2>&1 &
cg=$!
pids+=($cg)

for _ in $(seq 300); do
    (echo > /dev/tcp/127.0.0.1/$njs) 2>/dev/null && break
    sleep 0.1
done

count() {
    local name=$1 conf=$2 path=$3 opts=$4
    local out n ir crypto
    taskset -c "$other_cpus" wrk -t1 -c1 -d1s $opts \
        "http://127.0.0.1:${port[$conf]}$path" > /dev/null
    callgrind_control -i on "$cg" > /dev/null 2>&1
    callgrind_control -z "$cg" > /dev/null 2>&1
    out=$(taskset -c "$other_cpus" wrk -t1 -c1 -d"${CG_SECONDS:-2}s" $opts \
          "http://127.0.0.1:${port[$conf]}$path")
    rm -f "$dir"/cg.out.*
    callgrind_control -d "$cg" > /dev/null 2>&1
    callgrind_control -i off "$cg" > /dev/null 2>&1
    n=$(awk '/requests in/ {print $1}' <<< "$out")
    ir=$(cat "$dir"/cg.out.* | awk '/^(summary|totals):/ {print $2; exit}')
    crypto=$(callgrind_annotate --threshold=100 "$dir"/cg.out.* 2>/dev/null \
             | awk '/libcrypto/ {gsub(",", "", $1); s += $1} END {print s + 0}')
    if [ -n "${CG_KEEP:-}" ]; then
        mkdir -p "$CG_KEEP"
        cp "$dir"/cg.out.* "$CG_KEEP/$name-$conf.callgrind"
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$conf" "$n" "$ir" "$crypto" \
        >> "$dir/cg.tsv"
}

: > "$dir/cg.tsv"

for r in "${requests[@]}"; do
    IFS='|' read -r name path opts <<< "$r"
    for c in "${configs[@]}"; do
        count "$name" "$c" "$path" "$opts"
    done
done

echo
echo "== callgrind: the gateway alone, 1 connection, ${CG_SECONDS:-2}s each"

python3 - "$dir/cg.tsv" <<'PY'
import sys

rows = {}
for line in open(sys.argv[1]):
    req, conf, n, ir, crypto = line.split()
    rows[(req, conf)] = (int(ir) / int(n), int(crypto) / int(n))

names = {'plain': 'plain proxy_pass', 'mi': 'module, checks + signing',
         'sign': 'module, signing only', 'njs': 'njs signer'}
print('%-10s %-26s %14s %12s %14s %16s' % (
    'request', 'gateway', 'instr/request', 'libcrypto', 'over plain',
    'over plain, no libcrypto'))
for req in ['GET', 'POST-16', 'POST-5000']:
    base, base_c = rows[(req, 'plain')]
    for conf in ['plain', 'mi', 'sign', 'njs']:
        ir, c = rows[(req, conf)]
        over = '' if conf == 'plain' else '%+.0f' % (ir - base)
        rest = '' if conf == 'plain' else '%+.0f' % ((ir - c) - (base - base_c))
        print('%-10s %-26s %14.0f %12.0f %14s %16s'
              % (req, names[conf], ir, c, over, rest))
PY

# --- 4. the TLS-upstream workload: the shipped site against nginx's own
# pooled upstream (scripts/bench-tls.sh; BENCH_TLS=0 leaves it out)
if [ "${BENCH_TLS:-1}" != 0 ]; then
    echo
    bash "$top/scripts/bench-tls.sh"
fi
