#!/usr/bin/perl
# A stand-in for the NCP metadata service of a VM with a Server Role, for
# the tests and for `make run`: metadata v2 tokens, the role list, and a
# new temporary key on each request for the role's credentials.
#
#   metadata-mock.pl --port N --log FILE --record FILE [--control FILE]
#
# --log gets one JSON line a request: {"t":..,"method":..,"path":..,
# "token":0|1,"status":..}.  --record gets one line a key handed out,
# "ACCESS_KEY SECRET ISSUED_MS EXPIRES_MS", written before the answer, so
# that mi-mock.pl --role-keys can verify what was signed with it, each key
# only within its validity window.
#
# --control holds "name=value" lines, read again on each request, so a
# test switches faults while the mock runs:
#   role=NAME        the role (default mi-role)
#   lifetime=N       seconds a key is valid (default 6)
#   format=offset    Expiration as "...+0000" rather than "...Z"
#   v2=required      GETs without a token are refused (401); v2=off: the
#                    token PUT is refused with 403 (as token-refused)
#   fault=NAME       down (close without an answer), slow (answer after
#                    slow_ms, default 3000), 500, malformed (JSON cut
#                    short), empty-roles, missing-fields (no
#                    SecretAccessKey), past (Expiration an hour ago),
#                    token-refused (the PUT gets 405), none

use strict;
use warnings;

use Fcntl qw(:flock);
use Getopt::Long;
use FindBin;
use lib $FindBin::Bin;
use MiMockServer;
use JSON::PP;
use POSIX ();
use Time::HiRes ();

my ($port, $log_file, $record_file, $control_file) = (0);

GetOptions(
    'port=i'    => \$port,
    'log=s'     => \$log_file,
    'record=s'  => \$record_file,
    'control=s' => \$control_file,
) or die "usage: $0 --port N --log FILE --record FILE [--control FILE]\n";

die "$0: --log and --record are required\n"
    unless defined $log_file && defined $record_file;

my $json = JSON::PP->new->canonical->utf8;

MiMockServer::run('metadata-mock', $port, \&serve);


sub control {
    my %c = (role => 'mi-role', lifetime => 6, fault => 'none',
             v2 => 'optional', slow_ms => 3000, format => 'z');
    if (defined $control_file && open my $f, '<', $control_file) {
        while (<$f>) {
            $c{$1} = $2 if /^\s*(\w+)\s*=\s*(\S*)\s*$/;
        }
    }
    return \%c;
}


# One request a connection (the module sends "Connection: close").
sub serve {
    my ($c) = @_;
    my $buf = '';

    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread($c, $buf, 8192, length $buf);
        return unless $n;
    }

    my ($head) = split /\r\n\r\n/, $buf, 2;
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $path) = $line =~ /^(\S+) (\S+) HTTP/ or return;
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1, $2) : () } @lines;

    my $ctl = control();
    my $token = exists $h{'x-ncp-metadata-token'};

    if ($ctl->{fault} eq 'down') {
        log_request($method, $path, $token, 0);
        close $c;
        return;
    }

    Time::HiRes::sleep($ctl->{slow_ms} / 1000) if $ctl->{fault} eq 'slow';

    my ($status, $body) = respond($ctl, $method, $path, \%h);

    log_request($method, $path, $token, $status);

    my $reason = { 200 => 'OK', 401 => 'Unauthorized', 403 => 'Forbidden',
                   404 => 'Not Found', 405 => 'Not Allowed',
                   500 => 'Internal Server Error' }->{$status} // 'X';

    print $c "HTTP/1.1 $status $reason\r\nContent-Length: "
        . length($body) . "\r\nConnection: close\r\n\r\n$body";
    close $c;
}


sub respond {
    my ($ctl, $method, $path, $h) = @_;
    my $creds = '/latest/meta-data/iam/security-credentials/';

    if ($path eq '/latest/api/token') {
        return (405, '') unless $method eq 'PUT';
        return (405, '') if $ctl->{fault} eq 'token-refused';
        return (403, '') if $ctl->{v2} eq 'off';
        return (400, '') unless ($h->{'x-ncp-metadata-token-ttl-seconds'}
                                 // '') =~ /^\d+$/;
        return (200, 'tok-' . join '', map { ('a' .. 'z')[rand 26] } 1 .. 24);
    }

    return (405, '') unless $method eq 'GET';

    return (401, '')
        if $ctl->{v2} eq 'required'
           && ($h->{'x-ncp-metadata-token'} // '') !~ /^tok-/;

    return (500, error_doc('InternalError', 'mock fault'))
        if $ctl->{fault} eq '500';

    if ($path eq $creds) {
        return (200, '') if $ctl->{fault} eq 'empty-roles';
        return (200, $ctl->{role});
    }

    my ($role) = $path =~ /^\Q$creds\E(.+)$/
        or return (404, error_doc('NotFound', 'no such path'));

    return (404, error_doc('NotFound', "no role $role"))
        if $role ne $ctl->{role};

    return (200, '{"Code": "Success", "AccessKeyId": "cut')
        if $ctl->{fault} eq 'malformed';

    my $now = Time::HiRes::time();
    my $expires = int($now) + $ctl->{lifetime};
    $expires -= 3600 + $ctl->{lifetime} if $ctl->{fault} eq 'past';

    my $ak = 'RAK' . uc(join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 17);
    my $sk = 'rsk-' . join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 36;

    my %doc = (Code => 'Success', LastUpdated => iso(int $now, 'z'),
               Type => 'AK-SK', AccessKeyId => $ak, SecretAccessKey => $sk,
               Expiration => iso($expires, $ctl->{format}));
    delete $doc{SecretAccessKey} if $ctl->{fault} eq 'missing-fields';

    if ($ctl->{fault} ne 'missing-fields') {
        open my $r, '>>', $record_file or die "$record_file: $!";
        flock $r, LOCK_EX;
        printf $r "%s %s %d %d\n", $ak, $sk, int($now * 1000),
            $expires * 1000;
        close $r;
    }

    return (200, JSON::PP->new->canonical->pretty->encode(\%doc));
}


sub error_doc {
    my ($code, $message) = @_;
    return $json->encode({ Code => $code, Message => $message });
}


sub iso {
    my ($t, $format) = @_;
    my @g = gmtime $t;
    return sprintf '%04d-%02d-%02dT%02d:%02d:%02d%s', $g[5] + 1900,
        $g[4] + 1, $g[3], $g[2], $g[1], $g[0],
        $format eq 'offset' ? '+0000' : 'Z';
}


sub log_request {
    my ($method, $path, $token, $status) = @_;
    open my $l, '>>', $log_file or die "$log_file: $!";
    flock $l, LOCK_EX;
    print $l $json->encode({ t => Time::HiRes::time(), method => $method,
                             path => $path, token => $token ? 1 : 0,
                             status => $status }), "\n";
    close $l;
}
