#!/usr/bin/perl
# Forwarding over verified TLS: the module's nginx talks HTTPS to a TLS
# terminator (a second nginx with a certificate from a CA this test makes)
# in front of the mock gateway, with proxy_ssl_verify on and SNI.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my $d = $t->dir;

sub run_openssl {
    my ($cmd) = @_;
    system("$cmd >>$d/openssl.log 2>&1") == 0
        or BAIL_OUT("openssl failed: $cmd");
}

my $ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
run_openssl("openssl req -x509 $ec -keyout $d/ca.key -out $d/ca.pem -days 2 "
            . "-subj /CN=mi-test-ca");
run_openssl("openssl req -x509 $ec -keyout $d/other-ca.key "
            . "-out $d/other-ca.pem -days 2 -subj /CN=other-ca");
run_openssl("openssl req $ec -keyout $d/srv.key -out $d/srv.csr "
            . "-subj /CN=mi.test");
$t->write_file('san.ext', "subjectAltName=DNS:mi.test\n");
run_openssl("openssl x509 -req -in $d/srv.csr -CA $d/ca.pem -CAkey $d/ca.key "
            . "-CAcreateserial -out $d/srv.pem -days 2 -extfile $d/san.ext");

my $secret = $t->new_secret;
my $file = $t->write_file('tls.secret', "$secret\n");
my $mock = $t->start_mock(AK_TLS => $secret);

# a second port: each failing location gets an upstream of its own
my $port2 = MiTest::free_port();

my $tls = $t->start_nginx(<<"EOF");
    log_format tls '\$ssl_protocol \$ssl_server_name \$request_uri';
    server {
        listen 127.0.0.1:%%PORT%% ssl;
        listen 127.0.0.1:$port2 ssl;
        server_name mi.test;
        ssl_certificate $d/srv.pem;
        ssl_certificate_key $d/srv.key;
        access_log $d/tls-access.log tls;
        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

my $ngx = $t->start_nginx(<<"EOF");
    upstream mi_tls {
        server 127.0.0.1:$tls->{port};
        keepalive 4;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        mi_sign on;
        mi_access_key AK_TLS;
        mi_secret_key_file $file;
        mi_validate off;

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host mi.test;
        proxy_ssl_server_name on;
        proxy_ssl_name mi.test;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate $d/ca.pem;

        location / {
            proxy_pass https://mi_tls;
        }

        # no keepalive here: a cached connection was verified already
        location /wrong-ca/ {
            proxy_ssl_trusted_certificate $d/other-ca.pem;
            proxy_pass https://127.0.0.1:$tls->{port};
        }

        location /wrong-name/ {
            proxy_ssl_name other.test;
            proxy_pass https://127.0.0.1:$port2;
        }
    }
EOF

my $path = '/api/v1/workspaces/my-ws/projects/1/assets/2/scene-summary';
my $body = '{"sceneIds":[4]}';

for my $i (1 .. 3) {
    my $res = MiTest::http($ngx->{port}, 'POST', "$path?try=$i", body => $body,
                           headers => [['Content-Type', 'application/json']]);
    is($res->{status}, 200, "over TLS, request $i: 200");
}

my @got = $t->mock_requests($mock);
is(scalar @got, 3, 'mock got three requests');
is(scalar(grep { $_->{verified} } @got), 3, 'all three signatures verified');
is_deeply([map { $_->{target} } @got], [map { "$path?try=$_" } 1 .. 3],
          'targets through TLS unchanged');
is(scalar(grep { $_->{body} eq $body } @got), 3, 'bodies unchanged');

my $log = MiTest::read_file("$d/tls-access.log");
like($log, qr{^TLSv1\.[23] mi\.test \Q$path\E\?try=1$}m,
     'the terminator saw TLS with SNI mi.test');

my $res = MiTest::http($ngx->{port}, 'GET', '/wrong-ca/x');
is($res->{status}, 502, 'certificate from another CA: 502');
like(MiTest::read_file($ngx->{error_log}),
     qr/upstream SSL certificate verify error/, 'wrong CA: verify error logged');

$res = MiTest::http($ngx->{port}, 'GET', '/wrong-name/x');
is($res->{status}, 502, 'certificate for another name: 502');
like(MiTest::read_file($ngx->{error_log}),
     qr/upstream SSL certificate does not match "other\.test"/,
     'wrong name: mismatch logged');

is(scalar($t->mock_requests($mock)), 3,
   'nothing reached the mock over an unverified connection');

$t->stop_all;
$t->check_logs($file);

done_testing;
