#!/usr/bin/perl
# Validation of routes, methods and path parameters: only the eight
# scene-summary routes pass; everything else gets a JSON error and never
# reaches the upstream.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('v.secret');
my $signing = MiTest::signing($file);
my $up = "127.0.0.1:$mock->{port}";
my $vlog = "$t->{dir}/validate.log";

my $ngx = $t->start_nginx(<<"EOF");
    log_format v '\$request_method \$request_uri route=\$mi_route '
                 'error=\$mi_error_code status=\$status';

    server {
        listen 127.0.0.1:%%PORT%%;
        access_log $vlog v;

        $signing

        location / {
            proxy_pass http://$up;
        }

        location /strip/ {
            rewrite ^/strip(/.*)\$ \$1 break;
            proxy_pass http://$up;
        }

        location /custom/ {
            mi_param workspace_name '[A-Za-z0-9_]{1,100}';
            mi_param project_id '^p[0-9]+\$';
            rewrite ^/custom(/.*)\$ \$1 break;
            proxy_pass http://$up;
        }

        location /generic/ {
            mi_validate off;
            proxy_pass http://$up;
        }
    }
EOF

my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';

my %json = (headers => [['Content-Type', 'application/json']]);

sub ok_req {
    my ($name, $method, $target, %opt) = @_;
    $t->accepted($port, $mock, $name, [$method, $target, %opt],
                 target => $opt{expect_target} // $target,
                 (exists $opt{body} ? (body => $opt{body}) : ()));
}

sub bad_req {
    my ($name, $method, $target, %want) = @_;
    my $opt = delete $want{opt} // {};
    $t->rejected($port, $mock, $name, [$method, $target, %$opt], %want);
}

# --- the eight routes, accepted
ok_req('index.request, no body', 'POST', "$P/indexes/1001/scene-summaries");
ok_req('index.request, a body', 'POST', "$P/indexes/1001/scene-summaries",
       body => '{"sceneIds":[1,2]}', %json);
ok_req('index.result', 'GET', "$P/indexes/1001/scene-summaries");
ok_req('index.status', 'GET', "$P/indexes/1001/scene-summaries/101/status");
ok_req('index.cancel', 'DELETE', "$P/indexes/1001/scene-summaries/101");
ok_req('asset.request, Content-Length: 0', 'POST', "$P/scene-summary",
       body => '');
ok_req('asset.request, a body', 'POST', "$P/scene-summary",
       body => '{"locale":"ko"}', %json);
ok_req('asset.result', 'GET', "$P/scene-summary");
ok_req('asset.status', 'GET', "$P/scene-summary/status");
ok_req('asset.cancel', 'POST', "$P/scene-summary/cancel");

# queries are allowed and signed as sent; escapes are judged decoded
ok_req('a query string', 'GET', "$P/scene-summary?lang=ko&x=%20y");
ok_req('an empty query', 'GET', "$P/scene-summary/status?");
ok_req('a percent-encoded literal', 'GET',
       '/api/v1/work%73paces/my-ws/projects/1/assets/2/scene-summary');
ok_req('a percent-encoded parameter', 'GET',
       '/api/v1/workspaces/my%2Dws/projects/%31/assets/2/scene-summary');
ok_req('largest ids', 'GET', '/api/v1/workspaces/' . ('w' x 63)
       . '/projects/9223372036854775807/assets/1234567890123456789'
       . '/indexes/1/scene-summaries/999/status');
ok_req('rewrite: the rewritten target is validated and signed', 'GET',
       "/strip$P/scene-summary", expect_target => "$P/scene-summary");

# --- unknown paths: 404
for my $case (
    ['trailing slash', "$P/scene-summary/"],
    ['extra segment', "$P/scene-summary/status/more"],
    ['missing segment', '/api/v1/workspaces/my-ws/projects/1/scene-summary'],
    ['api version', '/api/v2/workspaces/my-ws/projects/1/assets/2/scene-summary'],
    ['double slash', '/api/v1/workspaces/my-ws/projects/1/assets/2//scene-summary'],
    ['dot segment', "$P/./scene-summary"],
    ['root', '/'],
    ['another API', '/api/v1/workspaces/my-ws/projects/1/assets/2/indexes'],
    ['case of a literal', "$P/Scene-Summary"],
    ['rewritten to nothing known', '/strip/other'],
) {
    bad_req("404 $case->[0]", 'GET', $case->[1], status => 404,
            code => 'ROUTE_NOT_FOUND',
            message => qr/^no scene-summary route matches "/);
}

bad_req('404 names the path', 'GET', '/strip/x%20y?q=1', status => 404,
        code => 'ROUTE_NOT_FOUND',
        message => qr{^no scene-summary route matches "/x%20y"$});

# --- known paths, wrong method: 405 with Allow
for my $case (
    ['PUT', "$P/scene-summary", 'GET, POST'],
    ['DELETE', "$P/scene-summary", 'GET, POST'],
    ['GET', "$P/scene-summary/cancel", 'POST'],
    ['POST', "$P/scene-summary/status", 'GET'],
    ['HEAD', "$P/scene-summary/status", 'GET'],
    ['PATCH', "$P/indexes/1/scene-summaries", 'GET, POST'],
    ['GET', "$P/indexes/1/scene-summaries/2", 'DELETE'],
    ['DELETE', "$P/indexes/1/scene-summaries/2/status", 'GET'],
) {
    my ($m, $path, $allow) = @$case;
    bad_req("405 $m $path", $m, $path, status => 405,
            code => 'METHOD_NOT_ALLOWED', allow => $allow, head => $m eq 'HEAD',
            message => qr/^method $m is not allowed here; allowed: \Q$allow\E$/);
}

# --- parameters failing their pattern: 400 naming the parameter
my $W = '/api/v1/workspaces';
for my $case (
    ['workspace_name', "$W/My-WS/projects/1/assets/2/scene-summary", 'My-WS'],
    ['workspace_name', "$W/ab/projects/1/assets/2/scene-summary", 'ab'],
    ['workspace_name', "$W/" . ('w' x 64) . '/projects/1/assets/2/scene-summary',
     'w' x 64],
    ['workspace_name', "$W/my_ws/projects/1/assets/2/scene-summary", 'my_ws'],
    ['workspace_name', "$W/my-ws%0A/projects/1/assets/2/scene-summary",
     'my-ws%0A'],
    ['workspace_name', "$W/my%20ws/projects/1/assets/2/scene-summary",
     'my%20ws'],
    ['project_id', "$W/my-ws/projects/0/assets/2/scene-summary", '0'],
    ['project_id', "$W/my-ws/projects/01/assets/2/scene-summary", '01'],
    ['project_id', "$W/my-ws/projects/12a/assets/2/scene-summary", '12a'],
    ['project_id', "$W/my-ws/projects/12345678901234567890/assets/2/scene-summary",
     '12345678901234567890'],
    ['asset_id', "$W/my-ws/projects/1/assets/-5/scene-summary", '-5'],
    ['index_id', "$W/my-ws/projects/1/assets/2/indexes/1.5/scene-summaries",
     '1.5'],
    ['scene_summary_id',
     "$W/my-ws/projects/1/assets/2/indexes/1/scene-summaries/x/status", 'x'],
) {
    my ($param, $path, $value) = @$case;
    my $method = $path =~ m{/scene-summaries/[^/]+/status$} ? 'GET' : 'GET';
    bad_req("400 $param \"$value\"", $method, $path, status => 400,
            code => 'INVALID_PATH_PARAMETER',
            message => qr/^$param: "\Q$value\E" does not match \^/);
}

# (a malformed escape such as "1%zz" never gets here: nginx's own parser
# refuses it with a 400; t/unit/test_mi_route.c covers it)

bad_req('400 raw non-ASCII bytes are shown as ?', 'GET',
        "$W/caf\xc3\xa9/projects/1/assets/2/scene-summary", status => 400,
        code => 'INVALID_PATH_PARAMETER',
        message => qr/^workspace_name: "caf\?\?" does not match/);

# --- mi_param overrides one parameter; the others keep their defaults
ok_req('mi_param: an unanchored custom pattern', 'GET',
       '/custom/api/v1/workspaces/My_WS/projects/p12/assets/2/scene-summary',
       expect_target => '/api/v1/workspaces/My_WS/projects/p12/assets/2/scene-summary');
bad_req('mi_param: the whole value must match', 'GET',
        '/custom/api/v1/workspaces/My-WS/projects/p12/assets/2/scene-summary',
        status => 400, code => 'INVALID_PATH_PARAMETER',
        message => qr/^workspace_name: "My-WS" does not match \[A-Za-z0-9_\]\{1,100\}$/);
bad_req('mi_param: custom pattern named in the message', 'GET',
        '/custom/api/v1/workspaces/ws/projects/12/assets/2/scene-summary',
        status => 400, code => 'INVALID_PATH_PARAMETER',
        message => qr/^project_id: "12" does not match \^p\[0-9\]\+\$$/);
bad_req('mi_param: other parameters keep the default', 'GET',
        '/custom/api/v1/workspaces/ws/projects/p1/assets/0/scene-summary',
        status => 400, code => 'INVALID_PATH_PARAMETER',
        message => qr/^asset_id: "0" does not match/);

# --- routes without a body refuse one
bad_req('a body on GET', 'GET', "$P/scene-summary",
        opt => { body => '{}', %json }, status => 400, code => 'INVALID_BODY',
        message => qr/^asset\.result takes no request body \(Content-Length: 2\)$/);
bad_req('a body on DELETE', 'DELETE', "$P/indexes/1/scene-summaries/2",
        opt => { body => 'x' }, status => 400, code => 'INVALID_BODY',
        message => qr/^index\.cancel takes no request body/);
bad_req('a body on asset.cancel', 'POST', "$P/scene-summary/cancel",
        opt => { body => '{}', %json }, status => 400, code => 'INVALID_BODY',
        message => qr/^asset\.cancel takes no request body/);

my $chunked_head = "GET $P/scene-summary/status HTTP/1.1\r\nHost: x\r\n"
    . "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
$t->rejected($port, $mock, 'a chunked body on GET',
             $chunked_head . "2\r\n{}\r\n0\r\n\r\n", status => 400,
             code => 'INVALID_BODY',
             message => qr/^asset\.status takes no request body \(got 2 bytes\)$/);
$t->accepted($port, $mock, 'an empty chunked body on GET',
             $chunked_head . "0\r\n\r\n", target => "$P/scene-summary/status");

# --- mi_validate off: anything is signed and forwarded, route "generic"
ok_req('mi_validate off', 'PUT', '/generic/anything?x', body => 'not json');

# --- keepalive: a rejected request does not break the connection
my @res = MiTest::http_raw($port,
    "PUT $P/scene-summary HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    . "GET $P/scene-summary HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
is(scalar @res, 2, 'keepalive: two responses on one connection');
is($res[0]{status}, 405, 'keepalive: first refused');
is($res[1]{status}, 200, 'keepalive: second forwarded');

# --- $mi_route and $mi_error_code
$t->stop_all;
my $log = MiTest::read_file($vlog);
like($log, qr{^POST \Q$P\E/indexes/1001/scene-summaries route=index\.request error=- status=200$}m,
     'log: index.request');
like($log, qr{^DELETE \Q$P\E/indexes/1001/scene-summaries/101 route=index\.cancel error=- status=200$}m,
     'log: index.cancel');
like($log, qr{^GET \Q$P\E/scene-summary/status route=asset\.status error=- status=200$}m,
     'log: asset.status');
like($log, qr{^GET / route=none error=ROUTE_NOT_FOUND status=404$}m,
     'log: no route, ROUTE_NOT_FOUND') or diag($log);
like($log, qr{^PUT \Q$P\E/scene-summary route=none error=METHOD_NOT_ALLOWED status=405$}m,
     'log: METHOD_NOT_ALLOWED');
like($log, qr{^GET \S+/projects/0/\S+ route=asset\.result error=INVALID_PATH_PARAMETER status=400$}m,
     'log: the route is known when a parameter fails');
like($log, qr{^PUT /generic/anything\?x route=generic error=- status=200$}m,
     'log: generic with mi_validate off');

$t->check_logs($file);

done_testing;
