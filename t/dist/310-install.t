#!/usr/bin/perl
# make install: the package's files under PREFIX, staged under DESTDIR, and
# nothing else; the installed load_module line loads the installed module.

use strict;
use warnings;

use File::Compare qw(compare);
use File::Find;
use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use MiTest;

MiTest::debian_nginx_only();

plan skip_all => 'make install copies build/ngx_http_mi_module.so: run make'
    unless -f "$MiTest::ROOT/build/ngx_http_mi_module.so";

my $t = MiTest->new;
my $d = $t->dir;
my $root = $MiTest::ROOT;

# make install with these variables; (exit code, output)
sub make_install {
    my (@vars) = @_;
    my $out = `env -u MAKEFLAGS -u MAKELEVEL make -s --no-print-directory -C $root install @vars 2>&1`;
    return ($? >> 8, $out);
}

# every file and directory below dir: { relative path => mode }
sub tree {
    my ($dir) = @_;
    my %t;
    find({ no_chdir => 1, wanted => sub {
        return if $_ eq $dir;
        (my $rel = $_) =~ s{^\Q$dir\E/}{};
        $t{$rel} = sprintf '%04o', (lstat $_)[2] & 07777;
    } }, $dir);
    return \%t;
}

my $doc = 'share/doc/libnginx-mod-http-mi';
my %expected = (
    'lib' => '0755',
    'lib/nginx' => '0755',
    'lib/nginx/modules' => '0755',
    'lib/nginx/modules/ngx_http_mi_module.so' => '0644',
    'lib/systemd' => '0755',
    'lib/systemd/system' => '0755',
    'lib/systemd/system/nginx-mi-credentials.path' => '0644',
    'lib/systemd/system/nginx-mi-credentials.service' => '0644',
    'share' => '0755',
    'share/doc' => '0755',
    $doc => '0755',
    "$doc/README.md" => '0644',
    "$doc/docs" => '0755',
    (map { ("$doc/docs/" . (m{([^/]+)$})[0] => '0644') }
         glob "$root/docs/*.md"),
    "$doc/examples" => '0755',
    (map { ("$doc/examples/" . (m{([^/]+)$})[0] => '0644') }
         glob "$root/conf/*.conf"),
    'share/nginx' => '0755',
    'share/nginx/modules-available' => '0755',
    'share/nginx/modules-available/mod-http-mi.conf' => '0644',
);

my ($rc, $out) = make_install("DESTDIR=$d/stage", 'PREFIX=/usr');
is($rc, 0, 'make install DESTDIR=... PREFIX=/usr') or diag($out);
like($out, qr{ln -s /usr/share/nginx/modules-available/mod-http-mi.conf /etc/nginx/modules-enabled/50-mod-http-mi.conf},
     'it says how to enable the module');
is_deeply([sort glob "$d/stage/*"], ["$d/stage/usr"],
          'everything under DESTDIR/PREFIX');
is_deeply(tree("$d/stage/usr"), \%expected,
          'the files of the package, with their modes, and nothing else');
is(MiTest::read_file("$d/stage/usr/share/nginx/modules-available/mod-http-mi.conf"),
   "load_module /usr/lib/nginx/modules/ngx_http_mi_module.so;\n",
   'load_module names the module under PREFIX, not DESTDIR');

for (['lib/nginx/modules/ngx_http_mi_module.so',
      'build/ngx_http_mi_module.so'],
     ["$doc/examples/mi-gateway.conf", 'conf/mi-gateway.conf'],
     ["$doc/examples/mi-credentials.conf", 'conf/mi-credentials.conf'],
     ['lib/systemd/system/nginx-mi-credentials.path',
      'systemd/nginx-mi-credentials.path'],
     ["$doc/docs/api.md", 'docs/api.md'])
{
    is(compare("$d/stage/usr/$_->[0]", "$root/$_->[1]"), 0,
       "$_->[0] is $_->[1]");
}

($rc, $out) = make_install("DESTDIR=$d/default");
is($rc, 0, 'make install DESTDIR=... alone') or diag($out);
is_deeply(tree("$d/default/usr/local"), \%expected, 'PREFIX is /usr/local');
is(MiTest::read_file("$d/default/usr/local/share/nginx/modules-available/mod-http-mi.conf"),
   "load_module /usr/local/lib/nginx/modules/ngx_http_mi_module.so;\n",
   'load_module under /usr/local');

($rc, $out) = make_install("DESTDIR=$d/rel", 'PREFIX=usr');
isnt($rc, 0, 'a relative PREFIX is refused');
like($out, qr/PREFIX must be an absolute path, not "usr"/, '... saying so');
ok(!-e "$d/rel", '... before anything is written');

# installed for real under a prefix of the test's: nginx loads it from there
my $secret = $t->new_secret;
my $file = $t->write_file('s.secret', "$secret\n");
my $signing = MiTest::signing($file);
($rc, $out) = make_install("PREFIX=$d/prefix");
is($rc, 0, 'make install PREFIX=<a folder>') or diag($out);

SKIP: {
    skip 'MI_NGINX has the module built in', 2
        if $MiTest::MODULE eq 'static';

    my $server = <<"EOF";
    server {
        listen 127.0.0.1:1;
        $signing
        location / { proxy_pass http://127.0.0.1:1; }
    }
EOF

    {
        local $MiTest::MODULE = 'static';     # no load_module line at all
        ($rc, $out) = $t->nginx_test_conf($server);
    }
    isnt($rc, 0, 'without the installed load_module line: mi_sign unknown');

    my $name = 'installed' . ++$t->{seq};
    my $text = $t->nginx_conf($name, $server, main => "include $d/prefix/"
                              . 'share/nginx/modules-available/mod-http-mi.conf;');
    my $path = $t->write_file("$name.conf", $text, 0644);
    $out = `$MiTest::NGINX -t -p $d/ -c $path -e $d/$name/error.log 2>&1`;
    is($? >> 8, 0, 'with it: nginx -t passes, the module loaded from PREFIX')
        or diag($out);
}

$t->stop_all;
$t->check_logs($file);

done_testing;
