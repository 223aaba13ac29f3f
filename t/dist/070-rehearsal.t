#!/usr/bin/perl
# make rehearsal (scripts/rehearsal.sh), as docs/operations.md shows it:
# the shipped site against the local TLS stand-in for the API (a chain made
# with openssl, verification on), once for each fault mode, each with the
# answer and the log line an operator would see: none (signed, verified
# by the mock, over TLS), wrong-key and clock-skew (401, the warn line
# naming the likely cause), 429, 5xx, slow, down.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use Time::HiRes qw(sleep time);
use MiTest;

MiTest::debian_nginx_only();

my $t = MiTest->new;
my $d = $t->dir;
my $P = '/api/v1/workspaces/my-workspace/projects/1234/assets/5678';

# Starts the rehearsal with FAULT=fault; returns its gateway's port once it
# says it is ready, and the directory of its files.
sub rehearsal {
    my ($fault) = @_;
    my $port = MiTest::free_port();
    my $out = "$d/rehearsal-$fault.out";

    local $ENV{FAULT} = $fault;
    local $ENV{FAULT_DELAY_MS} = 1000;
    local $ENV{MI_PORT} = $port;
    local $ENV{MI_API_PORT} = MiTest::free_port();
    local $ENV{MI_REHEARSAL_DIR} = "$d/rehearsal";
    local $ENV{MI_REHEARSAL_MODULE} = $MiTest::MODULE;
    $t->spawn($out, 'bash', "$MiTest::ROOT/scripts/rehearsal.sh");

    ok(MiTest::poll_until(30, sub {
           (MiTest::read_file($out) // '') =~ /^rehearsal: ready$/m }),
       "FAULT=$fault: the rehearsal starts")
        or diag(MiTest::read_file($out));
    return $port;
}

sub call {
    my ($port) = @_;
    my $start = time;
    my $res = MiTest::http($port, 'POST', "$P/scene-summary",
                           body => '{"sceneIds":[1,2]}',
                           headers => [['Content-Type', 'application/json']]);
    $res->{seconds} = time - $start;
    return $res;
}

my $log = sub { MiTest::read_file("$d/rehearsal/mi-gateway.error.log") // '' };

# --- none: signed, over verified TLS, the mock verifies the signature
my $port = rehearsal('none');
my $res = call($port);
is($res->{status}, 200, 'none: 200');
is(MiTest::json_body($res)->{code}, '0', '... the mock verified the signature');
# (the stand-in logs once it has answered)
ok(MiTest::poll_until(5, sub {
       (MiTest::read_file("$d/rehearsal/api/access.log") // '')
       =~ m{"POST $P/scene-summary HTTP/1\.1" 200} }),
   '... through the TLS stand-in');
my $site = MiTest::read_file("$d/rehearsal/gateway/mi-gateway.conf");
like($site, qr{^\s*proxy_ssl_verify on;}m, '... TLS verification on');
like($site, qr{proxy_ssl_trusted_certificate \Q$d\E/rehearsal/root\.pem;},
     '... trusting the root made on the spot (the chain has an intermediate)');
my $diff = `diff $MiTest::ROOT/conf/mi-gateway.conf $d/rehearsal/gateway/mi-gateway.conf`;
is(scalar(() = $diff =~ /^> /mg), 6,
   '... the shipped site but for 6 lines: listen, resolver, the API\'s '
   . 'port, the CA, the two logs') or diag($diff);
like($log->(), qr/\[notice\] .*mi: access key "AK_REHEARSAL", secret fingerprint/,
     '... the key\'s line at notice');
$t->stop_all;

# --- wrong-key, clock-skew: the API's 401 and the line naming the cause
$port = rehearsal('wrong-key');
is(call($port)->{status}, 401, 'wrong-key: 401');
ok(MiTest::poll_until(5, sub { $log->() =~
       /\[warn\] .*upstream answered 401 .*the key is the likely cause/ }),
   '... the warn line: the key is the likely cause');
$t->stop_all;

$port = rehearsal('clock-skew');
is(call($port)->{status}, 401, 'clock-skew: 401');
ok(MiTest::poll_until(5, sub { $log->() =~
       /\[warn\] .*upstream answered 401 .*Date is 3\d\d s ahead.*the clock is the likely cause/ }),
   '... the warn line: 360 s ahead, the clock is the likely cause');
$t->stop_all;

# --- 429, 5xx: passed on as the API sent them
for ([429, 429], ['5xx', 503]) {
    my ($fault, $status) = @$_;
    $port = rehearsal($fault);
    is(call($port)->{status}, $status, "$fault: $status, passed on");
    $t->stop_all;
}

# --- slow: answered, late
$port = rehearsal('slow');
$res = call($port);
is($res->{status}, 200, 'slow: 200');
cmp_ok($res->{seconds}, '>=', 1, '... after FAULT_DELAY_MS (1 s)');
$t->stop_all;

# --- down: the module's JSON 502
$port = rehearsal('down');
$res = call($port);
is($res->{status}, 502, 'down: 502');
is(MiTest::json_body($res)->{code}, 'UPSTREAM_UNAVAILABLE',
   '... UPSTREAM_UNAVAILABLE');
$t->stop_all;

done_testing;
