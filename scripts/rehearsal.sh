#!/usr/bin/env bash
# make rehearsal: the shipped site, conf/mi-gateway.conf with
# conf/mi-credentials.conf and conf/mi-error-log.conf, served on this
# machine against a local TLS stand-in for the API, before a staging or
# production rollout.  The files are used as they are but for addresses
# (the listen port, the API's port), the CA (one made here) and the
# resolver (a local DNS stand-in that answers 127.0.0.1), and the paths of
# the logs: TLS verification, SNI, timeouts and retries are the shipped
# ones.
#
# The stand-in: an nginx terminating TLS with a chain made here with
# openssl (a root CA, an intermediate CA, a certificate for
# mi.apigw.ntruss.com), in front of the mock gateway (t/mock/mi-mock.pl),
# which verifies every signature.  FAULT makes it misbehave:
#
#   none        the API accepts the signature (default)
#   wrong-key   the API knows another secret for the key: 401, errorCode 200
#   clock-skew  the API's clock 6 minutes ahead: 401, and a Date to compare
#   429         the API's rate limit
#   5xx         the API fails: 503
#   slow        the API answers FAULT_DELAY_MS late (3000)
#   down        nothing listens at the API's address: 502
#
# Everything goes under build/rehearsal (MI_REHEARSAL_DIR); MI_PORT (8090)
# is the gateway's port, MI_API_PORT (8443) the stand-in's.  Ctrl-C stops
# it all.  MI_REHEARSAL_MODULE loads another module file.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${MI_REHEARSAL_DIR:-$top/build/rehearsal}
port=${MI_PORT:-8090}
api_port=${MI_API_PORT:-8443}
fault=${FAULT:-none}
delay_ms=${FAULT_DELAY_MS:-3000}
module=${MI_REHEARSAL_MODULE:-$top/build/ngx_http_mi_module.so}
host=mi.apigw.ntruss.com

case $fault in
    none|wrong-key|clock-skew|429|5xx|slow|down) ;;
    *) echo "rehearsal: FAULT=$fault: none, wrong-key, clock-skew, 429," \
            "5xx, slow or down" >&2; exit 2 ;;
esac

free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(
        Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0)->sockport'
}

mkdir -p "$dir"
chmod 0711 "$dir"
umask 077
cd "$dir"
rm -rf gateway api ./*.log

# --- the certificate chain, made on the spot (once a directory)
if [ ! -s chain.pem ]; then
    ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
    {
        # shellcheck disable=SC2086
        openssl req -x509 $ec -keyout root.key -out root.pem -days 30 \
            -subj /CN=mi-rehearsal-root \
            -addext basicConstraints=critical,CA:true \
            -addext keyUsage=critical,keyCertSign,cRLSign
        # shellcheck disable=SC2086
        openssl req $ec -keyout inter.key -out inter.csr \
            -subj /CN=mi-rehearsal-intermediate
        printf '%s\n' 'basicConstraints=critical,CA:true,pathlen:0' \
            'keyUsage=critical,keyCertSign,cRLSign' > inter.ext
        openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key \
            -CAcreateserial -out inter.pem -days 30 -extfile inter.ext
        # shellcheck disable=SC2086
        openssl req $ec -keyout server.key -out server.csr -subj "/CN=$host"
        printf '%s\n' "subjectAltName=DNS:$host" \
            'extendedKeyUsage=serverAuth' > server.ext
        openssl x509 -req -in server.csr -CA inter.pem -CAkey inter.key \
            -CAcreateserial -out server.pem -days 30 -extfile server.ext
    } > openssl.log 2>&1 || { cat openssl.log; exit 1; }
    cat server.pem inter.pem > chain.pem
fi

# --- the keys: the gateway's, and the API's idea of them
secret=$(head -c 24 /dev/urandom | base64 | tr '+/' 'xy')
access_key=AK_REHEARSAL
printf '[DEFAULT]\nncloud_access_key_id = %s\nncloud_secret_access_key = %s\n' \
    "$access_key" "$secret" > credentials
if [ "$fault" = wrong-key ]; then
    echo "$access_key $(head -c 24 /dev/urandom | base64)" > api.keys
else
    echo "$access_key $secret" > api.keys
fi

pids=()
stop() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

# --- the DNS stand-in and the API stand-in
dns_port=$(free_port)
perl "$top/t/mock/dns-mock.pl" --port "$dns_port" --log dns.log --ttl 30 \
    > dns.out 2>&1 &
pids+=($!)

mock_port=$(free_port)
mock_opts=()
[ "$fault" = clock-skew ] && mock_opts=(--clock-offset 360)
MI_MOCK_QUIET=1 perl "$top/t/mock/mi-mock.pl" --port "$mock_port" \
    --keys api.keys --log api-requests.log "${mock_opts[@]}" \
    > mock.out 2>&1 &
pids+=($!)

case $fault in
    429) x_mock='proxy_set_header X-Mock "status 429";' ;;
    5xx) x_mock='proxy_set_header X-Mock "status 503";' ;;
    slow) x_mock="proxy_set_header X-Mock \"delay $delay_ms\";" ;;
    *) x_mock='' ;;
esac

mkdir -p api
cat > api/nginx.conf <<EOF
# the API's stand-in: TLS with the chain made here, the mock behind
daemon off;
pid $dir/api/nginx.pid;
error_log $dir/api/error.log notice;
events { worker_connections 128; }
http {
    access_log $dir/api/access.log;
    client_body_temp_path $dir/api/body;
    proxy_temp_path $dir/api/proxy;
    server {
        listen 127.0.0.1:$api_port ssl;
        server_name $host;
        ssl_certificate $dir/chain.pem;
        ssl_certificate_key $dir/server.key;
        location / {
            proxy_pass http://127.0.0.1:$mock_port;
            proxy_set_header Host \$http_host;
            # the API's own Date (the module compares clocks with it)
            proxy_pass_header Date;
            $x_mock
        }
    }
}
EOF
if [ "$fault" != down ]; then
    nginx -p "$dir/api/" -c "$dir/api/nginx.conf" -e "$dir/api/error.log" \
        > api/stderr.log 2>&1 &
    pids+=($!)
fi

# --- the gateway: the shipped files, with only these lines changed (each
# must be there exactly once: a changed conf/ fails here, loudly)
replace_once() {
    local file=$1 from=$2 to=$3 n
    n=$(grep -cF -- "$from" "$file" || true)
    if [ "$n" != 1 ]; then
        echo "rehearsal: expected \"$from\" once in $file, found $n" >&2
        exit 1
    fi
    FROM=$from TO=$to perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$file"
}

mkdir -p gateway
cp "$top/conf/mi-gateway.conf" "$top/conf/mi-credentials.conf" \
   "$top/conf/mi-error-log.conf" gateway/
site=gateway/mi-gateway.conf
replace_once "$site" 'listen 8080;' "listen 127.0.0.1:$port;"
replace_once "$site" 'resolver 127.0.0.53 ' "resolver 127.0.0.1:$dns_port "
replace_once "$site" "mi_resolve $host:443;" "mi_resolve $host:$api_port;"
replace_once "$site" \
    'proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;' \
    "proxy_ssl_trusted_certificate $dir/root.pem;"
replace_once "$site" /var/log/nginx/mi-gateway.access.log "$dir/access.log"
replace_once "$site" /var/log/nginx/mi-gateway.error.log "$dir/mi-gateway.error.log"
replace_once gateway/mi-error-log.conf /var/log/nginx/mi-gateway.error.log \
    "$dir/mi-gateway.error.log"
replace_once gateway/mi-credentials.conf /etc/nginx/mi/credentials \
    "$dir/credentials"

cat > gateway/nginx.conf <<EOF
load_module $module;
include $dir/gateway/mi-error-log.conf;
daemon off;
pid $dir/gateway/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
    client_body_temp_path $dir/gateway/body;
    proxy_temp_path $dir/gateway/proxy;
    include $dir/gateway/mi-credentials.conf;
    include $dir/gateway/mi-gateway.conf;
}
EOF
nginx -q -t -p "$dir/gateway/" -c "$dir/gateway/nginx.conf" -e "$dir/error.log"
nginx -p "$dir/gateway/" -c "$dir/gateway/nginx.conf" -e "$dir/error.log" \
    > gateway/stderr.log 2>&1 &
pids+=($!)

for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/health" && break
    sleep 0.1
done

cat <<EOF
rehearsal: FAULT=$fault; the gateway on 127.0.0.1:$port, the API's TLS
stand-in on 127.0.0.1:$api_port ($host, a chain made in $dir)
  curl -s -X POST http://127.0.0.1:$port/api/v1/workspaces/my-workspace/projects/1/assets/2/scene-summary \\
       -H 'Content-Type: application/json' -d '{"sceneIds":[1]}'
  curl -s http://127.0.0.1:$port/health
  tail -f $dir/mi-gateway.error.log      # the module's notice and warn lines
  tail -f $dir/access.log                # the JSON access log
Ctrl-C stops it all.
EOF
echo "rehearsal: ready"

wait -n "${pids[@]}" || true
echo "rehearsal: a process stopped; see $dir/*.log" >&2
