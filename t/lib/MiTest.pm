package MiTest;

# Test harness for ngx_http_mi_module: a private folder per test, nginx and
# the signature-checking mock started on free loopback ports and stopped by
# PID, a raw HTTP client that sends request-targets byte for byte, and a
# check that no secret ever reached a log.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use File::Basename qw(dirname);
use Fcntl qw(:flock);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX ();
use Socket qw(AF_UNIX SOCK_DGRAM pack_sockaddr_un);
use Test::More;
use Time::HiRes qw(sleep time);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $MODULE = $ENV{MI_MODULE} // "$ROOT/build/ngx_http_mi_module.so";
our $NGINX = $ENV{MI_NGINX} // '/usr/sbin/nginx';
our $MOCK = "$ROOT/t/mock/mi-mock.pl";

my @instances;

# Request-targets that nginx must forward, and the module sign, byte for
# byte: escapes, '+', an escaped '/', UTF-8, an empty query, dot segments.
our @TARGETS = ('/a%20b/c+d?q=%20x+y',
                "/quote/'()'?p='()'",
                '/slash/a%2Fb?path=%2Fetc%2F',
                '/utf8/%EA%B0%80%EB%82%98?q=%ED%95%9C',
                '/empty-query?',
                '/mixed/%7e/%7E?a=1&a=2&b=',
                '/double//slash/./dot/../x');

END {
    $_->stop_all for grep { defined } @instances;
}

# A test killed by a signal still stops what it started (END runs on exit);
# a write to a server that crashed fails the test rather than killing it.
$SIG{$_} = sub { exit 1 } for qw(TERM INT HUP);
$SIG{PIPE} = 'IGNORE';


# For the tests of Debian's packaging and layout (make install, the package,
# the systemd units, conf/ in /etc/nginx, the Kubernetes image): they are
# about Debian's own nginx and the module built for it, so they skip when
# the suite runs against another nginx (make compat).
sub debian_nginx_only {
    plan skip_all => "about Debian's nginx and its layout: not $NGINX"
        . ($MODULE eq 'static' ? ' with the module built in' : '')
        unless $NGINX eq '/usr/sbin/nginx' && $MODULE ne 'static';
}


sub new {
    my ($class) = @_;

    # MI_MODULE=static: MI_NGINX has the module built in (config's static
    # path), so no load_module line is written
    plan skip_all => "module not built: run make"
        unless $MODULE eq 'static' || -f $MODULE;

    my $dir = tempdir('mi-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{MI_KEEP});
    chmod 0755, $dir;

    my $self = bless { dir => $dir, pids => [], secrets => [], seq => 0 },
        $class;
    push @instances, $self;

    return $self;
}


sub dir { $_[0]{dir} }


# Skips the test unless nginx has HTTP/2 and (with curl => 1) curl is here.
sub require_http2 {
    my (%opt) = @_;
    plan skip_all => 'no curl'
        if $opt{curl} && system('curl --version >/dev/null 2>&1');
    plan skip_all => "$NGINX has no HTTP/2"
        unless `$NGINX -V 2>&1` =~ /http_v2_module/;
}


# A fresh random secret; remembered so that leak checks look for it.
sub new_secret {
    my ($self) = @_;
    my $s = 'sk-' . join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 32;
    push @{ $self->{secrets} }, $s;
    return $s;
}


# The usual signing setup of a test: a secret, its file (named name) and a
# mock that knows it as access key AK: ($secret, $file, $mock).
sub signing_mock {
    my ($self, $name) = @_;
    my $secret = $self->new_secret;
    my $file = $self->write_file($name, "$secret\n");
    return ($secret, $file, $self->start_mock(AK => $secret));
}


# The directives that make a server or location sign with access key AK
# and the secret in file, on one line.
sub signing {
    my ($file) = @_;
    return "mi_sign on; mi_access_key AK; mi_secret_key_file $file;";
}


sub write_file {
    my ($self, $name, $content, $mode) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print {$fh} $content;
    close $fh;
    chmod $mode // 0600, $path;
    return $path;
}


# A loopback port nothing listens on, and that no other test running at
# the same time (prove -j) is given: bind(0) may hand one test the port
# another was just given, before either server listens on it.  Each port
# given is claimed, until this test ends, by an abstract Unix socket named
# after it, which the kernel frees with the process however it ends.
my %port_claims;

sub free_port {
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Listen => 1,
                                      ReuseAddr => 1)
            or die "free port: $@";
        my $port = $s->sockport;
        close $s;

        socket(my $claim, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
        if (bind($claim, pack_sockaddr_un("\0mi-test-port-$port"))) {
            $port_claims{$port} = $claim;
            return $port;
        }
        die "claim of port $port: $!" unless $!{EADDRINUSE};
    }

    die "free port: 100 ports in a row were claimed by other tests";
}


sub wait_port {
    my ($port, $what) = @_;
    my $deadline = time + 10;

    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Timeout => 1);
        if ($s) {
            close $s;
            return 1;
        }
        sleep 0.05;
    }

    die "$what did not listen on 127.0.0.1:$port within 10 s";
}


sub spawn {
    my ($self, $out, @cmd) = @_;
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        # a process group of its own: stopping it by PID takes its children
        POSIX::setpgid(0, 0);

        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $out;
        open STDERR, '>&', \*STDOUT;

        # a sanitizer runtime for an instrumented module, given to nginx only
        $ENV{LD_PRELOAD} = $ENV{MI_NGINX_PRELOAD}
            if $cmd[0] eq $NGINX && $ENV{MI_NGINX_PRELOAD};

        exec @cmd or POSIX::_exit(127);
    }

    push @{ $self->{pids} }, $pid;
    return $pid;
}


# Starts the mock gateway; keys: { ACCESS_KEY => SECRET, ... }, and
# options of the mock as "-name => value" (e.g. -clock_offset => 360).
sub start_mock {
    my ($self, %keys) = @_;
    my @opts = map { ('--' . ($_ =~ s/^-//r =~ tr/_/-/r), delete $keys{$_}) }
               grep { /^-/ } keys %keys;
    my $n = ++$self->{seq};
    my $port = free_port();
    my $keys = $self->write_file("mock$n.keys",
                                 join '', map { "$_ $keys{$_}\n" } keys %keys);
    my $log = "$self->{dir}/mock$n.log";

    $self->write_file($log, '', 0644);

    local $ENV{MI_MOCK_QUIET} = 1;
    $self->spawn("$self->{dir}/mock$n.out", $^X, $MOCK, '--port', $port,
                 '--keys', $keys, '--log', $log, @opts);
    wait_port($port, 'mock');

    return { port => $port, log => $log };
}


# Starts the metadata service mock (t/mock/metadata-mock.pl) with the
# control settings given ("name => value": role, lifetime, fault...);
# returns { port, url, log, record, control }.  The record of the keys it
# hands out ends in ".keys": role_secrets() adds them to the leak check.
sub start_metadata {
    my ($self, %control) = @_;
    my $n = ++$self->{seq};
    my $port = free_port();
    my $md = {
        port    => $port,
        url     => "http://127.0.0.1:$port",
        log     => "$self->{dir}/metadata$n.log",
        record  => "$self->{dir}/metadata$n.keys",
        control => "$self->{dir}/metadata$n.control",
    };

    $self->write_file($md->{log}, '', 0644);
    $self->write_file($md->{record}, '', 0600);
    $self->metadata_control($md, %control);

    local $ENV{MI_MOCK_QUIET} = 1;
    $self->spawn("$self->{dir}/metadata$n.out", $^X,
                 "$ROOT/t/mock/metadata-mock.pl", '--port', $port,
                 '--log', $md->{log}, '--record', $md->{record},
                 '--control', $md->{control});
    wait_port($port, 'metadata mock');

    return $md;
}


# Replaces the metadata mock's control settings; it reads them on each
# request.
sub metadata_control {
    my ($self, $md, %control) = @_;
    $self->write_file("$md->{control}.new",
                      join '', map { "$_=$control{$_}\n" } sort keys %control);
    rename "$md->{control}.new", $md->{control}
        or die "$md->{control}: $!";
}


# What the metadata mock received, oldest first: { t, method, path,
# token, status }.
sub metadata_requests {
    my ($self, $md) = @_;
    open my $fh, '<', $md->{log} or die "$md->{log}: $!";
    my @r = map { JSON::PP::decode_json($_) } grep { /\S/ } <$fh>;
    close $fh;
    return @r;
}


# The keys the metadata mock handed out: [{ ak, secret, from, until }],
# each secret added to those no file of the test may hold.
sub role_secrets {
    my ($self, $md) = @_;
    my @keys;
    open my $fh, '<', $md->{record} or die "$md->{record}: $!";
    while (<$fh>) {
        my ($ak, $sk, $from, $until) = split;
        next unless defined $until;
        push @keys, { ak => $ak, secret => $sk, from => $from,
                      until => $until };
        push @{ $self->{secrets} }, $sk
            unless grep { $_ eq $sk } @{ $self->{secrets} };
    }
    close $fh;
    return @keys;
}


# Starts the DNS mock (every name is 127.0.0.1, with the given TTL; with
# answer => 'ADDRESS ...', those addresses, which dns_answer() changes);
# returns once it answers.
sub start_dns {
    my ($self, %opt) = @_;
    my $n = ++$self->{seq};
    my $port = free_port();
    my $log = "$self->{dir}/dns$n.log";
    my @answers;

    $self->write_file($log, '', 0644);
    if (defined $opt{answer}) {
        @answers = ('--answers', "$self->{dir}/dns$n.answers");
        $self->write_file("dns$n.answers", "$opt{answer}\n", 0644);
    }
    $self->spawn("$self->{dir}/dns$n.out", $^X, "$ROOT/t/mock/dns-mock.pl",
                 '--port', $port, '--log', $log, '--ttl', $opt{ttl} // 1,
                 @answers);

    # a probe query, until it is answered
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'udp') or die "udp: $@";
    my $probe = pack('nnnnnn', 1, 0x0100, 1, 0, 0, 0)
        . "\x05probe\x07invalid\x00" . pack('nn', 1, 1);
    my $deadline = time + 10;
    while (time < $deadline) {
        $s->send($probe);
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        return { port => $port, log => $log }
            if select(my $rout = $rin, undef, undef, 0.1) && $s->recv(my $r, 512);
    }

    die "the DNS mock did not answer on 127.0.0.1:$port within 10 s";
}


# What a DNS mock started with answer => answers from now on: IPv4
# addresses separated by spaces, "servfail", or "drop" (no answer).
sub dns_answer {
    my ($self, $dns, $answer) = @_;
    my $file = "$dns->{log}" =~ s/\.log$/.answers/r;
    $self->write_file("$file.new", "$answer\n", 0644);
    rename "$file.new", $file or die "rename $file: $!";
}


# The names the DNS mock was asked for, as "NAME TYPE", oldest first.
sub dns_queries {
    my ($self, $dns) = @_;
    return map { $_->[1] } $self->dns_query_times($dns);
}


# The same, each as [epoch time of the query, "NAME TYPE"].
sub dns_query_times {
    my ($self, $dns) = @_;
    return grep { $_->[1] !~ /^probe\.invalid / }
           map { /^(\d+\.\d+) (.*)$/ ? [$1, $2] : () }
           split /\n/, read_file($dns->{log});
}


# The requests a mock received, oldest first.  The mock writes each line
# under an exclusive lock, in as many writes as it takes: read under a
# shared one, and a line still being written (no newline yet) is not one.
sub mock_requests {
    my ($self, $mock) = @_;
    open my $fh, '<', $mock->{log} or die "$mock->{log}: $!";
    flock $fh, LOCK_SH;
    my @r = map { mock_record($_) } grep { /\n\z/ } <$fh>;
    close $fh;

    return @r;
}


# The requests a mock received since the last mock_new() on it (each mock
# keeps its own read position): for tests that send thousands of requests
# and must not reread the whole log each time.
sub mock_new {
    my ($self, $mock) = @_;
    my @r;

    open my $fh, '<', $mock->{log} or die "$mock->{log}: $!";
    flock $fh, LOCK_SH;
    seek $fh, $mock->{read_pos} // 0, 0;

    while (defined(my $line = <$fh>)) {
        last unless $line =~ /\n\z/;       # being written: read it next time
        $mock->{read_pos} = tell $fh;
        push @r, mock_record($line);
    }

    close $fh;
    return @r;
}


# One line of a mock's log: the body decoded, and h, the values by
# lower-cased name, besides headers, the list in the order received.
sub mock_record {
    my ($line) = @_;
    my $r = decode_json($line);

    $r->{body} = decode_base64($r->{body});
    my %h;
    push @{ $h{lc $_->[0]} }, $_->[1] for @{ $r->{headers} };
    $r->{h} = \%h;

    return $r;
}


# opt: workers (worker_processes, 1 unless given), log_level (debug),
# connections (worker_connections, 256 unless given), main (replaces the
# load_module line: an include of modules-enabled/, ...).
sub nginx_conf {
    my ($self, $name, $http, %opt) = @_;
    my $d = $self->{dir};
    my $workers = $opt{workers} // 1;
    my $level = $opt{log_level} // 'debug';
    my $connections = $opt{connections} // 256;

    mkdir "$d/$name";

    my $load = $opt{main} // ($MODULE eq 'static' ? '' : "load_module $MODULE;");

    return <<"EOF";
$load
daemon off;
master_process on;
worker_processes $workers;
user root root;
pid $d/$name/nginx.pid;
error_log $d/$name/error.log $level;

events {
    worker_connections $connections;
}

http {
    access_log $d/$name/access.log;
    client_body_temp_path $d/$name/body;
    proxy_temp_path $d/$name/proxy;
    fastcgi_temp_path $d/$name/fastcgi;
    uwsgi_temp_path $d/$name/uwsgi;
    scgi_temp_path $d/$name/scgi;

$http
}
EOF
}


# Writes the configuration and runs "nginx -t" on it: (exit code, output).
sub nginx_test_conf {
    my ($self, $http) = @_;
    my ($name, @cmd) = $self->conftest_cmd($http);
    local $ENV{LD_PRELOAD} = $ENV{MI_NGINX_PRELOAD} // '';
    my $out = `@cmd 2>&1`;

    $self->{logs_to_check}{"$name.out"} = $out;

    return ($? >> 8, $out);
}


# "nginx -t" as above, stopped (SIGKILL) after $limit seconds so that one
# which blocks fails the test instead of hanging it.  Returns the exit code
# (undef if it had to be stopped), the output and the seconds it took.
sub nginx_test_conf_timed {
    my ($self, $http, $limit) = @_;
    my ($name, @cmd) = $self->conftest_cmd($http);
    my $outfile = "$self->{dir}/$name.out";
    my $start = time;
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $outfile;
        open STDERR, '>&', \*STDOUT;
        $ENV{LD_PRELOAD} = $ENV{MI_NGINX_PRELOAD} // '';
        exec @cmd or POSIX::_exit(127);
    }

    my $rc;
    my $done = poll_until($limit, sub {
        waitpid($pid, POSIX::WNOHANG()) == $pid or return 0;
        $rc = $? >> 8;
        return 1;
    });
    my $took = time - $start;

    unless ($done) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }

    my $out = read_file($outfile);
    $self->{logs_to_check}{"$name.out"} = $out;

    return ($rc, $out, $took);
}


# A configuration written for "nginx -t": its name and the command.
sub conftest_cmd {
    my ($self, $http) = @_;
    my $name = 'conftest' . ++$self->{seq};
    my $conf = $self->write_file("$name.conf",
                                 $self->nginx_conf($name, $http), 0644);

    return ($name, $NGINX, '-t', '-p', "$self->{dir}/", '-c', $conf,
            '-e', "$self->{dir}/$name/error.log");
}


# Calls $cond every 20 ms until it returns true or $seconds have passed;
# returns its last value.
sub poll_until {
    my ($seconds, $cond) = @_;
    my $deadline = time + $seconds;

    while (time < $deadline) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.02;
    }

    return $cond->();
}


# The worker processes of a running nginx (children of its master).
sub worker_pids {
    my ($ngx) = @_;
    return sort { $a <=> $b } children_of($ngx->{pid});
}


# The lines of an nginx's error log that say a worker died of a signal;
# with since => 1, only those written since the last such call (for tests
# that check after each of thousands of requests, as the log grows).
sub worker_deaths {
    my ($ngx, %opt) = @_;
    my $log = $opt{since} ? error_log_new($ngx) : read_file($ngx->{error_log});
    return grep { /exited on signal/ } split /\n/, $log;
}


# What an nginx wrote to its error log since the last call on it.
sub error_log_new {
    my ($ngx) = @_;
    open my $fh, '<', $ngx->{error_log} or return '';
    seek $fh, $ngx->{error_log_pos} // 0, 0;
    local $/;
    my $s = <$fh> // '';
    $ngx->{error_log_pos} = tell $fh;
    close $fh;
    return $s;
}


# Starts nginx with an http{} body in which %%PORT%% is its listen port;
# opt: port, and those of nginx_conf (workers, log_level).
sub start_nginx {
    my ($self, $http, %opt) = @_;
    my $name = 'nginx' . ++$self->{seq};
    my $port = $opt{port} // free_port();

    $http =~ s/%%PORT%%/$port/g;

    my $conf = $self->write_file("$name.conf",
                                 $self->nginx_conf($name, $http, %opt), 0644);
    my $pid = $self->spawn("$self->{dir}/$name/stderr.log", $NGINX,
                           '-p', "$self->{dir}/", '-c', $conf,
                           '-e', "$self->{dir}/$name/error.log");
    wait_port($port, 'nginx');

    return { port => $port, pid => $pid, conf => $conf,
             error_log => "$self->{dir}/$name/error.log",
             access_log => "$self->{dir}/$name/access.log" };
}


# Rewrites a running nginx's configuration with a new http{} body (its
# %%PORT%% the same port) and reloads it; opt as for start_nginx.
sub reconfigure_nginx {
    my ($self, $ngx, $http, %opt) = @_;
    my ($name) = $ngx->{conf} =~ m{/([^/]+)\.conf$};

    $http =~ s/%%PORT%%/$ngx->{port}/g;
    $self->write_file($ngx->{conf}, $self->nginx_conf($name, $http, %opt),
                      0644);

    return $self->reload_nginx($ngx);
}


# Calls f until it returns a true value, for at most 10 s; returns its
# last value.  For what nginx does after the response has left (the log
# phase: access logs, counters).
sub eventually {
    my ($f) = @_;
    my $deadline = time + 10;
    my $v;

    until (($v = $f->()) || time > $deadline) {
        sleep 0.05;
    }

    return $v;
}


sub read_file {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}


# The module's version: that of debian/changelog's first entry without
# its epoch and Debian revision, as config gives it to the compiler.
sub module_version {
    my ($v) = read_file("$ROOT/debian/changelog") =~ /\A\S+ \(([^)]+)\)/
        or die "$ROOT/debian/changelog: no version";
    return $v =~ s/^\d+://r =~ s/-[^-]*$//r;
}


sub children_of {
    my ($ppid) = @_;
    my @kids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        my $line = read_file($stat) or next;
        my ($pid, $parent) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @kids, $pid if $parent == $ppid;
    }

    return @kids;
}


# Reloads a running nginx (its configuration rewritten or not), with a
# SIGHUP or by calling trigger; returns once new workers have started and
# every old worker has exited, so that later requests can only reach the
# new configuration.
sub reload_nginx {
    my ($self, $ngx, $trigger) = @_;
    my @old = children_of($ngx->{pid});
    my $count = () = read_file($ngx->{error_log}) =~ /start worker process/g;

    $trigger ? $trigger->() : kill 'HUP', $ngx->{pid};

    my $deadline = time + 10;
    while (time < $deadline) {
        my $now = () = read_file($ngx->{error_log}) =~ /start worker process/g;
        last if $now > $count;
        sleep 0.05;
    }

    while (time < $deadline) {
        return 1 unless grep { kill 0, $_ } @old;
        sleep 0.05;
    }

    die "nginx did not reload within 10 s";
}


sub stop_all {
    my ($self) = @_;

    for my $pid (reverse @{ $self->{pids} }) {
        kill 'TERM', -$pid;
    }

    for my $pid (reverse @{ $self->{pids} }) {
        my $deadline = time + 10;
        while (time < $deadline) {
            last if waitpid($pid, POSIX::WNOHANG()) != 0;
            sleep 0.02;
        }
        if (waitpid($pid, POSIX::WNOHANG()) == 0) {
            kill 'KILL', -$pid;
            waitpid($pid, 0);
        }

        # workers or connection children left behind by a crash
        kill 'KILL', -$pid;
    }

    $self->{pids} = [];
}


# The checks every test ends with, once its servers are stopped: no
# secret leaked, and no sanitizer report (under "make asan") in any log.
sub check_logs {
    my ($self, @secret_files) = @_;
    $self->check_no_secret_leaked(@secret_files);
    $self->check_no_sanitizer_report;
}


# ASan and UBSan write to the worker's stderr, which nginx sends to its
# error log.
sub check_no_sanitizer_report {
    my ($self) = @_;
    my @reports;

    for my $f (glob("$self->{dir}/* $self->{dir}/*/*")) {
        next unless -f $f && $f =~ /\.(log|out)$/;
        my $content = read_file($f);
        push @reports, "$f:\n$1"
            while $content =~ /^(.*(?:runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: \w+Sanitizer).*)$/mg;
    }

    ok(!@reports, 'no sanitizer report in any log')
        or diag(join "\n", @reports[0 .. ($#reports < 9 ? $#reports : 9)]);
}


# Fails the test if any secret handed out appears in any file of the test
# folder other than the secret files themselves, or in nginx -t output.
sub check_no_secret_leaked {
    my ($self, @secret_files) = @_;
    my %skip = map { $_ => 1 } @secret_files;
    my @files = grep { -f && !$skip{$_} && !/\.keys$/ } 
                glob("$self->{dir}/* $self->{dir}/*/*");
    my @hits;

    for my $f (@files) {
        my $content = read_file($f);
        for my $s (@{ $self->{secrets} }) {
            push @hits, $f if index($content, $s) >= 0;
        }
    }

    for my $out (values %{ $self->{logs_to_check} // {} }) {
        for my $s (@{ $self->{secrets} }) {
            push @hits, 'nginx -t output' if index($out, $s) >= 0;
        }
    }

    my $logs = grep { /error\.log$/ } @files;
    ok($logs > 0 && !@hits,
       "no secret in $logs error logs or any other file of the test")
        or diag("secret found in: @hits");
}


# The timeout and retry directives of the production configuration,
# conf/mi-gateway.conf (the site the README installs), as written there.
sub retry_directives {
    return read_file("$ROOT/conf/mi-gateway.conf")
        =~ /^\s*((?:proxy_(?:connect|send|read)_timeout|proxy_next_upstream\S*)\s.*;)$/mg;
}


# --- property tests ------------------------------------------------------

# How many cases have failed so far, over every protocol.
sub property_failures {
    my ($failed) = @_;
    my $n = 0;
    $n += @$_ for values %$failed;
    return $n;
}


# The end of a property test run against nginx $ngx: closes the clients'
# connections (@$conns), notes the time since $start, then the verdicts:
# one per protocol that every one of the planned cases was done and none
# failed ($failed: lists of messages by protocol, the first five shown),
# then that no worker died and that @$workers served them all.
sub property_verdicts {
    my ($ngx, $failed, $done, $planned, $what, $workers, $conns, $start) = @_;

    $_->disconnect for grep { defined } @$conns;
    Test::More::note(sprintf '%d cases, each over HTTP/1.1 and HTTP/2, '
                             . 'in %.1f s', $done, Time::HiRes::time() - $start);

    for my $proto ('HTTP/1.1', 'HTTP/2') {
        my $f = $failed->{$proto} // [];
        Test::More::ok(!@$f && $done == $planned,
                       "$proto: $done of $planned $what")
            or Test::More::diag(join "\n", "$proto: " . scalar(@$f)
                                . ' cases failed:',
                                @$f[0 .. ($#$f < 4 ? $#$f : 4)]);
    }

    Test::More::is(scalar(worker_deaths($ngx)), 0, 'no worker died');
    Test::More::is_deeply([worker_pids($ngx)], $workers,
                          'the same worker served every request');
}


# --- validation checks ---------------------------------------------------

# Sends one request (a raw string, or [method, target, %http_opts]) and
# checks it was refused with a JSON error and never reached the mock.
# want: status, code, message (a regex), allow (optional).
sub rejected {
    my ($self, $port, $mock, $name, $req, %want) = @_;
    my $before = scalar $self->mock_requests($mock);
    my $res = ref $req ? http($port, @$req) : http_raw($port, $req);

    subtest "rejected: $name" => sub {
        is_json_error($res, %want);
        is($res->{h}{allow}, $want{allow}, "Allow: $want{allow}")
            if exists $want{allow};
        is(scalar $self->mock_requests($mock), $before,
           'nothing reached the upstream');
    };

    return $res;
}


# Checks that a response is the module's JSON error; want: status, code,
# message (a regex, optional), head (a response to HEAD: no body).
sub is_json_error {
    my ($res, %want) = @_;

    is($res->{status}, $want{status}, "status $want{status}");
    like($res->{h}{'content-type'} // '', qr{^application/json$},
         'Content-Type: application/json');

    if ($want{head}) {
        is($res->{body}, '', 'HEAD: no body');
        return;
    }

    my $j = json_body($res);
    ok($j && ref $j eq 'HASH', 'a JSON object') or diag($res->{body});
    is_deeply([sort keys %{ $j // {} }], ['code', 'message'],
              'members: code, message');
    is($j->{code}, $want{code}, "code $want{code}");
    like($j->{message} // '', $want{message}, 'message')
        if $want{message};
}


# Sends one request and checks the mock got it, signed, byte for byte.
sub accepted {
    my ($self, $port, $mock, $name, $req, %want) = @_;
    my $before = scalar $self->mock_requests($mock);
    my $res = ref $req ? http($port, @$req) : http_raw($port, $req);
    my @got = $self->mock_requests($mock);
    my @new = @got[$before .. $#got];

    subtest "accepted: $name" => sub {
        is($res->{status}, 200, 'status 200') or diag($res->{body});
        is(scalar @new, 1, 'the upstream got one request') or return;
        ok($new[0]{verified}, 'signature verified by the mock')
            or diag($new[0]{error});
        is($new[0]{target}, $want{target}, 'request-target')
            if exists $want{target};
        if (exists $want{body}) {
            is(length $new[0]{body}, length $want{body}, 'body length');
            ok($new[0]{body} eq $want{body}, 'body byte for byte');
        }
    };

    return $new[0];
}


# GETs target and says how the mock saw it: "verified AK" (or "REFUSED AK")
# with the access key sent, or '' if it did not reach the mock.
sub signed_as {
    my ($self, $port, $mock, $target) = @_;
    my $res = http($port, 'GET', $target);
    my $r = ($self->mock_requests($mock))[-1];

    return '' unless $res->{status} == 200 && $r && $r->{target} eq $target;
    return ($r->{verified} ? 'verified ' : 'REFUSED ')
           . $r->{h}{'x-ncp-iam-access-key'}[0];
}


# --- a raw HTTP/1.x client ---------------------------------------------

# A TCP connection to 127.0.0.1:port, in binary mode.
sub connect_to {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 10)
        or die "connect 127.0.0.1:$port: $@";
    binmode $s;
    return $s;
}


# Sends raw bytes, reads every response on the connection until it closes
# (or n responses arrived); returns a list of { status, headers, h, body }.
sub http_raw {
    my ($port, $raw, %opt) = @_;
    my $s = connect_to($port);

    my @chunks = ref $raw ? @$raw : ($raw);
    for my $c (@chunks) {
        print {$s} $c;
        sleep $opt{pause} if $opt{pause} && @chunks > 1;
    }

    my $buf = '';
    my @res;
    my $want = $opt{responses} // 1e9;

    while (@res < $want) {
        my $r = parse_response($s, \$buf, $opt{head}) or last;
        push @res, $r;
        last if ($r->{h}{connection} // '') =~ /close/i;
    }

    close $s;
    return wantarray ? @res : $res[0];
}


# Reads what arrives within 30 s; a server that stops answering fails the
# test instead of hanging it.
sub read_more {
    my ($s, $buf) = @_;
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    select(my $rout = $rin, undef, undef, 30) or die "no response in 30 s";
    my $n = sysread($s, $$buf, 65536, length $$buf);
    return $n;
}


sub parse_response {
    my ($s, $buf, $head) = @_;

    while ($$buf !~ /\r\n\r\n/) {
        read_more($s, $buf) or return;
    }

    $$buf =~ s/^(.*?)\r\n\r\n//s;
    my @lines = split /\r\n/, $1;
    my ($version, $status) = shift(@lines) =~ m{^(HTTP/\S+) (\d+)};
    my %h;

    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }

    my $body = '';

    if ($head || $status =~ /^1/) {
        # a response to HEAD, or an interim one, has no body

    } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            while ($$buf !~ /\r\n/) { read_more($s, $buf) or return }
            $$buf =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//;
            my $size = hex $1;
            while (length($$buf) < $size + 2) { read_more($s, $buf) or return }
            $body .= substr($$buf, 0, $size);
            substr($$buf, 0, $size + 2) = '';
            last if $size == 0;
        }

    } elsif (defined $h{'content-length'}) {
        while (length($$buf) < $h{'content-length'}) {
            read_more($s, $buf) or return;
        }
        $body = substr($$buf, 0, $h{'content-length'});
        substr($$buf, 0, $h{'content-length'}) = '';

    } else {
        1 while read_more($s, $buf);
        $body = $$buf;
        $$buf = '';
    }

    return { version => $version, status => $status, h => \%h,
             body => $body };
}


# One request: method, target, optional headers (array ref of [k, v]) and
# body; Content-Length is added for a body unless a header overrides it.
sub http {
    my ($port, $method, $target, %opt) = @_;
    my @headers = @{ $opt{headers} // [] };
    my $body = $opt{body};
    my $version = $opt{version} // 'HTTP/1.1';

    my $raw = "$method $target $version\r\nHost: localhost\r\n";
    $raw .= "Connection: close\r\n" unless $opt{keepalive};
    $raw .= "$_->[0]: $_->[1]\r\n" for @headers;
    $raw .= "Content-Length: " . length($body) . "\r\n"
        if defined $body && !grep { lc $_->[0] eq 'transfer-encoding' }
                                  @headers;
    $raw .= "\r\n";
    $raw .= $body if defined $body;

    return http_raw($port, $raw, head => $method eq 'HEAD');
}


# One request over HTTP/2 (cleartext, prior knowledge) with curl: method,
# target, headers => ["Name: value", ...], body => STRING.  Returns
# { status, version, h, body, exit }: status is 0 and exit curl's code when
# no response came (e.g. the connection was closed or reset).
sub h2 {
    my ($self, $port, $method, $target, %opt) = @_;
    my $n = ++$self->{seq};
    my ($head, $out) = ("$self->{dir}/h2-$n.head", "$self->{dir}/h2-$n.out");
    my @cmd = ('curl', '-s', '--http2-prior-knowledge', '-X', $method,
               '-D', $head, '-o', $out, '-w', '%{http_code} %{http_version}');

    push @cmd, '-H', $_ for @{ $opt{headers} // [] };

    if (defined $opt{body}) {
        $self->write_file("h2-$n.in", $opt{body});
        push @cmd, '--data-binary', "\@$self->{dir}/h2-$n.in";
    }

    open my $fh, '-|', @cmd, "http://127.0.0.1:$port$target"
        or die "curl: $!";
    my ($status, $version) = split ' ', scalar(<$fh>) // '';
    close $fh;

    my %h;
    for (split /\r\n/, read_file($head)) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = $v;
    }

    return { status => $status + 0, version => $version, h => \%h,
             body => read_file($out), exit => $? >> 8 };
}


# One request over HTTP/2 with MiH2Raw, the same way: for a request whose body
# nginx answers before reading it.  curl may then report the RST_STREAM
# that follows the early answer (exit 92) without the answer itself, with
# or without this module; MiH2Raw reads every frame in order.  Headers are
# [name, value].
sub h2_early {
    my ($port, $method, $target, %opt) = @_;
    require MiH2Raw;
    my $h2 = MiH2Raw->new($port);
    my $id = $h2->request($method, $target, %opt,
                          headers => [map { [lc $_->[0], $_->[1]] }
                                      @{ $opt{headers} // [] }]);
    $h2->pump(sub { $_[0]->stream($id)->{ended} }, 30);
    my $st = $h2->stream($id);
    $h2->close;

    return { status => $st->{status} // 0, version => '2', h => $st->{h},
             body => $st->{body} };
}


sub json_body {
    my ($res) = @_;
    my $j = eval { decode_json($res->{body}) };
    return $j;
}


# --- a keepalive HTTP/1.1 connection -------------------------------------

package MiTest::Conn;

# One client connection kept open across requests, opened again after
# the server closed it (or died): MiTest::Conn->new($port)->request($raw).

sub new {
    my ($class, $port) = @_;
    return bless { port => $port, buf => '' }, $class;
}


# Sends one raw request and reads its response; undef if none came.
sub request {
    my ($self, $raw, %opt) = @_;

    unless ($self->{s}) {
        my $peer = "127.0.0.1:$self->{port}";
        $self->{s} = IO::Socket::INET->new(PeerAddr => $peer, Timeout => 10)
            or die "connect $peer: $@";
        binmode $self->{s};
        $self->{buf} = '';
    }

    my $res;
    if (print { $self->{s} } $raw) {
        $res = eval { MiTest::parse_response($self->{s}, \$self->{buf},
                                             $opt{head}) };
    }

    $self->disconnect
        if !$res || ($res->{h}{connection} // '') =~ /close/i;

    return $res;
}


sub disconnect {
    my ($self) = @_;
    close $self->{s} if $self->{s};
    delete $self->{s};
}



1;
