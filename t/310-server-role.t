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
use MiTest;

my $t = MiTest->new;

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $target = "$P/scene-summary/status";

# the service is down when nginx starts: no key yet
my $md = $t->start_metadata(lifetime => 6, fault => 'down');
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

# --- the service answers: v2, a token on each GET ------------------------

$t->metadata_control($md, lifetime => 6);

ok(MiTest::poll_until(8, sub { get()->{status} == 200 }),
   'the first key arrives, requests are signed');

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
my @v1 = grep { $_->{t} > $creds[-1]{t} && $_->{method} eq 'GET' }
         $t->metadata_requests($md);
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

$t->metadata_control($md, lifetime => 6, fault => 'down');

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

$t->metadata_control($md, lifetime => 6);
ok(MiTest::poll_until(8, sub { get()->{status} == 200 }), 'recovered');

my @unverified = grep { !$_->{verified} } $t->mock_requests($mock);
is(scalar @unverified, 0,
   'every forwarded request verified within its key\'s window')
    or diag($unverified[0]{error});

is(scalar MiTest::worker_deaths($ngx), 0, 'no worker died');

$t->stop_all;
$t->role_secrets($md);
$t->check_logs;

done_testing;
