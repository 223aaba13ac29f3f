#!/usr/bin/perl
# "Expect: 100-continue": a request refused before its body is read gets
# its JSON error at once, without "100 Continue" first, so the client never
# uploads the body; a request whose body has to be read is invited to send
# it, as before.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('x.secret');
my $signing = MiTest::signing($file);

my $ngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        $signing
        client_max_body_size 1k;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /denied/ {
            deny all;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $body = '{"sceneIds":[1,2,3]}';

# Sends the request head with "Expect: 100-continue" and no body; returns
# the socket, its read buffer and the first response that arrives.
sub expect_head {
    my ($method, $target, @headers) = @_;
    my $s = MiTest::connect_to($ngx->{port});

    print {$s} "$method $target HTTP/1.1\r\nHost: x\r\n"
        . "Expect: 100-continue\r\n"
        . join('', map { "$_->[0]: $_->[1]\r\n" } @headers) . "\r\n";

    my $buf = '';
    return ($s, \$buf, MiTest::parse_response($s, \$buf));
}

sub refused_at_once {
    my ($name, $method, $target, $status, $code, @headers) = @_;
    my $before = scalar $t->mock_requests($mock);
    my ($s, $buf, $r) = expect_head($method, $target, @headers);

    subtest "$name: the error, no 100 Continue" => sub {
        isnt($r->{status}, 100, 'no 100 Continue')
            or $r = MiTest::parse_response($s, $buf);
        is($r->{status}, $status, "status $status, the body not sent");
        is(eval { MiTest::json_body($r)->{code} }, $code, "code $code");
        is(scalar $t->mock_requests($mock), $before,
           'nothing reached the upstream');
    };

    close $s;
}

my @json = (['Content-Type', 'application/json'],
            ['Content-Length', length $body]);

refused_at_once('unknown route', 'POST', "$P/scene-summaries", 404,
                'ROUTE_NOT_FOUND', @json);
refused_at_once('wrong method', 'PUT', "$P/scene-summary", 405,
                'METHOD_NOT_ALLOWED', @json);
refused_at_once('bad path parameter', 'POST', '/api/v1/workspaces/X/projects/1/assets/2/scene-summary',
                400, 'INVALID_PATH_PARAMETER', @json);
refused_at_once('not JSON', 'POST', "$P/scene-summary", 415,
                'UNSUPPORTED_MEDIA_TYPE', ['Content-Type', 'text/plain'],
                ['Content-Length', length $body]);
refused_at_once('a body where the route takes none', 'POST',
                "$P/scene-summary/cancel", 400, 'INVALID_BODY', @json);
refused_at_once('Content-Length over client_max_body_size', 'POST',
                "$P/scene-summary", 413, 'BODY_TOO_LARGE',
                ['Content-Type', 'application/json'],
                ['Content-Length', 4096]);
refused_at_once('deny all', 'POST', "/denied$P/scene-summary", 403,
                'FORBIDDEN', @json);

# the body has to be read: 100 Continue, then the body, then the answer
sub continued {
    my ($name, $send, $status, @headers) = @_;
    my ($s, $buf, $r) = expect_head('POST', "$P/scene-summary", @headers);
    is($r->{status}, 100, "$name: 100 Continue");
    print {$s} $send;
    $r = MiTest::parse_response($s, $buf);
    close $s;
    is($r->{status}, $status, "$name: then $status once the body is sent");
    return $r;
}

continued('a body to check', $body, 200, @json);
my $last = ($t->mock_requests($mock))[-1];
ok($last->{verified} && $last->{body} eq $body,
   'a body to check: signed and forwarded byte for byte');

my $r = continued('a bad body', '{"sceneIds":[', 400,
                  ['Content-Type', 'application/json'],
                  ['Content-Length', 13]);
is(MiTest::json_body($r)->{code}, 'INVALID_JSON', 'a bad body: INVALID_JSON');

$t->stop_all;
$t->check_logs($file);

done_testing;
