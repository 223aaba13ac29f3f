#!/usr/bin/perl
# The README's main job: scripts/run.sh (make run) without credentials
# starts nginx and the bundled mock gateway, and the README's curl gets a
# signed round trip; a bad request gets the module's JSON error.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use JSON::PP ();
use IO::Socket::INET;
use Test::More;
use MiTest;

plan skip_all => 'make run loads build/ngx_http_mi_module.so: run make'
    unless -f "$MiTest::ROOT/build/ngx_http_mi_module.so";

my $t = MiTest->new;
my $port = MiTest::free_port();
my $mock_port = MiTest::free_port();
my $run = "$t->{dir}/run";
my @sdk_secrets;

{
    local $ENV{MI_PORT} = $port;
    local $ENV{MI_MOCK_PORT} = $mock_port;
    local $ENV{MI_RUN_DIR} = $run;
    delete local @ENV{qw(NCP_ACCESS_KEY NCP_SECRET_KEY NCLOUD_ACCESS_KEY_ID
                         NCLOUD_ACCESS_KEY NCLOUD_SECRET_ACCESS_KEY
                         NCLOUD_SECRET_KEY)};
    $t->spawn("$t->{dir}/run.out", 'bash', "$MiTest::ROOT/scripts/run.sh");
}

MiTest::wait_port($port, 'make run');
MiTest::wait_port($mock_port, 'the mock');

my $P = '/api/v1/workspaces/my-workspace/projects/1234/assets/5678';

# the README's curl
my $res = MiTest::http($port, 'POST', "$P/scene-summary",
                       headers => [['Content-Type', 'application/json']],
                       body => '{"sceneIds":[1,2]}');
is($res->{status}, 200, 'README curl: 200');
my $res_id = $res->{h}{'x-request-id'};
like($res_id // '', qr/^[0-9a-f]{32}$/, 'README curl: an X-Request-ID back');
my $j = MiTest::json_body($res);
is($j->{code}, '0', 'README curl: the mock accepted the signature');
is($j->{result}{target}, "$P/scene-summary", 'README curl: target');

$res = MiTest::http($port, 'GET', '/api/v1/workspaces/My/projects/1/assets/2/scene-summary');
is($res->{status}, 400, 'a bad workspace: 400');
is(MiTest::json_body($res)->{code}, 'INVALID_PATH_PARAMETER',
   'a bad workspace: the JSON error');

# the JSON access log, the request id, the module's endpoints: the curl's
# line is the one with the id it got back (with more than one worker, the
# second request may be logged first)
my $l = MiTest::eventually(sub {
    (grep { $_ && ($_->{request_id} // '') eq ($res_id // '') }
     map { eval { JSON::PP::decode_json($_) } } split /\n/,
     MiTest::read_file("$run/access.log"))[0];
});
ok($l, 'access log: JSON, a line with the id sent back');
is($l && $l->{route}, 'asset.request', 'access log: the route');
is(MiTest::http($port, 'GET', '/health')->{status}, 200, '/health: 200');
my $counted =
    qr/^nginx_mi_requests_total\{route="asset.request",outcome="signed",caller="-"\} 1$/m;
like(MiTest::eventually(sub {
         my $body = MiTest::http($port, 'GET', '/metrics')->{body};
         $body =~ $counted ? $body : undef }) // '',
     $counted, '/metrics: the curl counted');

like(MiTest::read_file("$t->{dir}/run.out"),
     qr{curl -s -X POST http://127\.0\.0\.1:$port\Q$P\E/scene-summary},
     'it prints the curl to try');
is((stat $run)[2] & 0777, 0711, 'its folder: 0711');
is((stat "$run/secret")[2] & 0777, 0600, 'the demo secret: 0600');

my $conf = MiTest::read_file("$run/nginx.conf");
# the timeouts and retries of the production site, conf/mi-gateway.conf
my @retry = MiTest::retry_directives();
is(scalar @retry, 6, 'conf/mi-gateway.conf: 3 timeouts, 3 retry directives');
is_deeply([grep { my $d = $_; $conf =~ /^\s*\Q$d\E$/m } @retry], \@retry,
          'the timeouts and retries of conf/mi-gateway.conf, all '
          . scalar(@retry));

my $secret = MiTest::read_file("$run/secret");
chomp $secret;
push @{ $t->{secrets} }, $secret;

# with credentials: the production configuration, checked but not started
{
    my $real = "$t->{dir}/real";
    my $fake = $t->new_secret;
    my $real_port = MiTest::free_port();
    local $ENV{MI_RUN_DIR} = $real;
    local $ENV{MI_PORT} = $real_port;
    local $ENV{MI_RUN_CHECK} = 1;
    local $ENV{NCP_ACCESS_KEY} = 'AKREAL';
    local $ENV{NCP_SECRET_KEY} = $fake;
    my $out = `bash $MiTest::ROOT/scripts/run.sh 2>&1`;
    is($?, 0, 'with credentials, MI_RUN_CHECK=1: the configuration tests ok')
        or diag($out);
    my $c = MiTest::read_file("$real/nginx.conf");
    like($c, qr/^\s*resolver \S+ valid=30s ipv6=off;$/m,
         'with credentials: a resolver with valid=');
    like($c, qr{proxy_pass https://mi\.apigw\.ntruss\.com;},
         'with credentials: the API\'s upstream');
    like($c, qr/^\s*mi_resolve mi\.apigw\.ntruss\.com:443;\s*keepalive 16;/m,
         '... resolved while running by mi_resolve, with a pool (the site\'s)');
    is_deeply([grep { my $d = $_; $c =~ /^\s*\Q$d\E$/m } @retry], \@retry,
              'with credentials: the timeouts and retries of '
              . 'conf/mi-gateway.conf');
    ok(!IO::Socket::INET->new(PeerAddr => "127.0.0.1:$real_port"),
       'with credentials, MI_RUN_CHECK=1: nginx not started');
}

# the SDKs' names (NCP_ACCESS_KEY and NCP_SECRET_KEY above are aliases)
for my $names (['NCLOUD_ACCESS_KEY_ID', 'NCLOUD_SECRET_ACCESS_KEY'],
               ['NCLOUD_ACCESS_KEY', 'NCLOUD_SECRET_KEY'])
{
    my $sdk = "$t->{dir}/$names->[0]";
    my $fake = $t->new_secret;
    delete local @ENV{qw(NCP_ACCESS_KEY NCP_SECRET_KEY NCLOUD_ACCESS_KEY_ID
                         NCLOUD_ACCESS_KEY NCLOUD_SECRET_ACCESS_KEY
                         NCLOUD_SECRET_KEY)};
    local $ENV{MI_RUN_DIR} = $sdk;
    local $ENV{MI_PORT} = MiTest::free_port();
    local $ENV{MI_RUN_CHECK} = 1;
    local $ENV{$names->[0]} = 'AKSDK';
    local $ENV{$names->[1]} = $fake;
    my $out = `bash $MiTest::ROOT/scripts/run.sh 2>&1`;
    is($?, 0, "$names->[0], $names->[1]: the configuration tests ok")
        or diag($out);
    like(MiTest::read_file("$sdk/nginx.conf"), qr/\bAKSDK\b/,
         "$names->[0]: the access key in the configuration");
    is(MiTest::read_file("$sdk/secret"), "$fake\n",
       "$names->[1]: the secret in its file");
    push @sdk_secrets, "$sdk/secret";
}

$t->stop_all;
$t->check_logs("$run/secret", "$run/mock.keys", "$t->{dir}/real/secret",
               @sdk_secrets);

done_testing;
