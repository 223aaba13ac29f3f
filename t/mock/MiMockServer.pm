package MiMockServer;

# The server loop of the HTTP mocks (mi-mock.pl, metadata-mock.pl): listen
# on 127.0.0.1:PORT, one child process a connection, and the children
# stopped with the mock on TERM or INT.
#
#   MiMockServer::run('mi-mock', $port, \&serve);    # never returns
#
# serve gets the accepted socket, in the child; the child exits after it.
# Each child seeds rand() afresh.  "NAME: listening on 127.0.0.1:PORT" is
# printed once listening, unless MI_MOCK_QUIET is set.

use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();


sub run {
    my ($name, $port, $serve) = @_;

    my $server = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => $port,
        Listen    => 128,
        ReuseAddr => 1,
    ) or die "$name: listen 127.0.0.1:$port: $@\n";

    my %kids;

    $SIG{CHLD} = sub {
        while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
            delete $kids{$pid};
        }
    };

    $SIG{TERM} = $SIG{INT} = sub {
        kill 'TERM', keys %kids;
        exit 0;
    };

    $| = 1;
    print "$name: listening on 127.0.0.1:", $server->sockport, "\n"
        unless $ENV{MI_MOCK_QUIET};

    while (1) {
        my $client = $server->accept or next;
        my $pid = fork;

        if (!defined $pid) {
            close $client;
            next;
        }

        if ($pid == 0) {
            $SIG{TERM} = 'DEFAULT';
            close $server;
            srand();
            $serve->($client);
            exit 0;
        }

        $kids{$pid} = 1;
        close $client;
    }
}


1;
