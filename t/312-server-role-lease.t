#!/usr/bin/perl
# mi_server_role's lease: the worker that fetches holds it until a second
# set by compare-and-set, so a worker killed in the middle of a fetch
# (SIGKILL: it releases nothing) delays the next fetch only until the
# lease runs out; another worker then fetches, and the gateway signs again.
# Until then, requests get 503 CREDENTIALS_UNAVAILABLE, never anything else.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use MiTest;

my $t = MiTest->new;

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $target = "$P/scene-summary/status";

# each exchange takes 700 ms of the 1 s timeout: a fetch lasts about 2 s
my $md = $t->start_metadata(lifetime => 6, fault => 'slow', slow_ms => 700);
my $mock = $t->start_mock(-role_keys => $md->{record});

my $ngx = $t->start_nginx(<<"EOF", workers => 2);
    mi_server_role metadata=$md->{url} refresh=3s timeout=1s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            mi_sign on;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

sub get { MiTest::http($ngx->{port}, 'GET', $target) }

# the first fetch: the worker that started it says so in its debug log
my $pid;
ok(MiTest::poll_until(5, sub {
       ($pid) = MiTest::read_file($ngx->{error_log})
                =~ /\[debug\] (\d+)#\d+: mi server role: fetch/;
       $pid;
   }), 'a worker started the first fetch');

ok(kill('KILL', $pid), "killed it mid-fetch (pid $pid)");
my $killed = time;

my (%seen, $bad);
my $ok = MiTest::poll_until(20, sub {
    my $res = get();
    my $code = (MiTest::json_body($res) // {})->{code} // '';
    $seen{$res->{status}}++;
    $bad++ unless $res->{status} == 200
                  || ($res->{status} == 503
                      && $code eq 'CREDENTIALS_UNAVAILABLE');
    $res->{status} == 200;
});
my $after = time - $killed;

ok($ok, sprintf('another worker fetched once the lease ran out (%.1f s)',
                $after));
ok($after < 15, 'within the lease (10 s) and a fetch');
ok(!$bad, 'meanwhile only 503 CREDENTIALS_UNAVAILABLE');

my @keys = $t->role_secrets($md);
ok(@keys >= 1, 'a key handed out');
ok(!(grep { $_->{from} / 1000 < $killed } @keys),
   'none before the kill: the fetch was cut short');

my ($last) = grep { $_->{verified} } reverse $t->mock_requests($mock);
ok($last, 'signed with it, verified by the mock');

like(join("\n", MiTest::worker_deaths($ngx)), qr/\b$pid\b.*signal 9/,
     'the one worker death is the one killed');

$t->stop_all;
$t->role_secrets($md);
$t->check_logs;

done_testing;
