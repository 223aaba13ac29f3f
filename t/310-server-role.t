#!/usr/bin/perl
# mi_server_role: the keys come from the metadata service (a local mock),
# fetched by the workers, one fetch per renewal for the whole nginx, and
# signed with while valid.  Before the first key and after the last one
# expired with no other, requests get 503 CREDENTIALS_UNAVAILABLE with
# Retry-After and nothing is forwarded.  Metadata v2 (a token) and v1 (the
# token refused); every fault of the service is logged at "error" with the
# URL and retried; each new key is announced with its fingerprint and its
# expiry; no key's secret appears in any log, at debug level.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);
use MiTest;

my $t = MiTest->new;

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $target = "$P/scene-summary/status";

# --- the directive's checks ------------------------------------------------

for my $case (
    ['role=a/b', qr/"mi_server_role": invalid role name "a\/b"/],
    ['metadata=https://127.0.0.1:1', qr/is not an "http:\/\/" URL/],
    ['metadata=http:///', qr/metadata= has no host/],
    ['refresh=0', qr/invalid refresh time "refresh=0"/],
    ['timeout=abc', qr/invalid timeout "timeout=abc"/],
    ['zone=x', qr/invalid parameter "zone=x", expected role=, metadata=, refresh= or timeout=/],
) {
    my ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    mi_server_role metadata=http://127.0.0.1:1 $case->[0];
EOF
    isnt($rc, 0, "mi_server_role $case->[0]: refused");
    like($out, $case->[1], "mi_server_role $case->[0]: the message");
}

{
    my ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    mi_server_role metadata=http://127.0.0.1:1;
    mi_server_role metadata=http://127.0.0.1:1;
EOF
    like($out, qr/"mi_server_role" directive is duplicate/, 'duplicate');

    ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    server {
        listen 127.0.0.1:1;
        location / {
            mi_server_role metadata=http://127.0.0.1:1;
        }
    }
EOF
    like($out, qr/"mi_server_role" directive is not allowed here/,
         'http level only');

    ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    server {
        listen 127.0.0.1:1;
        location / {
            mi_sign on;
        }
    }
EOF
    like($out, qr/has no "mi_access_key" in scope/,
         'without it, a signing location still needs its keys');
}

# the service is down when nginx starts: no key yet
my $md = $t->start_metadata(lifetime => 6, fault => 'down');
my $static = $t->new_secret;
my $static_file = $t->write_file('static.secret', $static);
my $mock = $t->start_mock(AK => $static, -role_keys => $md->{record});

my $http = <<"EOF";
    mi_server_role metadata=$md->{url} refresh=3s timeout=1s;

    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            mi_sign on;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
        # a location's own key wins over the Server Role's
        location ~ ^/api/v1/workspaces/static-ws/ {
            mi_sign on;
            mi_access_key AK;
            mi_secret_key_file $static_file;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
        location = /health {
            mi_health;
        }
        location = /metrics {
            mi_metrics;
        }
    }
EOF

my $ngx = $t->start_nginx($http, workers => 2);

sub get { MiTest::http($ngx->{port}, 'GET', $target) }

# mi_health's answer, and its Server Role key
sub health {
    my $res = MiTest::http($ngx->{port}, 'GET', '/health');
    my $j = MiTest::json_body($res) // {};
    my ($role) = grep { $_->{source} eq 'server_role' } @{ $j->{keys} // [] };
    return ($res, $j, $role // {});
}

my @answers;    # every health and metrics answer, for the leak check

sub code { (MiTest::json_body($_[0]) // {})->{code} // '' }

# --- before the first key ------------------------------------------------

ok(MiTest::poll_until(5, sub {
       MiTest::read_file($ngx->{error_log})
           =~ m{\[error\].*mi_server_role: "\Q$md->{url}\E/latest/api/token"}
   }), 'service down: the error names the URL');

my $r = get();
is($r->{status}, 503, 'no key yet: 503');
is(code($r), 'CREDENTIALS_UNAVAILABLE', 'no key yet: CREDENTIALS_UNAVAILABLE');
like($r->{h}{'retry-after'} // '', qr/^[1-9][0-9]*$/, 'Retry-After');
is(scalar $t->mock_requests($mock), 0, 'nothing forwarded');

(my $static_target = $target) =~ s/my-ws/static-ws/;
is($t->signed_as($ngx->{port}, $mock, $static_target), 'verified AK',
   'meanwhile a location with its own key signs with it');

my ($hr, $hj, $hk) = health();
is($hr->{status}, 503, 'health: 503 without a key');
is($hj->{status}, 'degraded', 'health: degraded');
is_deeply([@$hk{qw(source role access_key expires_at last_refresh_result)}],
          ['server_role', undef, undef, undef, 'failure'],
          'health: the Server Role, no key, the last refresh failed');

# --- the service answers: v2, a token on each GET ------------------------

$t->metadata_control($md, lifetime => 6);

ok(MiTest::poll_until(8, sub { get()->{status} == 200 }),
   'the first key arrives, requests are signed');

is($t->signed_as($ngx->{port}, $mock, $static_target), 'verified AK',
   'and goes on signing with it once the role has a key');
get();

my @keys = $t->role_secrets($md);
my ($last) = grep { $_->{verified} } reverse $t->mock_requests($mock);
ok($last && $last->{h}{'x-ncp-iam-access-key'}[0] =~ /^RAK/,
   'signed with a Server Role key, verified by the mock');

my @req = grep { $_->{status} == 200 } $t->metadata_requests($md);
ok((grep { $_->{method} eq 'PUT' && $_->{path} eq '/latest/api/token' } @req),
   'v2: a token was asked for');
ok(!(grep { $_->{method} eq 'GET' && !$_->{token} } @req),
   'v2: every GET carries the token');

my $log = MiTest::read_file($ngx->{error_log});
my $fp = substr(sha256_hex("mi-secret-fingerprint:$keys[0]{secret}"), 0, 8);
like($log, qr/\[notice\].*mi: server role "mi-role": access key "\Q$keys[0]{ak}\E", secret fingerprint $fp, expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/,
     'the new key is announced with its fingerprint and expiry');

($hr, $hj, $hk) = health();
push @answers, $hr->{body};
is($hr->{status}, 200, 'health: 200 with a key');
my @now = $t->role_secrets($md);
ok((grep { $_->{ak} eq ($hk->{access_key} // '') } @now),
   'health: the access key in use');
like($hk->{expires_at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
     'health: expires_at');
like($hk->{last_refresh_at} // '', qr/^\d{4}-/, 'health: last_refresh_at');
is($hk->{last_refresh_result}, 'success', 'health: the last refresh worked');
like($hk->{fingerprint} // '', qr/^[0-9a-f]{8}$/, 'health: the fingerprint');

my $metrics = MiTest::http($ngx->{port}, 'GET', '/metrics')->{body};
push @answers, $metrics;
like($metrics, qr/^nginx_mi_key_expiry_timestamp_seconds\{source="server_role",access_key="RAK\w+"\} \d{10}$/m,
     'metrics: the key\'s expiry');
like($metrics, qr/^nginx_mi_key_refresh_total\{source="server_role",result="success"\} [1-9]\d*$/m,
     'metrics: refreshes that worked');
like($metrics, qr/^nginx_mi_key_refresh_total\{source="server_role",result="failure"\} [1-9]\d*$/m,
     'metrics: refreshes that failed (the service was down)');

# --- renewals: one fetch each, for two workers ---------------------------

my $n = scalar @keys;
ok(MiTest::poll_until(12, sub { $t->role_secrets($md) >= $n + 2 }),
   'renewed twice more');

my @creds = grep { $_->{method} eq 'GET' && $_->{path} =~ /mi-role$/ }
            $t->metadata_requests($md);
my @close = grep { $creds[$_]{t} - $creds[$_ - 1]{t} < 1 } 1 .. $#creds;
ok(!@close, 'one fetch per renewal, not one per worker')
    or diag(join ' ', map { $_->{t} } @creds);

# --- metadata v1: the token refused --------------------------------------

$t->metadata_control($md, lifetime => 6, fault => 'token-refused',
                     format => 'offset');
my $before = () = $t->role_secrets($md);
ok(MiTest::poll_until(10, sub { $t->role_secrets($md) > $before }),
   'v1: a key without a token (Expiration with +0000)');
# the GETs after the first refused PUT (a fetch that began before the
# switch may still send the token it was given then)
my @after = $t->metadata_requests($md);
shift @after while @after
    && !($after[0]{method} eq 'PUT' && $after[0]{status} == 405);
my @v1 = grep { $_->{method} eq 'GET' } @after;
ok(@v1 && !(grep { $_->{token} } @v1), 'v1: no token sent');

# --- each fault is logged and retried ------------------------------------

my %faults = (
    '500'            => qr/answered 500/,
    'malformed'      => qr/answered what is not credentials/,
    'empty-roles'    => qr/named no role/,
    'missing-fields' => qr/answered credentials without SecretAccessKey/,
    'past'           => qr/answered credentials that expired/,
    'slow'           => qr/timed out/,
);

for my $fault (sort keys %faults) {
    MiTest::error_log_new($ngx);
    $t->metadata_control($md, lifetime => 6, fault => $fault);
    ok(MiTest::poll_until(10, sub {
           MiTest::error_log_new($ngx) =~ /\[error\].*mi_server_role: "\Q$md->{url}\E[^"]*" $faults{$fault}/
       }), "fault $fault: logged with the URL");
}

# --- expired with no other key, then recovery ----------------------------

# a fresh key, and the service down again

$t->metadata_control($md, lifetime => 6);
ok(MiTest::poll_until(10, sub { (health())[0]{status} == 200 }),
   'the service back: a key again');
$t->metadata_control($md, lifetime => 6, fault => 'down');

# renewal failed and the key expires within a third of refresh (1 s):
# degraded while the key still signs

my $degraded;
MiTest::poll_until(12, sub {
    my ($res, undef, $k) = health();
    return 0 unless $res->{status} == 503;
    $degraded = { at => time, key => $k };
});
my $left = $degraded && $degraded->{key}{expires_at}
           && $degraded->{key}{expires_at} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)Z$/
           ? timegm($6, $5, $4, $3, $2 - 1, $1) - $degraded->{at} : undef;
ok(defined $left && $left > -0.1 && $left <= 1.1,
   'degraded from a third of refresh before expiry, the renewal failing ('
   . (defined $left ? sprintf('%.2f s left', $left) : 'never') . ')');
is($degraded && $degraded->{key}{last_refresh_result}, 'failure',
   'with the last refresh failed');

my (%seen, $bad);
MiTest::poll_until(12, sub {
    my $res = get();
    $seen{$res->{status}}++;
    $bad++ unless $res->{status} == 200
                  || ($res->{status} == 503
                      && code($res) eq 'CREDENTIALS_UNAVAILABLE'
                      && $res->{h}{'retry-after'});
    $res->{status} == 503;
});
ok($seen{503}, 'the key expired: 503');
ok(!$bad, 'only 200 or 503 CREDENTIALS_UNAVAILABLE while it expired');

($hr, $hj, $hk) = health();
push @answers, $hr->{body};
is($hr->{status}, 503, 'health: 503 once the key expired');
is($hk->{last_refresh_result}, 'failure', 'health: the refresh failed');

# down for longer than a key's life: still refused, still degraded
sleep 7;
is(get()->{status}, 503, 'down longer than a key lives: 503');
is((health())[0]{status}, 503, 'down longer than a key lives: degraded');

$t->metadata_control($md, lifetime => 6);
ok(MiTest::poll_until(8, sub { get()->{status} == 200 }), 'recovered');
is((health())[0]{status}, 200, 'health: ok again');
push @answers, MiTest::http($ngx->{port}, 'GET', '/metrics')->{body};

# --- a reload keeps the key; another role is fetched at once -----------

# a key of 30 s first, so that no renewal is due during the reload
$t->metadata_control($md, lifetime => 30);
my $long;
ok(MiTest::poll_until(10, sub {
       my @k = $t->role_secrets($md);
       my $in_use = (health())[2]{access_key} // '';
       $k[-1]{until} - $k[-1]{from} > 20_000 && $in_use eq $k[-1]{ak}
           && ($long = $in_use);
   }), 'a key of 30 s in use');

my $fetches = () = $t->role_secrets($md);
$t->reload_nginx($ngx);
is(get()->{status}, 200, 'a reload keeps the key: signed at once');
is((health())[2]{access_key}, $long, 'the same key');
is(scalar(() = $t->role_secrets($md)), $fetches,
   'and nothing fetched for it');

$t->metadata_control($md, lifetime => 30, role => 'other-role');
$t->reconfigure_nginx($ngx, $http =~ s/refresh=3s/role=other-role refresh=3s/r,
                      workers => 2);
is(get()->{status}, 200, 'another role: the key in use signs meanwhile');
ok(MiTest::poll_until(5, sub {
       MiTest::read_file($ngx->{error_log})
           =~ /mi: server role "other-role": access key/
   }), 'another role: its key is fetched at once');
is(get()->{status}, 200, 'and signs');

my @unverified = grep { !$_->{verified} } $t->mock_requests($mock);
is(scalar @unverified, 0,
   'every forwarded request verified within its key\'s window')
    or diag($unverified[0]{error});

is(scalar MiTest::worker_deaths($ngx), 0, 'no worker died');

my @secrets = map { $_->{secret} } $t->role_secrets($md);
ok(@secrets > 5, scalar(@secrets) . ' keys handed out');
my @leaks = grep { my $a = $_; grep { index($a, $_) >= 0 } @secrets }
            @answers;
is(scalar @leaks, 0, 'no secret in a health or metrics answer');

$t->stop_all;
$t->role_secrets($md);
$t->check_logs($static_file);

done_testing;
