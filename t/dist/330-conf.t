#!/usr/bin/perl
# conf/: what the README tells an operator to install.  "nginx -t" passes
# with both files dropped as they are into Debian's layout (the issue: a
# whole nginx.conf with load_module in it failed in conf.d/).  The site
# carries the JSON log format and the X-Request-ID lines of conf/ exactly
# as those files have them, and the README's timeouts and retries; no
# error_page (the module answers nginx's errors in JSON).  Then the site,
# moved to test ports and resolving through the DNS mock, signs through to
# the mock, and answers everything else (unknown paths, a dead upstream, a
# client outside the allowed networks) with the module's JSON; its
# readiness and metrics locations answer, and its own error_log at notice
# shows the API's 401.  The README's "one nginx.conf"
# (the same two files, included) passes nginx -t.  Also the health and status
# locations the docs show for a signing server.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use IO::Socket::INET;
use JSON::PP ();
use Test::More;
use MiConf;
use MiTest;

MiTest::debian_nginx_only();

my $t = MiTest->new;
my $d = $t->dir;

my $site = MiTest::read_file("$MiTest::ROOT/conf/mi-gateway.conf");
my $cred_conf = MiTest::read_file("$MiTest::ROOT/conf/mi-credentials.conf");

unlike($site . $cred_conf, qr/^\s*load_module/m,
       'no load_module in conf/: the package loads the module');
like($cred_conf, qr{^mi_credentials_file /etc/nginx/mi/credentials;$}m,
     'the credentials at http level, from the file the README names');

# one copy of each: what the site repeats of conf/ is the same text
my ($format) = MiTest::read_file("$MiTest::ROOT/conf/mi-log-format.conf")
    =~ /^(log_format mi_json .*?;)$/ms;
ok($format && index($site, "\n$format\n") >= 0,
   'the site\'s log_format mi_json: exactly that of conf/mi-log-format.conf');
my @id_lines = grep { /^\w/ }
    split /\n/, MiTest::read_file("$MiTest::ROOT/conf/mi-request-id.conf");
is(scalar(@id_lines), 2, 'conf/mi-request-id.conf: two directives');
is_deeply([grep { my $l = $_; $site =~ /^ +\Q$l\E$/m } @id_lines], \@id_lines,
          'the site\'s X-Request-ID lines: those of conf/mi-request-id.conf');
like($site, qr/^\s*access_log \S+ mi_json;$/m, 'the site logs with mi_json');

my @retry = MiTest::retry_directives();
is(scalar @retry, 6, 'the site sets 3 timeouts and 3 retry directives');
unlike($site, qr/^\s*(error_page|map)\s/m,
       'no error_page or map: nginx\'s errors are the module\'s JSON');
like($site, qr/^\s*resolver \S+ valid=30s ipv6=off;$/m,
     'the API re-resolved: a resolver with valid=');
my ($ups) = $site =~ /^upstream mi\.apigw\.ntruss\.com \{\n(.*?)^\}/ms;
is(join(' ', map { /^\s*(\S.*)$/ } grep { !/^\s*#/ } split /\n/, $ups // ''),
   'mi_resolve mi.apigw.ntruss.com:443; keepalive 16; keepalive_timeout 20s;',
'... by mi_resolve, first in an upstream with keepalive');
like($site, qr{^\s*proxy_pass https://mi\.apigw\.ntruss\.com;}m,
     '... which proxy_pass names');
like($site, qr/^\s*proxy_set_header Connection "";/m,
     '... with no "Connection: close" (the pool keeps the connection)');
like($site, qr/^\s*proxy_ssl_verify on;/m, 'TLS verified');

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

# --- the README's "one nginx.conf": the error log at main level, the two
# other files included in http
my $whole_cred = $t->write_file('whole.credentials', $credentials);
{
    my ($whole) = MiTest::read_file("$MiTest::ROOT/README.md")
        =~ /^### Without Debian's layout: one nginx\.conf\n.*?^```nginx\n(.*?)^```/ms;
    my $c = $t->write_file('whole-credentials.conf',
                           MiConf::adapt_credentials($cred_conf, $whole_cred));
    my $sconf = $t->write_file('whole-site.conf',
        MiConf::replace_once(
            MiConf::replace_once($site,
                '/var/log/nginx/mi-gateway.access.log', "$d/whole-access.log"),
            '/var/log/nginx/mi-gateway.error.log', "$d/whole-mi-error.log"));
    my $elog = $t->write_file('whole-error-log.conf', MiConf::replace_once(
        MiTest::read_file("$MiTest::ROOT/conf/mi-error-log.conf"),
        '/var/log/nginx/mi-gateway.error.log', "$d/whole-mi-error.log"));
    my $load = $MiTest::MODULE eq 'static' ? ''
             : "load_module $MiTest::MODULE;";
    $whole = MiConf::replace_once($whole // '',
        'load_module /usr/lib/nginx/modules/ngx_http_mi_module.so;', $load);
    $whole = MiConf::replace_once($whole,
        'include /etc/nginx/mi/mi-error-log.conf;', "include $elog;");
    $whole = MiConf::replace_once($whole,
        'include /etc/nginx/mi/mi-credentials.conf;', "include $c;");
    $whole = MiConf::replace_once($whole,
        'include /etc/nginx/mi/mi-gateway.conf;', "include $sconf;");
    my $file = $t->write_file('whole.conf', $whole);
    local $ENV{LD_PRELOAD} = $ENV{MI_NGINX_PRELOAD} // '';
    my $out = `$MiTest::NGINX -t -p $d/ -c $file -e $d/whole-error.log 2>&1`;
    is($? >> 8, 0, 'the README\'s one nginx.conf with conf/ included: nginx -t')
        or diag($out);
    $t->{logs_to_check}{'whole nginx -t'} = $out;
}

# --- the site, serving
my $cred = $t->write_file('gw.credentials', $credentials);
my $mock = $t->start_mock(AK_GW => $secret);
my $dns = $t->start_dns(ttl => 30);

sub gateway {
    my ($api_port, @error_log) = @_;
    return $t->start_nginx(
        MiConf::adapt_credentials($cred_conf, $cred) . "\n"
        . MiConf::adapt_site($site, listen => '127.0.0.1:%%PORT%%',
                             dns => $dns->{port}, api_port => $api_port,
                             access_log => "$d/gw-access.log", @error_log));
}

my $gw = gateway($mock->{port});
my $port = $gw->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';

my $r = $t->accepted($port, $mock, 'a scene-summary request, signed',
                     ['POST', "$P/scene-summary", body => '{"sceneIds":[1,2]}',
                      headers => [['Content-Type', 'application/json'],
                                  ['X-Request-ID', 'call-42']]],
                     target => "$P/scene-summary", body => '{"sceneIds":[1,2]}');

my @got = $t->mock_requests($mock);
is($got[-1]{h}{host}[0], 'mi.apigw.ntruss.com',
   'Host: the API host, the upstream\'s name');
is($r->{h}{'x-request-id'}[0], 'call-42', 'X-Request-ID forwarded');
ok((grep { /^mi\.apigw\.ntruss\.com 1$/ } $t->dns_queries($dns)),
   'the API host looked up through the resolver');

$t->rejected($port, $mock, 'a path of no route',
             ['GET', '/index.html'], status => 404, code => 'ROUTE_NOT_FOUND');

my $res = MiTest::http($port, 'GET', '/health');
is($res->{status}, 200, '/health (mi_health): 200');
is($res->{h}{'content-type'}, 'application/json', '/health: JSON');
is(MiTest::json_body($res)->{status}, 'ok', '/health: ok');

my $counted =
    qr/^nginx_mi_requests_total\{route="asset.request",outcome="signed",caller="-"\} 1$/m;
$res = MiTest::eventually(sub {
    my $m = MiTest::http($port, 'GET', '/metrics');
    $m->{body} =~ $counted ? $m : undef });
is($res && $res->{status}, 200,
   '/metrics (mi_metrics): 200, the signed request counted');
is(scalar $t->mock_requests($mock), scalar @got,
   '/health, /metrics: nothing forwarded');

# a client outside the allowed networks: 127.0.0.2 is loopback, not allowed
sub from_outside {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  LocalAddr => '127.0.0.2', Timeout => 10)
        or die "connect from 127.0.0.2: $@";
    print {$s} "GET $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my $buf = '';
    my $res = MiTest::parse_response($s, \$buf);
    close $s;
    return $res;
}

$res = from_outside("$P/scene-summary");
subtest 'client outside the allowed networks: FORBIDDEN' => sub {
    MiTest::is_json_error($res, status => 403, code => 'FORBIDDEN');
};
for my $path ('/health', '/metrics') {
    $res = from_outside($path);
    ok($res->{status} == 403 && $res->{body} !~ /AK_GW|nginx_mi_/,
       "client outside the allowed networks: $path refused (403)");
}

my @log = map { eval { JSON::PP::decode_json($_) } }
          split /\n/, MiTest::read_file("$d/gw-access.log");
my ($ok) = grep { $_->{path} eq "$P/scene-summary" } @log;
ok($ok && $ok->{status} == 200 && $ok->{route} eq 'asset.request'
   && $ok->{mi_timestamp} =~ /^\d{13}$/ && $ok->{upstream_status} eq '200'
   && $ok->{request_id} eq 'call-42',
   'the JSON access log: route, timestamp, upstream status, request id')
    or diag(explain($ok));
my ($refused) = grep { $_->{path} eq '/index.html' } @log;
is($refused && $refused->{error_code}, 'ROUTE_NOT_FOUND',
   'the JSON access log: the error code of a refusal');

# the site's own error_log, at notice: the API's 401, which the module
# logs at warn, shows there (Debian's http-level log is at error)
like($site, qr{^    error_log /var/log/nginx/mi-gateway\.error\.log notice;$}m,
     "the site's own error_log, at notice");
my $logged = gateway($mock->{port}, error_log => "$d/gw-mi-error.log");
$res = MiTest::http($logged->{port}, 'GET', "$P/scene-summary/status",
                    headers => [['X-Mock', 'status 401 200']]);
is($res->{status}, 401, "the API's 401, passed on");
ok(MiTest::poll_until(5, sub {
       (MiTest::read_file("$d/gw-mi-error.log") // '')
       =~ /\[warn\] .*mi: upstream answered 401 to a signed request: route asset\.status/ }),
   '... and the warn line in the site\'s error log');

# an upstream that does not answer: nginx's 502, the module's JSON
my $dead = gateway(MiTest::free_port());
$res = MiTest::http($dead->{port}, 'GET', "$P/scene-summary");
subtest 'upstream down: UPSTREAM_UNAVAILABLE' => sub {
    MiTest::is_json_error($res, status => 502, code => 'UPSTREAM_UNAVAILABLE');
};

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
$t->check_logs($cred, $secret_file, $whole_cred);

done_testing;
