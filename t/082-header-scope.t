#!/usr/bin/perl
# The signing headers exist only for the upstream request of a location
# with mi_sign on (issue 6).  When a request signed in one location goes on
# to another upstream through a location without mi_sign (error_page to a
# named location or a URI, proxy_intercept_errors, post_action, a mirror
# subrequest), that other upstream sees none of x-ncp-apigw-timestamp,
# x-ncp-iam-access-key, x-ncp-apigw-signature-v2 (a valid signature it could
# replay for 5 minutes), and sees the client's own headers as nginx would
# pass them from any location without mi_sign: Cookie and Authorization
# included, nothing added.  Sent on into another signing location, the
# request is signed again, for that location's target and credentials.
# Every case runs over HTTP/1.1 and again over HTTP/2.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;
use MiH2;
use MiHeaders qw(forwarded_problems h1_raw);

my $t = MiTest->new;
my $secret = $t->new_secret;
my $secret2 = $t->new_secret;
my $other_secret = $t->new_secret;
my $file = $t->write_file('ak1.secret', "$secret\n");
my $file2 = $t->write_file('ak2.secret', "$secret2\n");

my $mock = $t->start_mock(AK1 => $secret);          # the signing upstream
my $other = $t->start_mock(OTHER => $other_secret); # another upstream
my $mock2 = $t->start_mock(AK2 => $secret2);        # knows AK2 only
my $closed = MiTest::free_port();                   # nothing listens here
my $h2_port = MiTest::free_port();

my $ngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2_port http2;

        mi_access_key AK1;
        mi_secret_key_file $file;
        mi_validate off;

        # signed, then the upstream fails: 502
        location /named/ {
            mi_sign on;
            error_page 502 = \@other;
            proxy_pass http://127.0.0.1:$closed;
        }

        location /uri/ {
            mi_sign on;
            error_page 502 = /other/after-502;
            proxy_pass http://127.0.0.1:$closed;
        }

        # signed, and the upstream answers 500
        location /intercept/ {
            mi_sign on;
            proxy_intercept_errors on;
            error_page 500 = \@other;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /post/ {
            mi_sign on;
            post_action \@other;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /mirrored/ {
            mi_sign on;
            mirror /m;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        # never signed: "return" comes before the module's phase
        location /returned/ {
            mi_sign on;
            error_page 418 = /other/after-418;
            return 418;
        }

        location /fallback-from/ {
            mi_sign on;
            error_page 502 = /fallback/x;
            proxy_pass http://127.0.0.1:$closed;
        }

        location /fallback/ {
            mi_sign on;
            mi_access_key AK2;
            mi_secret_key_file $file2;
            proxy_pass http://127.0.0.1:$mock2->{port};
        }

        # the locations without mi_sign
        location \@other {
            proxy_pass http://127.0.0.1:$other->{port};
        }

        location /other/ {
            proxy_pass http://127.0.0.1:$other->{port};
        }

        location = /m {
            internal;
            proxy_pass http://127.0.0.1:$other->{port};
        }
    }
EOF

my $port = $ngx->{port};

# What the client sends: Cookie and Authorization among ordinary headers.
my @client = (['Host', 'localhost'], ['Connection', 'close'],
              ['Cookie', 'session=internal-cookie'],
              ['X-Request-Id', 'r-1'],
              ['Authorization', 'Bearer internal-token'],
              ['Accept-Language', 'ko'],
              ['Cookie', 'second=2'],
              ['Proxy-Authorization', 'Basic cHJveHk6cGFzcw==']);

# The same over HTTP/2: lower-case names, no Connection, the host in
# :authority.  nginx joins the cookie fields into one Cookie header after
# the others, as HTTP/2 asks of a server that passes them on.
my @client_h2 = map { [lc $_->[0], $_->[1]] }
                grep { $_->[0] !~ /^(Host|Connection)$/ } @client;
my @client_h2_forwarded = ((grep { $_->[0] ne 'cookie' } @client_h2),
                           ['cookie', 'session=internal-cookie; second=2']);

my %proto = (
    'HTTP/1.1' => {
        send => sub {
            my ($target) = @_;
            return MiTest::http_raw($port, h1_raw('GET', $target, \@client));
        },
        forwarded => \@client,
        cookies => ['session=internal-cookie', 'second=2'],
        suffix => '',
    },
    'HTTP/2' => {
        send => sub {
            my ($target) = @_;
            my $h2 = MiH2->new($h2_port);
            my $res = $h2->request('GET', $target, headers => \@client_h2);
            $h2->disconnect;
            return $res;
        },
        forwarded => \@client_h2_forwarded,
        cookies => ['session=internal-cookie; second=2'],
        suffix => '-h2',
    },
);

# Waits for what one mock gets for one target after the first $since
# requests it logged (mirror and post_action run after the response, or
# beside it).
sub received {
    my ($m, $target, $since) = @_;
    my @r;
    MiTest::poll_until(10, sub {
        my @all = $t->mock_requests($m);
        @r = grep { $_->{target} eq $target } @all[($since // 0) .. $#all];
    });
    return @r;
}

# The other upstream got the client's list as any location without mi_sign
# would pass it, and none of the signing headers.
sub other_got_client_list {
    my ($name, $target, $proto, $since) = @_;
    my @r = received($other, $target, $since);

    is(scalar @r, 1, "$name: the other upstream got the request")
        or return;
    my $r = $r[0];
    my %h = %{ $r->{h} };

    ok(!$h{$_}, "$name: the other upstream got no $_")
        for MiHeaders::SIGNING;
    is_deeply([$h{cookie}, $h{authorization}, $h{'proxy-authorization'}],
              [$proto->{cookies},
               ['Bearer internal-token'], ['Basic cHJveHk6cGFzcw==']],
              "$name: it got the client's own Cookie and Authorization");
    my @p = forwarded_problems($r, $proto->{forwarded}, signed => 0);
    ok(!@p, "$name: it got the client's header list, in order, "
            . 'nothing added') or diag(join "\n", @p);
}

# The signing upstream got the request signed, without the credentials.
sub signed_first {
    my ($name, $target, $proto, $since) = @_;
    my @r = received($mock, $target, $since);

    is(scalar @r, 1, "$name: the signing upstream got the request")
        or return;
    my @p = forwarded_problems($r[0], $proto->{forwarded}, ak => 'AK1');
    ok(!@p, "$name: signed there, credentials stripped")
        or diag(join "\n", @p);
}

# Each way out of a signing location: the request, the status the client
# gets (401: the other upstream answered, as it would any unsigned request;
# 200: the signing upstream did), the target at the signing upstream (none
# when it failed or was never reached) and at the other upstream; "%s"
# stands for the protocol's suffix of the target.
for my $p (sort keys %proto) {
    my $proto = $proto{$p};

    for my $case (
        ['error_page 502 = @named', '/named/x%s?q=1', 401,
         undef, '/named/x%s?q=1'],
        ['error_page 502 = /uri', '/uri/x%s', 401,
         undef, '/other/after-502'],
        ['proxy_intercept_errors, error_page 500 = @named',
         '/intercept/x%s?mock_status=500', 401,
         '/intercept/x%s?mock_status=500', '/intercept/x%s?mock_status=500'],
        ['post_action @named', '/post/x%s', 200,
         '/post/x%s', '/post/x%s'],
        ['mirror /m', '/mirrored/x%s', 200,
         '/mirrored/x%s', '/m'],
        ['return 418 before signing, error_page 418 = /uri', '/returned/x%s',
         401, undef, '/other/after-418'],
    ) {
        my ($name, $target, $status, $signed_at, $other_at)
            = map { defined $_ ? s/%s/$proto->{suffix}/r : $_ } @$case;
        $name = "$p, $name";

        my $mock_since = scalar $t->mock_requests($mock);
        my $other_since = scalar $t->mock_requests($other);
        my $res = $proto->{send}->($target);

        is($res && $res->{status}, $status, "$name: status $status");
        signed_first($name, $signed_at, $proto, $mock_since)
            if defined $signed_at;
        other_got_client_list($name, $other_at, $proto, $other_since);
    }

    # into another signing location, with other credentials: signed for it
    my $before = scalar $t->mock_requests($mock2);
    my $other_before = scalar $t->mock_requests($other);
    my $target = "/fallback-from/x$proto->{suffix}?q=1";
    my $res = $proto->{send}->($target);
    is($res && $res->{status}, 200,
       "$p, error_page into another signing location: 200");
    my @r = received($mock2, '/fallback/x', $before);
    is(scalar $t->mock_requests($mock2), $before + 1,
       "$p, another signing location: its upstream got one request");
    ok(@r && $r[0]{verified},
       "$p, another signing location: verified by a mock that knows only AK2")
        or diag($r[0] ? $r[0]{error} : 'nothing received');
    my @p = forwarded_problems($r[0], $proto->{forwarded}, ak => 'AK2');
    ok(!@p, "$p, another signing location: signed once, with AK2, "
            . 'credentials stripped, the rest in order')
        or diag(join "\n", @p);
    my @all = $t->mock_requests($other);
    is(scalar(grep { $_->{target} =~ m{^/fallback} }
              @all[$other_before .. $#all]),
       0, "$p, another signing location: nothing went to the other upstream");
}

is(scalar(MiTest::worker_deaths($ngx)), 0, 'no worker died');

$t->stop_all;
$t->check_logs($file, $file2);

done_testing;
