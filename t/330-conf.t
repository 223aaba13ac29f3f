#!/usr/bin/perl
# conf/: what the README tells an operator to install.  "nginx -t" passes
# with both files dropped as they are into Debian's layout (the issue: a
# whole nginx.conf with load_module in it failed in conf.d/); then the site,
# moved to test ports, signs through to the mock and answers everything
# else (health check, unknown paths, a dead upstream, a client outside the
# allowed networks) in JSON.  Also the health and status locations the docs
# show for a signing server.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use Test::More;
use MiConf;
use MiTest;

my $t = MiTest->new;
my $d = $t->dir;

my $site = MiTest::read_file("$MiTest::ROOT/conf/mi-gateway.conf");
my $cred_conf = MiTest::read_file("$MiTest::ROOT/conf/mi-credentials.conf");

unlike($site . $cred_conf, qr/^\s*load_module/m,
       'no load_module in conf/: the package loads the module');
like($cred_conf, qr{^mi_credentials_file /etc/nginx/mi/credentials;$}m,
     'the credentials at http level, from the file the README names');

my $secret = $t->new_secret;
my $credentials = MiConf::cli_file(DEFAULT => ['AK_GW', $secret]);

SKIP: {
    skip 'nginx -t in a copy of /etc/nginx needs root and unshare', 2
        unless MiConf::can_unshare();

    my ($rc, $out) = MiConf::debian_nginx_t($t, site => $site,
        credentials_conf => $cred_conf, credentials => $credentials);
    is($rc, 0, "Debian's nginx.conf with conf/ dropped in: nginx -t passes")
        or diag($out);
    unlike($out, qr/\[(warn|emerg)\]/, '... without a warning') or diag($out);
}

# --- the site, serving
my $cred = $t->write_file('gw.credentials', $credentials);
my $mock = $t->start_mock(AK_GW => $secret);

sub gateway {
    my ($upstream) = @_;
    return $t->start_nginx(
        MiConf::adapt_credentials($cred_conf, $cred) . "\n"
        . MiConf::adapt_site($site, listen => '127.0.0.1:%%PORT%%',
                             upstream => $upstream,
                             access_log => "$d/gw-access.log"));
}

my $gw = gateway("127.0.0.1:$mock->{port}");
my $port = $gw->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';

$t->accepted($port, $mock, 'a scene-summary request, signed',
             ['POST', "$P/scene-summary", body => '{"sceneIds":[1,2]}',
              headers => [['Content-Type', 'application/json']]],
             target => "$P/scene-summary", body => '{"sceneIds":[1,2]}');

my @got = $t->mock_requests($mock);
is($got[-1]{h}{host}[0], 'mi.apigw.ntruss.com',
   'Host: the API host, from the upstream name');

$t->rejected($port, $mock, 'a path of no route',
             ['GET', '/index.html'], status => 404, code => 'ROUTE_NOT_FOUND');

my $res = MiTest::http($port, 'GET', '/healthz');
is($res->{status}, 200, '/healthz: 200');
is($res->{h}{'content-type'}, 'application/json', '/healthz: JSON');
is_deeply(MiTest::json_body($res), { status => 'ok' }, '/healthz: body');
is(scalar $t->mock_requests($mock), scalar @got,
   '/healthz: nothing forwarded');

# a client outside the allowed networks: 127.0.0.2 is loopback, not allowed
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                              LocalAddr => '127.0.0.2', Timeout => 10)
    or die "connect from 127.0.0.2: $@";
print {$s} "GET $P/scene-summary HTTP/1.1\r\nHost: x\r\n"
           . "Connection: close\r\n\r\n";
my $buf = '';
$res = MiTest::parse_response($s, \$buf);
close $s;
is($res->{status}, 403, 'client outside the allowed networks: 403');
is_deeply(MiTest::json_body($res),
          { code => 'FORBIDDEN',
            message => 'this client may not use the gateway' },
          '... in JSON');

like(MiTest::read_file("$d/gw-access.log"),
     qr{"POST \Q$P\E/scene-summary HTTP/1.1" 200 route=asset.request error=- ts=\d{13} upstream=200 rt=},
     'the access log format: route, timestamp, upstream status');
like(MiTest::read_file("$d/gw-access.log"),
     qr{"GET /index.html HTTP/1.1" 404 route=- error=ROUTE_NOT_FOUND ts=- },
     'the access log format: the error code of a refusal');

# an upstream that does not answer: nginx's 502, in JSON
my $dead = gateway('127.0.0.1:' . MiTest::free_port());
$res = MiTest::http($dead->{port}, 'GET', "$P/scene-summary");
is($res->{status}, 502, 'upstream down: 502');
is($res->{h}{'content-type'}, 'application/json', 'upstream down: JSON');
is_deeply(MiTest::json_body($res),
          { code => 'UPSTREAM_UNAVAILABLE',
            message => 'the MI API could not be reached' },
          'upstream down: the code says what happened');

# --- health and status locations in a signing server, as the docs show
my $secret_file = $t->write_file('s.secret', "$secret\n");
my $status = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        mi_sign on;
        mi_access_key AK_GW;
        mi_secret_key_file $secret_file;

        location = /nginx_status {
            mi_sign off;
            stub_status;
        }

        location = /status_signed {
            stub_status;
        }
    }
EOF

$res = MiTest::http($status->{port}, 'GET', '/nginx_status');
is($res->{status}, 200, 'stub_status with mi_sign off: 200');
like($res->{body}, qr/^Active connections: \d+/, 'stub_status: its page');

$res = MiTest::http($status->{port}, 'GET', '/status_signed');
is(MiTest::json_body($res)->{code}, 'ROUTE_NOT_FOUND',
   'stub_status without mi_sign off: the module answers ROUTE_NOT_FOUND');

$t->stop_all;
$t->check_logs($cred, $secret_file);

done_testing;
