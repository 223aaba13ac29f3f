package MiHeaders;

# What a signing location must do to the client's header list (issue 6),
# written once for the header tests: which names are stripped, what the
# upstream must have received for a list the client sent, and a generator
# of random header lists for the property test.
#
# The rule, property A: in a location with "mi_sign on" the upstream never
# receives a client header whose lower-cased name, reading every '_' as
# '-', is authorization, proxy-authorization, cookie, or starts with
# x-ncp-; it receives exactly one each of the three signing headers, plus
# "Content-Type: application/json" only if the client sent no Content-Type;
# every other client header arrives exactly once, with its value, in the
# client's order.

use strict;
use warnings;

use Exporter 'import';
our @EXPORT_OK = qw(is_stripped forwarded_problems exchange_problems
                    gateway_conf h1_raw gen_headers random_case SIGNING);

use constant SIGNING => qw(x-ncp-apigw-timestamp x-ncp-iam-access-key
                           x-ncp-apigw-signature-v2);

my %SIGNING = map { $_ => 1 } SIGNING;

# Headers that nginx's proxy sets itself (proxy_set_header defaults) and
# so never passes from the client; the proxy adds Host (and Connection,
# unless set to "").  The tests send none of these as ordinary headers.
my %PROXY_OWN = map { $_ => 1 }
    qw(host connection content-length transfer-encoding te keep-alive
       expect upgrade);


sub is_stripped {
    my ($name) = @_;
    (my $n = lc $name) =~ tr/_/-/;
    return $n eq 'authorization' || $n eq 'proxy-authorization'
        || $n eq 'cookie' || $n =~ /^x-ncp-/;
}


# What is wrong with what the upstream received ($r, a mock log record)
# for the header list the client sent ($sent, [name, value] pairs in
# order); an empty list when nothing is.
#   signed => 0: a location without mi_sign: the client's list arrives
#                whole (Cookie and Authorization included), none of the
#                signing headers and no added Content-Type.
#   ak => KEY:   the access key the signing headers must carry.
sub forwarded_problems {
    my ($r, $sent, %opt) = @_;
    my $signed = $opt{signed} // 1;
    my @p;

    return ('the upstream got no request') unless $r;

    my %count;
    $count{ lc $_->[0] }++ for @{ $r->{headers} };

    push @p, 'Host arrived ' . ($count{host} // 0) . ' times'
        if ($count{host} // 0) != 1;

    if ($signed) {
        push @p, "signature not verified by the mock: $r->{error}"
            unless $r->{verified};
        for my $name (SIGNING) {
            my $n = $count{$name} // 0;
            push @p, "$name arrived $n times, want 1" if $n != 1;
        }
        push @p, "x-ncp-iam-access-key is "
                 . ($r->{h}{'x-ncp-iam-access-key'}[0] // 'absent')
                 . ", want $opt{ak}"
            if defined $opt{ak}
               && ($r->{h}{'x-ncp-iam-access-key'}[0] // '') ne $opt{ak};
    } else {
        for my $name (SIGNING) {
            push @p, "$name arrived at a location without mi_sign"
                if $count{$name};
        }
    }

    my @want = grep { !$PROXY_OWN{ lc $_->[0] }
                      && !($signed && is_stripped($_->[0])) } @$sent;

    # the Content-Type the module adds when the client sent none
    my $add_type = $signed && !grep { lc $_->[0] eq 'content-type' } @$sent;
    my @rest;

    for my $h (@{ $r->{headers} }) {
        my $name = lc $h->[0];
        next if $PROXY_OWN{$name} || $SIGNING{$name};

        if ($add_type && $name eq 'content-type'
            && $h->[1] eq 'application/json')
        {
            $add_type = 0;
            next;
        }

        push @rest, $h;
    }

    push @p, 'no Content-Type: application/json was added' if $add_type;
    push @p, list_diff(\@rest, \@want, $signed);

    return @p;
}


# How the headers received ($got) differ from those expected ($want):
# stripped ones that leaked, missing or extra ones, then order.
sub list_diff {
    my ($got, $want, $signed) = @_;
    my @p;
    my $show = sub { "$_[0][0]: $_[0][1]" };

    push @p, map { 'stripped header arrived: ' . $show->($_) }
             grep { is_stripped($_->[0]) } @$got
        if $signed;

    my (%g, %w);
    $g{"$_->[0]\0$_->[1]"}++ for @$got;
    $w{"$_->[0]\0$_->[1]"}++ for @$want;

    for my $k (sort keys %w) {
        my $n = $g{$k} // 0;
        (my $h = $k) =~ s/\0/: /;
        push @p, "arrived $n times, want $w{$k}: $h" if $n < $w{$k};
    }
    for my $k (sort keys %g) {
        next if $signed && is_stripped((split /\0/, $k)[0]);
        my $n = $w{$k} // 0;
        (my $h = $k) =~ s/\0/: /;
        push @p, "arrived $g{$k} times, want $n: $h" if $g{$k} > $n;
    }

    if (!@p) {
        for my $i (0 .. $#$want) {
            next if $got->[$i][0] eq $want->[$i][0]
                    && $got->[$i][1] eq $want->[$i][1];
            push @p, "out of order at #$i: got " . $show->($got->[$i])
                     . ', want ' . $show->($want->[$i]);
            last;
        }
    }

    splice @p, 8, @p - 8, '... (' . (@p - 8) . ' more)' if @p > 8;
    return @p;
}


# What went wrong with one request sent through nginx ($ngx) to a mock:
# its response ($res) is not a 200, the mock got other than one request
# since the last look (or for another target), property A does not hold
# for the list sent ($sent), or a worker died meanwhile.  Options: target,
# and those of forwarded_problems.
sub exchange_problems {
    my ($t, $ngx, $mock, $res, $sent, %opt) = @_;
    my @got = $t->mock_new($mock);
    my @p;

    push @p, 'no response' unless $res;
    push @p, "status $res->{status}: " . brief($res->{body})
        if $res && ($res->{status} // 0) != 200;
    push @p, 'the upstream got ' . scalar(@got) . ' requests' if @got > 1;
    push @p, "the upstream got $got[0]{target}, not $opt{target}"
        if @got && defined $opt{target} && $got[0]{target} ne $opt{target};
    push @p, forwarded_problems($got[0], $sent, %opt);
    push @p, MiTest::worker_deaths($ngx, since => 1);

    return @p;
}


# The http{} body of a generic signing gateway (mi_validate off, unless
# option validate) in front of a mock, over a keepalive upstream, listening
# for HTTP/1.1 on %%PORT%% and for HTTP/2 on $h2_port; $server adds
# directives to the server.
sub gateway_conf {
    my ($mock, $secret_file, $h2_port, $server, %opt) = @_;
    my $validate = $opt{validate} ? 'on' : 'off';

    return <<"EOF";
    upstream mock {
        server 127.0.0.1:$mock->{port};
        keepalive 4;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2_port http2;
        keepalive_requests 1000000;
$server
        mi_sign on;
        mi_access_key AK;
        mi_secret_key_file $secret_file;
        mi_validate $validate;

        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://mock;
        }
    }
EOF
}


# A response body in one short line, for a diagnostic.
sub brief {
    my ($body) = @_;
    (my $b = $body // '') =~ s/\s+/ /g;
    $b =~ s/^.*<title>(.*?)<\/title>.*$/$1/;
    return length $b > 100 ? substr($b, 0, 100) . '...' : $b;
}


# A raw HTTP/1.1 request with exactly these header lines, in this order
# (Host included only if the list has it).
sub h1_raw {
    my ($method, $target, $headers, $body) = @_;
    my $raw = "$method $target HTTP/1.1\r\n";
    $raw .= "$_->[0]: $_->[1]\r\n" for @$headers;
    $raw .= "Content-Length: " . length($body) . "\r\n" if defined $body;
    return $raw . "\r\n" . ($body // '');
}


# --- random header lists ------------------------------------------------
#
# Everything below draws from Perl's rand() only: srand(N) then the same
# calls give the same lists (Perl has its own generator, drand48, on every
# platform).

my @STRIPPED = qw(authorization proxy-authorization cookie
                  x-ncp-apigw-timestamp x-ncp-iam-access-key
                  x-ncp-apigw-signature-v2 x-ncp-);

my @COMMON = qw(accept accept-language accept-encoding user-agent referer
                cache-control pragma origin x-forwarded-for x-request-id
                x-real-ip via dnt forwarded);

# names one step away from a stripped one: they must arrive
my @NEAR = qw(x-ncp x-ncpa xx-ncp-a x--ncp-a authorizatio
              authorizations x-authorization proxy-authorization-2
              proxy-authenticate cookies cookie2 set-cookie x-cookie);

my @ALNUM = ('a' .. 'z', 0 .. 9);

sub pick { $_[int rand @_] }

sub token { join '', map { pick(@ALNUM) } 1 .. $_[0] }


# Each letter upper or lower case at random, sometimes all one case.
sub random_case {
    my ($s) = @_;
    my $r = rand;
    return $s if $r < 0.4;
    return uc $s if $r < 0.5;
    return join '', map { rand() < 0.5 ? uc : lc } split //, $s;
}


# Some of the '-' read as '_' (at least one, where there is one).
sub underscored {
    my ($s) = @_;
    my @dash = grep { substr($s, $_, 1) eq '-' } 0 .. length($s) - 1;
    return $s unless @dash;
    my $first = pick(@dash);
    substr($s, $_, 1) = '_' for grep { $_ == $first || rand() < 0.5 } @dash;
    return $s;
}


sub stripped_name {
    my $name = pick(@STRIPPED);
    $name .= token(1 + int rand 8) if $name eq 'x-ncp-' && rand() < 0.8;
    $name = underscored($name) if rand() < 0.3;
    return $name;
}


sub ordinary_name {
    my $r = rand;
    my $name = $r < 0.5 ? 'x-' . token(4)
             : $r < 0.8 ? pick(@COMMON)
             : pick(@NEAR);
    $name = underscored($name) if rand() < 0.15;
    return $name;
}


# Visible ASCII, mostly short, now and then a few hundred bytes.
sub value {
    my $len = rand() < 0.9 ? 1 + int rand 24 : 1 + int rand 300;
    return join '', map { chr(0x21 + int rand 94) } 1 .. $len;
}


# A list of 0 to 200 headers, [name, value] in lower case: ordinary ones
# and stripped ones mixed in a proportion drawn for each list, now and
# then one Content-Type.  Case is the caller's to vary (random_case for
# HTTP/1.1; HTTP/2 wants lower case).
sub gen_headers {
    my $n = int rand 201;
    my $stripped = rand() < 0.1 ? 0 : rand() < 0.1 ? 1 : rand;
    my @h = map { [ rand() < $stripped ? stripped_name() : ordinary_name(),
                    value() ] } 1 .. $n;

    # nginx refuses a second Authorization (400), and from 1.29 a second
    # Proxy-Authorization too: one of each at the most, the others become
    # x-ncp-* (stripped all the same)
    my %seen;
    $_->[0] = 'x-ncp-was-' . $_->[0]
        for grep { $_->[0] =~ /^(?:proxy-)?authorization$/
                   && $seen{ $_->[0] }++ } @h;

    if (rand() < 0.1) {
        splice @h, int rand(@h + 1), 0,
            ['content-type', pick('application/json', 'text/plain',
                                  'application/json; charset=utf-8')];
    }

    return \@h;
}


1;
