#!/usr/bin/perl
# make run as a new user runs it: in a terminal.  It says where nginx and
# the mock listen (on the ports MI_PORT and MI_MOCK_PORT ask for, with its
# files in MI_RUN_DIR) and how to stop; Ctrl-C stops nginx and the mock,
# and make exits 0 without reporting an error.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use IO::Pty;
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use MiTest;

my $t = MiTest->new;

# given to make as the README shows: make run MI_PORT=... ...
my %var = (MI_PORT => MiTest::free_port(),
           MI_MOCK_PORT => MiTest::free_port(),
           MI_RUN_DIR => "$t->{dir}/run");
my ($port, $mock_port, $run) = @var{qw(MI_PORT MI_MOCK_PORT MI_RUN_DIR)};

my $pty = IO::Pty->new;
my $pid = fork // die "fork: $!";

if ($pid == 0) {
    # a session of its own, with the pty as its terminal, as in a shell
    POSIX::setsid();
    $pty->make_slave_controlling_terminal;
    my $tty = $pty->slave;
    close $pty;
    open STDIN, '<&', $tty;
    open STDOUT, '>&', $tty;
    open STDERR, '>&', $tty;
    delete @ENV{qw(MAKEFLAGS MAKELEVEL MFLAGS NCP_ACCESS_KEY NCP_SECRET_KEY
                  NCLOUD_ACCESS_KEY_ID NCLOUD_ACCESS_KEY
                  NCLOUD_SECRET_ACCESS_KEY NCLOUD_SECRET_KEY)};
    exec 'make', '-C', $MiTest::ROOT, '--no-print-directory', 'run',
         map({ "$_=$var{$_}" } sort keys %var)
        or POSIX::_exit(127);
}

$pty->close_slave;
my $output = '';
my $nginx_pid = 0;

# whatever happens: make's session, and nginx in a process group of its own
END {
    local $?;
    kill 'KILL', -$nginx_pid if $nginx_pid;
    if ($pid && waitpid($pid, POSIX::WNOHANG()) == 0) {
        kill 'KILL', -$pid;
        waitpid($pid, 0);
    }
}

# reads the terminal until pattern shows or the deadline passes
sub read_until {
    my ($re, $seconds) = @_;
    my $deadline = time + $seconds;
    while ($output !~ $re && time < $deadline) {
        my $rin = '';
        vec($rin, fileno($pty), 1) = 1;
        next unless select(my $rout = $rin, undef, undef, 0.1);
        sysread($pty, $output, 4096, length $output) or last;
    }
    return $output =~ $re;
}

ok(read_until(qr/Stop with Ctrl-C/, 120), 'make run: started')
    or diag($output);
like($output, qr{listens on http://127\.0\.0\.1:$port \(MI_PORT\)},
     'it says where nginx listens, and which variable sets it');
like($output, qr{upstream: the bundled mock gateway on 127\.0\.0\.1:$mock_port \(MI_MOCK_PORT\)},
     'where the mock listens');
like($output, qr{files and logs: \Q$run\E/ \(MI_RUN_DIR\)}, 'where its files go');
like($output, qr{Stop with Ctrl-C: it stops nginx and the mock\.},
     'how to stop');

MiTest::wait_port($port, 'make run');
MiTest::wait_port($mock_port, 'the mock');
my $res = MiTest::http($port, 'POST',
    '/api/v1/workspaces/my-workspace/projects/1234/assets/5678/scene-summary',
    headers => [['Content-Type', 'application/json']],
    body => '{"sceneIds":[1,2]}');
is(MiTest::json_body($res)->{code}, '0', 'a signed round trip to the mock');

$nginx_pid = MiTest::read_file("$run/nginx.pid") =~ /(\d+)/ ? $1 : 0;
ok($nginx_pid && kill(0, $nginx_pid), 'nginx runs');

syswrite($pty, "\x03");

my $status;
my $deadline = time + 20;
while (time < $deadline) {
    last if waitpid($pid, POSIX::WNOHANG()) == $pid && defined($status = $?);
    read_until(qr/(?!)/, 0.1);
}
read_until(qr/(?!)/, 0.2);

is($status, 0, 'Ctrl-C: make exits 0') or diag($output);
unlike($output, qr/\*\*\*|Error \d+|Interrupt/,
       'Ctrl-C: make reports no error');
like($output, qr/^stopped\.\r?$/m, 'Ctrl-C: it says it stopped');
ok(!kill(0, $nginx_pid), 'Ctrl-C: nginx is stopped')
    and $nginx_pid = 0;

for my $p ($port, $mock_port) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$p", Timeout => 1);
    ok(!$s, "Ctrl-C: nothing listens on $p any more");
}

my $secret = MiTest::read_file("$run/secret");
chomp $secret;
push @{ $t->{secrets} }, $secret;
$t->write_file('terminal.out', $output, 0644);

$t->stop_all;
$t->check_logs("$run/secret", "$run/mock.keys");

done_testing;
