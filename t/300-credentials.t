#!/usr/bin/perl
# mi_credentials_file: the access key and the secret from one NCP CLI
# credentials file.  "nginx -t" refuses every broken file, naming the file
# and what is wrong, with the same checks as mi_secret_key_file; requests
# are signed with the pair of the profile asked for; a reload picks up a
# rotated file, and a reload with a broken one keeps the running pair.
# Values in quotes and comments glued to a value are refused, here and in
# a mi_secret_key_file, naming the file and the line: taken as they were,
# they made every request fail at the API with a 401 and no hint why.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::UNIX;
use POSIX qw(mkfifo);
use Test::More;
use Time::HiRes qw(sleep time);
use MiConf;
use MiTest;

my $t = MiTest->new;
my $d = $t->dir;

my $s_default = $t->new_secret;
my $s_prod = $t->new_secret;
my $s_new = $t->new_secret;

sub cli_file { MiConf::cli_file(@_) }

my $good = $t->write_file('good.cred', cli_file(
    DEFAULT => ['AK_DEFAULT', $s_default], prod => ['AK_PROD', $s_prod]));
my $loose = $t->write_file('loose.cred', cli_file(
    DEFAULT => ['AK_DEFAULT', $s_default]), 0640);
my $large = $t->write_file('large.cred',
    "# padding\n" x 500 . cli_file(DEFAULT => ['AK_DEFAULT', $s_default]));
mkdir "$d/dir.cred";
mkfifo("$d/fifo.cred", 0600) or die "mkfifo: $!";
my $sock = IO::Socket::UNIX->new(Local => "$d/sock.cred", Listen => 1)
    or die "socket: $!";

my @secret_files = ($good, $loose, $large);

# A file with the given text; its name says the case.
sub cred {
    my ($name, $text) = @_;
    my $f = $t->write_file("$name.cred", $text);
    push @secret_files, $f;
    return $f;
}

# http-level directives, then a server and its location with theirs
sub conf {
    my ($http, $server, $location) = map { $_ // '' } @_[0 .. 2];
    return "$http\nserver { listen 127.0.0.1:1; $server\n"
           . "location / { $location proxy_pass http://127.0.0.1:1; } }\n";
}

# nginx -t on the configuration; a FIFO or a device must not make it wait
sub nginx_t {
    my ($conf) = @_;
    local $MiTest::NGINX = "timeout 10 $MiTest::NGINX";
    return $t->nginx_test_conf($conf);
}

sub passes {
    my ($name, $conf) = @_;
    my ($rc, $out) = nginx_t($conf);
    is($rc, 0, "$name: nginx -t passes") or diag($out);
    unlike($out, qr/\[(warn|emerg)\]/, "$name: no warning") or diag($out);
}

sub fails_with {
    my ($name, $conf, $re) = @_;
    my ($rc, $out) = nginx_t($conf);
    is($rc, 1, "$name: nginx -t fails") or diag($out);
    like($out, $re, "$name: message") or diag($out);
}

# a signing location with the given directives
sub signing {
    my ($directives) = @_;
    return conf('', '', "mi_sign on; $directives");
}

# --- accepted
passes('DEFAULT profile', signing("mi_credentials_file $good;"));
passes('named profile', signing("mi_credentials_file $good profile=prod;"));
passes('relative to the prefix', signing('mi_credentials_file good.cred;'));
passes('at http level, inherited',
       conf("mi_credentials_file $good;", 'mi_sign on;'));
passes('overridden in a location by another profile',
       conf("mi_credentials_file $good;", 'mi_sign on;',
            "mi_credentials_file $good profile=prod;"));
passes('overridden in a location by both separate directives',
       conf("mi_credentials_file $good;", 'mi_sign on;',
            "mi_access_key AK; mi_secret_key_file $good;"));
passes('blanks, comments, CRLF and a byte order mark',
       signing('mi_credentials_file ' . cred('tolerant',
           "\xEF\xBB\xBF# ncloud configure\r\n\r\n  [ DEFAULT ]\r\n"
           . "; note\r\n\tncloud_access_key_id=AK_DEFAULT \r\n"
           . "ncloud_secret_access_key\t=\t$s_default\r\n") . ';'));

my ($rc, $out) = nginx_t(signing("mi_credentials_file $loose;"));
is($rc, 0, 'mode 0640: nginx -t passes');
like($out, qr{\[warn\] .*"mi_credentials_file": "\Q$loose\E" is accessible by group or others \(mode 0640\), use mode 0600},
     'mode 0640: warning');

# --- the file itself, as for mi_secret_key_file
fails_with('missing file', signing("mi_credentials_file $d/nope;"),
    qr{"mi_credentials_file": stat\(\) "\Q$d\E/nope" failed \(2: No such file or directory\) in \S+:\d+});
fails_with('a directory', signing("mi_credentials_file $d/dir.cred;"),
    qr{"mi_credentials_file": "\Q$d\E/dir.cred" is not a regular file});
fails_with('a FIFO, at once', signing("mi_credentials_file $d/fifo.cred;"),
    qr{"mi_credentials_file": "\Q$d\E/fifo.cred" is not a regular file});
fails_with('a socket', signing("mi_credentials_file $d/sock.cred;"),
    qr{"mi_credentials_file": "\Q$d\E/sock.cred" is not a regular file});
fails_with('a device', signing('mi_credentials_file /dev/zero;'),
    qr{"mi_credentials_file": "/dev/zero" is not a regular file});
fails_with('too large', signing("mi_credentials_file $large;"),
    qr{"mi_credentials_file": "\Q$large\E" is larger than 4096 bytes});
fails_with('empty file', signing('mi_credentials_file ' . cred('empty', '')
                                 . ';'),
    qr{"mi_credentials_file": "\S+/empty.cred": profile "DEFAULT" not found in \S+:\d+});

# --- what is in it
my %bad = (
    'no such profile' => [cli_file(prod => ['AK_PROD', $s_prod]),
        qr{: profile "DEFAULT" not found}],
    'no access key' => ["[DEFAULT]\nncloud_secret_access_key = $s_default\n",
        qr{: profile "DEFAULT" \(line 1\) has no "ncloud_access_key_id"}],
    'no secret key' => ["[DEFAULT]\nncloud_access_key_id = AK\n",
        qr{: profile "DEFAULT" \(line 1\) has no "ncloud_secret_access_key"}],
    'duplicate key' => ["[DEFAULT]\nncloud_access_key_id = AK\n"
        . "ncloud_secret_access_key = $s_default\n"
        . "ncloud_secret_access_key = $s_new\n",
        qr{: line 4: "ncloud_secret_access_key" given twice in profile "DEFAULT" \(first at line 3\)}],
    'duplicate profile' => [cli_file(DEFAULT => ['AK', $s_default])
        . "[DEFAULT]\n", qr{: line 5: profile "DEFAULT" given twice \(first at line 1\)}],
    'empty value' => ["[DEFAULT]\nncloud_access_key_id =\n"
        . "ncloud_secret_access_key = $s_default\n",
        qr{: line 2: "ncloud_access_key_id" is empty}],
    'space in the secret' => ["[DEFAULT]\nncloud_access_key_id = AK\n"
        . "ncloud_secret_access_key = $s_default x\n",
        qr{: line 3: "ncloud_secret_access_key" has a space or a character outside printable ASCII, at position 35}],
    'a key before any profile' => ["ncloud_access_key_id = AK\n"
        . cli_file(DEFAULT => ['AK', $s_default]),
        qr{: line 1: "name = value" before the first "\[profile\]"}],
    'a line that is nothing' => ["[DEFAULT]\n$s_default\n",
        qr{: line 2: expected "\[profile\]", "name = value" or a comment}],
    'a binary file' => ["\x30\x82\x01\x0a$s_default\x00",
        qr{: line 1: control character}],
    'the access key in double quotes' => ["[DEFAULT]\n"
        . "ncloud_access_key_id = \"AK\"\n"
        . "ncloud_secret_access_key = $s_default\n",
        qr{: line 2: "ncloud_access_key_id" starts or ends with a quote mark: write the value without quotes \(NCP keys are letters and digits\)}],
    'the access key in single quotes' => ["[DEFAULT]\n"
        . "ncloud_access_key_id = 'AK'\n"
        . "ncloud_secret_access_key = $s_default\n",
        qr{: line 2: "ncloud_access_key_id" starts or ends with a quote mark: write the value without quotes \(NCP keys are letters and digits\)}],
    'the secret in double quotes' => ["[DEFAULT]\n"
        . "ncloud_access_key_id = AK\n"
        . "ncloud_secret_access_key = \"$s_default\"\n",
        qr{: line 3: "ncloud_secret_access_key" starts or ends with a quote mark: write the value without quotes \(NCP keys are letters and digits\)}],
    'the secret in single quotes' => ["[DEFAULT]\n"
        . "ncloud_access_key_id = AK\n"
        . "ncloud_secret_access_key = '$s_default'\n",
        qr{: line 3: "ncloud_secret_access_key" starts or ends with a quote mark: write the value without quotes \(NCP keys are letters and digits\)}],
    'a comment glued to the secret' => ["[DEFAULT]\n"
        . "ncloud_access_key_id = AK\n"
        . "ncloud_secret_access_key = $s_default#rotated\n",
        qr{: line 3: "ncloud_secret_access_key" has "#" at position 35: a comment goes on a line of its own \(NCP keys are letters and digits\)}],
    'a comment glued to the access key' => ["[DEFAULT]\n"
        . "ncloud_access_key_id = AK#prod\n"
        . "ncloud_secret_access_key = $s_default\n",
        qr{: line 2: "ncloud_access_key_id" has "#" at position 2: a comment goes on a line of its own \(NCP keys are letters and digits\)}],
);

for my $name (sort keys %bad) {
    (my $file = $name) =~ s/\W+/-/g;
    my $f = cred($file, $bad{$name}[0]);
    fails_with($name, signing("mi_credentials_file $f;"),
               qr{"mi_credentials_file": "\Q$f\E"$bad{$name}[1] in \S+:\d+});
}

# --- mi_secret_key_file: the file is the secret, without quotes or comments
my %bad_secret = (
    'in double quotes' => ["\"$s_default\"\n",
        qr{: line 1: the secret starts or ends with a quote mark: write it without quotes \(NCP keys are letters and digits\)}],
    'in single quotes, after a blank line' => ["\n'$s_default'\n",
        qr{: line 2: the secret starts or ends with a quote mark: write it without quotes \(NCP keys are letters and digits\)}],
    'a comment glued to it' => ["$s_default#prod\n",
        qr{: line 1: "#" in the secret: the file holds the secret alone, without comments \(NCP keys are letters and digits\)}],
    'a comment line before it' => ["# prod key\n$s_default\n",
        qr{: line 1: "#" in the secret: the file holds the secret alone, without comments \(NCP keys are letters and digits\)}],
);

for my $name (sort keys %bad_secret) {
    (my $file = "secret $name") =~ s/\W+/-/g;
    my $f = cred($file, $bad_secret{$name}[0]);
    fails_with("mi_secret_key_file, $name",
               signing("mi_access_key AK; mi_secret_key_file $f;"),
               qr{\[emerg\] "mi_secret_key_file": "\Q$f\E"$bad_secret{$name}[1] in \S+:\d+});
}

passes('mi_secret_key_file, blanks around the secret',
       signing('mi_access_key AK; mi_secret_key_file '
               . cred('secret-blanks', "\n  $s_default \t\r\n\n") . ';'));

fails_with('the profile asked for is missing',
    signing("mi_credentials_file $good profile=staging;"),
    qr{"mi_credentials_file": "\Q$good\E": profile "staging" not found});

# --- the directive
fails_with('a parameter that is not profile=',
    signing("mi_credentials_file $good prod;"),
    qr{"mi_credentials_file": invalid parameter "prod", expected "profile=NAME"});
fails_with('an empty profile name',
    signing("mi_credentials_file $good profile=;"),
    qr{"mi_credentials_file": invalid parameter "profile=", expected "profile=NAME"});
fails_with('a profile name with "]"',
    signing("mi_credentials_file $good profile=a]b;"),
    qr{"mi_credentials_file": invalid profile name "a\]b": at most 64 characters});
fails_with('a profile name too long',
    signing("mi_credentials_file $good profile=" . ('p' x 65) . ';'),
    qr{"mi_credentials_file": invalid profile name "p{65}"});
fails_with('three arguments',
    signing("mi_credentials_file $good profile=a b;"),
    qr{invalid number of arguments in "mi_credentials_file" directive});
fails_with('duplicate',
    signing("mi_credentials_file $good; mi_credentials_file $good;"),
    qr{"mi_credentials_file" directive is duplicate});

# one form or the other in a block, in either order
fails_with('after mi_access_key',
    signing("mi_access_key AK; mi_credentials_file $good;"),
    qr{"mi_credentials_file" cannot be combined with "mi_access_key" in the same block});
fails_with('after mi_secret_key_file',
    signing("mi_secret_key_file $good; mi_credentials_file $good;"),
    qr{"mi_credentials_file" cannot be combined with "mi_secret_key_file" in the same block});
fails_with('before mi_access_key',
    conf("mi_credentials_file $good; mi_access_key AK;"),
    qr{"mi_access_key" cannot be combined with "mi_credentials_file" \(\S+:\d+\) in the same block});
fails_with('before mi_secret_key_file',
    conf('', "mi_credentials_file $good; mi_secret_key_file $good;"),
    qr{"mi_secret_key_file" cannot be combined with "mi_credentials_file" \(\S+:\d+\) in the same block});

# the pair is inherited whole: half of it replaced is an error
fails_with('half overridden in a server',
    conf("mi_credentials_file $good;", 'mi_sign on; mi_access_key AK;'),
    qr{"mi_access_key" without "mi_secret_key_file" in a block that inherits "mi_credentials_file" \(\S+:\d+\): set both, or neither});
fails_with('half overridden in a location',
    conf("mi_credentials_file $good;", 'mi_sign on;',
         "mi_secret_key_file $good;"),
    qr{"mi_secret_key_file" without "mi_access_key" in a block that inherits "mi_credentials_file"});

# --- signing with it, and rotation by reload
my $rot = cred('rotating', cli_file(DEFAULT => ['AK_DEFAULT', $s_default]));
my $mock = $t->start_mock(AK_DEFAULT => $s_default, AK_PROD => $s_prod,
                          AK_NEW => $s_new);

my $ngx = $t->start_nginx(<<"EOF");
    mi_credentials_file $rot;

    server {
        listen 127.0.0.1:%%PORT%%;
        mi_sign on;
        mi_validate off;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /prod/ {
            mi_credentials_file $good profile=prod;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

my $port = $ngx->{port};

sub signed_as { $t->signed_as($port, $mock, @_) }

is(signed_as('/one'), 'verified AK_DEFAULT',
   'DEFAULT profile: its access key, its secret verified by the mock');
is(signed_as('/prod/one'), 'verified AK_PROD',
   'profile=prod in a location: the prod pair');

# rotation: a new pair in the same file, nothing in nginx.conf changes
$t->write_file($rot, cli_file(DEFAULT => ['AK_NEW', $s_new]));
is(signed_as('/two'), 'verified AK_DEFAULT',
   'file rotated, no reload yet: the old pair');

$t->reload_nginx($ngx);
is(signed_as('/three'), 'verified AK_NEW',
   'after reload: the new access key and secret');
is(signed_as('/prod/two'), 'verified AK_PROD',
   'after reload: the other file is read again, unchanged');

# a reload with a broken file fails and keeps the running pair
$t->write_file($rot, "[DEFAULT]\nncloud_access_key_id = AK_DEFAULT\n");
kill 'HUP', $ngx->{pid};
my $deadline = time + 10;
my $logged = 0;
while (time < $deadline) {
    $logged = MiTest::read_file($ngx->{error_log})
        =~ /"mi_credentials_file": "\Q$rot\E": profile "DEFAULT" \(line 1\) has no "ncloud_secret_access_key"/;
    last if $logged;
    sleep 0.05;
}
ok($logged, 'reload with a broken file: the error is logged');
is(signed_as('/four'), 'verified AK_NEW',
   'after a failed reload: the running pair still signs');

$t->stop_all;
close $sock;
$t->check_logs(@secret_files);

done_testing;
