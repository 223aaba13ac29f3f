#!/usr/bin/perl
# mi_health: 200 {"status":"ok"} while the gateway has its keys and the API
# has not refused them 3 times in a row (401, the gateway's errorCode
# "200": here a secret the mock does not know); 503 "degraded" when it
# has, and 200 again after a success.  A 403 neither counts nor ends a
# run; 5xx answers and failures to connect leave it alone.  It never calls
# the API itself; nginx_mi_ready says the same.  t/131-health-auth.t has
# the gateway's permission denied answers and reloads.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use POSIX qw(strftime);
use Test::More;
use Time::HiRes qw(sleep time);
use MiTest;
use PromText;

my $t = MiTest->new;
my $secret = $t->new_secret;
my $wrong = $t->new_secret;
my $good = $t->write_file('good.secret', "$secret\n");
my $bad = $t->write_file('bad.secret', "$wrong\n");
my $mock = $t->start_mock(AK => $secret);
my $up = "127.0.0.1:$mock->{port}";
my $started = time;

my $ngx = $t->start_nginx(<<"EOF", workers => 2);
    server {
        listen 127.0.0.1:%%PORT%% reuseport;

        mi_sign on;
        mi_access_key AK;
        mi_secret_key_file $good;
        mi_validate off;

        location / {
            proxy_pass http://$up;
        }

        # signs with a secret the API does not know: it answers 401
        location /bad/ {
            mi_secret_key_file $bad;
            proxy_pass http://$up;
        }

        location = /health {
            mi_health;
        }

        location = /metrics {
            mi_metrics;
        }
    }
EOF
my $port = $ngx->{port};

sub fp {
    return substr(sha256_hex("mi-secret-fingerprint:$_[0]"),
                  0, 8);
}

sub health {
    my $res = MiTest::http($port, 'GET', '/health');
    return ($res, MiTest::json_body($res));
}

# Polls mi_health until cond($res, $json) holds, or 10 s; the log phase
# that counts an answer runs as the response leaves, so a request to
# mi_health may come first.
sub health_when {
    my ($cond) = @_;
    my ($res, $j);
    MiTest::eventually(sub { ($res, $j) = health(); $cond->($res, $j) });
    return ($res, $j);
}

sub metric {
    my $p = PromText::parse(MiTest::http($port, 'GET', '/metrics')->{body});
    return PromText::value($p, @_);
}

sub ready_gauge {
    return metric('nginx_mi_ready');
}

sub send_n {
    my ($n, $status, $target) = @_;
    my @got = map { MiTest::http($port, 'GET', $target)->{status} } 1 .. $n;
    is_deeply(\@got, [($status) x $n], "$target: $n x $status");
}

# --- at start: the keys, no answer yet
my ($res, $j) = health();
is($res->{status}, 200, 'start: 200');
is($res->{h}{'content-type'}, 'application/json', 'Content-Type: JSON');
ok($j, 'start: a JSON body') or diag($res->{body});
is_deeply([sort keys %$j], [qw(keys status upstream version)],
          'members: status, version, keys, upstream');
is($j->{status}, 'ok', 'start: ok');
my $version = MiTest::module_version();
is($j->{version}, $version, 'version');

my @keys = sort { $a->{location_key} cmp $b->{location_key} } @{ $j->{keys} };
is(scalar @keys, 2, 'two keys: one a location');
is_deeply([map { [sort keys %$_] } @keys],
          [([qw(access_key expires_at fingerprint last_refresh_at
                last_refresh_result loaded_at location_key source)]) x 2],
          'each key: source, location_key, access_key, fingerprint, '
          . 'loaded_at, expires_at, last_refresh_at, last_refresh_result');
is_deeply([map { [$_->{source}, $_->{expires_at}, $_->{last_refresh_result},
                  $_->{last_refresh_at} eq $_->{loaded_at}] } @keys],
          [(['static', undef, 'success', 1]) x 2],
          'a key file: static, never expires, refreshed when loaded');
is_deeply([map { [$_->{location_key}, $_->{access_key}, $_->{fingerprint}] }
           @keys],
          [[$bad, 'AK', fp($wrong)], [$good, 'AK', fp($secret)]],
          'the files, the access key, the fingerprints');
my $low = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(int($started) - 1));
my $high = strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time + 1));
ok($_->{loaded_at} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/
   && $_->{loaded_at} ge $low && $_->{loaded_at} le $high,
   "loaded_at: ISO 8601, when nginx started ($_->{loaded_at})") for @keys;
is_deeply($j->{upstream}, { last_success_age_seconds => undef,
                            consecutive_authentication_failures => 0,
                            last_authentication_failure_age_seconds => undef },
          'start: no success yet, no authentication failure');
is(ready_gauge(), 1, 'start: nginx_mi_ready 1');

# --- 5xx only: not a key problem
send_n(2, 500, '/x?mock_status=500');
MiTest::eventually(sub {
    metric('nginx_mi_upstream_responses_total', route => 'generic',
           status => '5xx') == 2 });
($res, $j) = health();
is($res->{status}, 200, '5xx only: still 200');
is($j->{upstream}{consecutive_authentication_failures}, 0,
   '5xx only: no authentication failure');

sub failures {
    return $_[0]{upstream}{consecutive_authentication_failures};
}

# --- 3 authentication failures in a row: degraded
send_n(3, 401, '/bad/x');
($res, $j) = health_when(sub { failures($_[1]) == 3 });
is($res->{status}, 503, '3 x 401: 503');
is($j->{status}, 'degraded', '3 x 401: degraded');
is(failures($j), 3, '3 x 401: 3 in a row');
cmp_ok($j->{upstream}{last_authentication_failure_age_seconds}, '<=', 1,
       '3 x 401: the last one just now');
is($j->{upstream}{last_success_age_seconds}, undef,
   '3 x 401: no success yet');
is(ready_gauge(), 0, '3 x 401: nginx_mi_ready 0');

# a 403 neither counts nor ends the run
send_n(1, 403, '/x?mock_status=403');
MiTest::eventually(sub {
    metric('nginx_mi_upstream_denied_total', route => 'generic',
           status => '403') == 1 });
($res, $j) = health();
is($res->{status}, 503, 'and a 403: still 503');
is(failures($j), 3, 'and a 403: still 3 in a row');

# --- one success: ok again
send_n(1, 200, '/ok');
($res, $j) = health_when(sub { $_[0]{status} == 200 });
is($res->{status}, 200, 'after a success: 200');
is($j->{status}, 'ok', 'after a success: ok');
cmp_ok($j->{upstream}{last_success_age_seconds}, '<=', 1,
       'after a success: its age in seconds');
is(failures($j), 0, 'after a success: the run is over');
is(ready_gauge(), 1, 'after a success: nginx_mi_ready 1');

# a new run: 2 in a row are not enough, the third is
send_n(2, 401, '/bad/y');
($res, $j) = health_when(sub { failures($_[1]) == 2 });
is($res->{status}, 200, '2 x 401 after a success: 200');
send_n(1, 401, '/bad/z');
($res, $j) = health_when(sub { failures($_[1]) == 3 });
is($res->{status}, 503, 'and a third: 503');
send_n(1, 200, '/ok');
($res, $j) = health_when(sub { $_[0]{status} == 200 });
is(failures($j), 0, 'and a success: 200 again');

# --- never the API itself: health and metrics requests reach no upstream
my $before = scalar $t->mock_requests($mock);
health() for 1 .. 3;
is(scalar $t->mock_requests($mock), $before, 'mi_health calls no upstream');

is(MiTest::http($port, 'HEAD', '/health')->{status}, 200, 'HEAD: 200');
is(MiTest::http($port, 'POST', '/health', body => '{}')->{status}, 405,
   'POST: 405');

# --- a gateway with no signing location is not ready
my $bare = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /health {
            mi_health;
        }
    }
EOF
$res = MiTest::http($bare->{port}, 'GET', '/health');
is($res->{status}, 503, 'no signing location: 503');
$j = MiTest::json_body($res);
is_deeply([$j->{status}, $j->{keys}], ['degraded', []],
          'no signing location: degraded, no keys');

# --- an access key and a file name that need escaping, in JSON and in
# Prometheus's labels alike
my $odd = $t->write_file('odd "key".secret', "$secret\n");
my $quoted = $odd =~ s/"/\\"/gr;
my $oddngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        mi_sign on;
        mi_access_key 'A"K\\\\x';
        mi_secret_key_file "$quoted";
        location / { proxy_pass http://$up; }
        location = /health { mi_health; }
        location = /metrics { mi_metrics; }
    }
EOF
$j = MiTest::json_body(MiTest::http($oddngx->{port}, 'GET', '/health'));
is_deeply([map { [$_->{location_key}, $_->{access_key}] } @{ $j->{keys} }],
          [[$odd, 'A"K\\x']], 'JSON: the quote and the backslash escaped');
my $p = eval { PromText::parse(
    MiTest::http($oddngx->{port}, 'GET', '/metrics')->{body}) };
ok($p, 'Prometheus: parses') or diag($@);
is(PromText::value($p, 'nginx_mi_key_info', location_key => $odd,
                   access_key => 'A"K\\x', fingerprint => fp($secret)), 1,
   'Prometheus: the quote and the backslash escaped');

$t->stop_all;
$t->check_logs($good, $bad, $odd);

done_testing;
