#!/usr/bin/perl
# The directives of the metrics and readiness endpoints: "nginx -t" refuses
# every misuse, naming the directive and the value.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my $secret = $t->new_secret;
my $key = $t->write_file('k.secret', "$secret\n");

sub conf {
    my ($http, $server, $location) = @_;
    return <<"EOF";
    $http
    server {
        listen 127.0.0.1:1;
        mi_access_key AK;
        mi_secret_key_file $key;
        $server
        location / {
            mi_sign on;
            proxy_pass http://127.0.0.1:1;
        }
        location /metrics {
            $location
        }
    }
EOF
}

sub passes {
    my ($name, $conf) = @_;
    my ($rc, $out) = $t->nginx_test_conf($conf);
    is($rc, 0, "$name: nginx -t passes") or diag($out);
}

sub fails_with {
    my ($name, $conf, $re) = @_;
    my ($rc, $out) = $t->nginx_test_conf($conf);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $re, "$name: message") or diag($out);
}

passes('mi_metrics and mi_health, the default zone',
       conf('', '', 'mi_metrics;') . conf('', '', 'mi_health;')
       =~ s/listen 127.0.0.1:1;/listen 127.0.0.1:2;/r);
passes('a zone named and sized',
       conf('mi_metrics_zone gw 1m;', '', 'mi_metrics;'));
passes('a zone without an endpoint', conf('mi_metrics_zone gw 64k;', '', ''));
passes('mi_metrics under "mi_sign on" of the server',
       conf('', 'mi_sign on;', 'mi_metrics;'));

fails_with('mi_metrics_zone: a size that is not one',
           conf('mi_metrics_zone gw lots;', '', 'mi_metrics;'),
           qr/"mi_metrics_zone": invalid size "lots" in \S+:\d+/);
fails_with('mi_metrics_zone: too small',
           conf('mi_metrics_zone gw 16k;', '', 'mi_metrics;'),
           qr/"mi_metrics_zone": size "16k" is too small, at least \d+k in \S+:\d+/);
fails_with('mi_metrics_zone: an empty name',
           conf("mi_metrics_zone '' 1m;", '', 'mi_metrics;'),
           qr/"mi_metrics_zone": the zone name is empty/);
fails_with('mi_metrics_zone: twice',
           conf('mi_metrics_zone a 1m; mi_metrics_zone b 1m;', '', ''),
           qr/"mi_metrics_zone" directive is duplicate/);
fails_with('mi_metrics_zone: in a server',
           conf('', 'mi_metrics_zone gw 1m;', ''),
           qr/"mi_metrics_zone" directive is not allowed here/);
fails_with('mi_metrics_zone: one argument',
           conf('mi_metrics_zone gw;', '', ''),
           qr/invalid number of arguments in "mi_metrics_zone" directive/);
fails_with('mi_metrics_zone: a name another module uses',
           conf('limit_req_zone $binary_remote_addr zone=mi_metrics:1m '
                . 'rate=1r/s;', '', 'mi_metrics;'),
           qr/the shared memory zone "mi_metrics" is already declared for a different use/);

fails_with('mi_metrics: an argument', conf('', '', 'mi_metrics on;'),
           qr/invalid number of arguments in "mi_metrics" directive/);
fails_with('mi_metrics: in a server', conf('', 'mi_metrics;', ''),
           qr/"mi_metrics" directive is not allowed here/);
fails_with('mi_metrics: twice', conf('', '', 'mi_metrics; mi_metrics;'),
           qr/"mi_metrics" directive is duplicate/);
fails_with('mi_health: an argument', conf('', '', 'mi_health 1;'),
           qr/invalid number of arguments in "mi_health" directive/);
fails_with('mi_metrics and mi_health in one location',
           conf('', '', 'mi_metrics; mi_health;'),
           qr/"mi_metrics" and "mi_health" in one location/);
fails_with('mi_sign on where mi_health answers',
           conf('', '', 'mi_health; mi_sign on;'),
           qr/"mi_sign on" in \S+:\d+ and "mi_health" in one location/);

$t->check_logs($key);

done_testing;
