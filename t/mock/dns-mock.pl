#!/usr/bin/perl
# A stand-in DNS server for the resolver tests: every A query is answered
# with 127.0.0.1 and the given TTL, any other type with no answer; each
# query is recorded, one "NAME TYPE" line a query.  Written from RFC 1035
# with core Perl only.
#
#   dns-mock.pl --port N --log FILE [--ttl SECONDS]

use strict;
use warnings;

use Fcntl qw(:flock);
use Getopt::Long;
use IO::Socket::INET;

my ($port, $log_file, $ttl) = (0, undef, 1);

GetOptions(
    'port=i' => \$port,
    'log=s'  => \$log_file,
    'ttl=i'  => \$ttl,
) or die "usage: $0 --port N --log FILE [--ttl SECONDS]\n";

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

    record(join('.', @labels) . " $type");

    # QR, the opcode and RD of the query, RA; NOERROR
    my $rflags = 0x8080 | ($flags & 0x7900);
    my $a = $type == 1
        ? pack('nnnNn', 0xc00c, 1, 1, $ttl, 4) . pack('C4', 127, 0, 0, 1)
        : '';

    return pack('nnnnnn', $id, $rflags, 1, $a ? 1 : 0, 0, 0)
        . $question . $a;
}


sub record {
    my ($line) = @_;
    open my $fh, '>>', $log_file or die "$0: $log_file: $!\n";
    flock $fh, LOCK_EX;
    print {$fh} $line, "\n";
    close $fh;
}
