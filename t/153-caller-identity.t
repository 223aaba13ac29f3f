#!/usr/bin/perl
# The identity recipes of docs/operations.md, end to end, with the
# conf/mi-caller-*.conf files as an operator includes them:
#
#   - mutual TLS with an internal CA (certificates made here with the
#     openssl command): the CN of a verified certificate, through a map of
#     $ssl_client_verify and $ssl_client_s_dn; the SPIFFE-style URI SAN,
#     through $mi_ssl_client_san_uri; no certificate, a certificate of
#     another CA or an expired one are no identity (401 CALLER_UNKNOWN):
#     nginx refuses the last two itself even with "optional", and with
#     "ssl_verify_client on" all three, before any module runs; the module
#     answers those refusals with the same 401 in JSON;
#   - a static token per service, from a map of $http_authorization: the
#     right one, a wrong one, none; the token reaches neither the API nor
#     any log line at info or above;
#   - auth_request to an auth service: allowed, denied, the service down,
#     each answered in JSON;
#   - limit_req keyed by the caller (mTLS and token): one caller's limit
#     leaves the others alone, and the 429 is JSON.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my $d = $t->dir;
my ($secret, $file, $mock) = $t->signing_mock('identity.secret');
my $sign = MiTest::signing($file);
my $conf = "$MiTest::ROOT/conf";

# --- certificates ------------------------------------------------------------

sub run_openssl {
    my ($cmd) = @_;
    system("$cmd >>$d/openssl.log 2>&1") == 0
        or BAIL_OUT("openssl failed: $cmd");
}

my $ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';

run_openssl("openssl req -x509 $ec -keyout $d/ca.key -out $d/ca.pem -days 2 "
            . "-subj /CN=internal-ca");
run_openssl("openssl req -x509 $ec -keyout $d/other-ca.key "
            . "-out $d/other-ca.pem -days 2 -subj /CN=other-ca");

# name, CA, days (negative: expired), subject, URI SANs
sub cert {
    my ($name, $ca, $days, $subj, @uris) = @_;
    run_openssl("openssl req $ec -keyout $d/$name.key -out $d/$name.csr "
                . "-subj '$subj'");
    my $ext = @uris ? 'subjectAltName=' . join(',', map { "URI:$_" } @uris)
                    : 'basicConstraints=CA:FALSE';
    $t->write_file("$name.ext", "$ext\n");
    run_openssl("openssl x509 -req -in $d/$name.csr -CA $d/$ca.pem "
                . "-CAkey $d/$ca.key -CAcreateserial -out $d/$name.pem "
                . "-days $days -extfile $d/$name.ext");
}

cert('server', 'ca', 2, '/CN=mi-gateway');
cert('indexer', 'ca', 2, '/O=corp/OU=media/CN=indexer',
     'spiffe://corp/ns/media/sa/indexer');
cert('dashboard', 'ca', 2, '/O=corp/CN=dashboard',
     'spiffe://corp/ns/media/sa/dashboard');
cert('stranger', 'other-ca', 2, '/O=corp/CN=indexer',
     'spiffe://corp/ns/media/sa/indexer');
cert('expired', 'ca', -1, '/O=corp/CN=indexer',
     'spiffe://corp/ns/media/sa/indexer');
cert('two-uris', 'ca', 2, '/CN=two',
     'spiffe://corp/ns/media/sa/indexer', 'https://example.com/x');

# --- the gateway -------------------------------------------------------------

my ($cn_port, $san_port, $on_port, $token_port, $auth_port, $authsvc_port,
    $down_port) = map { MiTest::free_port() } 1 .. 7;

$t->write_file('tokens.map', <<'EOF');
"Bearer tok-indexer-5f1c2a" indexer;
"Bearer tok-dashboard-9b7e" dashboard;
EOF

my $tls = <<"EOF";
        ssl_certificate $d/server.pem;
        ssl_certificate_key $d/server.key;
        ssl_client_certificate $d/ca.pem;
        ssl_verify_depth 1;
EOF

my $ngx = $t->start_nginx(<<"EOF", workers => 2);
    include $conf/mi-log-format.conf;
    include $conf/mi-caller-mtls.conf;

    map \$http_authorization \$caller_token {
        default "";
        include $d/tokens.map;
    }

    limit_req_zone \$caller_cn zone=per_cn:1m rate=1r/m;
    limit_req_zone \$caller_token zone=per_token:1m rate=1r/m;
    limit_req_status 429;

    server {
        listen 127.0.0.1:%%PORT%% ssl;
$tls
        ssl_verify_client optional;
        access_log $d/cn.log mi_json;
        $sign
        mi_caller \$caller_cn;
        mi_allow indexer route=*;
        mi_allow dashboard route=*.status;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /limited/ {
            limit_req zone=per_cn;
            rewrite ^/limited(/.*)\$ \$1 break;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }

    server {
        listen 127.0.0.1:$san_port ssl;
$tls
        ssl_verify_client optional;
        $sign
        mi_caller \$caller_spiffe;
        mi_allow spiffe://corp/ns/media/sa/indexer route=*;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }

    server {
        listen 127.0.0.1:$on_port ssl;
$tls
        ssl_verify_client on;
        $sign
        mi_caller \$caller_cn;
        mi_allow indexer route=*;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }

    server {
        listen 127.0.0.1:$token_port;
        access_log $d/token.log mi_json;
        error_log $d/token-info.log info;
        $sign
        mi_caller \$caller_token;
        mi_allow indexer route=*;
        mi_allow dashboard route=*.status;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /limited/ {
            limit_req zone=per_token;
            rewrite ^/limited(/.*)\$ \$1 break;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }

    server {
        listen 127.0.0.1:$auth_port;
        $sign
        mi_caller \$caller_auth;
        mi_allow indexer route=*;

        location / {
            auth_request /_auth;
            auth_request_set \$caller_auth \$upstream_http_x_caller;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /down/ {
            auth_request /_auth_down;
            auth_request_set \$caller_auth \$upstream_http_x_caller;
            rewrite ^/down(/.*)\$ \$1 break;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        # the auth service is not the API: never signed
        location = /_auth {
            internal;
            mi_sign off;
            proxy_pass http://127.0.0.1:$authsvc_port/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI \$request_uri;
        }

        location = /_auth_down {
            internal;
            mi_sign off;
            proxy_pass http://127.0.0.1:$down_port/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
    }

    # the company's auth service, as a test double
    server {
        listen 127.0.0.1:$authsvc_port;

        location = /check {
            if (\$http_authorization = "Bearer good") {
                add_header X-Caller indexer;
                return 200;
            }
            return 403;
        }
    }
EOF

my $P = '/api/v1/workspaces/media-dev/projects/1/assets/2';

# One GET over TLS with curl, with a client certificate or none.
my $n = 0;
sub tls_get {
    my ($port, $cert, $target) = @_;
    $n++;
    my @cmd = ('curl', '-sk', '-o', "$d/curl-$n.out", '-D', "$d/curl-$n.head",
               '-w', '%{http_code}');
    push @cmd, '--cert', "$d/$cert.pem", '--key', "$d/$cert.key" if $cert;
    open my $fh, '-|', @cmd, "https://127.0.0.1:$port$target"
        or die "curl: $!";
    my $status = <$fh> // 0;
    close $fh;
    my %h;
    for (split /\r\n/, MiTest::read_file("$d/curl-$n.head")) {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return { status => $status + 0, h => \%h,
             body => MiTest::read_file("$d/curl-$n.out") };
}

sub is_code {
    my ($res, $status, $code, $name) = @_;
    my $j = MiTest::json_body($res) // {};
    ok($res->{status} == $status && ($j->{code} // '') eq $code
       && ($res->{h}{'content-type'} // '') eq 'application/json',
       "$name: $status $code in JSON")
        or diag("$res->{status} " . substr($res->{body} // '', 0, 200));
}

sub upstream_count { scalar $t->mock_requests($mock) }

# --- mutual TLS: the CN ------------------------------------------------------

my $before = upstream_count();
my $res = tls_get($ngx->{port}, 'indexer', "$P/scene-summary");
is($res->{status}, 200, 'mTLS CN: indexer, verified: signed');
is(upstream_count(), $before + 1, 'mTLS CN: it reached the API');

is(tls_get($ngx->{port}, 'dashboard', "$P/scene-summary/status")->{status},
   200, 'mTLS CN: dashboard, a status: signed');
is_code(tls_get($ngx->{port}, 'dashboard', "$P/scene-summary"), 403,
        'CALLER_NOT_ALLOWED', 'mTLS CN: dashboard, a result');

$before = upstream_count();
is_code(tls_get($ngx->{port}, undef, "$P/scene-summary"), 401,
        'CALLER_UNKNOWN', 'mTLS CN: no certificate');
is_code(tls_get($ngx->{port}, 'stranger', "$P/scene-summary"), 401,
        'CALLER_UNKNOWN', 'mTLS CN: CN=indexer from another CA');
is_code(tls_get($ngx->{port}, 'expired', "$P/scene-summary"), 401,
        'CALLER_UNKNOWN', 'mTLS CN: CN=indexer, expired');
is(upstream_count(), $before, 'mTLS CN: none of those reached the API');

my @cn = map { MiTest::json_body({ body => $_ }) }
         split /\n/, MiTest::eventually(sub {
             my $l = MiTest::read_file("$d/cn.log");
             ($l =~ tr/\n//) >= 6 ? $l : undef;
         }) // '';
# (two workers may write the lines in another order)
is_deeply([sort map { "$_->{caller} $_->{status} $_->{error_code}" }
                @cn[0 .. 5]],
          [sort 'indexer 200 ', 'dashboard 200 ',
                'dashboard 403 CALLER_NOT_ALLOWED', '- 401 CALLER_UNKNOWN',
                '- 401 CALLER_UNKNOWN', '- 401 CALLER_UNKNOWN'],
          'mTLS CN: the log names the verified callers only');

# --- mutual TLS: the URI SAN -------------------------------------------------

is(tls_get($san_port, 'indexer', "$P/scene-summary")->{status}, 200,
   'mTLS SAN: spiffe://corp/ns/media/sa/indexer: signed');
is_code(tls_get($san_port, 'dashboard', "$P/scene-summary"), 403,
        'CALLER_NOT_ALLOWED', 'mTLS SAN: the dashboard\'s SPIFFE id');
is_code(tls_get($san_port, 'stranger', "$P/scene-summary"), 401,
        'CALLER_UNKNOWN', 'mTLS SAN: the right URI, another CA');
is_code(tls_get($san_port, 'expired', "$P/scene-summary"), 401,
        'CALLER_UNKNOWN', 'mTLS SAN: the right URI, expired');
is_code(tls_get($san_port, 'two-uris', "$P/scene-summary"), 401,
        'CALLER_UNKNOWN', 'mTLS SAN: two URIs are no one identity');
is_code(tls_get($san_port, undef, "$P/scene-summary"), 401,
        'CALLER_UNKNOWN', 'mTLS SAN: no certificate');

# --- ssl_verify_client on: nginx refuses, in JSON ---------------------------

is(tls_get($on_port, 'indexer', "$P/scene-summary")->{status}, 200,
   'verify on: indexer signed');
for my $c ([undef, 'no certificate'], ['stranger', 'another CA'],
           ['expired', 'expired'])
{
    is_code(tls_get($on_port, $c->[0], "$P/scene-summary"), 401,
            'CALLER_UNKNOWN', "verify on, $c->[1]: nginx's refusal");
}

# --- a static token ----------------------------------------------------------

my $tp = $token_port;
$before = upstream_count();
$res = MiTest::http($tp, 'GET', "$P/scene-summary",
                    headers => [['Authorization', 'Bearer tok-indexer-5f1c2a'],
                                ['X-Request-ID', 'token-1']]);
is($res->{status}, 200, 'token: the indexer\'s token: signed');
my $up = ($t->mock_requests($mock))[-1];
ok(!exists $up->{h}{authorization}, 'token: Authorization not forwarded');
ok($up->{verified}, 'token: the API verified the signature');

is_code(MiTest::http($tp, 'GET', "$P/scene-summary",
                     headers => [['Authorization', 'Bearer tok-wrong'],
                                 ['X-Request-ID', 'token-2']]),
        401, 'CALLER_UNKNOWN', 'token: a wrong token');
is_code(MiTest::http($tp, 'GET', "$P/scene-summary",
                     headers => [['X-Request-ID', 'token-3']]),
        401, 'CALLER_UNKNOWN', 'token: no token');
is_code(MiTest::http($tp, 'GET', "$P/scene-summary",
                     headers => [['Authorization', 'Bearer tok-dashboard-9b7e'],
                                 ['X-Request-ID', 'token-4']]),
        403, 'CALLER_NOT_ALLOWED', 'token: the dashboard\'s, on a result');
is(upstream_count(), $before + 1, 'token: only the right one reached the API');

MiTest::eventually(sub { (MiTest::read_file("$d/token.log") =~ tr/\n//) >= 4 });

# the name was taken before the header view hid Authorization from the log
# (two workers may write the lines in another order: by request id)
my %token_caller = map { ($_->{request_id} // '') => $_->{caller} }
                   map { MiTest::json_body({ body => $_ }) // {} }
                   split /\n/, MiTest::read_file("$d/token.log");
is_deeply([@token_caller{map { "token-$_" } 1 .. 4}],
          ['indexer', '-', '-', 'dashboard'],
          'token: the log names the caller the token gave');
for my $f ("$d/token.log", "$d/token-info.log") {
    my $text = MiTest::read_file($f);
    ok($text ne '' && $text !~ /tok-indexer|tok-dashboard|tok-wrong/,
       "token: in no line of " . ($f =~ m{([^/]+)$})[0]);
}

# --- auth_request ------------------------------------------------------------

$before = upstream_count();
$res = MiTest::http($auth_port, 'GET', "$P/scene-summary",
                    headers => [['Authorization', 'Bearer good']]);
is($res->{status}, 200, 'auth_request: allowed, caller indexer: signed');
$up = ($t->mock_requests($mock))[-1];
ok($up->{verified} && !exists $up->{h}{authorization},
   'auth_request: verified, no Authorization forwarded');
is_code(MiTest::http($auth_port, 'GET', "$P/scene-summary",
                     headers => [['Authorization', 'Bearer bad']]),
        403, 'FORBIDDEN', 'auth_request: denied by the service');
is_code(MiTest::http($auth_port, 'GET', "/down$P/scene-summary",
                     headers => [['Authorization', 'Bearer good']]),
        500, 'INTERNAL_ERROR', 'auth_request: the service down');
is(upstream_count(), $before + 1, 'auth_request: only the allowed reached it');

# --- limit_req keyed by the caller ------------------------------------------

is(tls_get($ngx->{port}, 'indexer', "/limited$P/scene-summary")->{status},
   200, 'limit by CN: indexer\'s first');
is_code(tls_get($ngx->{port}, 'indexer', "/limited$P/scene-summary"), 429,
        'RATE_LIMITED', 'limit by CN: indexer\'s second, over its rate');
is(tls_get($ngx->{port}, 'dashboard', "/limited$P/scene-summary/status")
   ->{status}, 200, 'limit by CN: dashboard has a limit of its own');

my @ind = (headers => [['Authorization', 'Bearer tok-indexer-5f1c2a']]);
my @dash = (headers => [['Authorization', 'Bearer tok-dashboard-9b7e']]);
is(MiTest::http($tp, 'GET', "/limited$P/scene-summary", @ind)->{status}, 200,
   'limit by token: indexer\'s first');
is_code(MiTest::http($tp, 'GET', "/limited$P/scene-summary", @ind), 429,
        'RATE_LIMITED', 'limit by token: indexer\'s second');
is(MiTest::http($tp, 'GET', "/limited$P/scene-summary/status", @dash)
   ->{status}, 200, 'limit by token: dashboard has a limit of its own');

$t->stop_all;
$t->check_logs($file);

done_testing;
