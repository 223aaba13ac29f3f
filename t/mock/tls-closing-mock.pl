#!/usr/bin/perl
# A TLS server that closes a kept-alive connection the way an API does at
# the end of its idle timeout, just as the next request arrives: on each
# connection it answers the first request (200, kept alive) and closes the
# connection, without an answer, when the second one has arrived whole.
# One connection at a time; each request is recorded as "CONNECTION
# METHOD TARGET", one line a request.
#
#   tls-closing-mock.pl --port N --cert FILE --key FILE --log FILE

use strict;
use warnings;

use Fcntl qw(:flock);
use Getopt::Long;
use IO::Socket::SSL;

my ($port, $cert, $key, $log_file);

GetOptions(
    'port=i' => \$port,
    'cert=s' => \$cert,
    'key=s'  => \$key,
    'log=s'  => \$log_file,
) or die "usage: $0 --port N --cert FILE --key FILE --log FILE\n";

my $server = IO::Socket::SSL->new(
    LocalAddr     => '127.0.0.1',
    LocalPort     => $port,
    Listen        => 16,
    ReuseAddr     => 1,
    SSL_server    => 1,
    SSL_cert_file => $cert,
    SSL_key_file  => $key,
) or die "$0: listen 127.0.0.1:$port: $SSL_ERROR\n";

$SIG{TERM} = $SIG{INT} = sub { exit 0 };

my $connections = 0;

while (1) {
    my $c = $server->accept or next;
    $connections++;

    for my $n (1, 2) {
        my $req = read_request($c) or last;
        record("$connections $req");

        last if $n == 2;

        print {$c} "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            . "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}";
    }

    $c->close(SSL_fast_shutdown => 1);
}


# "METHOD TARGET" of the next whole request, or undef at the end.
sub read_request {
    my ($c) = @_;
    my $buf = '';

    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread($c, $buf, 16384, length $buf);
        return undef unless $n;
    }

    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($len) = $head =~ /^content-length:\s*(\d+)/mi;

    while (length($body) < ($len // 0)) {
        my $n = sysread($c, $body, 16384, length $body);
        return undef unless $n;
    }

    my ($line) = $head =~ /^(\S+ \S+)/;
    return $line;
}


sub record {
    my ($line) = @_;
    open my $fh, '>>', $log_file or die "$0: $log_file: $!\n";
    flock $fh, LOCK_EX;
    print {$fh} $line, "\n";
    close $fh;
}
