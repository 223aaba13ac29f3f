#!/usr/bin/perl
# systemd/: the path unit watches the credentials file that
# conf/mi-credentials.conf names, and starts the service, whose ExecStart
# reloads nginx.  Without systemd here, the service's ExecStart commands are
# run directly, as systemd would run them (NGINX_CONF set as a drop-in
# would): a rotated file is picked up, a broken one fails the unit and
# leaves nginx signing with the keys it has.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use MiConf;
use MiTest;

MiTest::debian_nginx_only();

plan skip_all => 'the unit runs /usr/sbin/nginx, which loads the module'
    if $MiTest::MODULE eq 'static';

my $t = MiTest->new;
my $units = "$MiTest::ROOT/systemd";
my $path = MiTest::read_file("$units/nginx-mi-credentials.path");
my $service = MiTest::read_file("$units/nginx-mi-credentials.service");

SKIP: {
    skip 'systemd-analyze is not installed', 1
        unless system('command -v systemd-analyze >/dev/null') == 0;
    my $out = `systemd-analyze verify $units/nginx-mi-credentials.path $units/nginx-mi-credentials.service 2>&1`;
    is($? >> 8, 0, 'systemd-analyze verify: both units are valid')
        or diag($out);
}

my ($cred_conf) = MiTest::read_file("$MiTest::ROOT/conf/mi-credentials.conf")
    =~ /^mi_credentials_file (\S+);$/m;
like($path, qr{^PathChanged=\Q$cred_conf\E$}m,
     "the path unit watches the file mi-credentials.conf names ($cred_conf)");
like($path, qr{^Unit=nginx-mi-credentials\.service$}m,
     'the path unit starts the service');
like($path, qr{^\[Install\]\nWantedBy=paths\.target$}m,
     'the path unit can be enabled');
like($service, qr{^Type=oneshot$}m, 'the service runs once per change');
unlike($service, qr{^\[Install\]}m,
       'the service has no [Install]: only the path unit starts it');

my $old = $t->new_secret;
my $new = $t->new_secret;
my $cred = $t->write_file('credentials',
                           MiConf::cli_file(DEFAULT => ['AK_OLD', $old]));
my $mock = $t->start_mock(AK_OLD => $old, AK_NEW => $new);

my $ngx = $t->start_nginx(<<"EOF");
    mi_credentials_file $cred;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /api/v1/ {
            mi_sign on;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF
my $status = '/api/v1/workspaces/my-ws/projects/1/assets/2/scene-summary/status';

# What the unit would run, against this test's nginx; (exit code, output).
sub exec_start {
    my $out = '';
    my $rc = 0;
    local $ENV{LD_PRELOAD} = $ENV{MI_NGINX_PRELOAD} // '';

    for my $cmd (MiConf::unit_exec_start(
                     "$units/nginx-mi-credentials.service",
                     NGINX_CONF => $ngx->{conf}))
    {
        open my $fh, '-|', 'sh', '-c', '"$@" 2>&1', 'sh', @$cmd
            or die "@$cmd: $!";
        $out .= do { local $/; <$fh> } // '';
        close $fh;
        $rc = $? >> 8;
        last if $rc;
    }

    $t->{logs_to_check}{'ExecStart ' . ++$t->{seq}} = $out;
    return ($rc, $out);
}

sub signed_as { $t->signed_as($ngx->{port}, $mock, @_) }

is(signed_as("$status?n=1"), 'verified AK_OLD', 'before: the old pair');

$t->write_file($cred, MiConf::cli_file(DEFAULT => ['AK_NEW', $new]));
my ($rc, $out);
$t->reload_nginx($ngx, sub { ($rc, $out) = exec_start() });
is($rc, 0, 'ExecStart on a rotated file: succeeds') or diag($out);
is(signed_as("$status?n=2"), 'verified AK_NEW',
   'ExecStart reloaded nginx: the new pair signs');

$t->write_file($cred, "[DEFAULT]\nncloud_access_key_id = AK_BROKEN\n");
($rc, $out) = exec_start();
isnt($rc, 0, 'ExecStart on a broken file: the unit fails');
like($out, qr{"mi_credentials_file": "\Q$cred\E": profile "DEFAULT" \(line 1\) has no "ncloud_secret_access_key"},
     '... saying why (what the journal would show)');
is(signed_as("$status?n=3"), 'verified AK_NEW',
   '... and nginx still signs with the pair it has');

$t->stop_all;
$t->check_logs($cred);

done_testing;
