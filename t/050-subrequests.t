#!/usr/bin/perl
# Subrequests into a signing location are refused and never reach the
# upstream (they share their parent's headers); an internal redirect into
# one is signed like any request.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('s.secret');
my $up = "127.0.0.1:$mock->{port}";

my $ngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;

        mi_access_key AK;
        mi_secret_key_file $file;
        mi_validate off;

        location /main/ {
            mi_sign on;
            mirror /mirror;
            proxy_pass http://$up;
        }

        location = /mirror {
            internal;
            mi_sign on;
            proxy_pass http://$up;
        }

        location /auth/ {
            auth_request /signed-auth;
            proxy_pass http://$up;
        }

        location = /signed-auth {
            internal;
            mi_sign on;
            proxy_pass http://$up;
        }

        location /redirect/ {
            error_page 418 = \@signed;
            return 418;
        }

        location \@signed {
            mi_sign on;
            proxy_pass http://$up;
        }
    }
EOF

my $port = $ngx->{port};

my $res = MiTest::http($port, 'GET', '/main/x', headers => [['Cookie', 'c=1']]);
is($res->{status}, 200, 'mirror: the main request is served');
my @got = $t->mock_requests($mock);
is(scalar @got, 1, 'mirror: only the main request reached the upstream');
is($got[0]{target}, '/main/x', 'mirror: that was the main request');
ok($got[0]{verified}, 'mirror: the main request was signed');
ok(!exists $got[0]{h}{cookie}, 'mirror: its Cookie was removed');
like(MiTest::read_file($ngx->{error_log}),
     qr/mi_sign: subrequest "\/mirror" not signed: subrequests are not supported/,
     'mirror: the refusal is logged');

$res = MiTest::http($port, 'GET', '/auth/x');
is($res->{status}, 500, 'auth_request into a signing location: 500');
is(scalar($t->mock_requests($mock)), 1, 'auth_request: nothing reached the upstream');

$res = MiTest::http($port, 'GET', '/redirect/a%20b?q=1');
is($res->{status}, 200, 'internal redirect: 200');
@got = $t->mock_requests($mock);
is(scalar @got, 2, 'internal redirect: one request upstream');
is($got[-1]{target}, '/redirect/a%20b?q=1', 'internal redirect: target re-escaped');
ok($got[-1]{verified}, 'internal redirect: signed');

$t->stop_all;
$t->check_logs($file);

done_testing;
