#!/usr/bin/perl
# HTTP/2 flow control: a client whose initial stream window is 0 gets the
# whole JSON error body once it opens the window, at once or a few bytes
# at a time; for nginx's own errors (the body replaced by the module's
# filter) as for the module's refusals.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;
use MiH2Raw;

MiTest::require_http2();

my $t = MiTest->new;
my $secret = $t->new_secret;
my $file = $t->write_file('w.secret', "$secret\n");
my $signing = MiTest::signing($file);
my $closed = '127.0.0.1:' . MiTest::free_port();

my $ngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%% http2;
        $signing
        client_max_body_size 100;

        location / {
            proxy_pass http://$closed;
        }
    }
EOF

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';

# One request on a connection whose streams start with a window of 0; once
# the response headers are in, the window is opened $step bytes at a time
# until the stream ends.  Returns the stream.
sub closed_window {
    my ($name, $step, $method, $target, @headers) = @_;
    my $h2 = MiH2Raw->new($ngx->{port}, initial_window => 0);
    my $body_follows = grep { $_->[0] eq 'content-length' } @headers;
    my $id = $h2->request($method, $target, headers => \@headers,
                          end => !$body_follows);
    my $st = $h2->stream($id);

    $h2->pump(sub { defined $st->{status} }, 10);
    $h2->ping;
    is($st->{body}, '', "$name: no body while the window is closed");

    my $updates = 0;
    while (!$st->{ended} && $updates < 1000) {
        $h2->window_update($id, $step);
        $updates++;
        $h2->pump(sub { $st->{ended} || length $st->{body} >= $updates * $step },
                  10)
            or last;
    }

    ok($st->{ended}, "$name: the stream ends after $updates window updates");
    $h2->close;

    return $st;
}

for my $step (65535, 7) {
    my $st = closed_window("413, window opened by $step", $step, 'POST',
                           "$P/scene-summary",
                           ['content-type', 'application/json'],
                           ['content-length', 1000]);
    subtest "413, window opened by $step: the whole JSON" => sub {
        MiTest::is_json_error($st, status => 413, code => 'BODY_TOO_LARGE',
                              message => qr/\(100 bytes\)$/);
    };

    $st = closed_window("502, window opened by $step", $step, 'GET',
                        "$P/scene-summary/status");
    subtest "502, window opened by $step: the whole JSON" => sub {
        MiTest::is_json_error($st, status => 502,
                              code => 'UPSTREAM_UNAVAILABLE');
    };

    $st = closed_window("the module's 404, window opened by $step", $step,
                        'GET', "$P/nowhere");
    subtest "the module's 404, window opened by $step: the whole JSON" => sub {
        MiTest::is_json_error($st, status => 404, code => 'ROUTE_NOT_FOUND');
    };
}

$t->stop_all;
$t->check_logs($file);

done_testing;
