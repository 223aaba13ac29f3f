#!/usr/bin/perl
# mi_index_routes: NCP removes the index-scoped routes in January 2027.
# "deprecated" (the default) forwards them with Deprecation (RFC 9745),
# Sunset (RFC 8594) and a Link to the asset-scoped successor, counts them by
# caller (nginx_mi_deprecated_requests_total) and warns once an hour per
# caller and route for the whole nginx (two workers, and a reload, write
# one line); "off" answers 410 ROUTE_REMOVED naming the successor and
# forwards nothing; "on" forwards them as before.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;
use PromText;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('index.secret');
my $sign = MiTest::signing($file);

my $http = <<"EOF";
    server {
        listen 127.0.0.1:%%PORT%%;
        error_log $t->{dir}/warn.log warn;
        $sign
        mi_caller \$http_x_caller;
        mi_allow indexer;
        mi_allow ~^batch-;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /api/v1/workspaces/gone/ {
            mi_index_routes off;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /api/v1/workspaces/kept/ {
            mi_index_routes on;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /api/v1/workspaces/later/ {
            mi_index_routes_sunset "Mon, 01 Feb 2027 00:00:00 GMT";
            mi_index_routes_deprecation "Tue, 01 Dec 2026 00:00:00 GMT";
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location = /metrics {
            mi_metrics;
        }
    }
EOF

my $ngx = $t->start_nginx($http, workers => 2);
my $port = $ngx->{port};

sub asset { "/api/v1/workspaces/$_[0]/projects/12/assets/34" }

sub call {
    my ($caller, $method, $target) = @_;
    return MiTest::http($port, $method, $target,
                        headers => [['X-Caller', $caller]]);
}

# --- deprecated: forwarded, and told so --------------------------------------

my $A = asset('media-dev');
for my $c (['POST', "$A/indexes/5/scene-summaries", '/scene-summary'],
           ['GET', "$A/indexes/5/scene-summaries", '/scene-summary'],
           ['GET', "$A/indexes/5/scene-summaries/6/status",
            '/scene-summary/status'],
           ['DELETE', "$A/indexes/5/scene-summaries/6",
            '/scene-summary/cancel'])
{
    my ($method, $target, $successor) = @$c;
    my $before = scalar $t->mock_requests($mock);
    my $res = call('indexer', $method, $target);

    is($res->{status}, 200, "deprecated $method $target: forwarded");
    is(scalar $t->mock_requests($mock), $before + 1, '... once');
    is($res->{h}{deprecation}, '@1790812800', '... Deprecation: @epoch');
    is($res->{h}{sunset}, 'Fri, 01 Jan 2027 00:00:00 GMT',
       '... Sunset: 2027-01-01');
    is($res->{h}{link}, "<$A$successor>; rel=\"successor-version\"",
       '... Link to the successor');
}

my $res = call('indexer', 'GET', "$A/scene-summary/status");
ok(!exists $res->{h}{deprecation} && !exists $res->{h}{sunset}
   && !exists $res->{h}{link}, 'an asset route: no deprecation headers');

$res = call('indexer', 'GET', asset('later') . '/indexes/5/scene-summaries');
is($res->{h}{sunset}, 'Mon, 01 Feb 2027 00:00:00 GMT',
   'mi_index_routes_sunset sets Sunset');
is($res->{h}{deprecation}, '@1796083200',
   'mi_index_routes_deprecation sets Deprecation');

# --- on: as before ------------------------------------------------------------

$res = call('indexer', 'GET', asset('kept') . '/indexes/5/scene-summaries');
is($res->{status}, 200, 'on: forwarded');
ok(!exists $res->{h}{deprecation}, 'on: no Deprecation');

# --- off: 410, nothing forwarded ----------------------------------------------

$t->rejected($port, $mock, 'off: an index status',
    ['GET', asset('gone') . '/indexes/5/scene-summaries/6/status',
     headers => [['X-Caller', 'indexer']]],
    status => 410, code => 'ROUTE_REMOVED',
    message => qr/^index\.status is removed: use asset\.status \(GET \/scene-summary\/status\)$/);
$t->rejected($port, $mock, 'off: an index cancel',
    ['DELETE', asset('gone') . '/indexes/5/scene-summaries/6',
     headers => [['X-Caller', 'indexer']]],
    status => 410, code => 'ROUTE_REMOVED',
    message => qr/use asset\.cancel \(POST \/scene-summary\/cancel\)/);
is(call('indexer', 'GET', asset('gone') . '/scene-summary')->{status}, 200,
   'off: the asset routes still pass');

# --- counted by caller, one warning an hour for the whole nginx --------------

call('indexer', 'GET', "$A/indexes/5/scene-summaries/6/status") for 1 .. 9;
call("batch-$_", 'GET', "$A/indexes/5/scene-summaries/6/status") for 1 .. 6;

sub deprecated_counts {
    my $p = PromText::parse(MiTest::http($port, 'GET', '/metrics')->{body});
    my %n;
    for my $s (@{ $p->{families}{nginx_mi_deprecated_requests_total}{samples}
                  // [] })
    {
        $n{"$s->{labels}{caller} $s->{labels}{route}"} = $s->{value};
    }
    return \%n;
}

my $n = MiTest::eventually(sub {
    my $n = deprecated_counts();
    ($n->{'~^batch- index.status'} // 0) >= 6 ? $n : undef;
}) // {};
is($n->{'indexer index.status'}, 10, 'counted: indexer, index.status');
is($n->{'indexer index.request'}, 1, 'counted: indexer, index.request');
is($n->{'~^batch- index.status'}, 6, 'counted: the batch line, index.status');
is($n->{'- index.status'}, 0, 'counted: no identity, none');

# "caller route" of each deprecation warning logged
sub warnings {
    my @m = MiTest::read_file("$t->{dir}/warn.log")
            =~ /caller "([^"]+)" uses the deprecated route (\S+),/g;
    my @out;
    push @out, join ' ', splice @m, 0, 2 while @m;
    return [sort @out];
}

is_deeply(warnings(),
          [sort('indexer index.request', 'indexer index.result',
                'indexer index.status', 'indexer index.cancel',
                '~^batch- index.status')],
          'one warn line per caller and route, whatever the worker');
like(MiTest::read_file("$t->{dir}/warn.log"),
     qr/\[warn\] .*caller "indexer" uses the deprecated route index\.status, which NCP removes on Fri, 01 Jan 2027 00:00:00 GMT: move it to asset\.status/,
     'the warning names the caller, the route, the date and the successor');

# a reload keeps the zone: still within the hour, no new line
$t->reload_nginx($ngx);
call('indexer', 'GET', "$A/indexes/5/scene-summaries/6/status") for 1 .. 4;
MiTest::eventually(sub {
    (deprecated_counts()->{'indexer index.status'} // 0) >= 14
});
is(scalar @{ warnings() }, 5, 'after a reload: no second line within the hour');

# a workspace named "indexes": the Link keeps it, and cuts at the route's
# own "/indexes/"
{
    my $W = asset('indexes');
    my $res = call('indexer', 'GET', "$W/indexes/5/scene-summaries");
    is($res->{status}, 200, 'workspace "indexes": forwarded');
    is($res->{h}{link}, "<$W/scene-summary>; rel=\"successor-version\"",
       '... the Link to the same asset');
}

# --- nginx -t ---------------------------------------------------------------

my ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    server {
        listen 127.0.0.1:1;
        $sign
        mi_index_routes_sunset 2027-01-01;
        location / { proxy_pass http://127.0.0.1:1; }
    }
EOF
isnt($rc, 0, 'a sunset that is no HTTP-date: nginx -t fails');
like($out, qr/"mi_index_routes_sunset": "2027-01-01" is not an HTTP-date/,
     '... saying so');

($rc, $out) = $t->nginx_test_conf(<<"EOF");
    server {
        listen 127.0.0.1:1;
        $sign
        mi_index_routes maybe;
        location / { proxy_pass http://127.0.0.1:1; }
    }
EOF
isnt($rc, 0, 'mi_index_routes maybe: nginx -t fails');

$t->stop_all;
$t->check_logs($file);

done_testing;
