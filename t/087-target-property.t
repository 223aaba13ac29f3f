#!/usr/bin/perl
# Property test of the request-target: thousands of generated targets, near
# the eight routes and far from them (percent-escapes of every kind, '/',
# '.', '..' and '?' escaped or not, empty and extra segments, queries with
# and without a '?' in them), each sent over HTTP/1.1 and over HTTP/2 to a
# validating, signing location.  A reference written here, apart from the
# module (the route templates and the default patterns as Perl regexes, on
# percent-decoded segments), says what each one is.  Property T:
#
#   - a target the reference accepts reaches the upstream, once, byte for
#     byte as sent, and the mock verifies its signature (its own HMAC over
#     the target it received, query included);
#   - any other gets a JSON error and nothing reaches the upstream; with no
#     '.' or '..' segment (nginx refuses some of those itself), the status
#     and code are the reference's: 404 ROUTE_NOT_FOUND, 405
#     METHOD_NOT_ALLOWED, 400 INVALID_PATH_PARAMETER naming the first bad
#     parameter, or nginx's own 400 BAD_REQUEST for a malformed escape;
#   - no worker dies, and under make asan no sanitizer reports.
#
#   MI_SEED=N            replay a run (the seed is printed as "# seed: N")
#   MI_CASE=I            with MI_SEED: only target I of that run
#   MI_PROPERTY_CASES=N  how many targets (default 1500, each sent twice)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use MiTest;
use MiH2;
use MiHeaders qw(gateway_conf h1_raw);

my $cases = $ENV{MI_PROPERTY_CASES} // 1500;
my $seed = $ENV{MI_SEED} // int(time * 1000 + $$) % 2**31;
my $only = $ENV{MI_CASE};

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('target.secret');
my $h2_port = MiTest::free_port();

# signing in the server block, as the README has it: nginx's own refusals
# of a request line come before any location
my $ngx = $t->start_nginx("    error_log $t->{dir}/target-http.log info;\n"
    . gateway_conf($mock, $file, $h2_port, '', validate => 1));

diag("seed: $seed (replay: MI_SEED=$seed prove $0)");

# --- the reference ---------------------------------------------------------

my $PREFIX = '/api/v1/workspaces/{workspace_name}/projects/{project_id}'
           . '/assets/{asset_id}';

my @ROUTES = (
    [POST => "$PREFIX/indexes/{index_id}/scene-summaries", 1],
    [GET => "$PREFIX/indexes/{index_id}/scene-summaries"],
    [GET => "$PREFIX/indexes/{index_id}/scene-summaries/{scene_summary_id}"
            . '/status'],
    [DELETE => "$PREFIX/indexes/{index_id}/scene-summaries"
               . '/{scene_summary_id}'],
    [POST => "$PREFIX/scene-summary", 1],
    [GET => "$PREFIX/scene-summary"],
    [GET => "$PREFIX/scene-summary/status"],
    [POST => "$PREFIX/scene-summary/cancel"],
);

my %PATTERN = (
    workspace_name => qr/\A[a-z0-9-]{3,63}\z/,
    map { $_ => qr/\A[1-9][0-9]{0,18}\z/ }
        qw(project_id asset_id index_id scene_summary_id),
);

my @PARAM_ORDER = qw(workspace_name project_id asset_id index_id
                     scene_summary_id);

# undef for a malformed escape
sub pct_decode {
    my ($s) = @_;
    return undef if $s =~ /%(?![0-9A-Fa-f]{2})/;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

# What the reference says of method and path (the target before its first
# '?'): [status, code, the parameter a 400 names].  nginx itself refuses a
# malformed escape anywhere in the path, before the module sees it.
sub reference {
    my ($method, $path) = @_;
    my (%allow, $bad);

    return [400, 'BAD_REQUEST'] if $path =~ /%(?![0-9A-Fa-f]{2})/;
    return [404, 'ROUTE_NOT_FOUND'] unless $path =~ m{\A/};
    my @segs = split m{/}, substr($path, 1), -1;

    ROUTE: for my $route (@ROUTES) {
        my ($m, $template) = @$route;
        my @tsegs = split m{/}, substr($template, 1), -1;
        next unless @segs == @tsegs;
        my %value;

        for my $k (0 .. $#tsegs) {
            my $seg = $segs[$k];
            my $d = pct_decode($seg);

            if ($tsegs[$k] =~ /\A\{(\w+)\}\z/) {
                next ROUTE if $seg eq '';
                next ROUTE if defined $d && ($d eq '.' || $d eq '..');
                $value{$1} = $d;
                next;
            }

            next ROUTE unless defined $d && $d eq $tsegs[$k];
        }

        $allow{$m} = 1;

        next unless $m eq $method;

        for my $p (@PARAM_ORDER) {
            next unless exists $value{$p};
            my $v = $value{$p};
            if (!defined $v || $v !~ $PATTERN{$p}) {
                $bad //= $p;
            }
        }

        return defined $bad ? [400, 'INVALID_PATH_PARAMETER', $bad] : [200];
    }

    return %allow ? [405, 'METHOD_NOT_ALLOWED'] : [404, 'ROUTE_NOT_FOUND'];
}

# --- the generator -------------------------------------------------------

sub pick { $_[int rand @_] }

# one byte percent-encoded, in either case of hex digit
sub pct { my $h = sprintf '%%%02X', ord $_[0]; rand() < 0.5 ? lc $h : $h }

# s with some bytes escaped
sub escape_some {
    my ($s) = @_;
    return join '', map { rand() < 0.15 ? pct($_) : $_ } split //, $s;
}

sub param_value {
    my ($name) = @_;
    my $r = rand;

    if ($name eq 'workspace_name') {
        return join '', map { pick('a' .. 'z', 0 .. 9, '-') }
                            1 .. 3 + int rand 20 if $r < 0.6;
    } else {
        return (1 + int rand 9) . join '', map { int rand 10 }
                                               1 .. int rand 9 if $r < 0.6;
    }

    return pick('', '0', '01', 'ab', 'AB1', 'a_b', 'x' x 64, '1' x 20, '.',
                '..', '%2e', '%2E%2e', 'a%2Fb', '1%2F2', '%zz', '%4', '%',
                '12%3F3', 'abc%20', '%31%32', '%61bc', 'a.b', '-1', '1-2',
                '9' x 19, 'my-ws', 'x' x 63, "1;2", 'a=b');
}

# a target near one of the routes, or just anything
sub gen_target {
    my $route = pick(@ROUTES);
    my ($method, $template, $body) = @$route;
    my @segs = split m{/}, substr($template, 1), -1;

    for my $s (@segs) {
        if ($s =~ /\A\{(\w+)\}\z/) {
            $s = param_value($1);
            $s = escape_some($s) if rand() < 0.1;
        } elsif (rand() < 0.05) {
            $s = escape_some($s);
        } elsif (rand() < 0.02) {
            $s = pick(ucfirst $s, "$s-", '', '.', '..', "$s%2F", '%2e');
        }
    }

    my $r = rand;
    if ($r < 0.05) {
        splice @segs, int rand(@segs + 1), 0, pick('', '.', '..', 'x');
    } elsif ($r < 0.08) {
        splice @segs, int rand @segs, 1;
    }

    my $path = '/' . join '/', @segs;
    $path .= '/' if rand() < 0.03;
    $path = pick('/', '/api', '/api/v1/', '//api/v1/workspaces', '/x?')
        if rand() < 0.02;

    my $query = pick(('') x 6, '?', '?a=1', '?lang=ko&x=%20y', '?a?b',
                     '??', '?%3F=1', '?x=/../y', '?' . 'q' x 300);

    $method = pick(qw(GET POST DELETE PUT PATCH)) if rand() < 0.2;

    return ($method, $path, $query, $body);
}

# --- the run -------------------------------------------------------------

srand($seed);
my @case_seeds = map { int rand 2**31 } 1 .. $cases;
my @run = defined $only ? ($only) : (0 .. $cases - 1);

my $h1 = MiTest::Conn->new($ngx->{port});
my $h2;
my @workers = MiTest::worker_pids($ngx);
my (%failed, %seen);
my $done = 0;
my $start = time;
my $json = '{"sceneIds":[1,2,3]}';

for my $i (@run) {
    srand($case_seeds[$i]);

    my ($method, $path, $query, $takes_body) = gen_target();
    my $target = "$path$query";
    my ($before_query) = $target =~ /\A([^?]*)/;
    my $want = reference($method, $before_query);
    my $dots = grep { my $d = pct_decode($_); defined $d && $d =~ /\A\.\.?\z/ }
               split m{/}, $before_query, -1;
    my @headers = (['Content-Type', 'application/json']);
    my $body = $takes_body && $method eq 'POST' ? $json : undef;

    $seen{$want->[1] // $want->[0]}++;
    $done++;

    my $res = $h1->request(h1_raw($method, $target,
                                  [['Host', 'localhost'], @headers], $body));
    check($i, 'HTTP/1.1', $res, $method, $target, $want, $dots);

    $h2 //= MiH2->new($h2_port);
    $res = $h2->request($method, $target,
                        headers => [['content-type', 'application/json']],
                        defined $body ? (body => $body) : ());
    check($i, 'HTTP/2', $res, $method, $target, $want, $dots,
          $res ? () : "HTTP/2: $h2->{error}");
    undef $h2 unless $res;

    my $failures = MiTest::property_failures(\%failed);
    if ($failures >= 50) {
        diag("stopped after target $i: $failures failures");
        last;
    }
}

MiTest::property_verdicts($ngx, \%failed, $done, scalar @run,
    'generated targets handled as property T says', \@workers,
    [$h1, $h2], $start);

# the generator reaches every outcome
SKIP: {
    skip 'coverage of the generator: fewer than 1000 targets', 5
        if $done < 1000;
    ok(($seen{$_} // 0) > 50, "targets the reference answers $_: "
                              . ($seen{$_} // 0))
        for qw(200 BAD_REQUEST INVALID_PATH_PARAMETER ROUTE_NOT_FOUND
               METHOD_NOT_ALLOWED);
}

$t->stop_all;
$t->check_logs($file);

done_testing;


# Checks one exchange against property T.
sub check {
    my ($i, $proto, $res, $method, $target, $want, $dots, @p) = @_;
    my @got = $t->mock_new($mock);

    if ($res && $want->[0] == 200) {
        push @p, "status $res->{status}, expected 200: "
                 . substr($res->{body} // '', 0, 120)
            if $res->{status} != 200;
        push @p, 'the upstream got ' . scalar(@got) . ' requests'
            if @got != 1;
        push @p, "the upstream got $got[0]{target}"
            if @got == 1 && $got[0]{target} ne $target;
        push @p, "the mock did not verify the signature: $got[0]{error}"
            if @got == 1 && !$got[0]{verified};

    } elsif ($res) {
        my $j = MiTest::json_body($res);

        push @p, 'the upstream got ' . scalar(@got) . ' requests' if @got;
        push @p, "status $res->{status}, not an error"
            if $res->{status} < 400 || $res->{status} >= 500;
        push @p, 'not a JSON error: ' . substr($res->{body} // '', 0, 120)
            unless $j && ref $j eq 'HASH' && defined $j->{code};

        if (!$dots && $j && ref $j eq 'HASH') {
            push @p, "status $res->{status} $j->{code}, expected "
                     . "$want->[0] $want->[1]"
                if $res->{status} != $want->[0]
                   || ($j->{code} // '') ne $want->[1];
            push @p, "message \"$j->{message}\" does not name $want->[2]"
                if defined $want->[2]
                   && ($j->{message} // '') !~ /^$want->[2]:/;
        }
    }

    push @p, MiTest::worker_deaths($ngx, since => 1);

    return unless @p;

    push @{ $failed{$proto} },
        "target $i (MI_SEED=$seed MI_CASE=$i), $method $target: "
        . join('; ', @p);
}
