#!/usr/bin/perl
# Property test of the body checker's fast paths through nginx: generated
# bodies in the usual shape ({"sceneIds":[...]}) and near it, each sent
# three times: whole, with Content-Length (nginx hands the checker one
# buffer, where the prefix and the small-body path apply); chunked in
# random pieces (which nginx joins again when they are small); and with
# Content-Length in two writes 10 ms apart, split at a random byte (two
# buffers: the byte path and the blocks decide).  Property B:
#
#   - the three sends get the same status, JSON code and message;
#   - an accepted body reaches the upstream byte for byte and the mock
#     verifies the signature; a refused one gets a JSON error and nothing
#     reaches the upstream;
#   - a body the reference below calls valid is accepted, and one it
#     calls invalid is refused (the reference knows this shape only: the
#     entries' rules and the limit, not the whole of JSON);
#   - no worker dies, and under make asan no sanitizer reports.
#
#   MI_SEED=N            replay a run (the seed is printed as "# seed: N")
#   MI_CASE=I            with MI_SEED: only body I of that run
#   MI_PROPERTY_CASES=N  how many bodies (default 600, each sent 3 times)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use MiTest;
use MiHeaders qw(gateway_conf);

my $cases = $ENV{MI_PROPERTY_CASES} // 600;
my $seed = $ENV{MI_SEED} // int(time * 1000 + $$) % 2**31;
my $only = $ENV{MI_CASE};
my $max = 20;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('body.secret');
my $h2_port = MiTest::free_port();

my $ngx = $t->start_nginx("    error_log $t->{dir}/body-http.log info;\n"
    . gateway_conf($mock, $file, $h2_port, "        mi_max_scene_ids $max;",
                   validate => 1));

diag("seed: $seed (replay: MI_SEED=$seed prove $0)");

my $PATH = '/api/v1/workspaces/my-workspace/projects/1234/assets/5678'
         . '/scene-summary';

my @ENTRY = ('0', '1', '7', '42', '99999', '2147483647', '2147483646',
             '214748364', '999999999', '1000000000');
my @BAD_ENTRY = ('01', '00', '2147483648', '9999999999', '21474836470',
                 '-1', '1.5', '1e3', '', '"1"', 'null', 'true', '0x1');

sub pick { $_[int rand @_] }

# A body and what the reference says of it: 1 valid, 0 invalid, undef
# when it does not know (whitespace and other JSON it does not model).
sub gen_body {
    my $n = int rand($max + 3);
    my $small = rand() < 0.4;       # one-digit entries: at the limit, the
                                    # list still fits the small-body path
    my ($valid, @e) = (1);

    for (1 .. $n) {
        if (rand() < 0.04) {
            push @e, pick(@BAD_ENTRY);
            $valid = 0;
        } elsif ($small) {
            push @e, int rand 10;
        } else {
            push @e, rand() < 0.3 ? pick(@ENTRY) : 1 + int rand 100000;
        }
    }

    $valid = 0 if $n > $max || $n == 0;    # an empty array is refused

    my $body = '{"sceneIds":[' . join(',', @e) . ']}';
    my $r = rand;

    if ($r < 0.05) {
        $body .= pick("\n", ' ', "\r\n");               # still valid
    } elsif ($r < 0.10) {
        $body =~ s/,/pick(', ', ' ,', ",\n")/e;         # spaces: valid
    } elsif ($r < 0.15) {
        $body = substr($body, 0, int rand length $body); # cut short
        $valid = length $body ? 0 : 1;     # no body: a full analysis
    } elsif ($r < 0.20) {
        $body .= pick('}', ']', ',', 'x', '{}');        # after the end
        $valid = 0;
    } elsif ($r < 0.23) {
        $body =~ s/\]\}\z/,]}/;                          # a trailing ','
        $valid = 0;
    } elsif ($r < 0.26) {
        $body =~ s/\A\{"sceneIds":\[/{"sceneIds":[,/;   # an empty entry
        $valid = 0;
    } elsif ($r < 0.27) {
        $body = pick('{"sceneIds":1}', '{"sceneIds":[[1]]}', '[1,2]',
                     '{"sceneIds":[1],"locale":"ko"}', '{"sceneIds":[1,]}');
        $valid = 0;
    } elsif ($r < 0.30) {
        $body = pick('{"sceneIds":[1],"sceneIds":[2]}', '{"sceneIDs":[1]}',
                     '{"sceneIds":null}', '{}', '{"locale":"ko"}',
                     '{"sceneIds":[1,2],"x":1}');
        $valid = undef;                     # not the reference's to say
    }

    return ($body, $valid);
}

# The body as chunks of random sizes.
sub chunked {
    my ($body) = @_;
    my $out = '';

    while (length $body) {
        my $n = 1 + int rand(length($body) < 8 ? length $body : 8);
        $out .= sprintf("%x\r\n", $n) . substr($body, 0, $n, '') . "\r\n";
    }

    return $out . "0\r\n\r\n";
}

srand($seed);
my @case_seeds = map { int rand 2**31 } 1 .. $cases;
my @run = defined $only ? ($only) : (0 .. $cases - 1);

my $conn = MiTest::Conn->new($ngx->{port});
my @workers = MiTest::worker_pids($ngx);
my (@failed, %seen);
my $done = 0;

for my $i (@run) {
    srand($case_seeds[$i]);

    my ($body, $valid) = gen_body();
    my $head = "POST $PATH HTTP/1.1\r\nHost: localhost\r\n"
             . "Content-Type: application/json\r\n";
    my @p;

    my $whole = $conn->request($head . 'Content-Length: ' . length($body)
                               . "\r\n\r\n$body");
    my @got_whole = $t->mock_new($mock);
    my $chunked = $conn->request($head . "Transfer-Encoding: chunked\r\n\r\n"
                                 . chunked($body));
    my @got_chunked = $t->mock_new($mock);

    # two writes 10 ms apart: nginx reads, and the filter sees, two pieces
    my $at = length $body > 1 ? 1 + int rand(length($body) - 1) : 0;
    my $full = $head . 'Content-Length: ' . length($body) . "\r\n\r\n";
    my $split = MiTest::http_raw($ngx->{port},
                                 [$full . substr($body, 0, $at),
                                  substr($body, $at)],
                                 pause => 0.01, responses => 1);
    my @got_split = $t->mock_new($mock);

    $done++;
    $seen{!defined $valid ? 'other' : $valid ? 'valid' : 'invalid'}++;

    for ([whole => $whole, \@got_whole],
         [chunked => $chunked, \@got_chunked],
         [split => $split, \@got_split]) {
        my ($how, $res, $got) = @$_;

        unless ($res) {
            push @p, "$how: no response";
            next;
        }

        if ($res->{status} == 200) {
            push @p, "$how: the reference says invalid, accepted"
                if defined $valid && !$valid;
            push @p, "$how: the upstream got " . scalar(@$got) . ' requests'
                if @$got != 1;
            push @p, "$how: the body arrived changed"
                if @$got == 1 && $got->[0]{body} ne $body;
            push @p, "$how: signature not verified"
                if @$got == 1 && !$got->[0]{verified};
        } else {
            my $j = MiTest::json_body($res);
            push @p, "$how: the reference says valid, $res->{status} "
                     . ($j ? "$j->{code}: $j->{message}" : $res->{body})
                if $valid;
            push @p, "$how: not a JSON error" unless $j && $j->{code};
            push @p, "$how: the upstream got " . scalar(@$got) . ' requests'
                if @$got;
        }
    }

    for ([chunked => $chunked], [split => $split]) {
        my ($how, $res) = @$_;
        next unless $whole && $res;
        my ($a, $b) = map { MiTest::json_body($_) // {} } $whole, $res;
        push @p, "whole $whole->{status} " . ($a->{message} // '')
                 . ", $how $res->{status} " . ($b->{message} // '')
            if $whole->{status} != $res->{status}
               || ($a->{code} // '') ne ($b->{code} // '')
               || ($a->{message} // '') ne ($b->{message} // '');
    }

    push @p, MiTest::worker_deaths($ngx, since => 1);

    if (@p) {
        (my $shown = $body) =~ s/\n/\\n/g;
        $shown = substr($shown, 0, 200) . '...' if length $shown > 200;
        push @failed, "body $i (MI_SEED=$seed MI_CASE=$i) $shown: "
                      . join('; ', @p);
        last if @failed >= 30;
    }
}

$conn->disconnect;

ok(!@failed && $done == @run, "$done of " . scalar(@run) . ' generated '
                              . 'bodies, whole, chunked and split, as '
                              . 'property B says')
    or diag(join "\n", scalar(@failed) . ' bodies failed:',
            @failed[0 .. ($#failed < 4 ? $#failed : 4)]);
is(scalar(MiTest::worker_deaths($ngx)), 0, 'no worker died');
is_deeply([MiTest::worker_pids($ngx)], \@workers,
          'the same worker served every request');

SKIP: {
    skip 'coverage of the generator: fewer than 500 bodies', 2
        if $done < 500;
    ok(($seen{$_} // 0) > 100, "bodies the reference calls $_: "
                               . ($seen{$_} // 0))
        for qw(valid invalid);
}

$t->stop_all;
$t->check_logs($file);

done_testing;
