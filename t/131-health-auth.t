#!/usr/bin/perl
# mi_health, with two workers: only the API Gateway's authentication
# failures (401 with errorCode "200": the access key, the signature or the
# clock) count against the keys, 3 in a row with no success since.  Its
# permission denied (401 with errorCode "210"), which any client can ask
# for with a workspace the key may not use, a 403, and a 401 with another
# body neither count nor end a run.  A dozen authentication failures make
# the gateway degraded, a success makes it ok again, and nginx_mi_ready
# follows.  A reload with the same keys keeps the run; one with other keys
# starts afresh.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;
use PromText;

my $t = MiTest->new;
my $secret = $t->new_secret;
my $good = $t->write_file('good.secret', "$secret\n");
my $bad = $t->write_file('bad.secret', $t->new_secret . "\n");
my $mock = $t->start_mock(AK => $secret);
my $up = "127.0.0.1:$mock->{port}";

sub conf {
    return <<"EOF";
    log_format pids '\$pid \$status';

    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        access_log $t->{dir}/pids.log pids;

        mi_sign on;
        mi_access_key AK;
        mi_secret_key_file $good;
        mi_validate off;

        location / {
            proxy_pass http://$up;
        }

        # the upstream's answer passed on as it is read: in small pieces
        location /unbuffered/ {
            proxy_buffering off;
            proxy_pass http://$up;
        }

        # signs with a secret the API does not know: 401, errorCode "200"
        location /bad/ {
            mi_secret_key_file $bad;
            proxy_pass http://$up;
        }

        location = /health {
            mi_health;
            access_log off;
        }

        location = /metrics {
            mi_metrics;
            access_log off;
        }
    }
EOF
}

my $ngx = $t->start_nginx(conf(), workers => 2);
my $port = $ngx->{port};

sub health {
    my $res = MiTest::http($port, 'GET', '/health');
    return ($res, MiTest::json_body($res));
}

sub failures {
    return $_[0]{upstream}{consecutive_authentication_failures};
}

# Polls mi_health until the run is n long (the log phase that counts an
# answer runs as the response leaves, so a request to mi_health may come
# first), then says what it answered.
sub health_at {
    my ($n) = @_;
    my ($res, $j);
    MiTest::eventually(sub { ($res, $j) = health(); failures($j) == $n });
    return ($res, $j);
}

sub metric {
    my $p = PromText::parse(MiTest::http($port, 'GET', '/metrics')->{body});
    return PromText::value($p, @_) // 0;
}

sub denied {
    my ($status) = @_;
    return metric('nginx_mi_upstream_denied_total', route => 'generic',
                  status => $status);
}

# Sends n requests, with what the mock is to answer (X-Mock); each must
# get the status given.  Returns the bodies.
sub send_n {
    my ($n, $status, $target, $mock_says, $name) = @_;
    my @h = $mock_says ? (headers => [['X-Mock', $mock_says]]) : ();
    my @got = map { MiTest::http($port, 'GET', $target, @h) } 1 .. $n;

    is_deeply([map { $_->{status} } @got], [($status) x $n],
              "$name: $n x $status");

    return map { $_->{body} } @got;
}

# --- at start
my ($res, $j) = health();
is($res->{status}, 200, 'start: 200');
is(failures($j), 0, 'start: no authentication failure');
is(metric('nginx_mi_ready'), 1, 'start: nginx_mi_ready 1');

# --- one authentication failure, then only refusals that are not
send_n(1, 401, '/x', 'status 401 200', 'authentication failed');
($res, $j) = health_at(1);
is($res->{status}, 200, 'one authentication failure: 200');

send_n(20, 401, '/x', 'status 401 210', 'permission denied');
send_n(5, 403, '/x', 'status 403', 'forbidden');
send_n(3, 401, '/x?mock_status=401', undef, "MI's own 401 envelope");
send_n(2, 401, '/unbuffered/x', 'status 401 210 trickle',
       'permission denied, in pieces');
ok(MiTest::eventually(sub { denied('401') == 26 && denied('403') == 5 }),
   'every refusal counted in nginx_mi_upstream_denied_total');

($res, $j) = health();
is($res->{status}, 200, '20 x 210, 5 x 403 and others after it: still 200');
is($j->{status}, 'ok', 'and ok');
is(failures($j), 1, 'they neither counted nor ended the run');
is(metric('nginx_mi_ready'), 1, 'nginx_mi_ready 1');

# --- a dozen authentication failures in a row: degraded
my @bodies = send_n(6, 401, '/bad/x', undef, 'a secret the API does not know');
like($bodies[0],
     qr/^\{"error":\{"details":"signature mismatch","errorCode":"200",/,
     "the API's 401 reaches the client as sent");
@bodies = send_n(3, 401, '/unbuffered/x', 'status 401 200 trickle',
                 'authentication failed, in pieces');
is_deeply(\@bodies, [('{"error":{"errorCode":"200",'
                      . '"message":"Authentication Failed"}}') x 3],
          'in pieces: the body passed on whole');
send_n(3, 401, '/x', 'status 401 200', 'authentication failed');
($res, $j) = health_at(13);
is($res->{status}, 503, 'a dozen more: 503');
is($j->{status}, 'degraded', 'a dozen more: degraded');
is(failures($j), 13, 'the first and the dozen, 13 in a row');
cmp_ok($j->{upstream}{last_authentication_failure_age_seconds}, '<=', 1,
       'the last one just now');
is(metric('nginx_mi_ready'), 0, 'degraded: nginx_mi_ready 0');

# permission denied does not end it either
send_n(2, 401, '/x', 'status 401 210', 'permission denied');
ok(MiTest::eventually(sub { denied('401') == 40 }), 'counted as 401s');
($res, $j) = health();
is($res->{status}, 503, 'permission denied: still 503');

# --- one success: ok
send_n(1, 200, '/ok', undef, 'a success');
($res, $j) = health_at(0);
is($res->{status}, 200, 'one success: 200');
is($j->{status}, 'ok', 'one success: ok');
is(metric('nginx_mi_ready'), 1, 'one success: nginx_mi_ready 1');

# both workers counted into the same run
my %pids = map { (split / /)[0] => 1 }
           split /\n/, MiTest::read_file("$t->{dir}/pids.log");
cmp_ok(scalar keys %pids, '>=', 2, 'both workers served the requests');

# --- a reload with the same keys keeps the run
send_n(3, 401, '/bad/y', undef, 'a secret the API does not know');
($res, $j) = health_at(3);
is($res->{status}, 503, 'again 3 in a row: 503');

$t->reload_nginx($ngx);
($res, $j) = health();
is($res->{status}, 503, 'reload, the same keys: still 503');
is(failures($j), 3, 'reload, the same keys: still 3 in a row');
is(metric('nginx_mi_ready'), 0, 'reload, the same keys: nginx_mi_ready 0');

# --- a reload with another key starts afresh
$t->write_file($bad, $t->new_secret . "\n");
$t->reload_nginx($ngx);
($res, $j) = health();
is($res->{status}, 200, 'reload, another key: 200');
is(failures($j), 0, 'reload, another key: the run starts afresh');
is($j->{upstream}{last_authentication_failure_age_seconds}, undef,
   'reload, another key: no failure of these keys yet');
is(metric('nginx_mi_ready'), 1, 'reload, another key: nginx_mi_ready 1');

# and the new workers count the new key's failures
send_n(3, 401, '/bad/z', undef, 'the new key, also unknown to the API');
($res, $j) = health_at(3);
is($res->{status}, 503, 'the new key, 3 in a row: 503');

$t->stop_all;
$t->check_logs($good, $bad);

done_testing;
