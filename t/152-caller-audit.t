#!/usr/bin/perl
# The caller in the audit trail: the "caller" label of
# nginx_mi_requests_total and nginx_mi_rejections_total takes only values
# the configuration bounds (the callers of the mi_allow lines, a regex
# line's text, "-" for no identity, "other" for a caller no line names);
# hostile caller values (quotes, '"} 1', 10 KB, non-ASCII, a newline over
# HTTP/2) are no identity, the exposition stays valid (promtool) and every
# JSON log line parses; a reload that reorders and removes lines keeps each
# caller's counts under its own label; nginx -t names the zone's least
# size for the labels.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use MiTest;
use MiH2;
use PromText;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('audit.secret');
my $sign = MiTest::signing($file);
my $conf = "$MiTest::ROOT/conf";
my $log = "$t->{dir}/audit.json.log";
my $h2_port = MiTest::free_port();

sub http_conf {
    my ($allow) = @_;
    return <<"EOF";
    include $conf/mi-log-format.conf;

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2_port http2;
        access_log $log mi_json;
        large_client_header_buffers 4 16k;
        $sign
        mi_caller \$http_x_caller;
$allow
        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location = /metrics {
            mi_metrics;
            access_log off;
        }
    }
EOF
}

my $ngx = $t->start_nginx(http_conf(<<'EOF'), workers => 2);
        mi_allow indexer route=*;
        mi_allow dashboard route=*.status;
        mi_allow ~^batch- route=asset.*;
EOF
my $port = $ngx->{port};
my $S = '/api/v1/workspaces/media-dev/projects/1/assets/2/scene-summary/status';

sub get {
    my ($caller) = @_;
    return MiTest::http($port, 'GET', $S,
                        headers => [defined $caller ? (['X-Caller', $caller])
                                                    : ()]);
}

sub scrape {
    my $res = MiTest::http($port, 'GET', '/metrics');
    return ($res->{body}, PromText::parse($res->{body}));
}

# The counts by caller label of a family, summed over route and code.
sub by_caller {
    my ($p, $family, %match) = @_;
    my %n;
    for my $s (@{ $p->{families}{$family}{samples} }) {
        next if grep { $s->{labels}{$_} ne $match{$_} } keys %match;
        $n{ $s->{labels}{caller} } += $s->{value};
    }
    return \%n;
}

is(get('indexer')->{status}, 200, 'indexer: signed') for 1 .. 3;
is(get('batch-7')->{status}, 200, 'batch-7: signed');
is(get('batch-8')->{status}, 200, 'batch-8: signed');
is(get('dashboard')->{status}, 200, 'dashboard: signed');
is(get('zed')->{status}, 403, 'zed: no line names it');
is(get()->{status}, 401, 'no caller');

# hostile values: no identity, whatever they hold
my @hostile = ('a"b', '"} 1', "\\\"} 1 x", 'x' x 10240, "caf\xc3\xa9",
               "\xff\xfe", "a b", 'x' x 129, '-', "ops\tx");
for my $h (@hostile) {
    my $res = get($h);
    is($res->{status}, 401, 'hostile caller (' . length($h)
                            . ' bytes): 401')
        or diag($res->{body});
    is((MiTest::json_body($res) // {})->{code}, 'CALLER_UNKNOWN',
       '... CALLER_UNKNOWN');
}

# a newline can only come over HTTP/2, where nginx refuses the field
my $h2 = MiH2->new($h2_port);
my $res = $h2->request('GET', $S, headers => [['x-caller', "\"} 1\n#"]]);
ok(!$res || $res->{status} >= 400,
   'HTTP/2, a newline in the caller: refused by nginx ('
   . ($res ? $res->{status} : $h2->{error}) . ')');

# nginx 1.22 resets the stream; later releases answer 400, which the
# module counts as a rejection without identity
my $newline_answered = $res ? 1 : 0;
$h2->disconnect;
$h2 = MiH2->new($h2_port);
$res = $h2->request('GET', $S, headers => [['x-caller', 'indexer']]);
is($res && $res->{status}, 200, 'HTTP/2: indexer signed');
$h2->disconnect;

# indexer 3, batch 2, dashboard, zed, none, the hostile ones, indexer
my $requests = 8 + @hostile + $newline_answered + 1;

my $got = MiTest::eventually(sub {
    my ($text, $p) = scrape();
    my $n = 0;
    $n += $_ for values %{ by_caller($p, 'nginx_mi_requests_total') };
    $n >= $requests ? [$text, $p] : undef;
});
my ($text, $p) = $got ? @$got : scrape();

my $signed = by_caller($p, 'nginx_mi_requests_total', outcome => 'signed');
my $refused = by_caller($p, 'nginx_mi_rejections_total');

is_deeply([sort keys %$signed],
          [sort('-', 'other', 'indexer', 'dashboard', '~^batch-')],
          'caller labels: those of the configuration only');
is($signed->{indexer}, 4, 'indexer: 4 signed');
is($signed->{'~^batch-'}, 2, 'the regex line: 2 signed, under its text');
is($signed->{dashboard}, 1, 'dashboard: 1 signed');
is($refused->{other}, 1, 'zed: 1 rejection as "other"');
is($refused->{'-'}, 1 + @hostile + $newline_answered,
   'no identity: every hostile value as "-"');

SKIP: {
    my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};
    skip 'promtool not installed', 2 unless $promtool;
    my $m = $t->write_file('metrics.txt', $text, 0644);
    my $out = `$promtool check metrics < $m 2>&1`;
    is($? >> 8, 0, 'promtool check metrics: accepted') or diag($out);
    is($out, '', 'promtool: no lint problem') or diag($out);
}

# every log line is JSON, its caller a name or "-"
my @lines = split /\n/, MiTest::read_file($log);
my @callers = map { (eval { decode_json($_) } // {})->{caller} } @lines;
is(scalar(grep { defined } @callers), scalar @lines,
   'every access log line parses as JSON with a caller');
is_deeply([sort { $a cmp $b } keys %{ { map { $_ => 1 } grep { defined }
                                        @callers } }],
          [sort('-', 'indexer', 'batch-7', 'batch-8', 'dashboard', 'zed')],
          'the log names callers, and "-" for every hostile value');

# --- a reload that reorders the lines and removes one -----------------------

$t->reconfigure_nginx($ngx, http_conf(<<'EOF'), workers => 2);
        mi_allow ~^batch- route=asset.*;
        mi_allow ops route=*;
        mi_allow indexer route=*;
EOF

is(get('ops')->{status}, 200, 'after the reload: ops signed');
is(get('batch-9')->{status}, 200, 'after the reload: batch-9 signed');
is(get('dashboard')->{status}, 403, 'after the reload: dashboard refused');

my $after = MiTest::eventually(sub {
    my (undef, $p) = scrape();
    my $s = by_caller($p, 'nginx_mi_requests_total', outcome => 'signed');
    ($s->{ops} // 0) >= 1 && ($s->{'~^batch-'} // 0) >= 3 ? $s : undef;
}) // {};
is($after->{indexer}, 4, 'after the reload: indexer still 4, not moved');
is($after->{'~^batch-'}, 3, 'after the reload: the regex line 2 + 1');
is($after->{ops}, 1, 'after the reload: ops, a new label, 1');
is($after->{dashboard}, 1, 'after the reload: the removed line keeps its 1');
is(by_caller(scalar((scrape())[1]), 'nginx_mi_rejections_total')->{other},
   2, 'after the reload: dashboard refused, now "other"');

# --- the zone's least size, for the labels ---------------------------------

my $many = join '', map { "mi_allow caller$_;\n" } 1 .. 40;
my ($rc, $out) = $t->nginx_test_conf(<<"EOF");
    mi_metrics_zone small 64k;
    server {
        listen 127.0.0.1:1;
        $sign
        mi_caller \$http_x_caller;
        $many
        location = /metrics { mi_metrics; }
    }
EOF
isnt($rc, 0, '40 callers in a 64k zone: nginx -t fails');
like($out, qr/"mi_metrics_zone" "small": size 64k is too small for 42 values of the "caller" label, at least \d+k/,
     '... naming the least size') or diag($out);

my ($least) = $out =~ /at least (\d+)k/;
($rc, $out) = $t->nginx_test_conf(<<"EOF");
    mi_metrics_zone small ${least}k;
    server {
        listen 127.0.0.1:1;
        $sign
        mi_caller \$http_x_caller;
        $many
        location = /metrics { mi_metrics; }
    }
EOF
is($rc, 0, 'the least size named: nginx -t passes') or diag($out);

$t->stop_all;
$t->check_logs($file);

done_testing;
