#!/usr/bin/perl
# X-Request-ID and the JSON access log, with the files conf/ ships: a
# client's id of 1 to 64 token characters goes upstream, back to the client
# and into the log; any other is replaced by nginx's $request_id, which is
# what is sent when the client sends none.  Every log line is strict JSON
# with the documented fields.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('r.secret');
my $signing = MiTest::signing($file);
my $up = "127.0.0.1:$mock->{port}";
my $log = "$t->{dir}/mi.json.log";
my $conf = "$MiTest::ROOT/conf";

my $ngx = $t->start_nginx(<<"EOF");
    include $conf/mi-log-format.conf;
    access_log $log mi_json;

    server {
        listen 127.0.0.1:%%PORT%%;

        $signing

        location / {
            include $conf/mi-request-id.conf;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://$up;
        }
    }
EOF
my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';

my $seen = 0;
my $logged = 0;

sub upstream_request {
    my @all = $t->mock_requests($mock);
    my @new = @all[$seen .. $#all];
    $seen = @all;
    return @new;
}

# The log lines written since the last call, each decoded strictly; polls,
# as a line is written once the response has left.
sub log_lines {
    my ($want) = @_;
    my $deadline = time + 10;
    my @lines;

    while (1) {
        @lines = split /\n/, MiTest::read_file($log);
        last if @lines >= $logged + $want || time > $deadline;
        sleep 0.05;
    }

    my @new = @lines[$logged .. $#lines];
    $logged = @lines;

    return map { my $l = $_; eval { JSON::PP->new->decode($l) }
                             // { unparsed => $l } } @new;
}

sub with_id {
    my ($name, $target, @ids) = @_;
    my $res = MiTest::http($port, 'GET', $target,
                           headers => [map { ['X-Request-ID', $_] } @ids]);
    my @up = upstream_request();
    my ($line) = log_lines(1);
    return ($res, $up[0], $line);
}

# --- a valid id: forwarded, echoed, logged
for my $id ('abc-123', 'x' x 64, "!#\$%&'*+-.^_`|~09AZaz") {
    my ($res, $up, $line) = with_id("id $id", "$P/scene-summary/status", $id);
    my $name = length $id == 64 ? '64 characters' : "\"$id\"";
    is($res->{status}, 200, "$name: 200");
    is_deeply($up->{h}{'x-request-id'}, [$id], "$name: upstream got it once");
    ok($up->{verified}, "$name: still signed");
    is($res->{h}{'x-request-id'}, $id, "$name: echoed to the client");
    is($line->{request_id}, $id, "$name: in the log");
}

# --- none: nginx's $request_id, the same everywhere
{
    my ($res, $up, $line) = with_id('none', "$P/scene-summary?secret=q");
    my $id = $up->{h}{'x-request-id'}[0] // '';
    like($id, qr/^[0-9a-f]{32}$/, 'none: $request_id sent upstream');
    is(scalar @{ $up->{h}{'x-request-id'} }, 1, 'none: once');
    is($res->{h}{'x-request-id'}, $id, 'none: the same echoed');
    is($line->{request_id}, $id, 'none: the same logged');

    # the documented fields, the path without its query
    is_deeply([sort keys %$line],
              [sort qw(time request_id client method path status route caller
                       error_code mi_timestamp upstream_status upstream_addr
                       request_time upstream_response_time request_length
                       body_bytes_sent)], 'log: the documented fields');
    is($line->{path}, "$P/scene-summary", 'log: the path, no query');
    unlike(MiTest::read_file($log), qr/secret=q/, 'log: no query anywhere');
    is($line->{method}, 'GET', 'log: method');
    is($line->{client}, '127.0.0.1', 'log: client');
    is($line->{status}, 200, 'log: status, a number');
    is($line->{route}, 'asset.result', 'log: route');
    is($line->{error_code}, '', 'log: no error code');
    is($line->{mi_timestamp}, $up->{h}{'x-ncp-apigw-timestamp'}[0],
       'log: the timestamp that was signed');
    is($line->{upstream_status}, '200', 'log: upstream status');
    is($line->{upstream_addr}, "127.0.0.1:$mock->{port}", 'log: upstream address');
    like($line->{time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$/,
         'log: ISO 8601 time');
    ok($line->{request_time} =~ /^\d+(\.\d+)?$/ && !ref $line->{request_time},
       'log: request_time, a number');
    like($line->{upstream_response_time}, qr/^\d+\.\d{3}$/,
         'log: upstream_response_time');
    ok($line->{request_length} > 0 && $line->{body_bytes_sent} > 0,
       'log: byte counts');
}

# --- invalid ids: replaced, never forwarded
for my $case (['65 characters', ['y' x 65]],
              ['a space', ['a b']],
              ['a comma', ['a,b']],
              ['a slash', ['a/b']],
              ['a quote', ['a"b']],
              ['non-ASCII', ["caf\xc3\xa9"]],
              ['empty', ['']],
              ['two headers', ['one', 'two']])
{
    my ($name, $ids) = @$case;
    my ($res, $up, $line) = with_id($name, "$P/scene-summary/status", @$ids);
    my $got = $up->{h}{'x-request-id'} // [];
    is($res->{status}, 200, "$name: 200");
    ok(@$got == 1 && $got->[0] =~ /^[0-9a-f]{32}$/,
       "$name: \$request_id sent instead") or diag(explain $got);
    is($res->{h}{'x-request-id'}, $got->[0], "$name: that one echoed");
    is($line->{request_id}, $got->[0], "$name: that one logged");
}

# --- a refusal: echoed and logged with its code
{
    my $res = MiTest::http($port, 'GET', '/nope',
                           headers => [['X-Request-ID', 'refused-1']]);
    my ($line) = log_lines(1);
    is($res->{status}, 404, 'refused: 404');
    is($res->{h}{'x-request-id'}, 'refused-1', 'refused: echoed');
    is_deeply([@$line{qw(request_id error_code route upstream_status)}],
              ['refused-1', 'ROUTE_NOT_FOUND', 'none', ''],
              'refused: logged with its code, no upstream');
}

# --- a path escape=json has to escape
{
    my $res = MiTest::http($port, 'GET', '/a%22b%5Cc%0Ad');
    my ($line) = log_lines(1);
    is($res->{status}, 404, 'odd path: refused');
    is($line->{path}, "/a\"b\\c\nd", 'odd path: logged as valid JSON');
}

# --- ids a worker makes: 16 random bytes each, drawn 64 requests' worth
# at a time; never the same twice, across two workers and a reload, and
# $request_id is the same id whichever of the two a request reads first
{
    my $ids = $t->start_nginx(<<"EOF", workers => 2);
    server {
        listen 127.0.0.1:%%PORT%%;
        location /mi { return 200 "\$mi_request_id \$request_id \$pid"; }
        location /ngx { return 200 "\$request_id \$mi_request_id \$pid"; }
    }
EOF
    my (%seen, %per_pid, @bad, $pairs);
    my $draw = sub {
        my ($path, $n) = @_;
        for (1 .. $n) {
            my $res = MiTest::http($ids->{port}, 'GET', $path);
            my ($first, $second, $pid) = split / /, $res->{body} // '';
            if ($res->{status} != 200 || ($first // '') !~ /^[0-9a-f]{32}$/) {
                push @bad, $res->{body};
                next;
            }
            $pairs++ if $first eq ($second // '');
            $seen{$first}++;
            $per_pid{$pid}++;
        }
    };

    $draw->('/mi', 300);
    $draw->('/ngx', 50);
    my $before = keys %per_pid;
    my ($most) = sort { $b <=> $a } values %per_pid;
    $t->reload_nginx($ids);
    $draw->('/mi', 300);

    is_deeply(\@bad, [], 'ids: 650 answers, each 32 hex digits');
    is($pairs, 650, 'ids: $request_id and $mi_request_id one value');
    is(scalar(grep { $_ > 1 } values %seen), 0,
       'ids: 650 ids, none twice (two workers, a reload)');
    ok($before == 2 && $most > 64,
       "ids: both workers drew, one more than 64 ids ($most)")
        or diag(explain \%per_pid);
    ok(keys(%per_pid) > $before, 'ids: the new workers drew their own');
}

$t->stop_all;
$t->check_logs($file);

done_testing;
