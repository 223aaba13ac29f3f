#!/usr/bin/perl
# Every error nginx itself answers in a signing location is the module's
# JSON, over HTTP/1.1 and HTTP/2, each produced for real: an upstream that
# refuses, resets, closes, hangs past proxy_read_timeout or sends oversized
# headers; limit_req; deny; auth_basic; a malformed request line, header
# or body.  Client timeouts get no answer at all.  An operator's
# error_page still wins, and the upstream's own errors pass through
# unchanged.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use MiTest;
use MiH2Raw;

MiTest::require_http2(curl => 1);

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('e.secret');
my $signing = MiTest::signing($file);
my $up = "127.0.0.1:$mock->{port}";
my $closed = '127.0.0.1:' . MiTest::free_port();   # nothing listens there
my $h2port = MiTest::free_port();
my $www = "$t->{dir}/www";

mkdir $www;
mkdir "$www/errors";
mkdir "$www/static";
my $page = qq({"operator":"page"}\n);
$t->write_file("$www/errors/502.json", $page, 0644);
$t->write_file("$www/static/page.json", "{}\n", 0644);
my $htpasswd = $t->write_file('htpasswd', "user:{PLAIN}pass\n", 0644);

my $ngx = $t->start_nginx(<<"EOF");
    log_format errors '\$status \$mi_error_code';
    limit_req_zone \$binary_remote_addr zone=default_status:1m rate=1r/m;
    limit_req_zone \$binary_remote_addr zone=status_429:1m rate=1r/m;

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2port http2;

        access_log $t->{dir}/errors.log errors;

        $signing

        client_max_body_size 100;
        client_body_timeout 1s;
        large_client_header_buffers 2 1k;

        location / {
            proxy_pass http://$up;
        }

        location /down/ {
            mi_validate off;
            proxy_pass http://$closed;
        }

        location /slow/ {
            mi_validate off;
            proxy_read_timeout 500ms;
            proxy_pass http://$up;
        }

        location /denied/ {
            deny all;
            proxy_pass http://$up;
        }

        location /basic/ {
            mi_validate off;
            auth_basic "gateway";
            auth_basic_user_file $htpasswd;
            proxy_pass http://$up;
        }

        # no "burst": none, every request after the first is rejected
        location /limited/ {
            mi_validate off;
            limit_req zone=default_status;
            proxy_pass http://$up;
        }

        location /limited-429/ {
            mi_validate off;
            limit_req zone=status_429;
            limit_req_status 429;
            proxy_pass http://$up;
        }

        location /maintenance/ {
            return 503;
        }

        location /static/ {
            mi_validate off;
            root $www;
        }

        location /auth/ {
            auth_request /signed-auth;
            proxy_pass http://$up;
        }

        location = /signed-auth {
            internal;
            mi_validate off;
            proxy_pass http://$up;
        }

        location /custom/ {
            mi_validate off;
            error_page 502 /errors/502.json;
            proxy_pass http://$closed;
        }

        location /errors/ {
            mi_sign off;
            root $www;
        }

        location /other-page/ {
            mi_validate off;
            error_page 404 /errors/404.json;
            proxy_pass http://$closed;
        }

        location /fallback/ {
            mi_validate off;
            error_page 502 \@fallback;
            proxy_pass http://$closed;
        }

        location \@fallback {
            mi_validate off;
            proxy_pass http://$up;
        }
    }
EOF

my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $ASSET = "$P/scene-summary";
my $STATUS = "$P/scene-summary/status";

# The same request over HTTP/1.1 and HTTP/2; headers are [name, value].
sub both {
    my ($name, $method, $target, %opt) = @_;
    my %want = %{ $opt{want} };
    my @h = @{ $opt{headers} // [] };
    my %req = (headers => \@h, defined $opt{body} ? (body => $opt{body}) : ());

    my $res = MiTest::http($port, $method, $target, %req);
    subtest "$name, HTTP/1.1" => sub { MiTest::is_json_error($res, %want) };

    my $r2 = defined $opt{body}
        ? MiTest::h2_early($h2port, $method, $target, %req)
        : $t->h2($h2port, $method, $target,
                 headers => [map { "$_->[0]: $_->[1]" } @h]);
    subtest "$name, HTTP/2" => sub {
        is($r2->{version}, '2', 'HTTP/2 was spoken');
        MiTest::is_json_error($r2, %want);
    };
}

# A request only HTTP/1.x can make (raw bytes).
sub h1_raw {
    my ($name, $raw, %want) = @_;
    my $res = MiTest::http_raw($port, $raw);
    subtest "$name, HTTP/1.x" => sub { MiTest::is_json_error($res, %want) };
}

# --- 400
h1_raw('malformed chunked body',
       "POST $ASSET HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
       . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
       . "\r\nzz\r\n\r\n",
       status => 400, code => 'BAD_REQUEST');
h1_raw('HTTP/1.0 with Transfer-Encoding',
       "POST $ASSET HTTP/1.0\r\nContent-Type: application/json\r\n"
       . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       status => 400, code => 'BAD_REQUEST');
{
    my $r2 = $t->h2($h2port, 'GET', $STATUS, headers => ['Host: ..']);
    subtest 'an invalid Host, HTTP/2' => sub {
        MiTest::is_json_error($r2, status => 400, code => 'BAD_REQUEST');
    };
    $r2 = MiTest::h2_early($h2port, 'POST', $ASSET, body => '{"sceneIds":[1]}',
                           headers => [['Content-Type', 'application/json'],
                                       ['Content-Length', 2]]);
    subtest 'more body than Content-Length, HTTP/2' => sub {
        MiTest::is_json_error($r2, status => 400, code => 'BAD_REQUEST');
    };
}

# --- 401, 403, 404, 405
{
    my $res = MiTest::http($port, 'GET', '/basic/x');
    subtest 'auth_basic without credentials, HTTP/1.1' => sub {
        MiTest::is_json_error($res, status => 401, code => 'UNAUTHORIZED');
        is($res->{h}{'www-authenticate'}, 'Basic realm="gateway"',
           'WWW-Authenticate kept');
    };
    my $r2 = $t->h2($h2port, 'GET', '/basic/x');
    subtest 'auth_basic without credentials, HTTP/2' => sub {
        MiTest::is_json_error($r2, status => 401, code => 'UNAUTHORIZED');
    };
}
both('deny all', 'GET', '/denied/x',
     want => { status => 403, code => 'FORBIDDEN' });
both('no such file', 'GET', '/static/missing.json',
     want => { status => 404, code => 'NOT_FOUND' });
both('POST to a static file', 'POST', '/static/page.json', body => '{}',
     want => { status => 405, code => 'METHOD_NOT_ALLOWED',
               message => qr/^method not allowed$/ });
both('TRACE', 'TRACE', $STATUS,
     want => { status => 405, code => 'METHOD_NOT_ALLOWED' });

# --- 413, 414, 494, 501
both('Content-Length over client_max_body_size', 'POST', $ASSET,
     headers => [['Content-Type', 'application/json']],
     body => '{"sceneIds":[' . join(',', 1 .. 60) . ']}',
     want => { status => 413, code => 'BODY_TOO_LARGE',
               message => qr/\(100 bytes\)$/ });
h1_raw('request line over large_client_header_buffers',
       'GET /' . ('a' x 3000) . " HTTP/1.1\r\nHost: x\r\n\r\n",
       status => 414, code => 'URI_TOO_LONG');
h1_raw('header over large_client_header_buffers (494)',
       "GET $STATUS HTTP/1.1\r\nHost: x\r\nX-Big: " . ('a' x 3000)
       . "\r\n\r\n",
       status => 400, code => 'HEADERS_TOO_LARGE');
h1_raw('unknown Transfer-Encoding',
       "POST $ASSET HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
       . "Transfer-Encoding: gzip\r\n\r\n",
       status => 501, code => 'NOT_IMPLEMENTED');

# HTTP/2 has no response for these: nginx ends the connection (GOAWAY)
for my $c (['a :path over large_client_header_buffers',
            '/' . ('a' x 3000), []],
           ['a header over large_client_header_buffers',
            $STATUS, ['X-Big: ' . ('a' x 3000)]])
{
    my $r2 = $t->h2($h2port, 'GET', $c->[1], headers => $c->[2]);
    is($r2->{status}, 0, "$c->[0], HTTP/2: no response, the connection "
                         . "is closed (curl exit $r2->{exit})");
}

# --- 408: nginx answers no client timeout; it closes the connection
{
    my $s = MiTest::connect_to($port);
    print {$s} "POST $ASSET HTTP/1.1\r\nHost: x\r\n"
        . "Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{";
    my $start = time;
    my $buf = '';
    1 while MiTest::read_more($s, \$buf);
    my $took = time - $start;
    is($buf, '', 'body timeout, HTTP/1.1: the connection is closed, '
                 . 'nothing sent');
    ok($took >= 0.9 && $took < 5,
       sprintf('... after client_body_timeout (%.2f s)', $took));

    my $h2 = MiH2Raw->new($h2port);
    my $id = $h2->request('POST', $ASSET, end => 0,
                          headers => [['content-type', 'application/json'],
                                      ['content-length', 50]]);
    $h2->pump(sub { $_[0]->stream($id)->{ended} }, 5);
    my $st = $h2->stream($id);
    ok($st->{ended} && !defined $st->{status} && defined $st->{reset},
       'body timeout, HTTP/2: the stream is reset, no response');
    $h2->close;
}

# --- 429, 503 (limit_req), 503 (return)
is(MiTest::http($port, 'GET', '/limited/x')->{status}, 200,
   'limit_req: the first request passes');
both('limit_req, default limit_req_status', 'GET', '/limited/x',
     want => { status => 503, code => 'RATE_LIMITED' });
is(MiTest::http($port, 'GET', '/limited-429/x')->{status}, 200,
   'limit_req 429: the first request passes');
both('limit_req, limit_req_status 429', 'GET', '/limited-429/x',
     want => { status => 429, code => 'RATE_LIMITED' });
both('return 503', 'GET', '/maintenance/x',
     want => { status => 503, code => 'SERVICE_UNAVAILABLE' });

# --- 500: a subrequest into a signing location is refused
both('auth_request into a signing location', 'GET', '/auth/x',
     want => { status => 500, code => 'INTERNAL_ERROR' });

# --- 502, 504: the upstream
my $before = scalar $t->mock_requests($mock);
both('upstream refuses the connection', 'GET', '/down/x',
     want => { status => 502, code => 'UPSTREAM_UNAVAILABLE' });
both('upstream resets the connection', 'GET', $STATUS,
     headers => [['X-Mock', 'reset']],
     want => { status => 502, code => 'UPSTREAM_UNAVAILABLE' });
both('upstream closes without an answer', 'GET', $STATUS,
     headers => [['X-Mock', 'close']],
     want => { status => 502, code => 'UPSTREAM_UNAVAILABLE' });
both('upstream sends a 64 KiB header', 'GET', $STATUS,
     headers => [['X-Mock', 'big-header']],
     want => { status => 502, code => 'UPSTREAM_UNAVAILABLE' });
is(scalar $t->mock_requests($mock), $before + 6,
   'each of those reached the mock (once)');

my $start = time;
both('upstream hangs past proxy_read_timeout', 'GET', '/slow/x',
     headers => [['X-Mock', 'hang']],
     want => { status => 504, code => 'UPSTREAM_TIMEOUT' });
my $took = (time - $start) / 2;
ok($took >= 0.5 && $took < 3,
   sprintf('504 after proxy_read_timeout 500ms: %.2f s', $took));

{
    my $res = MiTest::http($port, 'HEAD', '/down/x');
    subtest 'HEAD, upstream down' => sub {
        MiTest::is_json_error($res, status => 502, head => 1);
    };
}

# --- an operator's error_page wins
{
    my $res = MiTest::http($port, 'GET', '/custom/x');
    is($res->{status}, 502, 'error_page 502 to a file: 502');
    is($res->{body}, $page, 'error_page 502 to a file: the operator\'s page');
    my $r2 = $t->h2($h2port, 'GET', '/custom/x');
    is($r2->{body}, $page, 'error_page 502 to a file, HTTP/2: the same');

    $res = MiTest::http($port, 'GET', '/fallback/x');
    is($res->{status}, 502, 'error_page 502 @fallback: 502');
    is(MiTest::json_body($res)->{code}, '0',
       'error_page 502 @fallback: the fallback upstream\'s answer');
}
both('an error_page for another status', 'GET', '/other-page/x',
     want => { status => 502, code => 'UPSTREAM_UNAVAILABLE' });

# --- the upstream's own errors pass through unchanged
for my $status (401, 403, 404, 429, 500, 502, 503, 504) {
    my $want = qq({"error":{"errorCode":"mock-$status","message":"from the mock"}});
    my $res = MiTest::http($port, 'GET', $STATUS,
                           headers => [['X-Mock', "status $status"]]);
    my $r2 = $t->h2($h2port, 'GET', $STATUS,
                    headers => ["X-Mock: status $status"]);
    subtest "the upstream's $status passes through" => sub {
        is($res->{status}, $status, 'HTTP/1.1: status');
        is($res->{body}, $want, 'HTTP/1.1: body byte for byte');
        is($r2->{status}, $status, 'HTTP/2: status');
        is($r2->{body}, $want, 'HTTP/2: body byte for byte');
    };
}

$t->stop_all;

# the access log has the code for the operator
my $codes = MiTest::read_file("$t->{dir}/errors.log");
like($codes, qr/^504 UPSTREAM_TIMEOUT$/m, 'access log: $mi_error_code');
like($codes, qr/^401 -$/m, 'access log: no code on the upstream\'s own 401');

$t->check_logs($file);

done_testing;
