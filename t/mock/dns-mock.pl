#!/usr/bin/perl
# A stand-in DNS server for the resolver tests: every A query is answered
# with 127.0.0.1 and the given TTL, any other type with no answer; each
# query is recorded, one "TIME NAME TYPE" line a query (TIME: the epoch in
# seconds, to the millisecond).  With --answers FILE,
# the answer is what FILE holds when the query comes: IPv4 addresses
# separated by spaces, "servfail", or "drop" (no answer at all), so that a
# test changes the name's addresses or takes DNS down while nginx runs.
# Written from RFC 1035 with core Perl only.
#
#   dns-mock.pl --port N --log FILE [--ttl SECONDS] [--answers FILE]

use strict;
use warnings;

use Fcntl qw(:flock);
use Getopt::Long;
use IO::Socket::INET;
use Time::HiRes ();

my ($port, $log_file, $ttl, $answers_file) = (0, undef, 1);

GetOptions(
    'port=i'    => \$port,
    'log=s'     => \$log_file,
    'ttl=i'     => \$ttl,
    'answers=s' => \$answers_file,
) or die "usage: $0 --port N --log FILE [--ttl SECONDS] [--answers FILE]\n";

die "$0: --log is required\n" unless defined $log_file;

my $sock = IO::Socket::INET->new(
    LocalAddr => '127.0.0.1',
    LocalPort => $port,
    Proto     => 'udp',
) or die "$0: udp 127.0.0.1:$port: $@\n";

$SIG{TERM} = $SIG{INT} = sub { exit 0 };

while (1) {
    my $peer = $sock->recv(my $query, 512) // next;
    my $answer = answer($query) // next;
    $sock->send($answer, 0, $peer);
}


# The response to one query, or undef for a malformed one.
sub answer {
    my ($q) = @_;

    return undef if length $q < 12;

    my ($id, $flags, $qdcount) = unpack('nnn', $q);
    return undef if $flags & 0x8000 || $qdcount != 1;

    # the question: labels, then type and class
    my ($pos, @labels) = (12);
    while (1) {
        return undef if $pos >= length $q;
        my $len = ord substr($q, $pos++, 1);
        last if $len == 0;
        return undef if $len > 63;
        push @labels, substr($q, $pos, $len);
        $pos += $len;
    }
    return undef if $pos + 4 > length $q;

    my $question = substr($q, 12, $pos + 4 - 12);
    my ($type) = unpack('n', substr($q, $pos, 2));

    my $name = join('.', @labels);
    my @addrs = ('127.0.0.1');

    if (defined $answers_file && $name ne 'probe.invalid') {
        my $want = read_answers();
        record("$name $type" . ($want =~ /^(drop|servfail)$/ ? " $want" : ''));
        return undef if $want eq 'drop';
        # QR, the opcode and RD of the query, RA; SERVFAIL
        return pack('nnnnnn', $id, 0x8082 | ($flags & 0x7900), 1, 0, 0, 0)
            . $question if $want eq 'servfail';
        @addrs = split ' ', $want;
    } else {
        record("$name $type");
    }

    # QR, the opcode and RD of the query, RA; NOERROR
    my $rflags = 0x8080 | ($flags & 0x7900);
    my @a = $type == 1
        ? map { pack('nnnNn', 0xc00c, 1, 1, $ttl, 4) . pack('C4', split /\./) }
              @addrs
        : ();

    return pack('nnnnnn', $id, $rflags, 1, scalar @a, 0, 0)
        . $question . join('', @a);
}


sub read_answers {
    open my $fh, '<', $answers_file or return '127.0.0.1';
    local $/;
    my $s = <$fh> // '';
    close $fh;
    $s =~ s/^\s+|\s+$//g;
    return $s eq '' ? '127.0.0.1' : $s;
}


sub record {
    my ($line) = @_;
    open my $fh, '>>', $log_file or die "$0: $log_file: $!\n";
    flock $fh, LOCK_EX;
    printf {$fh} "%.3f %s\n", Time::HiRes::time, $line;
    close $fh;
}
