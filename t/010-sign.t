#!/usr/bin/perl
# Signing through nginx: what the mock gateway receives for each kind of
# request, verified by the mock's own signature code (Digest::SHA).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;
use MiTest;

my $t = MiTest->new;

my $secret_a = $t->new_secret;
my $secret_b = $t->new_secret;
my $file_a = $t->write_file('a.secret', "$secret_a\n");
my $file_b = $t->write_file('b.secret', "  $secret_b \r\n\n");

my $mock = $t->start_mock(AK_A => $secret_a, AK_B => $secret_b);
my $up = "127.0.0.1:$mock->{port}";

my $ngx = $t->start_nginx(<<"EOF");
    log_format mi '\$request_uri ts=\$mi_timestamp';

    upstream mi_keepalive {
        server $up;
        keepalive 4;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        access_log $t->{dir}/ts.log mi;

        client_body_buffer_size 1k;
        client_max_body_size 10m;

        mi_access_key AK_A;
        mi_secret_key_file $file_a;
        mi_validate off;    # a generic signing gateway: any path

        location / {
            mi_sign on;
            proxy_pass http://$up;
        }

        location /b/ {
            mi_sign on;
            mi_access_key AK_B;
            mi_secret_key_file $file_b;
            proxy_pass http://$up;
        }

        location /strip/ {
            mi_sign on;
            rewrite ^/strip(/.*)\$ \$1 break;
            proxy_pass http://$up;
        }

        location /ka/ {
            mi_sign on;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://mi_keepalive;
        }

        location /stream/ {
            mi_sign on;
            proxy_http_version 1.1;
            proxy_request_buffering off;
            proxy_pass http://$up;
        }

        location /plain/ {
            proxy_pass http://$up;
        }
    }
EOF

my $port = $ngx->{port};
my $seen = 0;

# The requests the mock received since the last call.
sub received {
    my @all = $t->mock_requests($mock);
    my @new = @all[$seen .. $#all];
    $seen = @all;
    return @new;
}

# Checks the one request the mock got since the last call.
sub upstream_got {
    my ($name, %want) = @_;
    my @r = received();

    is(scalar @r, 1, "$name: upstream got one request") or return;
    my $r = $r[0];

    ok($r->{verified}, "$name: signature verified by the mock")
        or diag("mock: $r->{error}");
    is($r->{target}, $want{target}, "$name: request-target as sent")
        if exists $want{target};
    is($r->{method}, $want{method}, "$name: method") if $want{method};
    is($r->{h}{'x-ncp-iam-access-key'}[0], $want{ak} // 'AK_A',
       "$name: access key");
    if (exists $want{body}) {
        is(length $r->{body}, length $want{body}, "$name: body length");
        is(sha256_hex($r->{body}), sha256_hex($want{body}),
           "$name: body byte for byte");
    }

    return $r;
}

# POST with a JSON body
my $path = '/api/v1/workspaces/my-ws/projects/1234/assets/5678/scene-summary';
my $body = '{"sceneIds":[1,2,3],"locale":null}';
my $res = MiTest::http($port, 'POST', $path, body => $body,
                       headers => [['Content-Type', 'application/json']]);
is($res->{status}, 200, 'POST: 200 from the mock');
upstream_got('POST', method => 'POST', target => $path, body => $body);

# GET with a query string, no client Content-Type: one is added
$res = MiTest::http($port, 'GET', "$path?lang=ko&x=1");
is($res->{status}, 200, 'GET query: 200');
my $r = upstream_got('GET query', method => 'GET', target => "$path?lang=ko&x=1");
is_deeply($r->{h}{'content-type'}, ['application/json'],
          'GET: Content-Type application/json added');

# targets signed exactly as sent
for my $target (@MiTest::TARGETS) {
    $res = MiTest::http($port, 'GET', $target);
    is($res->{status}, 200, "target $target: 200");
    upstream_got("target $target", target => $target);
}

# Client-forged x-ncp-* and credentials are removed, ours added once each
$res = MiTest::http($port, 'GET', '/forged', headers => [
    ['X-NCP-APIGW-TIMESTAMP', '1'],
    ['x-ncp-iam-access-key', 'EVIL'],
    ['X-Ncp-Apigw-Signature-V2', 'forged='],
    ['x-ncp-something-else', 'x'],
    ['Authorization', 'Bearer internal-token'],
    ['Proxy-Authorization', 'Basic Zm9vOmJhcg=='],
    ['Cookie', 'session=internal'],
    ['X-Keep', 'kept'],
    ['Cookie', 'second=1'],
    ['User-Agent', 'mi-test'],
]);
is($res->{status}, 200, 'forged headers: 200');
$r = upstream_got('forged headers', target => '/forged');
is(scalar @{ $r->{h}{$_} // [] }, 1, "forged headers: one $_")
    for qw(x-ncp-apigw-timestamp x-ncp-iam-access-key
           x-ncp-apigw-signature-v2);
ok(!exists $r->{h}{$_}, "forged headers: $_ removed")
    for ('x-ncp-something-else', 'authorization', 'proxy-authorization',
         'cookie');
is_deeply($r->{h}{'x-keep'}, ['kept'], 'forged headers: other headers kept');
is_deeply($r->{h}{'user-agent'}, ['mi-test'], 'forged headers: User-Agent kept');

# Only forged headers (all of them first and last in the list)
$res = MiTest::http_raw($port, "GET /only HTTP/1.1\r\n"
    . "x-ncp-a: 1\r\nHost: localhost\r\nx-ncp-b: 2\r\nConnection: close\r\n"
    . "Cookie: c=1\r\n\r\n");
is($res->{status}, 200, 'forged first and last: 200');
$r = upstream_got('forged first and last', target => '/only');
ok(!exists $r->{h}{'x-ncp-a'} && !exists $r->{h}{'x-ncp-b'},
   'forged first and last: removed');
is_deeply($r->{h}{host}, ["$up"], 'forged first and last: Host as proxy sets it');

# Many headers (several list parts) with forged ones spread among them
my @many = map { ["X-Filler-$_", "v$_"] } 1 .. 40;
splice @many, $_, 0, ['x-ncp-apigw-signature-v2', "bad$_"] for (0, 7, 20, 33);
$res = MiTest::http($port, 'GET', '/many', headers => \@many);
is($res->{status}, 200, 'many headers: 200');
$r = upstream_got('many headers', target => '/many');
is(scalar(grep { /^x-filler-/ } keys %{ $r->{h} }), 40,
   'many headers: all 40 others kept');
is(scalar @{ $r->{h}{'x-ncp-apigw-signature-v2'} }, 1,
   'many headers: one signature');

# Two locations, two credentials
$res = MiTest::http($port, 'GET', '/b/thing?x=1');
is($res->{status}, 200, 'second key: 200');
upstream_got('second key', target => '/b/thing?x=1', ak => 'AK_B');

# A prefix stripped by rewrite ... break: the rewritten URI is signed
$res = MiTest::http($port, 'GET', "/strip$path?a=%20b");
is($res->{status}, 200, 'rewrite break: 200');
upstream_got('rewrite break', target => "$path?a=%20b");

$res = MiTest::http($port, 'GET', '/strip/x%20y/%C3%A9');
is($res->{status}, 200, 'rewrite break, escaped path: 200');
upstream_got('rewrite break, escaped path', target => '/x%20y/%C3%A9');

# HTTP/1.0 client
$res = MiTest::http($port, 'GET', '/ten?v=1.0', version => 'HTTP/1.0');
is($res->{status}, 200, 'HTTP/1.0: 200');
upstream_got('HTTP/1.0', target => '/ten?v=1.0');

# Keepalive client: three requests on one connection, and a keepalive
# upstream; each is signed on its own
my @res = MiTest::http_raw($port, join('', map {
    "GET /ka/$_ HTTP/1.1\r\nHost: localhost\r\n\r\n" } 1 .. 3)
    . "GET /ka/4 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
is(scalar @res, 4, 'keepalive: four responses on one connection');
is(scalar(grep { $_->{status} == 200 } @res), 4, 'keepalive: all 200');
my @got = received();
is(scalar @got, 4, 'keepalive: upstream got four');
is(scalar(grep { $_->{verified} } @got), 4, 'keepalive: all four verified');
is_deeply([map { $_->{target} } @got], [map { "/ka/$_" } 1 .. 4],
          'keepalive: targets');
my %upids = map { $_->{pid} => 1 } @got;
is(scalar keys %upids, 1, 'keepalive: one upstream connection reused');

# Chunked request body, buffered by nginx
my $chunked_body = 'x' x 3000 . '{"end":true}';
my $raw = "POST /chunked HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    . "Transfer-Encoding: chunked\r\n\r\n";
$raw .= sprintf("%x\r\n%s\r\n", length $_, $_)
    for unpack('(a1000)*', $chunked_body);
$raw .= "0\r\n\r\n";
$res = MiTest::http_raw($port, $raw);
is($res->{status}, 200, 'chunked: 200');
upstream_got('chunked', target => '/chunked', body => $chunked_body);

# Chunked and streamed upstream as it arrives (proxy_request_buffering off)
$res = MiTest::http_raw($port, [
    "POST /stream/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    . "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    "6\r\n world\r\n0\r\n\r\n"], pause => 0.2);
is($res->{status}, 200, 'streamed chunked: 200');
upstream_got('streamed chunked', target => '/stream/x',
             body => 'hello world');

# A 50 KB body that nginx writes to a temporary file
my $big = join '', map { chr(($_ * 7) % 256) } 1 .. 50_000;
$res = MiTest::http($port, 'PUT', '/big?x', body => $big,
                    headers => [['Content-Type', 'application/octet-stream']]);
is($res->{status}, 200, 'temp file body: 200');
$r = upstream_got('temp file body', method => 'PUT', target => '/big?x',
                  body => $big);
like(MiTest::read_file($ngx->{error_log}),
     qr/a client request body is buffered to a temporary file/,
     'temp file body: nginx did buffer it to a file');

# DELETE and an unusual method
for my $m ('DELETE', 'PATCH') {
    $res = MiTest::http($port, $m, "/m/$m");
    is($res->{status}, 200, "$m: 200");
    upstream_got($m, method => $m, target => "/m/$m");
}

# mi_sign off: nothing added, nothing removed
$res = MiTest::http($port, 'GET', '/plain/x', headers => [['Cookie', 'c=1']]);
is($res->{status}, 401, 'unsigned location: the gateway refuses it');
$r = (received())[0];
ok(!exists $r->{h}{'x-ncp-apigw-signature-v2'}, 'unsigned: no signature');
is_deeply($r->{h}{cookie}, ['c=1'], 'unsigned: headers untouched');

# $mi_timestamp is the timestamp that was sent
$res = MiTest::http($port, 'GET', '/ts-check');
$r = upstream_got('timestamp', target => '/ts-check');
my $log = MiTest::read_file("$t->{dir}/ts.log");
my ($logged) = $log =~ m{^/ts-check ts=(\S+)$}m;
is($logged, $r->{h}{'x-ncp-apigw-timestamp'}[0],
   '$mi_timestamp equals the header sent');
like($logged, qr/^\d{13}$/, '$mi_timestamp is epoch milliseconds');
ok(abs($logged - int(Time::HiRes::time() * 1000)) < 60_000,
   '$mi_timestamp is near now');
like($log, qr{^/plain/x ts=-$}m, '$mi_timestamp empty where not signed');

$t->stop_all;
$t->check_logs($file_a, $file_b);

done_testing;
