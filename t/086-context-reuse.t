#!/usr/bin/perl
# Each request has a context of its own, from its pool, and no request
# sees another's.  Two waves of 300 requests, each wave all in flight at
# once (every body half sent, until nginx has made a context for each):
# the second wave, on memory the first one's pools gave back, mixes
# accepted and refused requests, each with its own body, and each gets its
# own answer; the mock sees exactly the accepted bodies, signed.  Under
# "make asan" any use of a context after its request's pool went fails.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use Test::More;
use Time::HiRes qw(sleep);
use MiTest;

my $N = 300;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('reuse.secret');
my $signing = MiTest::signing($file);

my $ngx = $t->start_nginx(<<"EOF", connections => 4 * $N);
    server {
        listen 127.0.0.1:%%PORT%%;

        $signing

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678/scene-summary';

sub debug_lines {
    my ($re) = @_;
    return scalar grep { /$re/ } split /\n/, MiTest::read_file($ngx->{error_log});
}

# Sends each body's first half, waits until nginx made a context for every
# request (new ones counted in the debug log, reused ones not: so the
# caller says how many new ones to wait for), then the second halves, and
# reads every answer.
sub wave {
    my ($name, $new_total, @bodies) = @_;
    my (@socks, %buf);

    for my $body (@bodies) {
        my $s = MiTest::connect_to($port);
        print {$s} "POST $P HTTP/1.1\r\nHost: localhost\r\n"
            . "Content-Type: application/json\r\n"
            . 'Content-Length: ' . length($body) . "\r\n"
            . "Connection: close\r\n\r\n"
            . substr($body, 0, int(length($body) / 2));
        push @socks, $s;
    }

    # every request waits for the rest of its body, holding its context
    my $made = MiTest::poll_until(20,
        sub { debug_lines(qr/mi ctx: new/) >= $new_total });
    is(debug_lines(qr/mi ctx: new/), $new_total,
       "$name: $new_total contexts made in all, all requests in flight")
        or diag('the debug log has ' . debug_lines(qr/mi ctx: new/));

    for my $i (0 .. $#socks) {
        print {$socks[$i]} substr($bodies[$i], int(length($bodies[$i]) / 2));
    }

    my $sel = IO::Select->new(@socks);
    my %index = map { (fileno($socks[$_]) => $_) } 0 .. $#socks;
    my $deadline = time + 60;

    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(1)) {
            my $i = $index{fileno $s};
            my $n = sysread($s, $buf{$i}, 65536, length($buf{$i} // ''));
            if (!$n) {
                $sel->remove($s);
                close $s;
            }
        }
    }

    return map { parse($buf{$_} // '') } 0 .. $#socks;
}

# What the mock got, once it has logged n requests (or 10 s passed).
sub mock_got {
    my ($n) = @_;
    my @got;
    MiTest::poll_until(10, sub { push @got, $t->mock_new($mock); @got >= $n });
    return @got;
}

sub parse {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
    my ($code) = ($body // '') =~ /"code":"([^"]*)"/;
    return { status => $status // 0, code => $code // '', body => $body };
}

# --- wave 1: all accepted, one scene id each
$t->mock_new($mock);
my @bodies = map { qq({"sceneIds":[$_]}) } 1 .. $N;
my @res = wave('wave 1', $N, @bodies);

is(scalar(grep { $_->{status} == 200 } @res), $N, "wave 1: $N answered 200");
my @got = mock_got($N);
is(scalar @got, $N, "wave 1: the mock got $N requests");
is(scalar(grep { $_->{verified} } @got), $N,
   'wave 1: every signature verified by the mock');
is_deeply([sort map { $_->{body} } @got], [sort @bodies],
          'wave 1: the mock got each body once');

# --- wave 2: accepted and refused requests taking turns
my (@good, @want);
@bodies = ();
for my $i (1 .. $N) {
    if ($i % 2) {
        push @bodies, qq({"sceneIds":[$i,@{[$i + 1000]}]});
        push @good, $bodies[-1];
        push @want, 200;
    } else {
        push @bodies, qq({"sceneIds":[$i,]});
        push @want, 400;
    }
}

@res = wave('wave 2', 2 * $N, @bodies);

my @wrong = grep {
    $res[$_]{status} != $want[$_]
        || ($want[$_] == 400 && $res[$_]{code} ne 'INVALID_JSON')
} 0 .. $#res;
is(scalar @wrong, 0, 'wave 2: each request got its own answer (200, or '
   . '400 INVALID_JSON)')
    or diag(join "\n", map { "request $_: $res[$_]{status} $res[$_]{code}" }
                       @wrong[0 .. ($#wrong > 4 ? 4 : $#wrong)]);
@got = mock_got(scalar @good);
is_deeply([sort map { $_->{body} } @got], [sort @good],
          'wave 2: the mock got exactly the accepted bodies');
is(scalar(grep { $_->{verified} } @got), scalar @good,
   'wave 2: every signature verified by the mock');

is(scalar(MiTest::worker_deaths($ngx)), 0, 'no worker died');

$t->stop_all;
$t->check_logs($file);

done_testing;
