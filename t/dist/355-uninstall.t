#!/usr/bin/perl
# Uninstalling never breaks nginx.  The package installed as the README
# says (the credentials file first, then dpkg -i): the gateway is enabled
# by three links to the package's conffiles, and the system's nginx.conf,
# as it is, starts and serves the site's /health with the key loaded, the
# key's fingerprint in the main-level notice log.  dpkg -r: the links are
# gone, the conffiles and the credentials stay, and the same nginx.conf
# passes nginx -t and starts.  dpkg -i again: the gateway is back.  dpkg
# --purge: the conffiles are gone, the credentials stay, and it says so.
# Installed before the credentials: nothing enabled until
# dpkg-reconfigure.
#
# nginx runs with the system's own configuration, but in a network and
# mount namespace of its own (its own loopback, /run and /var/log/nginx),
# so the host's ports and files are never touched.  Like 350-package.t it
# runs only with MI_DEB set (make test's package stage), as root, and
# purges the package and removes the credentials it wrote on any exit.

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
my $conf = '/etc/nginx/mi-gateway';
my $cred_dir = '/etc/nginx/mi';
my $cred = "$cred_dir/credentials";
my %links = (
    '/etc/nginx/sites-enabled/mi-gateway.conf' => "$conf/mi-gateway.conf",
    '/etc/nginx/conf.d/mi-credentials.conf' => "$conf/mi-credentials.conf",
    '/etc/nginx/modules-enabled/60-mi-gateway-error-log.conf'
        => "$conf/mi-error-log.conf",
);

plan skip_all => 'MI_DEB is not set: "make test" sets it after "make deb"'
    unless $deb;
plan skip_all => 'installs a package: root only' unless $> == 0;
BAIL_OUT("MI_DEB: no such file: $deb") unless -f $deb;
plan skip_all => 'unshare --net --mount is not available'
    unless system('unshare --net --mount --propagation private true '
                  . '>/dev/null 2>&1') == 0;

open my $lock, '>', "/run/lock/$pkg-test.lock" or die "lock: $!";
flock $lock, LOCK_EX or die "flock: $!";

sub status {
    my $s = `dpkg-query -W -f='\${db:Status-Abbrev}' $pkg 2>/dev/null`;
    $s =~ s/\s+$//;
    return $s eq '' || $s eq 'un' || $s eq 'pn' ? 'absent' : $s;
}

plan skip_all => "$pkg is on this machine already: this test would remove it"
    unless status() eq 'absent';
plan skip_all => "$cred_dir exists: this test would write the credentials"
    if -e $cred_dir;
plan skip_all => "$_ exists: the test's links would collide"
    for grep { -e $_ || -l $_ } keys %links;

my $t = MiTest->new;
my $d = $t->dir;
my $installed = 0;

sub dpkg {
    my (@args) = @_;
    my $deadline = time + 300;

    while (1) {
        my $out = `DEBIAN_FRONTEND=noninteractive @args 2>&1`;
        my $rc = $? >> 8;
        return ($rc, $out)
            unless $rc && $out =~ /lock/ && time < $deadline;
        sleep 1;
    }
}

END {
    if ($installed) {
        my ($rc, $out) = dpkg('dpkg', '--purge', $pkg);
        diag("dpkg --purge $pkg: $out") if $rc;
    }
    system('rm', '-rf', $cred_dir) if $t && $t->{wrote_credentials};
}

# The system's nginx.conf, unchanged, in a namespace: nginx -t, then nginx
# as the service starts it, then what answers on 127.0.0.1:8080/health and
# :80, then a graceful stop.  Returns { test => rc and output, started,
# health => status, health_body, port80 => status, log => notice log }.
sub system_nginx {
    my ($name) = @_;
    my $dir = "$d/ns-$name";
    mkdir $_ for $dir, "$dir/log", "$dir/run";

    my $script = <<'EOF';
set -u
dir=$1
ip link set lo up
mount --bind "$dir/log" /var/log/nginx
mount --bind "$dir/run" /run
nginx -t > "$dir/test.out" 2>&1
echo $? > "$dir/test.rc"
nginx > "$dir/start.out" 2>&1 || exit 0
echo yes > "$dir/started"
i=0
while [ $i -lt 100 ]; do
    curl -s -o /dev/null http://127.0.0.1:80/ && break
    sleep 0.1; i=$((i + 1))
done
curl -s -o "$dir/health.body" -w '%{http_code}' \
    http://127.0.0.1:8080/health > "$dir/health.code"
curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:80/ \
    > "$dir/port80.code"
nginx -s quit 2>/dev/null
i=0
while [ -e /run/nginx.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
EOF
    system('unshare', '--net', '--mount', '--propagation', 'private',
           'sh', '-c', $script, 'sh', $dir) == 0
        or fail("the namespace for $name");

    my $r = sub { MiTest::read_file("$dir/$_[0]") // '' };
    return { test_rc => $r->('test.rc') =~ s/\s+//gr,
             test_out => $r->('test.out'),
             started => $r->('started') eq "yes\n",
             start_out => $r->('start.out'),
             health => $r->('health.code'), health_body => $r->('health.body'),
             port80 => $r->('port80.code'),
             notice_log => $r->('log/mi-gateway.error.log'),
             error_log => $r->('log/error.log') };
}

sub links_now {
    return { map { ($_ => readlink($_)) } grep { -l $_ } keys %links };
}

my $secret = $t->new_secret;
my $cred_text = MiConf::cli_file(DEFAULT => ['AK_UNINSTALL', $secret]);

# --- install as the README says: the credentials first, then the package
system('install', '-d', '-m', '0700', '-o', 'root', '-g', 'root', $cred_dir);
$t->{wrote_credentials} = 1;
MiConf::write_text($cred, $cred_text, 0600);

my ($rc, $out) = dpkg('dpkg', '-i', $deb);
$installed = 1;
is($rc, 0, 'dpkg -i') or diag($out);
like($out, qr/the gateway is enabled/, '... says the gateway is enabled');
is_deeply(links_now(), \%links,
          'enabled: the site, the credentials conf and the error log, '
          . 'links to the package\'s files');
my $conffiles = `dpkg-query -W -f='\${Conffiles}' $pkg`;
like($conffiles, qr{^ \Q$conf/$_\E [0-9a-f]{32}$}m, "conffile $conf/$_")
    for qw(mi-gateway.conf mi-credentials.conf mi-error-log.conf);

my $ngx = system_nginx('installed');
is($ngx->{test_rc}, 0, "the system's nginx.conf: nginx -t")
    or diag($ngx->{test_out});
ok($ngx->{started}, '... nginx starts') or diag($ngx->{start_out});
is($ngx->{health}, 200, '... the gateway answers /health on :8080: 200');
like($ngx->{health_body}, qr/"status":"ok".*"access_key":"AK_UNINSTALL"/,
     '... ok, with the key of the credentials file');
like($ngx->{notice_log},
     qr/\[notice\] .*mi: access key "AK_UNINSTALL", secret fingerprint [0-9a-f]{8}/,
     'mi-gateway.error.log (main level, notice): the key\'s fingerprint');
unlike($ngx->{error_log}, qr/secret fingerprint/,
       '... which Debian\'s error.log, at "error", does not show');

# --- remove
($rc, $out) = dpkg('dpkg', '-r', $pkg);
is($rc, 0, 'dpkg -r') or diag($out);
is(status(), 'rc', 'removed, its configuration kept');
is_deeply(links_now(), {}, 'dpkg -r: the gateway disabled, no link left');
ok(-f "$conf/$_", "dpkg -r: $conf/$_ stays")
    for qw(mi-gateway.conf mi-credentials.conf mi-error-log.conf);
is(MiTest::read_file($cred), $cred_text, 'dpkg -r: the credentials stay');
ok(!-e '/usr/lib/nginx/modules/ngx_http_mi_module.so', '... the module gone');

$ngx = system_nginx('removed');
is($ngx->{test_rc}, 0, "after dpkg -r: nginx -t on the system's nginx.conf")
    or diag($ngx->{test_out});
unlike($ngx->{test_out}, qr/unknown directive/, '... no unknown directive');
ok($ngx->{started}, '... nginx starts') or diag($ngx->{start_out});
SKIP: {
    skip 'no default site on this machine', 1
        unless -e '/etc/nginx/sites-enabled/default';
    is($ngx->{port80}, 200, '... and serves the default site on :80');
}
is($ngx->{health}, '000', '... without the gateway on :8080');

# --- reinstall
($rc, $out) = dpkg('dpkg', '-i', $deb);
is($rc, 0, 'dpkg -i again') or diag($out);
is_deeply(links_now(), \%links, '... the gateway enabled again');
$ngx = system_nginx('reinstalled');
is($ngx->{test_rc}, 0, '... nginx -t') or diag($ngx->{test_out});
is($ngx->{health}, 200, '... the gateway answers /health: 200');

# --- the operator's own disabling survives an upgrade (the same version
# again): only a removal's disabling is undone
unlink '/etc/nginx/sites-enabled/mi-gateway.conf';
($rc, $out) = dpkg('dpkg', '-i', $deb);
is($rc, 0, 'dpkg -i over the installed package') or diag($out);
ok(!-l '/etc/nginx/sites-enabled/mi-gateway.conf',
   '... the site the operator disabled stays disabled');
symlink "$conf/mi-gateway.conf", '/etc/nginx/sites-enabled/mi-gateway.conf';

# --- purge
($rc, $out) = dpkg('dpkg', '--purge', $pkg);
is($rc, 0, 'dpkg --purge') or diag($out);
$installed = 0;
is(status(), 'absent', 'purged');
is_deeply(links_now(), {}, '... no link left');
ok(!-e $conf, "... $conf/ gone");
ok(!-e '/var/lib/libnginx-mod-http-mi', '... and its state');
is(MiTest::read_file($cred), $cred_text, '... the credentials stay');
like($out, qr{left in place: \Q$cred\E}, '... and it says so');

# --- installed before the credentials exist: not enabled until
# dpkg-reconfigure
system('rm', '-rf', $cred_dir);
($rc, $out) = dpkg('dpkg', '-i', $deb);
$installed = 1;
is($rc, 0, 'without credentials: dpkg -i') or diag($out);
like($out, qr/not enabled yet: no \Q$cred\E.*dpkg-reconfigure/s,
     '... says the gateway is not enabled yet, and how to');
is_deeply(links_now(), {}, '... nothing enabled');
$ngx = system_nginx('no-credentials');
is($ngx->{test_rc}, 0, '... nginx -t passes') or diag($ngx->{test_out});

system('install', '-d', '-m', '0700', $cred_dir);
MiConf::write_text($cred, $cred_text, 0600);
($rc, $out) = dpkg('dpkg-reconfigure', $pkg);
is($rc, 0, 'the credentials written: dpkg-reconfigure') or diag($out);
is_deeply(links_now(), \%links, '... the gateway enabled');
$ngx = system_nginx('reconfigured');
is($ngx->{health}, 200, '... and serving') or diag($ngx->{test_out});

done_testing;
