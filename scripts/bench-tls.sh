#!/usr/bin/env bash
# make bench's TLS-upstream pass (also make bench-tls alone): the shipped
# site, conf/mi-gateway.conf, against the same site with nginx's own
# upstream (a fixed address, round robin, keepalive), against plain nginx
# proxy_pass with keepalive and nothing else (no module, no access log),
# and against the site's form before mi_resolve (a variable in proxy_pass,
# which opens a TLS connection a request).
#
# The ratio is to the site with nginx's own upstream, the "same module,
# upstream { keepalive 16; }" of issue 20's table: it measures what
# mi_resolve's pool costs or saves.  The bare proxy's column says what the
# module and the site's JSON log cost on top of proxying.
#
# The upstream is an nginx with a certificate chain (root, intermediate,
# leaf for mi.apigw.ntruss.com) made here with the openssl CLI, on
# 127.0.0.2; each gateway verifies it against the root.  The site is used
# as shipped with only its listen address, resolver (t/mock/dns-mock.pl,
# answering 127.0.0.2), the API's port, the CA file, the log path and the
# credentials path moved (t/lib/MiConf.pm).  One worker a gateway, all on
# CPU 0; wrk, the upstream and the DNS mock on the other CPUs; ROUNDS
# interleaved rounds of BENCH_SECONDS, medians with min and max, the
# worker's CPU time per request, and the ratios.  wrk opens
# BENCH_CONNECTIONS connections, 16 by default: the site's keepalive, and
# the issue's workload (more connections than the pool holds make every
# gateway open and close TLS connections all the time).
#
# BENCH_NGINX and BENCH_MODULE choose the nginx and the module (default:
# Debian's nginx and build/ngx_http_mi_module.so; for another release,
# make bench-tls BENCH_RELEASE=1.28.3 builds it from ../shared/nginx).
# Every process started here is stopped by PID.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-5}
conns=${BENCH_CONNECTIONS:-16}
nginx=${BENCH_NGINX:-/usr/sbin/nginx}
module=${BENCH_MODULE:-$top/build/ngx_http_mi_module.so}
dir=$(mktemp -d /tmp/mi-bench-tls-XXXXXX)
chmod 755 "$dir"
pids=()

cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ -n "${BENCH_KEEP:-}" ]; then
        echo "bench-tls: configurations and logs kept in $dir"
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT

ncpu=$(nproc)
gw_cpu=0
other_cpus=$([ "$ncpu" -gt 1 ] && echo "1-$((ncpu - 1))" || echo 0)

free_port() {
    python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- the certificate chain
ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
printf '%s\n' basicConstraints=critical,CA:true \
    keyUsage=critical,keyCertSign,cRLSign > "$dir/ca.ext"
printf 'subjectAltName=DNS:mi.apigw.ntruss.com\n' > "$dir/leaf.ext"
{
    openssl req -x509 $ec -keyout "$dir/root.key" -out "$dir/root.pem" \
        -days 2 -subj /CN=mi-bench-root
    openssl req $ec -keyout "$dir/int.key" -out "$dir/int.csr" \
        -subj /CN=mi-bench-intermediate
    openssl x509 -req -in "$dir/int.csr" -CA "$dir/root.pem" \
        -CAkey "$dir/root.key" -CAcreateserial -out "$dir/int.pem" -days 2 \
        -extfile "$dir/ca.ext"
    openssl req $ec -keyout "$dir/leaf.key" -out "$dir/leaf.csr" \
        -subj /CN=mi.apigw.ntruss.com
    openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/int.pem" \
        -CAkey "$dir/int.key" -CAcreateserial -out "$dir/leaf.pem" -days 2 \
        -extfile "$dir/leaf.ext"
} > "$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; exit 1; }
cat "$dir/leaf.pem" "$dir/int.pem" > "$dir/chain.pem"

api=$(free_port)
dns=$(free_port)
site=$(free_port)
static=$(free_port)
plain=$(free_port)
variable=$(free_port)

common="daemon off; worker_processes 1; error_log $dir/error.log warn;
events { worker_connections 1024; }"
temp="client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;
fastcgi_temp_path $dir/f; uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;"

# --- the upstream: TLS, one worker, the API's usual small JSON answer
cat > "$dir/api.conf" <<CONF
pid $dir/api.pid; $common
http { $temp
    access_log off;
    server {
        listen 127.0.0.1:$api ssl;
        listen 127.0.0.2:$api ssl;
        server_name mi.apigw.ntruss.com;
        ssl_certificate $dir/chain.pem;
        ssl_certificate_key $dir/leaf.key;
        ssl_session_cache shared:api:1m;
        location / {
            return 200 '{"code":"0","message":"success","result":{}}';
        }
    }
}
CONF

# --- the gateways: the shipped site, plain proxy_pass, the variable form
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' '[DEFAULT]' 'ncloud_access_key_id = BENCH_ACCESS_KEY' \
    "ncloud_secret_access_key = $secret" > "$dir/credentials"
chmod 600 "$dir/credentials"

perl -I"$top/t/lib" -MMiConf -e '
    my ($top, $dir, $site, $dns, $api) = @ARGV;
    local $/;
    open my $f, "<", "$top/conf/mi-gateway.conf" or die;
    my $s = <$f>;
    open $f, "<", "$top/conf/mi-credentials.conf" or die;
    my $c = <$f>;
    print MiConf::adapt_credentials($c, "$dir/credentials"), "\n",
          MiConf::adapt_site($s, listen => "127.0.0.1:$site", dns => $dns,
                             api_port => $api, ca => "$dir/root.pem",
                             access_log => "$dir/site-access.log");
' "$top" "$dir" "$site" "$dns" "$api" > "$dir/site.conf"

# the same site with nginx's own upstream: the address the DNS mock gives
# in place of mi_resolve, on its own port and log
perl -pe '
    BEGIN { ($api, $site, $static) = splice @ARGV, 0, 3 }
    s/^(\s*)mi_resolve \S+;/${1}server 127.0.0.2:$api;/;
    s/listen 127\.0\.0\.1:$site;/listen 127.0.0.1:$static;/;
    s/site-access\.log/static-access.log/;
' "$api" "$site" "$static" "$dir/site.conf" > "$dir/static.conf"
for f in site static; do
    grep -q "listen 127.0.0.1:${!f};" "$dir/$f.conf" \
        || { echo "bench-tls: $f.conf: no listen line" >&2; exit 1; }
done
grep -q '^ *server 127.0.0.2:' "$dir/static.conf" \
    || { echo "bench-tls: static.conf: mi_resolve not replaced" >&2; exit 1; }

tls="proxy_http_version 1.1;
            proxy_ssl_server_name on;
            proxy_ssl_verify on;
            proxy_ssl_verify_depth 4;
            proxy_ssl_trusted_certificate $dir/root.pem;"

cat > "$dir/gateway.conf" <<CONF
load_module $module;
pid $dir/gateway.pid; $common
http { $temp
    include $dir/site.conf;

    upstream mi_plain {
        server 127.0.0.2:$api;
        keepalive 16;
    }

    server {
        listen 127.0.0.1:$plain;
        access_log off;
        location / {
            proxy_pass https://mi_plain;
            proxy_set_header Connection "";
            proxy_ssl_name mi.apigw.ntruss.com;
            $tls
        }
    }

    # the site's form before mi_resolve (resolver: the site's)
    server {
        listen 127.0.0.1:$variable;
        access_log off;
        location / {
            set \$ncp_mi_host mi.apigw.ntruss.com:$api;
            proxy_pass https://\$ncp_mi_host;
            $tls
        }
    }
}
CONF

cat > "$dir/static-gateway.conf" <<CONF
load_module $module;
pid $dir/static-gateway.pid; $common
http { $temp
    include $dir/static.conf;
}
CONF

printf '127.0.0.2\n' > "$dir/dns.answers"
taskset -c "$other_cpus" perl "$top/t/mock/dns-mock.pl" --port "$dns" \
    --log "$dir/dns.log" --ttl 30 --answers "$dir/dns.answers" & pids+=($!)
taskset -c "$other_cpus" "$nginx" -p "$dir/" -c "$dir/api.conf" \
    -e "$dir/error.log" & pids+=($!)
sleep 0.5
taskset -c "$gw_cpu" "$nginx" -p "$dir/" -c "$dir/gateway.conf" \
    -e "$dir/error.log" & pids+=($!)
gw_master=$!
taskset -c "$gw_cpu" "$nginx" -p "$dir/" -c "$dir/static-gateway.conf" \
    -e "$dir/error.log" & pids+=($!)
static_master=$!

for port in $api $site $static $plain $variable; do
    for _ in $(seq 200); do
        (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && continue 2
        sleep 0.05
    done
    echo "bench-tls: nothing listens on port $port" >&2
    cat "$dir/error.log" >&2
    exit 1
done

P=/api/v1/workspaces/my-workspace/projects/1234/assets/5678/scene-summary/status
configs=(site static plain variable)
declare -A port=([site]=$site [static]=$static [plain]=$plain
                 [variable]=$variable)

# every gateway answers 200 (the site once mi_resolve has found the name)
for c in "${configs[@]}"; do
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' \
             "http://127.0.0.1:${port[$c]}$P")" = 200 ] && continue 2
        sleep 0.1
    done
    echo "bench-tls: $c does not answer 200" >&2
    cat "$dir/error.log" >&2
    exit 1
done
for c in "${configs[@]}"; do
    out=$(taskset -c "$other_cpus" wrk -t1 -c1 -d1s \
          "http://127.0.0.1:${port[$c]}$P")
    if grep -qE 'Non-2xx|Socket errors' <<< "$out"; then
        echo "bench-tls: $c: not all answered 200:" >&2
        echo "$out" >&2
        exit 1
    fi
done

# the worker that serves each gateway's port
gw_worker=$(pgrep -P "$gw_master" | head -1)
static_worker=$(pgrep -P "$static_master" | head -1)
declare -A worker=([site]=$gw_worker [static]=$static_worker
                   [plain]=$gw_worker [variable]=$gw_worker)

echo "== TLS upstream: $rounds interleaved rounds of ${secs}s, 1 thread," \
     "$conns connections, GET; gateway worker on CPU $gw_cpu, wrk and the" \
     "TLS upstream on CPU $other_cpus"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
     "$ncpu CPUs; $("$nginx" -v 2>&1 | sed 's/.*: //');" \
     "$(openssl version | cut -d' ' -f1-2); $(date -u '+%F %R UTC')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min)"

: > "$dir/runs.tsv"

for round in $(seq "$rounds"); do
    for i in "${!configs[@]}"; do
        c=${configs[$(( (i + round) % ${#configs[@]} ))]}
        before=$(awk '{print $1}' "/proc/${worker[$c]}/schedstat")
        out=$(taskset -c "$other_cpus" wrk -t1 -c"$conns" -d"${secs}s" \
              "http://127.0.0.1:${port[$c]}$P")
        after=$(awk '{print $1}' "/proc/${worker[$c]}/schedstat")
        if grep -qE 'Non-2xx|Socket errors' <<< "$out"; then
            echo "bench-tls: $c: not all answered 200:" >&2
            echo "$out" >&2
            exit 1
        fi
        rps=$(awk '/^Requests\/sec/ {print $2}' <<< "$out")
        n=$(awk '/requests in/ {print $1}' <<< "$out")
        printf '%s\t%s\t%s\t%s\n' "$round" "$c" "$rps" \
            "$(( (after - before) / n ))" >> "$dir/runs.tsv"
    done
done

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$dir/runs.tsv" <<'PY'
import statistics, sys
from collections import defaultdict

rps = defaultdict(dict)
ns = defaultdict(dict)
for line in open(sys.argv[1]):
    rnd, conf, r, n = line.split()
    rps[conf][int(rnd)] = float(r)
    ns[conf][int(rnd)] = int(n)

names = {'site': 'shipped site (mi_resolve)',
         'static': 'site, nginx upstream+keepalive',
         'plain': 'bare proxy_pass, keepalive',
         'variable': 'variable proxy_pass (before)'}

def ratio(conf, base):
    return statistics.median(rps[conf][k] / rps[base][k] for k in rps[conf])

print()
print('%-31s %24s %10s %10s %10s' % ('gateway', 'req/s median (min-max)',
                                     'CPU us/req', 'to site,', 'to bare'))
print('%-31s %24s %10s %10s %10s' % ('', '', '', 'nginx ups.', ''))
for conf in ['site', 'static', 'plain', 'variable']:
    v = list(rps[conf].values())
    print('%-31s %8.0f (%6.0f-%6.0f) %10.1f %10.2f %10.2f'
          % (names[conf], statistics.median(v), min(v), max(v),
             statistics.median(ns[conf].values()) / 1000,
             ratio(conf, 'static'), ratio(conf, 'plain')))
PY
