#!/usr/bin/perl
# mi_secret_key_file must be a regular file, and anything else is refused
# at once (issue 6): a FIFO made "nginx -t" wait forever for a writer, and a
# reload froze the master (workers that died were not respawned).  Here a
# FIFO, a unix socket and two devices each fail "nginx -t" within a second,
# naming the path; and a running nginx whose configuration now points at a
# FIFO fails the reload, keeps signing with the old key, and still respawns
# a worker that is killed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::UNIX;
use POSIX qw(mkfifo);
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(time);
use MiTest;

my $t = MiTest->new;
my $d = $t->dir;
my $secret = $t->new_secret;
my $good = $t->write_file('good.secret', "$secret\n");

my $fifo = "$d/fifo.secret";
mkfifo($fifo, 0600) or die "mkfifo $fifo: $!";

my $sock_path = "$d/sock.secret";
my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $sock_path,
                                 Listen => 1)
    or die "unix socket $sock_path: $!";

sub conf {
    my ($path) = @_;
    return <<"EOF";
    server {
        listen 127.0.0.1:1;
        mi_sign on;
        mi_access_key AK;
        mi_secret_key_file $path;
        location / {
            proxy_pass http://127.0.0.1:1;
        }
    }
EOF
}

my ($rc, $out, $took) = $t->nginx_test_conf_timed(conf($good), 10);
is($rc, 0, 'a regular file: nginx -t passes') or diag($out);
my $baseline = $took;

for my $case (['a FIFO', $fifo], ['a unix socket', $sock_path],
              ['/dev/zero', '/dev/zero'], ['/dev/null', '/dev/null'])
{
    my ($name, $path) = @$case;

    # a limit of 5 s: one that blocks fails here instead of hanging
    ($rc, $out, $took) = $t->nginx_test_conf_timed(conf($path), 5);

    ok(defined $rc, "$name: nginx -t returns")
        or diag(sprintf 'stopped after %.1f s', $took);
    ok(defined $rc && $rc != 0, "$name: nginx -t fails");
    ok($took < 1,
       sprintf "%s: within a second (%.2f s; a good file: %.2f s)",
               $name, $took, $baseline);
    like($out, qr/\[emerg\] .*"mi_secret_key_file".*\Q$path\E/,
         "$name: the error names the directive and the path")
        or diag($out);
}

# --- a reload onto a FIFO, in a running nginx
my $mock = $t->start_mock(AK => $secret);
my $server = <<"EOF";
    server {
        listen 127.0.0.1:%%PORT%%;
        mi_sign on;
        mi_access_key AK;
        mi_secret_key_file %%SECRET%%;
        mi_validate off;
        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

(my $conf = $server) =~ s/%%SECRET%%/$good/;
my $ngx = $t->start_nginx($conf);
my $port = $ngx->{port};

sub signed_ok {
    my ($name) = @_;
    my $res = MiTest::http($port, 'GET', "/$name");
    my ($r) = grep { $_->{target} eq "/$name" } $t->mock_requests($mock);
    ok($res && $res->{status} == 200 && $r && $r->{verified},
       "$name: served, signed with the running key, verified");
}

signed_ok('before-reload');

(my $fifo_conf = $server) =~ s/%%SECRET%%/$fifo/;
$fifo_conf =~ s/%%PORT%%/$port/;
$t->write_file($ngx->{conf}, $t->nginx_conf(
    ($ngx->{conf} =~ m{/([^/]+)\.conf$})[0], $fifo_conf), 0644);

my @workers = MiTest::worker_pids($ngx);
kill 'HUP', $ngx->{pid};

my $logged = MiTest::poll_until(2, sub {
    MiTest::read_file($ngx->{error_log})
        =~ /\[emerg\] .*"mi_secret_key_file".*\Q$fifo\E/;
});
ok($logged, 'reload onto a FIFO: fails at once, the error names the path');

signed_ok('after-failed-reload');
is_deeply([MiTest::worker_pids($ngx)], \@workers,
          'after the failed reload: the same workers');

# the master still does its work: a killed worker is replaced
kill 'KILL', $workers[0];
my @new;
MiTest::poll_until(5, sub {
    @new = grep { my $p = $_; !grep { $_ == $p } @workers }
           MiTest::worker_pids($ngx);
});
ok(@new, 'a killed worker is respawned by the master')
    or diag('workers now: ' . join ' ', MiTest::worker_pids($ngx));
signed_ok('after-respawn') if @new;

my @deaths = MiTest::worker_deaths($ngx);
is(scalar(grep { !/exited on signal 9\b/ } @deaths), 0,
   'no worker died but the one killed');

# a master blocked in open() on the FIFO gets its writer, so it can stop
if (sysopen my $w, $fifo, POSIX::O_WRONLY() | POSIX::O_NONBLOCK()) {
    close $w;
}

$t->stop_all;
close $sock;
$t->check_logs($good);

done_testing;
