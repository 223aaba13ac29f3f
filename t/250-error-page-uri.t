#!/usr/bin/perl
# An operator's "error_page CODE /uri" (without "=") keeps the error status
# for whatever that location answers: in a signing server, that answer is
# the operator's page, not replaced by the module's JSON.  Without a
# matching error_page, nginx's own page still becomes JSON.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('ep.secret');
my $closed = '127.0.0.1:' . MiTest::free_port();

my $ngx = $t->start_nginx(<<"EOF2");
    upstream twice {
        server 127.0.0.1:$mock->{port};
        server 127.0.0.1:$mock->{port};
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        mi_sign on;
        mi_validate off;
        mi_access_key AK;
        mi_secret_key_file $file;

        proxy_intercept_errors on;
        error_page 404 /not-here;

        location /intercepted/ {
            proxy_pass http://twice;
            proxy_next_upstream http_404;
        }

        location /down/ {
            proxy_pass http://$closed;
        }

        location = /not-here {
            return 200 "operator page: \$upstream_status";
        }
    }
EOF2

my $port = $ngx->{port};

# both tries answer 404; the operator's page says so
my $res = MiTest::http($port, 'GET', '/intercepted/x?mock_status=404');
is($res->{status}, 404, 'error_page /uri: the error status is kept');
like($res->{h}{'content-type'} // '', qr{^text/plain}, 'its own type');
is($res->{body}, 'operator page: 404, 404', 'the operator\'s page, not JSON');
is(scalar $t->mock_requests($mock), 2, 'both upstream tries were made');

# no error_page for 502: nginx's own page, answered in JSON
$res = MiTest::http($port, 'GET', '/down/x');
is($res->{status}, 502, 'no error_page for it: 502');
is(MiTest::json_body($res)->{code}, 'UPSTREAM_UNAVAILABLE',
   'nginx\'s own page becomes the module\'s JSON');

$t->stop_all;
$t->check_logs($file);

done_testing;
