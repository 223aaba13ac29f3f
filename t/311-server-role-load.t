#!/usr/bin/perl
# mi_server_role under load: wrk against two workers for long enough that
# the key is renewed at least three times, with a reload while a renewal
# is under way and another in the middle of the run.  Every request either
# reaches the upstream signed with a key that was valid at the request's
# timestamp (the mock verifies each against the metadata mock's record of
# the keys and their windows), or gets 503 CREDENTIALS_UNAVAILABLE; there
# is no other outcome.  The metadata service sees one fetch per renewal,
# not one per worker, and one renewal comes while the old workers of a
# reload still serve (a slow request holds one of them).  MI_ROLE_LOAD_SECONDS changes the length of the run.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use MiTest;

plan skip_all => 'wrk is not installed (make deps-e2e)'
    unless grep { -x "$_/wrk" } split /:/, $ENV{PATH};

my $seconds = $ENV{MI_ROLE_LOAD_SECONDS} // 16;

my $t = MiTest->new;

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $target = "$P/scene-summary/status";

# each exchange takes 150 ms: a fetch lasts about half a second
my $md = $t->start_metadata(lifetime => 5, fault => 'slow', slow_ms => 150);
my $mock = $t->start_mock(-role_keys => $md->{record});
my $dir = $t->{dir};

my $http = <<"EOF";
    mi_server_role metadata=$md->{url} refresh=2s timeout=2s;

    log_format outcome '\$status \$mi_error_code \$msec \$pid';

    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            mi_sign on;
            access_log $dir/outcome.log outcome;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

my $ngx = $t->start_nginx($http, workers => 2, log_level => 'notice');

ok(MiTest::poll_until(10, sub {
       MiTest::http($ngx->{port}, 'GET', $target)->{status} == 200
   }), 'the first key is there');

my $keys_before = () = $t->role_secrets($md);

my $out = "$dir/wrk.out";
my $start = time;
my $wrk = $t->spawn($out, 'wrk', '-t2', '-c8', "-d${seconds}s",
                    '-H', 'Connection: close',
                    "http://127.0.0.1:$ngx->{port}$target");

# a reload while a renewal is under way: right after a fetch starts

my $seen = () = $t->metadata_requests($md);
my $during = MiTest::poll_until($seconds / 2, sub {
    my @r = $t->metadata_requests($md);
    return 0 unless @r > $seen && grep { $_->{method} eq 'PUT' }
                                  @r[$seen .. $#r];
    $t->reload_nginx($ngx);
    return 1;
});
ok($during, 'reloaded while a renewal was under way');

# and one in the middle of the run, which a slow request stretches over
# a renewal: its old worker serves it for 4.5 s after the reload

sleep(($start + $seconds / 2 - 1) - time) if time < $start + $seconds / 2 - 1;

my $slow_out = "$dir/slow.out";
my $slow = fork // die "fork: $!";
if ($slow == 0) {
    my $res = MiTest::http($ngx->{port}, 'GET', "$target?mock_delay_ms=4500");
    open my $fh, '>', $slow_out or POSIX::_exit(1);
    print $fh $res->{status};
    close $fh;
    POSIX::_exit(0);
}

# the mock records the request only once it answers: nothing to poll for
sleep 0.5;

my $reload_start = time;
ok($t->reload_nginx($ngx), 'reloaded in the middle of the run');
my $reload_end = time;

waitpid $slow, 0;
is(MiTest::read_file($slow_out), '200',
   'the slow request the old worker held: 200');
my ($slow_req) = grep { $_->{target} =~ /mock_delay_ms/ }
                 $t->mock_requests($mock);
ok($slow_req && $slow_req->{verified}, 'and signed with a valid key');

my @during = grep { $_->{method} eq 'GET' && $_->{path} =~ /mi-role$/
                    && $_->{t} > $reload_start && $_->{t} < $reload_end }
             $t->metadata_requests($md);
ok(@during >= 1, 'a renewal while the old workers still served ('
                 . sprintf('%.1f', $reload_end - $reload_start) . ' s)');

waitpid $wrk, 0;
my $report = MiTest::read_file($out);
note($report);

my ($total) = $report =~ /(\d+) requests in/;
ok($total && $total > 0, "wrk sent $total requests");
unlike($report, qr/Socket errors/, 'no connection failed, none timed out');

# every outcome of the run: 200, or the 503 of no valid key

my (%outcome, @other);
for (split /\n/, MiTest::read_file("$dir/outcome.log")) {
    s/ ([0-9.]+) [0-9]+$// or next;
    my $when = $1;
    next if $when < $start;     # the wait for the first key
    # wrk closes the connections it has in flight when its time is up
    next if /^499 / && $when >= $start + $seconds - 1;
    $outcome{$_}++;
    push @other, $_ unless $_ eq '200 -' || $_ eq '503 CREDENTIALS_UNAVAILABLE';
}

my $signed = $outcome{'200 -'} // 0;
my $refused = $outcome{'503 CREDENTIALS_UNAVAILABLE'} // 0;
is(scalar @other, 0, "only 200 and 503 CREDENTIALS_UNAVAILABLE: "
                     . "$signed signed, $refused refused")
    or diag(join "\n", (@other)[0 .. 9]);

my @forwarded = $t->mock_requests($mock);
my @unverified = grep { !$_->{verified} } @forwarded;
is(scalar @unverified, 0,
   'every forwarded request verified with a key valid at its timestamp')
    or diag(scalar(@unverified) . ' unverified, first: '
            . $unverified[0]{error});
ok(@forwarded >= $signed, 'every signed request reached the upstream');

# renewals: one fetch each

my @keys = $t->role_secrets($md);
my $renewals = @keys - $keys_before;
ok($renewals >= 3, "renewed $renewals times during the run");

my @creds = grep { $_->{method} eq 'GET' && $_->{path} =~ /mi-role$/ }
            $t->metadata_requests($md);
is(scalar @creds, scalar @keys,
   'the metadata service saw one fetch per key: ' . scalar(@creds));
my @close = grep { $creds[$_]{t} - $creds[$_ - 1]{t} < 1 } 1 .. $#creds;
ok(!@close, 'no two fetches at once (one per renewal, not per worker)')
    or diag(join ' ', map { $_->{t} } @creds);

is(scalar MiTest::worker_deaths($ngx), 0, 'no worker died');

diag("load: $total requests, $signed signed, $refused refused (503), "
     . "$renewals renewals, " . scalar(@creds) . " fetches, 2 reloads")
    if $ENV{MI_ROLE_LOAD_REPORT};

$t->stop_all;
$t->check_logs;

done_testing;
