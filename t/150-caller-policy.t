#!/usr/bin/perl
# Property test of the caller policy (mi_caller, mi_allow): generated
# policies of 1 to 20 lines (exact and regex callers, route lists with
# wildcards, workspace lists, prefixes and regexes, full_analysis=off),
# each served twice, validating and not (mi_validate off: route "generic",
# no workspace), by two workers; generated requests (callers valid and
# not, the eight routes, workspaces as sent and percent-encoded, request
# bodies with and without sceneIds), each sent over HTTP/1.1 and HTTP/2.
# A reference written here, apart from the module, decides.  Property P:
#
#   - a request the reference allows reaches the upstream once, and the
#     mock verifies its signature;
#   - any other gets the module's JSON error with the reference's status
#     and code (401 CALLER_UNKNOWN, 403 CALLER_NOT_ALLOWED naming caller,
#     route and workspace, 403 FULL_ANALYSIS_NOT_ALLOWED asking for
#     sceneIds), and nothing reaches the upstream;
#   - no worker dies, and under make asan no sanitizer reports.
#
#   MI_SEED=N            replay a run (the seed is printed as "# seed: N")
#   MI_CASE=I            with MI_SEED: only request I of that run
#   MI_PROPERTY_CASES=N  how many requests (default 1200, each sent twice)
#   MI_POLICIES=N        how many policies (default 8)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use MiTest;
use MiH2;
use MiHeaders qw(h1_raw);

my $cases = $ENV{MI_PROPERTY_CASES} // 1200;
my $npol = $ENV{MI_POLICIES} // 8;
my $seed = $ENV{MI_SEED} // int(time * 1000 + $$) % 2**31;
my $only = $ENV{MI_CASE};

diag("seed: $seed (replay: MI_SEED=$seed prove $0)");

srand($seed);

# --- the reference ---------------------------------------------------------

my $PREFIX = '/api/v1/workspaces/%s/projects/12/assets/34';

my %ROUTES = (
    'index.request' => [POST => "$PREFIX/indexes/5/scene-summaries"],
    'index.result' => [GET => "$PREFIX/indexes/5/scene-summaries"],
    'index.status' => [GET => "$PREFIX/indexes/5/scene-summaries/6/status"],
    'index.cancel' => [DELETE => "$PREFIX/indexes/5/scene-summaries/6"],
    'asset.request' => [POST => "$PREFIX/scene-summary"],
    'asset.result' => [GET => "$PREFIX/scene-summary"],
    'asset.status' => [GET => "$PREFIX/scene-summary/status"],
    'asset.cancel' => [POST => "$PREFIX/scene-summary/cancel"],
);
my @ROUTE_NAMES = sort keys %ROUTES;

sub valid_caller {
    my ($c) = @_;
    return defined $c && $c ne '-' && $c =~ m{\A[A-Za-z0-9._~:/\@+-]{1,128}\z};
}

# A route item of route=: "*", "generic", or NAME.NAME with "*" for either.
sub route_item_matches {
    my ($item, $route) = @_;
    return 1 if $item eq '*';
    return $route eq 'generic' if $item eq 'generic';
    return 0 if $route eq 'generic';
    my ($a, $b) = split /\./, $item, 2;
    my ($x, $y) = split /\./, $route, 2;
    return ($a eq '*' || $a eq $x) && ($b eq '*' || $b eq $y);
}

sub ws_matches {
    my ($spec, $ws) = @_;
    return $ws =~ /$spec->{re}/ if exists $spec->{re};
    for my $item (@{ $spec->{list} }) {
        if ($item =~ /\A(.*)\*\z/) {
            return 1 if substr($ws, 0, length $1) eq $1;
        } elsif ($item eq $ws) {
            return 1;
        }
    }
    return 0;
}

# [status, code] or [200]; $ws undef for a generic request; $full: the
# body asks for a full analysis (no sceneIds, or null).
sub reference {
    my ($policy, $caller, $route, $ws, $full) = @_;

    return [401, 'CALLER_UNKNOWN'] unless valid_caller($caller);

    for my $line (@$policy) {
        if (exists $line->{caller_re}) {
            next unless $caller =~ /$line->{caller_re}/;
        } else {
            next unless $caller eq $line->{caller};
        }
        if ($line->{routes}) {
            next unless grep { route_item_matches($_, $route) }
                             @{ $line->{routes} };
        }
        if ($line->{ws}) {
            next unless defined $ws && ws_matches($line->{ws}, $ws);
        }
        return [403, 'FULL_ANALYSIS_NOT_ALLOWED']
            if $line->{no_full} && $route =~ /\.request\z/ && $full;
        return [200];
    }

    return [403, 'CALLER_NOT_ALLOWED'];
}

# --- the generators ------------------------------------------------------

sub pick { $_[int rand @_] }

my @NAMES = ('indexer', 'dashboard', 'batch-1', 'batch-nightly', 'svc.a',
             'spiffe://corp/ns/media/sa/indexer', 'ops@corp', 'a+b~c:d',
             'x' x 128);
my @BAD_CALLERS = ('', '-', 'a b', 'x' x 129, "caf\xc3\xa9", 'a"b', 'a,b',
                   'a;b', "a\\b", '{x}');
my @CALLER_RES = ('^batch-', 'indexer$', '^svc\.', 'corp',
                  '^(dashboard|ops@corp)$', '^[a-z]+$', 'b', '^x{128}$');
my @ROUTE_ITEMS = ('*', 'index.*', 'asset.*', '*.status', '*.result',
                   '*.request', '*.cancel', '*.*', 'generic', @ROUTE_NAMES);
my @WORKSPACES = qw(media-dev media-stg media-prod other-ws abc media);
my @WS_ITEMS = ('media-*', 'media-d*', 'other-ws', 'abc', 'media-prod', '*',
                'ab*');
my @WS_RES = ('^media-(dev|stg)$', 'prod', '^a', '-', 'ws$');

sub gen_policy {
    my @lines;

    for (1 .. 1 + int rand 20) {
        my %line;
        my @text;

        if (rand() < 0.35) {
            $line{caller_re} = pick(@CALLER_RES);
            push @text, "\"~$line{caller_re}\"";
        } else {
            $line{caller} = pick(@NAMES);
            push @text, $line{caller};
        }

        if (rand() < 0.7) {
            my @items = map { pick(@ROUTE_ITEMS) } 1 .. 1 + int rand 3;
            $line{routes} = \@items;
            push @text, 'route=' . join ',', @items;
        }

        my $r = rand;
        if ($r < 0.3) {
            my @items = map { pick(@WS_ITEMS, @WORKSPACES) }
                            1 .. 1 + int rand 2;
            $line{ws} = { list => \@items };
            push @text, 'workspace=' . join ',', @items;
        } elsif ($r < 0.45) {
            my $re = pick(@WS_RES);
            $line{ws} = { re => $re };
            push @text, "\"workspace=~$re\"";
        }

        if (rand() < 0.4) {
            $line{no_full} = 1;
            push @text, 'full_analysis=off';
        } elsif (rand() < 0.1) {
            push @text, 'full_analysis=on';
        }

        $line{text} = join ' ', @text;
        push @lines, \%line;
    }

    return \@lines;
}

# The bodies of a request route: [body or undef, full analysis?, asset only]
my @BODIES = ([undef, 1], ['', 1], ['{"sceneIds":[1,2]}', 0],
              ['{"sceneIds":null}', 1], ['{}', 1], ['{"locale":"ko"}', 1, 1],
              ['{"sceneIds":[7]}', 0]);

sub gen_request {
    my %q;

    $q{policy} = int rand $npol;
    $q{validate} = rand() < 0.8;
    $q{route} = rand() < 0.4 ? pick('index.request', 'asset.request')
                             : pick(@ROUTE_NAMES);
    $q{ws} = pick(@WORKSPACES);

    # sent percent-encoded: validated, and judged, decoded once
    $q{ws_sent} = rand() < 0.1 ? join('', map { sprintf '%%%02X', ord }
                                           split //, $q{ws})
                               : $q{ws};

    my $r = rand;
    $q{caller} = $r < 0.75 ? pick(@NAMES)
               : $r < 0.9 ? pick(@BAD_CALLERS)
               : undef;                                # no header at all

    if ($q{route} =~ /\.request\z/) {
        my $b;
        do { $b = pick(@BODIES) }
            while $b->[2] && $q{route} ne 'asset.request';
        ($q{body}, $q{full}) = @$b;
    }

    return \%q;
}

my @policies = map { gen_policy() } 1 .. $npol;
my @case_seeds = map { int rand 2**31 } 1 .. $cases;

# --- the gateway ---------------------------------------------------------

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('policy.secret');
my $h2_port = MiTest::free_port();
my $servers = '';

for my $k (0 .. $#policies) {
    my $allow = join '', map { "        mi_allow $_->{text};\n" }
                             @{ $policies[$k] };

    for my $v ([p => 'on'], [g => 'off']) {
        $servers .= <<"EOF";
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2_port http2;
        server_name $v->[0]$k;
        keepalive_requests 1000000;

        mi_sign on;
        mi_access_key AK;
        mi_secret_key_file $file;
        mi_validate $v->[1];
        mi_caller \$http_x_caller;
$allow
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://mock;
        }
    }
EOF
    }
}

my $ngx = $t->start_nginx(<<"EOF", workers => 2);
    upstream mock {
        server 127.0.0.1:$mock->{port};
        keepalive 4;
    }

$servers
EOF

note("policy $_: " . join(' | ', map { $_->{text} } @{ $policies[$_] }))
    for 0 .. $#policies;

# --- the run -------------------------------------------------------------

my @run = defined $only ? ($only) : (0 .. $cases - 1);
my $h1 = MiTest::Conn->new($ngx->{port});
my $h2;
my (%failed, %seen);
my $done = 0;
my $start = time;

for my $i (@run) {
    srand($case_seeds[$i]);

    my $q = gen_request();
    my ($method, $path) = @{ $ROUTES{ $q->{route} } };
    my $target = sprintf $path, $q->{ws_sent};
    my $host = ($q->{validate} ? 'p' : 'g') . $q->{policy};
    my $route = $q->{validate} ? $q->{route} : 'generic';
    my $want = reference($policies[$q->{policy}], $q->{caller} // '-',
                         $route, $q->{validate} ? $q->{ws} : undef,
                         $q->{validate} && $q->{full});
    my @headers = (['Content-Type', 'application/json']);

    push @headers, ['X-Caller', $q->{caller}] if defined $q->{caller};

    $seen{$want->[1] // $want->[0]}++;
    $done++;

    my $res = $h1->request(h1_raw($method, $target,
                                  [['Host', $host], @headers], $q->{body}));
    check($i, 'HTTP/1.1', $res, $q, $method, $target, $want);

    $h2 //= MiH2->new($h2_port);
    $res = $h2->request($method, $target, authority => $host,
                        headers => [map { [lc $_->[0], $_->[1]] } @headers],
                        defined $q->{body} ? (body => $q->{body}) : ());
    check($i, 'HTTP/2', $res, $q, $method, $target, $want,
          $res ? () : "HTTP/2: $h2->{error}");
    undef $h2 unless $res;

    if (MiTest::property_failures(\%failed) >= 50) {
        diag("stopped after request $i: too many failures");
        last;
    }
}

$h1->disconnect;
$h2->disconnect if $h2;

note(sprintf '%d requests, each over HTTP/1.1 and HTTP/2, in %.1f s',
             $done, time - $start);

for my $proto ('HTTP/1.1', 'HTTP/2') {
    my $f = $failed{$proto} // [];
    ok(!@$f && $done == @run, "$proto: $done of " . scalar(@run)
                              . ' generated requests decided as the '
                              . 'reference decides')
        or diag(join "\n", "$proto: " . scalar(@$f) . ' failed:',
                @$f[0 .. ($#$f < 4 ? $#$f : 4)]);
}

is(scalar(MiTest::worker_deaths($ngx)), 0, 'no worker died');

SKIP: {
    skip 'coverage of the generator: fewer than 1000 requests', 4
        if $done < 1000;
    ok(($seen{$_} // 0) > 20, "requests the reference answers $_: "
                              . ($seen{$_} // 0))
        for qw(200 CALLER_UNKNOWN CALLER_NOT_ALLOWED
               FULL_ANALYSIS_NOT_ALLOWED);
}

$t->stop_all;
$t->check_logs($file);

done_testing;


# Checks one exchange against property P.
sub check {
    my ($i, $proto, $res, $q, $method, $target, $want, @p) = @_;
    my @got = $t->mock_new($mock);

    if ($res && $want->[0] == 200) {
        push @p, "status $res->{status}, expected 200: "
                 . substr($res->{body} // '', 0, 160)
            if $res->{status} != 200;
        push @p, 'the upstream got ' . scalar(@got) . ' requests'
            if @got != 1;
        push @p, "the mock did not verify the signature: $got[0]{error}"
            if @got == 1 && !$got[0]{verified};

    } elsif ($res) {
        my $j = MiTest::json_body($res);

        push @p, 'the upstream got ' . scalar(@got) . ' requests' if @got;
        push @p, 'not a JSON error: ' . substr($res->{body} // '', 0, 160)
            unless $j && ref $j eq 'HASH' && defined $j->{code};

        if ($j && ref $j eq 'HASH') {
            push @p, "status $res->{status} $j->{code}, expected "
                     . "$want->[0] $want->[1]"
                if $res->{status} != $want->[0]
                   || ($j->{code} // '') ne $want->[1];

            my $m = $j->{message} // '';
            my $route = $q->{validate} ? $q->{route} : 'generic';
            my $ws = $q->{validate} ? $q->{ws} : '(none)';

            push @p, "message \"$m\" does not name caller, route and "
                     . 'workspace'
                if $want->[1] eq 'CALLER_NOT_ALLOWED'
                   && index($m, "\"$q->{caller}\"") < 0
                      | index($m, " $route ") < 0
                      | index($m, "workspace $ws") < 0;
            push @p, "message \"$m\" does not ask for sceneIds"
                if $want->[1] eq 'FULL_ANALYSIS_NOT_ALLOWED'
                   && $m !~ /sceneIds/;
        }
    }

    push @p, MiTest::worker_deaths($ngx, since => 1);

    return unless @p;

    push @{ $failed{$proto} },
        "request $i (MI_SEED=$seed MI_CASE=$i), "
        . ($q->{validate} ? 'p' : 'g') . "$q->{policy} $method $target "
        . 'caller ' . (defined $q->{caller} ? "\"$q->{caller}\"" : 'none')
        . ' body ' . ($q->{body} // 'none') . ': ' . join('; ', @p);
}
