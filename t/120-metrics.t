#!/usr/bin/perl
# mi_metrics: with two workers, N requests of each kind (signed on every
# route, each rejection code, upstream 2xx, 4xx, 401, 403, 5xx and the
# three kinds of error, and requests that error_page takes out of the
# signing location) make exactly their counters grow by N and no other;
# the exposition passes a strict parser and promtool; the counts survive a
# reload, and start over when the zone's size changes, as documented.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;
use Time::HiRes qw(sleep time);
use MiTest;
use PromText;

my $N = 3;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('m.secret');
my $up = "127.0.0.1:$mock->{port}";
my $failing = MiTest::free_port();      # another server: nothing listens
my $closed = MiTest::free_port();       # where it proxies to
my $redirecting = MiTest::free_port();  # error_page to a location without
my $started = time;

my $http = <<"EOF";
    log_format pids '\$pid \$mi_route';

    mi_access_key AK;
    mi_secret_key_file $file;
    client_max_body_size 1k;
    proxy_read_timeout 1s;
    %%ZONE%%

    server {
        listen 127.0.0.1:%%PORT%% reuseport;
        access_log $t->{dir}/pids.log pids;

        mi_sign on;

        location / {
            proxy_pass http://$up;
        }

        location /generic/ {
            mi_validate off;
            proxy_pass http://$up;
        }

        location = /metrics {
            mi_metrics;
            access_log off;
        }
    }

    server {
        listen 127.0.0.1:$failing reuseport;
        access_log $t->{dir}/pids.log pids;

        mi_sign on;

        location / {
            proxy_pass http://127.0.0.1:$closed;
        }
    }

    # error_page takes requests out of the signing location once the API
    # answered 500 or not at all: still counted, and still logged with the
    # module's route
    log_format away '\$mi_route \$mi_error_code \$status';

    server {
        listen 127.0.0.1:$redirecting reuseport;
        access_log $t->{dir}/pids.log pids;
        access_log $t->{dir}/away.log away;

        mi_sign on;

        location / {
            proxy_pass http://$up;
            proxy_intercept_errors on;
            error_page 500 502 = \@away;
        }

        location \@away {
            mi_sign off;
            return 200 'away';
        }
    }
EOF

(my $conf = $http) =~ s/%%ZONE%%//;
my $ngx = $t->start_nginx($conf, workers => 2);
my $port = $ngx->{port};
MiTest::wait_port($failing, 'the second server');
MiTest::wait_port($redirecting, 'the third server');

sub scrape {
    my $res = MiTest::http($port, 'GET', '/metrics');
    return $res;
}

sub parsed {
    my $res = scrape();
    my $p = eval { PromText::parse($res->{body}) };
    die "the exposition does not parse: $@" unless $p;
    return $p;
}

sub total {
    my ($p, $family) = @_;
    my $sum = 0;
    $sum += $_ for values %{ PromText::samples($p, $family) };
    return $sum;
}

# Polls until the requests counted and logged reach want (the log phase
# runs as the response leaves, so a scrape may come first); returns the
# exposition.
sub settled {
    my ($want) = @_;
    my $deadline = time + 10;
    my $p;

    while (1) {
        $p = parsed();
        my $logged = () = MiTest::read_file("$t->{dir}/pids.log") =~ /\n/g;
        last if total($p, 'nginx_mi_requests_total') >= $want
                && $logged >= $want;
        last if time > $deadline;
        sleep 0.05;
    }

    return $p;
}

# --- what is expected: "name{k=v,...}" => count
my %want;
my $requests = 0;

sub expect {
    my ($name, $n, %labels) = @_;

    # no mi_caller here: every request is counted as "-", no identity
    $labels{caller} //= '-'
        if $name =~ /^nginx_mi_(requests|rejections)_total$/;
    my $key = "$name\{" . join(',', map { "$_=$labels{$_}" } sort keys %labels)
              . '}';
    $want{$key} += $n;
}

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $I = "$P/indexes/1001/scene-summaries";
my @json = (headers => [['Content-Type', 'application/json']]);

# Sends one kind of request N times; each must get the status given.
sub send_n {
    my ($name, $status, $port, @req) = @_;
    my @got = map { MiTest::http($port, @req)->{status} } 1 .. $N;
    is_deeply(\@got, [($status) x $N], "$name: $N x $status");
    $requests += $N;
}

# Sends N signed requests that the client sees answered with status;
# they count on route as upstream answers of class.
sub signed {
    my ($route, $class, $status, $name, @req) = @_;
    signed_on($port, $route, $class, $status, $name, @req);
}

# The same, sent to another server.
sub signed_on {
    my ($to, $route, $class, $status, $name, @req) = @_;
    send_n($name, $status, $to, @req);
    expect('nginx_mi_requests_total', $N, route => $route,
           outcome => 'signed');
    expect('nginx_mi_upstream_responses_total', $N, route => $route,
           status => $class);
    expect('nginx_mi_upstream_response_seconds_count', $N, route => $route);
}

sub rejected {
    my ($route, $code, $status, @req) = @_;
    send_n("$code on $route", $status, $port, @req);
    expect('nginx_mi_requests_total', $N, route => $route,
           outcome => 'rejected');
    expect('nginx_mi_rejections_total', $N, route => $route, code => $code);
}

sub body_seen {
    my ($route, $bytes) = @_;
    expect('nginx_mi_request_body_bytes_count', $N, route => $route);
    expect('nginx_mi_request_body_bytes_sum', $N * $bytes, route => $route);
}

# --- signed on every route, answered 2xx
signed('index.request', '2xx', 200, 'index.request', 'POST', $I);
body_seen('index.request', 0);
signed('index.result', '2xx', 200, 'index.result', 'GET', $I);
signed('index.status', '2xx', 200, 'index.status', 'GET', "$I/101/status");
signed('index.cancel', '2xx', 200, 'index.cancel', 'DELETE', "$I/101");
signed('asset.request', '2xx', 200, 'asset.request, chunked', 'POST',
       "$P/scene-summary",
       headers => [['Content-Type', 'application/json'],
                   ['Transfer-Encoding', 'chunked']],
       body => "5\r\n{\"sce\r\nd\r\nneIds\":[1,2]}\r\n0\r\n\r\n");
body_seen('asset.request', 18);
signed('asset.result', '2xx', 200, 'asset.result', 'GET', "$P/scene-summary");
signed('asset.status', '2xx', 200, 'asset.status', 'GET',
       "$P/scene-summary/status");
signed('asset.cancel', '2xx', 200, 'asset.cancel', 'POST',
       "$P/scene-summary/cancel");
signed('generic', '2xx', 200, 'generic, 300 ms late', 'GET',
       '/generic/x?mock_delay_ms=300');

# --- the upstream's other answers
signed('asset.result', '4xx', 404, '404 from the API', 'GET',
       "$P/scene-summary?mock_status=404");
signed('asset.status', '5xx', 500, '500 from the API', 'GET',
       "$P/scene-summary/status?mock_status=500");
signed('asset.cancel', '4xx', 401, '401 from the API', 'POST',
       "$P/scene-summary/cancel?mock_status=401");
expect('nginx_mi_upstream_denied_total', $N, route => 'asset.cancel',
       status => '401');
signed('generic', '4xx', 403, '403 from the API', 'GET',
       '/generic/y?mock_status=403');
expect('nginx_mi_upstream_denied_total', $N, route => 'generic',
       status => '403');

# --- no answer: reset, timed out, refused
signed('index.status', 'error', 502, 'connection closed by the API', 'GET',
       "$I/101/status?mock_close=1");
signed('index.cancel', 'error', 504, 'timed out', 'DELETE',
       "$I/101?mock_delay_ms=1500");
signed_on($failing, 'index.result', 'error', 502, 'connection refused',
          'GET', $I);

# --- each rejection code
rejected('none', 'ROUTE_NOT_FOUND', 404, 'GET', '/nope');
rejected('none', 'METHOD_NOT_ALLOWED', 405, 'DELETE', "$P/scene-summary");
rejected('asset.result', 'INVALID_PATH_PARAMETER', 400, 'GET',
         '/api/v1/workspaces/My/projects/1/assets/2/scene-summary');
rejected('asset.request', 'UNSUPPORTED_MEDIA_TYPE', 415, 'POST',
         "$P/scene-summary", headers => [['Content-Type', 'text/plain']],
         body => 'hello');
rejected('index.request', 'INVALID_JSON', 400, 'POST', $I, @json,
         body => '{');
body_seen('index.request', 1);
rejected('asset.request', 'INVALID_BODY', 400, 'POST', "$P/scene-summary",
         @json, body => '{"x":1}');
body_seen('asset.request', 7);
rejected('none', 'BODY_TOO_LARGE', 413, 'POST', "$P/scene-summary", @json,
         body => '{"sceneIds":[' . join(',', (1) x 1000) . ']}');

# --- taken out of the signing location by error_page, then counted
signed_on($redirecting, 'asset.status', '5xx', 200,
          '500 from the API, intercepted, then error_page', 'GET',
          "$P/scene-summary/status?mock_status=500");
signed_on($redirecting, 'index.status', 'error', 200,
          'connection closed by the API, then error_page', 'GET',
          "$I/101/status?mock_close=1");

# --- the counts
my $p = settled($requests);

# (two workers: a request may be logged after the next one)
is_deeply([sort split /\n/, MiTest::read_file("$t->{dir}/away.log")],
          [('asset.status - 200') x $N, ('index.status - 200') x $N],
          'error_page: the access log still has $mi_route and $mi_error_code');

my %families = (
    counters => [qw(nginx_mi_requests_total nginx_mi_rejections_total
                    nginx_mi_upstream_responses_total
                    nginx_mi_upstream_denied_total)],
    histograms => [qw(nginx_mi_upstream_response_seconds
                      nginx_mi_request_body_bytes)],
);

# Every counter, and every histogram's _count and _sum (when expected), is
# what was sent: N for each kind, 0 for what was not.
sub check_counts {
    my ($p, $what) = @_;
    my @bad;

    for my $f (@{ $families{counters} }) {
        my $s = PromText::samples($p, $f);
        ok(scalar(keys %$s) > 0, "$what: $f has series");
        for my $k (sort keys %$s) {
            push @bad, "$k = $s->{$k}, want " . ($want{$k} // 0)
                unless $s->{$k} == ($want{$k} // 0);
        }
        for my $k (grep { /^\Q$f\E\{/ } keys %want) {
            push @bad, "$k missing" unless exists $s->{$k};
        }
    }

    for my $f (@{ $families{histograms} }) {
        my $s = PromText::samples($p, $f);
        for my $k (sort grep { /_count\{/ } keys %$s) {
            push @bad, "$k = $s->{$k}, want " . ($want{$k} // 0)
                unless $s->{$k} == ($want{$k} // 0);
        }
        for my $k (grep { /^\Q$f\E_sum\{/ } keys %want) {
            push @bad, "$k = " . ($s->{$k} // 'missing') . ", want $want{$k}"
                unless defined $s->{$k} && $s->{$k} == $want{$k};
        }
    }

    ok(!@bad, "$what: every counter is exactly what was sent")
        or diag(join "\n", @bad);
}

check_counts($p, 'two workers');

my @pids = map { (split / /)[0] } split /\n/,
           MiTest::read_file("$t->{dir}/pids.log");
my %pids = map { $_ => 1 } @pids;
is(scalar @pids, $requests, 'the access log has every request');
cmp_ok(scalar keys %pids, '>=', 2, 'both workers served requests');

# buckets: the generic requests took 300 ms, the timeouts 1 s or more
my $v = sub { PromText::value($p, @_) };
is($v->('nginx_mi_upstream_response_seconds_bucket', route => 'generic',
        le => '0.25'), $N, 'latency: the 403s under 0.25 s, not the 300 ms');
is($v->('nginx_mi_upstream_response_seconds_bucket', route => 'generic',
        le => '0.5'), 2 * $N, 'latency: the 300 ms answers under 0.5 s');
cmp_ok($v->('nginx_mi_upstream_response_seconds_sum', route => 'generic'),
       '>=', 0.3 * $N, 'latency: the sum has the 300 ms');
is($v->('nginx_mi_upstream_response_seconds_bucket', route => 'index.cancel',
        le => '0.5'), $N, 'latency: the timeouts are over 0.5 s');
is($v->('nginx_mi_upstream_response_seconds_bucket', route => 'index.cancel',
        le => '+Inf'), 2 * $N, 'latency: +Inf has them all');

# bodies: 0 bytes (a full analysis) in le="0"; 1, 7 and 18 under 64
is($v->('nginx_mi_request_body_bytes_bucket', route => 'index.request',
        le => '0'), $N, 'body: the empty ones in le="0"');
is($v->('nginx_mi_request_body_bytes_bucket', route => 'index.request',
        le => '64'), 2 * $N, 'body: index.request, all under 64');
is($v->('nginx_mi_request_body_bytes_bucket', route => 'asset.request',
        le => '0'), 0, 'body: asset.request, none empty');
is($v->('nginx_mi_request_body_bytes_bucket', route => 'asset.request',
        le => '64'), 2 * $N, 'body: asset.request, the chunked size decoded');
ok(!grep({ /route=(?!index\.request|asset\.request)/ }
         keys %{ PromText::samples($p, 'nginx_mi_request_body_bytes') }),
   'body: only the routes that take one');

# keys, build, readiness
my $fp = substr(sha256_hex("mi-secret-fingerprint:$secret"), 0, 8);
is_deeply(PromText::samples($p, 'nginx_mi_key_info'),
          { "nginx_mi_key_info{access_key=AK,fingerprint=$fp,"
            . "location_key=$file}" => 1 },
          'key_info: the file, the access key, the fingerprint');
my $loaded = $v->('nginx_mi_key_loaded_timestamp_seconds',
                  location_key => $file, access_key => 'AK');
ok($loaded >= int($started) - 1 && $loaded <= time + 1,
   'key loaded: when nginx started') or diag($loaded);

my $version = MiTest::module_version();
my ($nginx_version) = `$MiTest::NGINX -v 2>&1` =~ m{nginx/(\S+)};
is($v->('nginx_mi_build_info', version => $version,
        nginx_version => $nginx_version), 1, 'build_info');
is($v->('nginx_mi_ready'), 1, 'ready: 1');

# --- the exposition, read strictly: each family once, HELP and TYPE first
my $res = scrape();
is($res->{status}, 200, 'scrape: 200');
is($res->{h}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
   'scrape: Content-Type of the text format 0.0.4');
is_deeply($p->{order},
          [qw(nginx_mi_requests_total nginx_mi_rejections_total
              nginx_mi_upstream_responses_total nginx_mi_upstream_denied_total
              nginx_mi_deprecated_requests_total
              nginx_mi_upstream_response_seconds nginx_mi_request_body_bytes
              nginx_mi_key_info nginx_mi_key_loaded_timestamp_seconds
              nginx_mi_build_info nginx_mi_ready)],
          'families, in order');
like($p->{families}{$_}{help}, qr/\S/, "$_: HELP") for @{ $p->{order} };

SKIP: {
    my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};
    skip 'promtool not installed (make deps installs it)', 2 unless $promtool;
    my $m = $t->write_file('metrics.txt', $res->{body}, 0644);
    my $out = `$promtool check metrics < $m 2>&1`;
    is($? >> 8, 0, 'promtool check metrics: accepted');
    is($out, '', 'promtool check metrics: no lint problem') or diag($out);
}

# the parser used above refuses what it should
for my $bad (
    ["no newline at the end", "# HELP a_total h\n# TYPE a_total counter\na_total 1"],
    ["no TYPE", "# HELP a_total h\na_total 1\n"],
    ["a family split", "# HELP a_total h\n# TYPE a_total counter\na_total{x=\"1\"} 1\n"
                       . "# HELP b h\n# TYPE b gauge\nb 1\na_total{x=\"2\"} 1\n"],
    ["a series twice", "# HELP a_total h\n# TYPE a_total counter\na_total 1\na_total 2\n"],
    ["a bad escape", "# HELP b h\n# TYPE b gauge\nb{x=\"\\t\"} 1\n"],
    ["a counter without _total", "# HELP a h\n# TYPE a counter\na 1\n"],
    ["buckets not cumulative", "# HELP h h\n# TYPE h histogram\n"
        . "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"],
    ["_count not +Inf", "# HELP h h\n# TYPE h histogram\n"
        . "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n"])
{
    ok(!eval { PromText::parse($bad->[1]); 1 }, "the parser refuses $bad->[0]");
}

my $head = MiTest::http($port, 'HEAD', '/metrics');
is($head->{status}, 200, 'HEAD: 200');
is(MiTest::http($port, 'POST', '/metrics', body => 'x')->{status}, 405,
   'POST: 405');

# --- a reload keeps every count; the requests after it add to them
$t->reload_nginx($ngx);
my $after = parsed();
check_counts($after, 'after a reload');

send_n('after the reload', 200, $port, 'GET', "$P/scene-summary/status");
expect('nginx_mi_requests_total', $N, route => 'asset.status',
       outcome => 'signed');
expect('nginx_mi_upstream_responses_total', $N, route => 'asset.status',
       status => '2xx');
expect('nginx_mi_upstream_response_seconds_count', $N,
       route => 'asset.status');
check_counts(settled($requests), 'after a reload and N more');

# a rotated secret shows in key_info at the reload that reads it
my $new = $t->new_secret;
$t->write_file($file, "$new\n");
$t->reload_nginx($ngx);
my $rotated = parsed();
my $fp2 = substr(sha256_hex("mi-secret-fingerprint:$new"), 0, 8);
is_deeply([keys %{ PromText::samples($rotated, 'nginx_mi_key_info') }],
          ["nginx_mi_key_info{access_key=AK,fingerprint=$fp2,"
           . "location_key=$file}"], 'rotation: the new fingerprint');
cmp_ok(PromText::value($rotated, 'nginx_mi_key_loaded_timestamp_seconds',
                       location_key => $file, access_key => 'AK'),
       '>=', $loaded, 'rotation: loaded again');
check_counts($rotated, 'after a rotation');

# a reload that changes the zone's size starts a new zone at zero
(my $resized = $http) =~ s/%%ZONE%%/mi_metrics_zone mi_metrics 128k;/;
$t->reconfigure_nginx($ngx, $resized, workers => 2);
%want = ();
check_counts(parsed(), 'a new size: every counter back to 0');

$t->stop_all;
$t->check_logs($file);

done_testing;
