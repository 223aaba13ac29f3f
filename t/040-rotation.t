#!/usr/bin/perl
# Key rotation: the secret file is read at start and at every reload, and
# only then; a reload with a broken file keeps the running key.  Each
# configuration logs its keys' fingerprints, so a rotation shows in the log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;
use Time::HiRes qw(sleep time);
use MiTest;

my $t = MiTest->new;

my $old = $t->new_secret;
my $new = $t->new_secret;
my $file = $t->write_file('rot.secret', "$old\n");
my $mock = $t->start_mock(AK_OLD => $old, AK_NEW => $new);

my $server = <<"EOF";
    server {
        listen 127.0.0.1:%%PORT%%;
        mi_sign on;
        mi_access_key %%AK%%;
        mi_secret_key_file $file;
        mi_validate off;
        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

(my $conf = $server) =~ s/%%AK%%/AK_OLD/;
my $ngx = $t->start_nginx($conf);
my $port = $ngx->{port};

sub last_seen {
    my @r = $t->mock_requests($mock);
    return $r[-1];
}

# the key notices so far, as "ACCESS_KEY FINGERPRINT"
sub key_notices {
    return map { /\[notice\] .* mi: access key "(\S+)", secret fingerprint (\w+)/
                 ? "$1 $2" : () }
           split /\n/, MiTest::read_file($ngx->{error_log});
}

sub fingerprint { substr(sha256_hex("mi-secret-fingerprint:$_[0]"), 0, 8) }

is_deeply([key_notices()], ['AK_OLD ' . fingerprint($old)],
          'start: the key and its fingerprint logged');

my $res = MiTest::http($port, 'GET', '/one');
is($res->{status}, 200, 'old key: 200');
is(last_seen()->{h}{'x-ncp-iam-access-key'}[0], 'AK_OLD', 'old access key');

# The file changes: nothing happens until a reload
$t->write_file($file, "$new\n");
$res = MiTest::http($port, 'GET', '/two');
is($res->{status}, 200, 'file rewritten, no reload: still the old key');
ok(last_seen()->{verified}, 'file rewritten, no reload: verified');

# Rotation: new access key in the configuration, new secret in the file
(my $conf2 = $server) =~ s/%%AK%%/AK_NEW/;
$conf2 =~ s/%%PORT%%/$port/;
$t->write_file($ngx->{conf}, $t->nginx_conf(
    ($ngx->{conf} =~ m{/([^/]+)\.conf$})[0], $conf2), 0644);
$t->reload_nginx($ngx);

is_deeply([key_notices()],
          ['AK_OLD ' . fingerprint($old), 'AK_NEW ' . fingerprint($new)],
          'reload: the new key and its fingerprint logged');

$res = MiTest::http($port, 'GET', '/after-reload');
is($res->{status}, 200, 'after reload: 200');
my $r = last_seen();
ok($r->{verified} && $r->{h}{'x-ncp-iam-access-key'}[0] eq 'AK_NEW',
   'after reload: new access key and new secret, verified');

for my $i (1 .. 5) {
    MiTest::http($port, 'GET', "/steady/$i");
}
my @steady = grep { $_->{target} =~ m{^/steady/} } $t->mock_requests($mock);
is(scalar(grep { $_->{verified}
                 && $_->{h}{'x-ncp-iam-access-key'}[0] eq 'AK_NEW' } @steady),
   5, 'after reload: every request signed with the new key');

# A reload with a broken secret file fails and keeps the running key
$t->write_file($file, '');
kill 'HUP', $ngx->{pid};
my $deadline = time + 10;
my $failed = 0;
while (time < $deadline) {
    if (MiTest::read_file($ngx->{error_log})
        =~ /"mi_secret_key_file": "\Q$file\E" is empty/)
    {
        $failed = 1;
        last;
    }
    sleep 0.05;
}
ok($failed, 'reload with an empty secret file: error logged');
is(scalar(() = key_notices()), 2,
   'reload with an empty secret file: no key logged');

$res = MiTest::http($port, 'GET', '/after-bad-reload');
is($res->{status}, 200, 'after a failed reload: still serving');
$r = last_seen();
ok($r->{verified} && $r->{h}{'x-ncp-iam-access-key'}[0] eq 'AK_NEW',
   'after a failed reload: the running key still signs');

$t->stop_all;
$t->check_logs($file);

done_testing;
