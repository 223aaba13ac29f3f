#!/usr/bin/perl
# HTTP/2 clients (curl, h2c with prior knowledge): the request-target nginx
# has from :path is signed as sent, bodies pass byte for byte, and refusals
# are the same JSON.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

MiTest::require_http2(curl => 1);

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('h2.secret');
my $signing = MiTest::signing($file);

my $ngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%% http2;
        $signing
        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';

sub h2 { $t->h2($ngx->{port}, @_) }

sub upstream_last { ($t->mock_requests($mock))[-1] }

my $body = '{"sceneIds":[1,2,3]}';
my $res = h2('POST', "$P/scene-summary?q=%20x", body => $body,
             headers => ['Content-Type: application/json']);
is($res->{version}, '2', 'HTTP/2 was spoken');
is($res->{status}, 200, 'POST over HTTP/2: 200');
my $r = upstream_last();
ok($r->{verified}, 'POST over HTTP/2: signed');
is($r->{target}, "$P/scene-summary?q=%20x", 'POST over HTTP/2: target as sent');
is($r->{body}, $body, 'POST over HTTP/2: body byte for byte');

$res = h2('POST', "$P/indexes/7/scene-summaries", body => $body,
          headers => ['Content-Type: application/json',
                      'Transfer-Encoding: chunked']);
is($res->{status}, 200, 'streamed upload over HTTP/2: 200');
is(upstream_last()->{body}, $body, 'streamed upload: body byte for byte');

my $count = scalar $t->mock_requests($mock);

$res = h2('GET', "$P/scene-summary/");
is($res->{status}, 404, 'HTTP/2 unknown path: 404');
is(MiTest::json_body($res)->{code}, 'ROUTE_NOT_FOUND', 'HTTP/2: JSON code');

$res = h2('DELETE', "$P/scene-summary");
is($res->{status}, 405, 'HTTP/2 wrong method: 405');

$res = h2('POST', "$P/scene-summary", body => '{"sceneIds":[1,]}',
          headers => ['Content-Type: application/json']);
is($res->{status}, 400, 'HTTP/2 bad JSON: 400');
like(MiTest::json_body($res)->{message}, qr/ at byte 15$/,
     'HTTP/2 bad JSON: message');

is(scalar $t->mock_requests($mock), $count,
   'HTTP/2: nothing refused reached the upstream');

$t->stop_all;
$t->check_logs($file);

done_testing;
