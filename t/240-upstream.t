#!/usr/bin/perl
# Reaching the API as the production configuration does: its timeouts and
# retries (read from conf/mi-gateway.conf itself) retry a connection
# that failed before anything was sent, and never send a POST twice; the
# API's name is resolved again while nginx runs, by a variable in
# proxy_pass (and on nginx 1.27.3+ by "server ... resolve"), and either
# way the request-target nginx sends is the one the module signed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('u.secret');
my $signing = MiTest::signing($file);
my $mock2 = $t->start_mock(AK => $secret);
my $dns = $t->start_dns(ttl => 1);
my $closed = '127.0.0.1:' . MiTest::free_port();

# the timeouts and retries of the production configuration
my @retry = MiTest::retry_directives();
is(scalar @retry, 6, 'conf/mi-gateway.conf sets 3 timeouts and 3 retry directives')
    or diag(join "\n", @retry);
my $retry = join "\n", map { "            $_" } @retry;

my ($version) = `$MiTest::NGINX -v 2>&1` =~ m{nginx/(\d+\.\d+\.\d+)};
my $has_resolve = sprintf('%03d%03d%03d', split /\./, $version) ge '001027003';

my $resolve_conf = $has_resolve ? <<"EOF" : '';
    upstream api_resolved {
        zone api_resolved 64k;
        server api.mi.test:$mock->{port} resolve;
        keepalive 4;
    }
EOF

my $resolve_location = $has_resolve ? <<"EOF" : '';
        location /resolve/ {
            proxy_pass http://api_resolved;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
$retry
        }
EOF

my $ngx = $t->start_nginx(<<"EOF");
    resolver 127.0.0.1:$dns->{port} valid=1s ipv6=off;
    resolver_timeout 5s;

$resolve_conf
    # the first address refuses connections
    upstream refused_then_mock {
        server $closed;
        server 127.0.0.1:$mock->{port} backup;
    }

    # max_fails=0: a reset does not take an address out of the rotation
    upstream two_mocks {
        server 127.0.0.1:$mock->{port} max_fails=0;
        server 127.0.0.1:$mock2->{port} max_fails=0;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        $signing
        mi_validate off;

        location / {
            set \$ncp_mi_host api.mi.test:$mock->{port};
            proxy_pass http://\$ncp_mi_host;
            proxy_http_version 1.1;
$retry
        }

        # "set" before "rewrite ... break", which ends the rewrite directives
        location /strip/ {
            set \$ncp_mi_host api.mi.test:$mock->{port};
            rewrite ^/strip(/.*)\$ \$1 break;
            proxy_pass http://\$ncp_mi_host;
$retry
        }

        location /refused/ {
            proxy_pass http://refused_then_mock;
$retry
        }

        location /two/ {
            proxy_pass http://two_mocks;
$retry
        }
$resolve_location
    }
EOF

my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';

sub requests { scalar($t->mock_requests($mock)) + scalar($t->mock_requests($mock2)) }

sub last_request { ($t->mock_requests($mock))[-1] }

# --- a variable in proxy_pass: the request-target the module signed
for my $target (@MiTest::TARGETS, "$P/scene-summary?x=1") {
    my $res = MiTest::http($port, 'GET', $target);
    my $r = last_request();
    ok($res->{status} == 200 && $r->{verified} && $r->{target} eq $target,
       "variable proxy_pass: $target sent as signed")
        or diag("$res->{status} $r->{target} " . ($r->{error} // ''));
}

for my $c (['/strip/a%20b/%C3%A9?q=%20', '/a%20b/%C3%A9?q=%20'],
           ['/strip/%7E/a+b', '/~/a+b'])
{
    MiTest::http($port, 'GET', $c->[0]);
    my $r = last_request();
    ok($r->{verified} && $r->{target} eq $c->[1],
       "variable proxy_pass after rewrite ... break: $c->[0] sent as $c->[1]")
        or diag("$r->{target} " . ($r->{error} // ''));
}

is(last_request()->{h}{host}[0], "api.mi.test:$mock->{port}",
   'variable proxy_pass: Host is the resolved name');

# --- the name is resolved again once valid= has passed
sub queries { scalar grep { /^api\.mi\.test 1$/ } $t->dns_queries($dns) }

sub requeried {
    my ($target) = @_;
    my $first = queries();
    my $start = time;
    while (time < $start + 10) {
        MiTest::http($port, 'GET', $target);
        return time - $start if queries() > $first;
        sleep 0.1;
    }
    return undef;
}

ok(queries() >= 1, 'the name was looked up through the resolver');
my $before = queries();
MiTest::http($port, 'GET', '/cached');
is(queries(), $before, 'within valid=1s: the cached address is used');
my $after = requeried('/again');
ok(defined $after && $after >= 0.5,
   sprintf('once valid=1s has passed: looked up again (after %.1f s)',
           $after // -1));

# --- retries
my $n = requests();
my $res = MiTest::http($port, 'POST', '/refused/x', body => '{}');
is($res->{status}, 200,
   'POST, the first address refuses the connection: retried on the next');
is(requests(), $n + 1, '... and sent once');

$n = requests();
$res = MiTest::http($port, 'POST', '/two/x', body => '{}',
                    headers => [['X-Mock', 'reset']]);
is($res->{status}, 502, 'POST, the API resets the connection: 502');
is(requests(), $n + 1, '... and the POST was not sent again');

$n = requests();
$res = MiTest::http($port, 'GET', '/two/x', headers => [['X-Mock', 'reset']]);
is($res->{status}, 502, 'GET, both addresses reset the connection: 502');
is(requests(), $n + 2, '... after the GET was tried on the next address');

# --- nginx 1.27.3+: server ... resolve
SKIP: {
    skip "nginx $version has no \"server ... resolve\" (1.27.3+)", 2
        unless $has_resolve;

    my @bad = grep {
        MiTest::http($port, 'GET', "/resolve$_");
        my $r = last_request();
        !($r->{verified} && $r->{target} eq "/resolve$_")
    } @MiTest::TARGETS;
    is_deeply(\@bad, [], 'server ... resolve: every target sent as signed');

    # no request now: only the upstream's own timer asks again
    my $resolved = queries();
    my $start = time;
    sleep 0.1 while time < $start + 10 && queries() <= $resolved;
    ok(queries() > $resolved,
       'server ... resolve: looked up again while running, unasked');
}

$t->stop_all;
$t->check_logs($file);

done_testing;
