#!/usr/bin/perl
# The Debian package on this machine: dpkg -i, the module enabled the
# Debian way; the example site, moved to test ports, passes nginx -t with
# the system's modules-enabled and signs through the system nginx binary to
# the mock; the packaged systemd unit's ExecStart reloads it with rotated
# credentials; dpkg -r leaves the module disabled and gone, and nginx still
# starts; dpkg --purge leaves the system as it was.
#
# It changes the system, so it runs only with MI_DEB set to the .deb (the
# package stage of make test does that), as root, one at a time, and
# purges the package on any exit.  It starts nginx only with its own
# configuration on free loopback ports, never the system's service.

use strict;
use warnings;

use Fcntl qw(:flock);
use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use Time::HiRes qw(sleep time);
use MiConf;
use MiTest;

my $deb = $ENV{MI_DEB};
my $pkg = 'libnginx-mod-http-mi';
my $nginx = '/usr/sbin/nginx';
my $doc = "/usr/share/doc/$pkg";

plan skip_all => 'MI_DEB is not set: "make test" sets it after "make deb"'
    unless $deb;
plan skip_all => 'installs a package: root only' unless $> == 0;
BAIL_OUT("MI_DEB: no such file: $deb") unless -f $deb;

# two runs at once would remove each other's package
open my $lock, '>', "/run/lock/$pkg-test.lock" or die "lock: $!";
flock $lock, LOCK_EX or die "flock: $!";

sub status {
    my $s = `dpkg-query -W -f='\${db:Status-Abbrev}' $pkg 2>/dev/null`;
    $s =~ s/\s+$//;
    return $s eq '' || $s eq 'un' || $s eq 'pn' ? 'absent' : $s;
}

plan skip_all => "$pkg is on this machine already (dpkg status "
                 . status() . "): this test would remove it"
    unless status() eq 'absent';

my $t = MiTest->new;
my $d = $t->dir;
my $installed = 0;

# dpkg, waiting for its lock if apt runs elsewhere; (exit code, output)
sub dpkg {
    my (@args) = @_;
    my $deadline = time + 300;

    while (1) {
        my $out = `DEBIAN_FRONTEND=noninteractive dpkg @args 2>&1`;
        my $rc = $? >> 8;
        return ($rc, $out)
            unless $rc && $out =~ /lock/ && time < $deadline;
        sleep 1;
    }
}

sub purge {
    return unless $installed;
    $t->stop_all;
    my ($rc, $out) = dpkg('--purge', $pkg);
    diag("dpkg --purge $pkg: $out") if $rc;
    $installed = 0;
}

END { purge() }

# Every path (and its type, and a link's target) where the package or its
# scripts could leave something: all of the folders nginx and systemd
# state live in, and the package's names in folders other packages share
# (apt may run elsewhere meanwhile).
sub snapshot {
    my %s;
    my @dirs = ('/etc/nginx', '/usr/lib/nginx', '/usr/share/nginx',
                '/etc/systemd/system',
                '/var/lib/systemd/deb-systemd-helper-enabled',
                '/var/lib/systemd/deb-systemd-helper-masked',
                "/var/lib/$pkg");
    my @named = (glob("$doc* /usr/lib/systemd/system/nginx-mi-*"
                      . " /usr/share/lintian/overrides/$pkg*"
                      . " /var/lib/dpkg/info/$pkg.*"));

    for my $dir (@dirs, @named) {
        next unless -e $dir || -l $dir;
        for (split /\n/, `find $dir -printf '%p %y %l\\n'`) {
            my ($p) = split / /;
            $s{$p} = $_;
        }
    }
    return \%s;
}


sub system_nginx_running {
    # the service's nginx, not a test's (those have -c or -p)
    return grep { !/ -[cp] / } `pgrep -a -f '^nginx: master process $nginx'`;
}

my @system_nginx = system_nginx_running();
my $before = snapshot();

# --- install
my ($rc, $out) = dpkg('-i', $deb);
$installed = 1;
is($rc, 0, 'dpkg -i') or diag($out);
is(status(), 'ii', 'installed');

my $abi = MiTest::read_file('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
    =~ /^nginx:abi=(\S+)$/m ? $1 : 'no nginx:abi';
like(`dpkg-query -W -f='\${Depends}' $pkg`, qr/(^|, )\Q$abi\E(,|$)/,
     "Depends on the nginx ABI it was built against ($abi)");
like(`dpkg-query -W -f='\${Provides}' nginx`, qr/\Q$abi\E/,
     '... which the installed nginx provides');

ok(-f '/usr/lib/nginx/modules/ngx_http_mi_module.so',
   'the module in /usr/lib/nginx/modules/');
is(MiTest::read_file('/usr/share/nginx/modules-available/mod-http-mi.conf'),
   "load_module modules/ngx_http_mi_module.so;\n",
   'modules-available/mod-http-mi.conf: the load_module line');
is(readlink('/etc/nginx/modules-enabled/50-mod-http-mi.conf'),
   '/usr/share/nginx/modules-available/mod-http-mi.conf',
   'enabled by the package: modules-enabled/50-mod-http-mi.conf');
ok(-f "$doc/examples/$_", "examples/$_, uncompressed")
    for map { m{([^/]+)$} } glob "$MiTest::ROOT/conf/*.conf";
ok(-f "$doc/README.md.gz" && -f "$doc/docs/ngx_http_mi_module.md.gz"
   && -f "$doc/docs/api.md.gz", 'the docs in /usr/share/doc/');
ok(-f "/lib/systemd/system/nginx-mi-credentials.$_",
   "/lib/systemd/system/nginx-mi-credentials.$_") for qw(path service);
is_deeply([glob '/etc/systemd/system/*.wants/nginx-mi-credentials.*'], [],
          'the path unit is not enabled');
is_deeply([system_nginx_running()], \@system_nginx,
          'the system nginx was not started');

$out = `$nginx -t 2>&1`;
is($? >> 8, 0, "the system's nginx.conf with the module enabled: nginx -t")
    or diag($out);

# --- the example site on the system nginx, on test ports
my $secret = $t->new_secret;
my $new_secret = $t->new_secret;
my $cred = $t->write_file('credentials',
                          MiConf::cli_file(DEFAULT => ['AK_PKG', $secret]));
my $mock = $t->start_mock(AK_PKG => $secret, AK_ROTATED => $new_secret);
my $dns = $t->start_dns(ttl => 30);
my $port = MiTest::free_port();

$t->write_file('mi-credentials.conf', MiConf::adapt_credentials(
    MiTest::read_file("$doc/examples/mi-credentials.conf"), $cred), 0644);
$t->write_file('mi-gateway.conf', MiConf::adapt_site(
    MiTest::read_file("$doc/examples/mi-gateway.conf"),
    listen => "127.0.0.1:$port", dns => $dns->{port},
    api_port => $mock->{port},
    access_log => "$d/access.log"), 0644);

# an nginx.conf of the test with the system's modules-enabled/
sub test_conf {
    my ($name, $http) = @_;
    return $t->write_file("$name.conf", $t->nginx_conf($name, $http,
        main => 'include /etc/nginx/modules-enabled/*.conf;'), 0644);
}

my $conf = test_conf('site', "    include $d/mi-credentials.conf;\n"
                             . "    include $d/mi-gateway.conf;\n");

$out = `$nginx -t -c $conf 2>&1`;
is($? >> 8, 0, 'the example site enabled: nginx -t') or diag($out);
$t->{logs_to_check}{'nginx -t site'} = $out;

my $ngx = { pid => $t->spawn("$d/site/stderr.log", $nginx, '-c', $conf),
            error_log => "$d/site/error.log" };
MiTest::wait_port($port, 'the system nginx with the example site');

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $r = $t->accepted($port, $mock, 'through the system nginx, signed',
                     ['POST', "$P/scene-summary", body => '{"sceneIds":[7]}',
                      headers => [['Content-Type', 'application/json']]],
                     target => "$P/scene-summary", body => '{"sceneIds":[7]}');
is($r->{h}{'x-ncp-iam-access-key'}[0], 'AK_PKG', '... with the file\'s key');

# --- the packaged unit's ExecStart, as systemd would run it
$t->write_file($cred,
               MiConf::cli_file(DEFAULT => ['AK_ROTATED', $new_secret]));
my @cmds = MiConf::unit_exec_start(
    '/lib/systemd/system/nginx-mi-credentials.service', NGINX_CONF => $conf);
$t->reload_nginx($ngx, sub {
    for (@cmds) {
        system('sh', '-c', '"$@" >>"$0" 2>&1', "$d/exec-start.log", @$_) == 0
            or fail("ExecStart @$_");
    }
});
$r = $t->accepted($port, $mock, 'after the unit ran: the rotated key',
                  ['GET', "$P/scene-summary/status"],
                  target => "$P/scene-summary/status");
is($r->{h}{'x-ncp-iam-access-key'}[0], 'AK_ROTATED',
   'the rotated access key, and its secret verified');

$t->stop_all;
ok(!kill(0, $ngx->{pid}), 'the test nginx is stopped');

# --- remove
($rc, $out) = dpkg('-r', $pkg);
is($rc, 0, 'dpkg -r') or diag($out);
is(status(), 'rc', 'removed');

my $after = snapshot();
my @left = sort grep { !exists $before->{$_} } keys %$after;
my @gone = sort grep { !exists $after->{$_} } keys %$before;
# What dpkg -r keeps until a purge, by design: the package's configuration
# files (conffiles, never enabled here: this machine has no credentials
# file), and its note to enable the gateway once it has one; dh_nginx's
# marker, so that a reinstall enables the module again (not *.conf: nginx
# does not load it); dpkg's own record of the package, for the purge; and
# deb-systemd-helper's record of what enabling the path unit would create,
# also for the purge.  (t/dist/355-uninstall.t: the gateway enabled.)
is_deeply(\@left, ['/etc/nginx/mi-gateway',
                   '/etc/nginx/mi-gateway/mi-credentials.conf',
                   '/etc/nginx/mi-gateway/mi-error-log.conf',
                   '/etc/nginx/mi-gateway/mi-gateway.conf',
                   '/etc/nginx/modules-enabled/50-mod-http-mi.conf.removed',
                   "/var/lib/dpkg/info/$pkg.list",
                   "/var/lib/dpkg/info/$pkg.postrm",
                   "/var/lib/$pkg", "/var/lib/$pkg/enable",
                   '/var/lib/systemd/deb-systemd-helper-enabled/'
                   . 'nginx-mi-credentials.path.dsh-also'],
          'dpkg -r: no file of the module left, only the records of a '
          . 'removed package') or diag(explain(\@left));
is_deeply(\@gone, [], 'dpkg -r: nothing else removed') or diag(explain(\@gone));

$out = `$nginx -t 2>&1`;
is($? >> 8, 0, "after dpkg -r: nginx -t on the system's nginx.conf")
    or diag($out);

my $port2 = MiTest::free_port();
my $plain = test_conf('plain', <<"EOF");
    server {
        listen 127.0.0.1:$port2;
        location / { return 200 "up\\n"; }
    }
EOF
$t->spawn("$d/plain/stderr.log", $nginx, '-c', $plain);
MiTest::wait_port($port2, 'nginx after dpkg -r');
my $res = MiTest::http($port2, 'GET', '/');
is("$res->{status} $res->{body}", "200 up\n",
   'after dpkg -r: nginx with modules-enabled/*.conf starts and serves');
$t->stop_all;

# --- purge
($rc, $out) = dpkg('--purge', $pkg);
is($rc, 0, 'dpkg --purge') or diag($out);
$installed = 0;
is(status(), 'absent', 'purged');
is_deeply(snapshot(), $before, 'dpkg --purge: the system as it was');
is_deeply([system_nginx_running()], \@system_nginx,
          'the system nginx is as it was');

$t->check_logs($cred);

done_testing;
