#!/usr/bin/perl
# mi_credentials_env: the keys from the environment variables of NCP's
# SDKs (NCLOUD_ACCESS_KEY_ID and NCLOUD_SECRET_ACCESS_KEY, or the short
# NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY), read by the master at start,
# kept across reloads, and wiped from the environment: neither the master's
# nor a worker's /proc/PID/environ holds the secret afterwards, even with
# an "env" directive naming it.  Without the variables, nginx -t fails
# naming them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $target = "$P/scene-summary/status";

my $secret = $t->new_secret;
my $short = $t->new_secret;
my $mock = $t->start_mock(AKENV => $secret, AKSHORT => $short);

my $conf = <<"EOF";
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            mi_sign on;
            mi_credentials_env;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
        location = /health {
            mi_health;
        }
    }
EOF

sub environ_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/environ" or return '';
    local $/;
    return <$fh> // '';
}

# --- the long names ------------------------------------------------------

my $ngx;
{
    local $ENV{NCLOUD_ACCESS_KEY_ID} = 'AKENV';
    local $ENV{NCLOUD_SECRET_ACCESS_KEY} = $secret;
    $ngx = $t->start_nginx($conf, workers => 2,
                           main => ($MiTest::MODULE eq 'static' ? ''
                                    : "load_module $MiTest::MODULE;")
                                   . "\nenv NCLOUD_SECRET_ACCESS_KEY;");
}

is($t->signed_as($ngx->{port}, $mock, $target), 'verified AKENV',
   'signed with the keys of the environment');

my @pids = ($ngx->{pid}, MiTest::worker_pids($ngx));
ok(@pids >= 3, 'a master and two workers');
my @holding = grep { index(environ_of($_), $secret) >= 0
                     || environ_of($_) =~ /NCLOUD_SECRET_ACCESS_KEY=/ } @pids;
is(scalar @holding, 0,
   'no process\'s environment holds the secret (an "env" directive too)');

my $j = MiTest::json_body(MiTest::http($ngx->{port}, 'GET', '/health'));
is_deeply([map { [$_->{source}, $_->{location_key}, $_->{access_key}] }
           @{ $j->{keys} }],
          [['env', 'env:NCLOUD_SECRET_ACCESS_KEY', 'AKENV']],
          'health: the key\'s source is env');

$t->reload_nginx($ngx);
is($t->signed_as($ngx->{port}, $mock, $target), 'verified AKENV',
   'a reload keeps the key read at start');

# --- the short names -----------------------------------------------------

my $ngx2;
{
    local $ENV{NCLOUD_ACCESS_KEY} = 'AKSHORT';
    local $ENV{NCLOUD_SECRET_KEY} = $short;
    $ngx2 = $t->start_nginx($conf);
}

is($t->signed_as($ngx2->{port}, $mock, $target), 'verified AKSHORT',
   'the short names: NCLOUD_ACCESS_KEY, NCLOUD_SECRET_KEY');
ok(index(environ_of($ngx2->{pid}), $short) < 0,
   'the short name\'s secret wiped too');

# --- not set -------------------------------------------------------------

{
    local $ENV{NCLOUD_ACCESS_KEY_ID} = 'AKENV';
    delete local $ENV{NCLOUD_SECRET_ACCESS_KEY};
    delete local $ENV{NCLOUD_SECRET_KEY};
    my ($rc, $out) = $t->nginx_test_conf($conf =~ s/%%PORT%%/1/r);
    isnt($rc, 0, 'no secret in the environment: nginx -t fails');
    like($out, qr/"mi_credentials_env": NCLOUD_SECRET_ACCESS_KEY is not set \(nor NCLOUD_SECRET_KEY\)/,
         'naming the variables');
}

{
    my ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    server {
        listen 127.0.0.1:1;
        location / {
            mi_access_key AK;
            mi_credentials_env;
        }
    }
EOF
    like($out, qr/"mi_credentials_env" cannot be combined with "mi_access_key"/,
         'not with mi_access_key in one block');
}

$t->stop_all;
$t->check_logs;

done_testing;
