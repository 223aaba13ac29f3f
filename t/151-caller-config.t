#!/usr/bin/perl
# mi_caller and mi_allow, the configuration and the cases the property test
# (t/150) does not make: nginx -t refuses what cannot be meant, naming the
# file and line; a level without mi_allow inherits the outer lines, one
# with its own replaces them; mi_caller without mi_allow refuses nothing;
# a refusal that does not need the body comes before it is read; the
# refusals are logged and counted, and $mi_caller is logged.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('caller.secret');
my $sign = MiTest::signing($file);

# --- nginx -t --------------------------------------------------------------

sub conf {
    my ($server, $location) = @_;
    return <<"EOF";
    server {
        listen 127.0.0.1:1;
        $sign
        $server
        location / {
            $location
            proxy_pass http://127.0.0.1:1;
        }
    }
EOF
}

sub fails_with {
    my ($name, $conf, $re) = @_;
    my ($rc, $out) = $t->nginx_test_conf($conf);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $re, "$name: message") or diag($out);
}

my ($rc, $out) = $t->nginx_test_conf(conf('mi_caller $http_x_caller;',
    'mi_allow indexer route=* workspace=media-*; '
    . 'mi_allow dashboard route=*.status,*.result; '
    . 'mi_allow ~^batch- route=asset.* "workspace=~^media-(dev|stg)$" '
    . 'full_analysis=off; mi_allow ops route=generic,index.request;'));
is($rc, 0, 'the issue\'s example: nginx -t passes') or diag($out);

my $at = qr/ in \S+\.conf:\d+/;

fails_with('unknown route',
    conf('mi_caller $http_x_caller;', 'mi_allow indexer route=asset.stat;'),
    qr/"mi_allow": unknown route "asset\.stat" in "route=asset\.stat", known: .*$at/);
fails_with('a wildcard that names no route',
    conf('mi_caller $http_x_caller;', 'mi_allow indexer route=*.foo;'),
    qr/unknown route "\*\.foo"$at|unknown route "\*\.foo" in/);
fails_with('an empty route',
    conf('mi_caller $http_x_caller;', 'mi_allow indexer route=asset.*,,*;'),
    qr/unknown route ""/);
fails_with('a bad caller regex',
    conf('mi_caller $http_x_caller;', 'mi_allow "~^(batch" route=*;'),
    qr/"mi_allow" "\^\(batch": .*$at/);
fails_with('a bad workspace regex',
    conf('mi_caller $http_x_caller;', 'mi_allow x "workspace=~[a-";'),
    qr/"mi_allow" "\[a-": .*$at/);
fails_with('a wildcard inside a workspace',
    conf('mi_caller $http_x_caller;', 'mi_allow x workspace=me*dia;'),
    qr/"mi_allow": invalid workspace "me\*dia"/);
fails_with('not a caller name',
    conf('mi_caller $http_x_caller;', 'mi_allow "a b";'),
    qr/"mi_allow": "a b" is not a caller name$at|is not a caller name/);
fails_with('unknown parameter',
    conf('mi_caller $http_x_caller;', 'mi_allow x methods=GET;'),
    qr/"mi_allow": unknown parameter "methods=GET"/);
fails_with('full_analysis=maybe',
    conf('mi_caller $http_x_caller;', 'mi_allow x full_analysis=maybe;'),
    qr/"full_analysis=maybe": on or off/);
fails_with('a duplicate parameter',
    conf('mi_caller $http_x_caller;', 'mi_allow x route=* route=*;'),
    qr/"route=\*" is duplicate/);
fails_with('mi_allow without mi_caller',
    conf('', 'mi_allow indexer;'),
    qr/"mi_allow" in \S+\.conf:\d+ has no "mi_caller" in scope/);
fails_with('mi_caller twice',
    conf('mi_caller $http_x_caller; mi_caller $http_y;', ''),
    qr/"mi_caller" directive is duplicate/);

# mi_caller at http level, mi_allow in a location: in scope
($rc, $out) = $t->nginx_test_conf('mi_caller $http_x_caller;'
                                  . conf('', 'mi_allow x;'));
is($rc, 0, 'mi_caller inherited from the http level') or diag($out);

# --- requests ------------------------------------------------------------

my $ws = '/api/v1/workspaces/%s/projects/1/assets/2';

my $ngx = $t->start_nginx(<<"EOF");
    log_format callers '\$mi_caller \$status \$mi_error_code';

    server {
        listen 127.0.0.1:%%PORT%%;
        access_log $t->{dir}/callers.log callers;
        error_log $t->{dir}/caller-info.log info;
        $sign
        mi_caller \$http_x_caller;

        mi_allow indexer route=* workspace=media-*;
        mi_allow dashboard route=*.status,*.result;
        mi_allow ~^batch- route=asset.* "workspace=~^media-(dev|stg)\$"
                 full_analysis=off;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        # its own lines replace the server's
        location ~ /cancel\$ {
            mi_allow dashboard route=asset.cancel;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location = /metrics {
            mi_metrics;
        }
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        server_name nopolicy;
        $sign
        mi_caller \$http_x_caller;

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF
my $port = $ngx->{port};

sub target { sprintf($ws, $_[0]) . $_[1] }

sub as {
    my ($caller, @h) = @_;
    return (headers => [defined $caller ? (['X-Caller', $caller]) : (),
                        @h]);
}

$t->accepted($port, $mock, 'indexer, asset.status in media-dev',
    ['GET', target('media-dev', '/scene-summary/status'), as('indexer')]);
$t->rejected($port, $mock, 'indexer in another workspace',
    ['GET', target('other', '/scene-summary/status'), as('indexer')],
    status => 403, code => 'CALLER_NOT_ALLOWED',
    message => qr/^caller "indexer" may not call asset\.status in workspace other$/);
$t->rejected($port, $mock, 'no caller',
    ['GET', target('media-dev', '/scene-summary/status')],
    status => 401, code => 'CALLER_UNKNOWN');
$t->rejected($port, $mock, 'an invalid caller',
    ['GET', target('media-dev', '/scene-summary/status'), as('in dexer')],
    status => 401, code => 'CALLER_UNKNOWN');
$t->accepted($port, $mock, 'dashboard, a result',
    ['GET', target('x-1', '/indexes/3/scene-summaries'), as('dashboard')]);
$t->rejected($port, $mock, 'dashboard may not cancel an index\'s',
    ['DELETE', target('x-1', '/indexes/3/scene-summaries/4'),
     as('dashboard')],
    status => 403, code => 'CALLER_NOT_ALLOWED');

# the route is known first: a 404 stays a 404, whoever calls
$t->rejected($port, $mock, 'no route, no caller',
    ['GET', '/api/v1/nothing'],
    status => 404, code => 'ROUTE_NOT_FOUND');

# full_analysis=off: sceneIds needed; the body decides
$t->accepted($port, $mock, 'batch, sceneIds',
    ['POST', target('media-dev', '/scene-summary'), as('batch-7',
        ['Content-Type', 'application/json']), body => '{"sceneIds":[1]}']);
$t->rejected($port, $mock, 'batch, no body',
    ['POST', target('media-dev', '/scene-summary'), as('batch-7')],
    status => 403, code => 'FULL_ANALYSIS_NOT_ALLOWED',
    message => qr/send the sceneIds/);
$t->rejected($port, $mock, 'batch, locale only',
    ['POST', target('media-stg', '/scene-summary'), as('batch-7',
        ['Content-Type', 'application/json']), body => '{"locale":"ko"}'],
    status => 403, code => 'FULL_ANALYSIS_NOT_ALLOWED');
$t->rejected($port, $mock, 'batch, chunked, sceneIds null',
    ['POST', target('media-stg', '/scene-summary'), as('batch-7',
        ['Content-Type', 'application/json'],
        ['Transfer-Encoding', 'chunked']),
     body => "11\r\n{\"sceneIds\":null}\r\n0\r\n\r\n"],
    status => 403, code => 'FULL_ANALYSIS_NOT_ALLOWED');
$t->accepted($port, $mock, 'batch, chunked, sceneIds',
    ['POST', target('media-stg', '/scene-summary'), as('batch-7',
        ['Content-Type', 'application/json'],
        ['Transfer-Encoding', 'chunked']),
     body => "10\r\n{\"sceneIds\":[3]}\r\n0\r\n\r\n"]);
$t->rejected($port, $mock, 'batch, media-prod',
    ['GET', target('media-prod', '/scene-summary'), as('batch-7')],
    status => 403, code => 'CALLER_NOT_ALLOWED');

# refused before the body is read: the answer comes without it
{
    my $s = MiTest::connect_to($port);
    print $s 'POST ' . target('other', '/scene-summary') . " HTTP/1.1\r\n"
             . "Host: localhost\r\nX-Caller: indexer\r\n"
             . "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    my $buf = '';
    my $res = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 5;
        my $r = MiTest::parse_response($s, \$buf);
        alarm 0;
        $r;
    };
    is($res && $res->{status}, 403, 'refused before the body arrives')
        or diag($@);
    close $s;
}

# inheritance: the location's own lines replace the server's
$t->accepted($port, $mock, 'own lines: dashboard may cancel',
    ['POST', target('w-1', '/scene-summary/cancel'), as('dashboard')]);
$t->rejected($port, $mock, 'own lines: indexer is no longer allowed',
    ['POST', target('media-dev', '/scene-summary/cancel'), as('indexer')],
    status => 403, code => 'CALLER_NOT_ALLOWED');

# a server without mi_allow: today's behaviour, whoever calls
my ($res) = MiTest::http_raw($port, 'GET ' . target('w-1', '/scene-summary')
                             . " HTTP/1.1\r\nHost: nopolicy\r\n"
                             . "Connection: close\r\n\r\n");
is($res->{status}, 200, 'no mi_allow: no caller, still forwarded');

# the log and the counters
my @log = @{ MiTest::eventually(sub {
    my @l = split /\n/, MiTest::read_file("$t->{dir}/callers.log");
    @l >= 16 ? \@l : undef;
}) // [] };
like($log[0], qr/^indexer 200 -$/, 'log: the caller of a signed request');
like($log[2], qr/^- 401 CALLER_UNKNOWN$/, 'log: no identity is "-"');
like($log[3], qr/^- 401 CALLER_UNKNOWN$/, 'log: an invalid caller is "-"');
ok(!grep({ /in dexer/ } @log), 'log: the invalid value is not logged');

like(MiTest::read_file("$t->{dir}/caller-info.log"),
     qr/\[info\] .*mi: CALLER_NOT_ALLOWED: caller "indexer" may not call/,
     'error log at info: the refusal');

$res = MiTest::http($port, 'GET', '/metrics');
my %n;
$n{$1} += $2 while $res->{body}
    =~ /^nginx_mi_rejections_total\{[^}]*code="(\w+)"[^}]*\} (\d+)$/mg;
is($n{CALLER_UNKNOWN}, 2, 'metrics: 2 CALLER_UNKNOWN');
is($n{FULL_ANALYSIS_NOT_ALLOWED}, 3, 'metrics: 3 FULL_ANALYSIS_NOT_ALLOWED');
ok(($n{CALLER_NOT_ALLOWED} // 0) >= 4, 'metrics: CALLER_NOT_ALLOWED');

$t->stop_all;
$t->check_logs($file);

done_testing;
