#!/usr/bin/perl
# The shipped site (conf/mi-gateway.conf, moved to test ports, the DNS
# mock, a test CA and valid=2s) reaching a TLS API through mi_resolve and
# keepalive: sequential requests share a few pooled connections, and a new
# connection resumes the TLS session; the name moving to another address
# under load moves new requests as soon as the resolver's answer expires
# (valid=) and DNS answers, with no failed request and nothing new for the
# old address; DNS
# down keeps the last addresses; a name that never resolved is a 502
# UPSTREAM_UNAVAILABLE; a POST on a pooled connection the API closes is
# not sent again; two workers reloaded under load, with DNS down, fail no
# request and leave no connection behind.
#
# The API is an nginx with a certificate chain (root, intermediate, leaf)
# made here, listening on 127.0.0.2 and 127.0.0.3, which answers with the
# address it was reached at and logs each request's connection and
# whether its TLS session was resumed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use MiConf;
use MiTest;

my $t = MiTest->new;
my $d = $t->dir;

sub run_openssl {
    my ($cmd) = @_;
    system("$cmd >>$d/openssl.log 2>&1") == 0
        or BAIL_OUT("openssl failed: $cmd");
}

# root CA, intermediate CA, leaf for the API's name
my $ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
$t->write_file('ca.ext', "basicConstraints=critical,CA:true\n"
                         . "keyUsage=critical,keyCertSign,cRLSign\n");
$t->write_file('leaf.ext', "subjectAltName=DNS:mi.apigw.ntruss.com\n");
run_openssl("openssl req -x509 $ec -keyout $d/root.key -out $d/root.pem "
            . "-days 2 -subj /CN=mi-test-root");
run_openssl("openssl req $ec -keyout $d/int.key -out $d/int.csr "
            . "-subj /CN=mi-test-intermediate");
run_openssl("openssl x509 -req -in $d/int.csr -CA $d/root.pem "
            . "-CAkey $d/root.key -CAcreateserial -out $d/int.pem -days 2 "
            . "-extfile $d/ca.ext");
run_openssl("openssl req $ec -keyout $d/leaf.key -out $d/leaf.csr "
            . "-subj /CN=mi.apigw.ntruss.com");
run_openssl("openssl x509 -req -in $d/leaf.csr -CA $d/int.pem "
            . "-CAkey $d/int.key -CAcreateserial -out $d/leaf.pem -days 2 "
            . "-extfile $d/leaf.ext");
$t->write_file('chain.pem', MiTest::read_file("$d/leaf.pem")
                            . MiTest::read_file("$d/int.pem"));

# The API: it closes a connection after 100 requests, so that the gateway
# has to open new ones, which should resume the TLS session.
my $api = $t->start_nginx(<<"EOF");
    log_format api '\$server_addr \$connection \$ssl_session_reused';
    server {
        listen 127.0.0.1:%%PORT%% ssl;
        listen 127.0.0.2:%%PORT%% ssl;
        listen 127.0.0.3:%%PORT%% ssl;
        server_name mi.apigw.ntruss.com;
        ssl_certificate $d/chain.pem;
        ssl_certificate_key $d/leaf.key;
        ssl_session_cache shared:api:1m;
        keepalive_requests 100;
        keepalive_timeout 60s;
        access_log $d/api-access.log api;
        location / {
            return 200 "\$server_addr\\n";
        }
    }
EOF

# the API's requests, each as [address, connection, resumed]
my $api_seen = 0;
sub api_new {
    my @lines = split /\n/, MiTest::read_file("$d/api-access.log");
    my @new = map { [split ' '] } @lines[$api_seen .. $#lines];
    $api_seen = @lines;
    return @new;
}

# --- what nginx -t refuses, naming the mistake.  Up to nginx 1.28, the
# keepalive directive keeps the balancer it finds when it is read, so
# mi_resolve must come before it; nginx 1.29 (1.29.8 at least) wraps every
# upstream's balancer at the end of the http block, whatever the order.
my ($version) = `$MiTest::NGINX -v 2>&1` =~ m{nginx/(\d+\.\d+\.\d+)};
my $late_keepalive = sprintf('%03d%03d%03d', split /\./, $version)
                     ge '001029000';
my ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    resolver 127.0.0.1;
    upstream api.test {
        keepalive 4;
        mi_resolve api.test:443;
    }
    server {
        listen 127.0.0.1:1;
        location / { proxy_pass https://api.test; }
    }
EOF
if ($late_keepalive) {
    is($rc, 0, "nginx $version: mi_resolve after keepalive is accepted")
        or diag($out);
} else {
    ok($rc != 0 && $out =~ /"mi_resolve" must come first/,
       "nginx $version -t refuses mi_resolve after keepalive")
        or diag($out);
}

for my $case (
    ['with a server', "mi_resolve api.test:443;\n        server 127.0.0.1:1;",
     'resolver 127.0.0.1;', qr/has "mi_resolve" and "server"/],
    ['with a zone', "zone z 64k;\n        mi_resolve api.test:443;",
     'resolver 127.0.0.1;', qr/has "mi_resolve" and "zone"/],
    ['without a resolver at http level', 'mi_resolve api.test:443;',
     '', qr/needs a "resolver" at http level/],
    ['with a URI', 'mi_resolve api.test:443/v1;', 'resolver 127.0.0.1;',
     qr/is not a NAME or NAME:PORT/],
    ['with too many slots', 'mi_resolve api.test slots=33;',
     'resolver 127.0.0.1;', qr/from 1 to 32 slots/],
) {
    my ($name, $ups, $resolver, $want) = @$case;
    my ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    $resolver
    upstream api.test {
        $ups
    }
    server {
        listen 127.0.0.1:1;
        location / { proxy_pass https://api.test; }
    }
EOF
    ok($rc != 0 && $out =~ $want, "nginx -t refuses mi_resolve $name")
        or diag($out);
}

my $dns = $t->start_dns(ttl => 1, answer => '127.0.0.2');

my $site = MiTest::read_file("$MiTest::ROOT/conf/mi-gateway.conf");
my $cred_conf = MiTest::read_file("$MiTest::ROOT/conf/mi-credentials.conf");
my $secret = $t->new_secret;
my $cred = $t->write_file('gw.credentials',
                          MiConf::cli_file(DEFAULT => ['AK_GW', $secret]));

sub gateway_conf {
    my ($dns_port) = @_;
    my $conf = MiConf::adapt_site($site, listen => '127.0.0.1:%%PORT%%',
                                  dns => $dns_port, api_port => $api->{port},
                                  ca => "$d/root.pem",
                                  access_log => "$d/gw-access.log");
    # the DNS answer kept 2 s instead of 30, for the test's pace
    $conf = MiConf::replace_once($conf, 'valid=30s', 'valid=2s');
    return MiConf::adapt_credentials($cred_conf, $cred) . "\n" . $conf;
}

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678/scene-summary';
my $GET = "GET $P HTTP/1.1\r\nHost: gw\r\n\r\n";

my $gw = $t->start_nginx(gateway_conf($dns->{port}));

# the first resolution comes a moment after the start
my $conn = MiTest::Conn->new($gw->{port});
ok(MiTest::poll_until(10, sub {
       my $r = $conn->request($GET);
       $r && $r->{status} == 200 }),
   'the site answers 200 once the name resolved');

# --- 1. the pool: 1000 sequential requests
api_new();
my ($ok, %to) = (0);
for (1 .. 1000) {
    my $r = $conn->request($GET);
    $ok++ if $r && $r->{status} == 200;
    $to{$r ? $r->{body} =~ s/\s+//gr : 'none'}++;
}
is($ok, 1000, '1000 sequential requests: all 200');
is_deeply(\%to, { '127.0.0.2' => 1000 }, '... all to the address DNS gave');

my @seen = api_new();
my (%first, @order);
for (@seen) {
    next if exists $first{$_->[1]};
    $first{$_->[1]} = $_->[2];
    push @order, $_->[1];
}
my $conns = keys %first;
ok($conns >= 10 && $conns <= 16,
   "... over $conns TLS connections: the API closes one every 100 requests, "
   . 'and keepalive 16 is the most the pool holds');
my $full = grep { $first{$_} ne 'r' } @order[1 .. $#order];
is($full, 0, '... each new connection resumed the TLS session '
             . '(no full handshake after the first)')
    or diag(join ' ', map { "$_:$first{$_}" } @order);

# --- 2. the name moves to another address under load, three times.  The
# resolver keeps an answer until the second after valid=2s from it; then
# mi_resolve asks again at once (not at its next tick), and from DNS's
# answer on, new requests go to the new address: every request sent from
# 0.1 s after the old answer expired goes there, none fails, and the old
# address gets nothing new.  The resolver is asked once an answer, not on
# a tick: its debug lines (nginx --with-debug, as Debian's) count the
# lookups.
my $lookups = sub {
    my $n = () = MiTest::read_file($gw->{error_log})
                 =~ /resolve: "mi\.apigw\.ntruss\.com"$/mg;
    return $n;
};
my $lookups_before = $lookups->();
my $moves_at = time;
for my $to ('127.0.0.3', '127.0.0.2', '127.0.0.3') {
    my @before = $t->dns_query_times($dns);
    my ($last) = grep { $_->[1] =~ /^mi\.apigw\.ntruss\.com 1/ }
                 reverse @before;
    $t->dns_answer($dns, $to);
    my $switched_at = time;

    my @log;
    while (time < $switched_at + 4.5) {
        my $sent = time;
        my $r = $conn->request($GET);
        push @log, [$sent, $r && $r->{status} == 200
                           ? $r->{body} =~ s/\s+//gr : 'failed'];
        sleep 0.005;    # a steady load, not all of a shared machine's CPU
    }

    # the answer DNS gave before the move expires at the start of the
    # second after valid=2s from it (nginx's clock keeps whole seconds)
    my $expired = POSIX::floor($last->[0]) + 2 + 1;
    my ($asked) = grep { $_->[0] > $switched_at
                         && $_->[1] =~ /^mi\.apigw\.ntruss\.com 1/ }
                  $t->dns_query_times($dns);
    my @failed = grep { $_->[1] eq 'failed' } @log;
    my @late = grep { $_->[0] > $expired + 0.1 && $_->[1] ne $to } @log;
    my ($first) = grep { $_->[1] eq $to } @log;

    is(scalar @failed, 0, "moved to $to under load: no request failed")
        or diag(scalar(@failed) . ' of ' . scalar(@log));
    ok(defined $asked && $asked->[0] < $expired + 0.1,
       "... DNS asked again when the answer expired: "
       . (defined $asked ? sprintf('%+.3f s', $asked->[0] - $expired)
                         : 'never'));
    is(scalar @late, 0, '... every request sent from 0.1 s after that went '
                        . "to $to: "
                        . (defined $first
                           ? sprintf('the first %+.3f s from the expiry',
                                     $first->[0] - $expired)
                           : 'none'))
        or diag(scalar(@late) . ' of ' . scalar(@log) . ' did not');
    my @old_after = grep { $_->[1] ne $to }
                    @log[(grep { $log[$_][1] eq $to } 0 .. $#log)[0] // 0
                         .. $#log];
    is(scalar @old_after, 0, '... and from the first on, none to the old '
                             . 'address');
}
SKIP: {
    my $n = $lookups->() - $lookups_before;
    my $secs = time - $moves_at;
    skip 'nginx without --with-debug: no resolver debug lines', 1
        unless $lookups_before;
    # an answer lasts 2 to 3 s: about one lookup in 2.5 s
    ok($n >= 3 && $n <= $secs / 2 + 2,
       sprintf('the resolver was asked %d times in %.1f s: once an answer',
               $n, $secs));
}

# --- 3. DNS down: the last addresses found keep working
$t->dns_answer($dns, 'drop');
my $down_at = time;
my ($lost, $during) = (0, 0);
my $logged = 0;
# valid=2s, then resolver_timeout 5s before the resolver gives up
while (time < $down_at + 9) {
    my $r = $conn->request($GET);
    $during++;
    $lost++ unless $r && $r->{status} == 200
                   && $r->{body} =~ /^127\.0\.0\.3/;
    $logged ||= MiTest::read_file($gw->{error_log})
                =~ /mi_resolve: "mi\.apigw\.ntruss\.com" could not be resolved/;
    sleep 0.005;
}
is($lost, 0, "DNS down: $during requests over 9 s, all to the last "
             . 'address found');
ok($logged, '... and the failure logged');

# --- 4. a name that never resolved: 502 UPSTREAM_UNAVAILABLE
my $dns_off = $t->start_dns(ttl => 1, answer => 'servfail');
my $never = $t->start_nginx(gateway_conf($dns_off->{port}));
my $res = MiTest::http($never->{port}, 'GET', $P);
subtest 'a name that never resolved: 502 UPSTREAM_UNAVAILABLE' => sub {
    MiTest::is_json_error($res, status => 502, code => 'UPSTREAM_UNAVAILABLE');
};
$t->dns_answer($dns_off, '127.0.0.2');
ok(MiTest::poll_until(10, sub {
       my $r = MiTest::http($never->{port}, 'GET', $P);
       $r && $r->{status} == 200 }),
   '... and 200 once it resolves, with no reload');

# --- 5. the API closes a pooled connection as a request arrives: a POST
# is not sent again (502), a GET is, on a new connection
my $closing_port = MiTest::free_port();
my $closing_log = $t->write_file('closing.log', '', 0644);
$t->spawn("$d/closing.out", $^X, "$MiTest::ROOT/t/mock/tls-closing-mock.pl",
          '--port', $closing_port, '--cert', "$d/chain.pem",
          '--key', "$d/leaf.key", '--log', $closing_log);
MiTest::wait_port($closing_port, 'the closing TLS mock');
my $dns_local = $t->start_dns(ttl => 1, answer => '127.0.0.1');
my $closing_conf = gateway_conf($dns_local->{port});
$closing_conf =~ s/mi_resolve mi\.apigw\.ntruss\.com:\Q$api->{port}\E;/mi_resolve mi.apigw.ntruss.com:$closing_port;/
    or die 'no mi_resolve line to move';
my $closing = $t->start_nginx($closing_conf);
ok(MiTest::poll_until(10, sub {
       my $r = MiTest::http($closing->{port}, 'GET', $P);
       $r && $r->{status} == 200 }),
   'the closing API: a GET, 200 (the connection is kept)');
my $post = MiTest::http($closing->{port}, 'POST', $P,
                        headers => [['Content-Type', 'application/json']],
                        body => '{"sceneIds":[1,2]}');
subtest 'a POST on the pooled connection the API closes: 502, not resent'
    => sub {
    MiTest::is_json_error($post, status => 502,
                          code => 'UPSTREAM_UNAVAILABLE');
};
my $get = MiTest::http($closing->{port}, 'GET', $P);
is($get->{status}, 200, 'then a GET: 200 (a new connection)');
$get = MiTest::http($closing->{port}, 'GET', $P);
is($get->{status}, 200,
   '... and a GET on that connection as the API closes it: 200, sent again');
my @closing = split /\n/, MiTest::read_file($closing_log);
is(scalar(grep { /^\d+ POST / } @closing), 1,
   'the API received the POST once') or diag(join "\n", @closing);
is(scalar(grep { /^\d+ GET / } @closing), 4,
   '... and the GETs: the first, the next, the one sent twice')
    or diag(join "\n", @closing);

# --- 6. two workers, reloaded twice under load while DNS is down
$t->dns_answer($dns, '127.0.0.3');
my $two = $t->start_nginx(gateway_conf($dns->{port}), workers => 2);
ok(MiTest::poll_until(10, sub {
       my $r = MiTest::http($two->{port}, 'GET', $P);
       $r && $r->{status} == 200 }),
   'two workers: 200');
$t->dns_answer($dns, 'drop');

my $results = "$d/load.txt";
my $load = fork // die "fork: $!";
if ($load == 0) {
    open my $out, '>', $results or POSIX::_exit(1);
    my $stop = 0;
    local $SIG{TERM} = sub { $stop = 1 };
    until ($stop) {
        my $r = eval { MiTest::http($two->{port}, 'GET', $P) };
        print {$out} ($r ? "$r->{status}\n" : "none\n");
        sleep 0.005;
    }
    close $out;
    POSIX::_exit(0);
}
sleep 0.5;
$t->reload_nginx($two);
sleep 0.5;
$t->reload_nginx($two);
sleep 0.5;
kill 'TERM', $load;
waitpid($load, 0);

my @codes = split /\n/, MiTest::read_file($results);
my @bad = grep { $_ ne '200' } @codes;
ok(@codes > 20 && !@bad,
   'two reloads under load, DNS down: ' . scalar(@codes)
   . ' requests, none failed (new workers start with the addresses found)')
    or diag(scalar(@bad) . ' failed: ' . join ' ', @bad[0 .. 9]);

# The connections to the API by the process that holds them: each a live
# worker, with at most keepalive's 16 idle ones.
sub api_connections {
    my %by;
    for (split /\n/, `ss -Htnp state established 2>/dev/null`) {
        my (undef, undef, $local, $peer, $users) = split ' ', $_, 5;
        next unless $peer =~ /^127\.0\.0\.[23]:\Q$api->{port}\E$/;
        my ($pid) = ($users // '') =~ /pid=(\d+)/;
        $by{$pid // 'unknown'}++;
    }
    return %by;
}
my %held = api_connections();
my %live = map { $_ => 1 } map { MiTest::worker_pids($_) } $gw, $never, $two;
my @strays = grep { !$live{$_} } keys %held;
ok(!@strays && !(grep { $_ > 16 } values %held),
   'connections to the API after the reloads: each held by a live worker, '
   . 'at most 16 a worker')
    or diag(explain(\%held));
my @workers = MiTest::worker_pids($two);
$t->stop_all;
my %after = api_connections();
is(scalar keys %after, 0, 'every connection to the API closed at the stop');
is(scalar(grep { kill 0, $_ } @workers), 0, 'the workers exited');

$t->check_logs($cred);

done_testing;
