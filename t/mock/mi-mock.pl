#!/usr/bin/perl
# A stand-in for the NCP API Gateway in front of the MI API, for the tests
# and for `make run`.  It verifies NCP signature v2 on every request with
# its own implementation (Digest::SHA), shares no code with the module, and
# records what it received, one JSON line a request.
#
#   mi-mock.pl --port N --keys FILE [--log FILE] [--window-ms N]
#              [--clock-offset SECONDS] [--role-keys FILE]
#
# FILE holds "ACCESS_KEY SECRET" lines.  --role-keys names the record of
# metadata-mock.pl, the Server Role keys it handed out with their validity
# windows ("ACCESS_KEY SECRET ISSUED_MS EXPIRES_MS"), read again for an
# access key not known yet: a request signed with one of them passes only
# if its timestamp falls inside that key's window.  A request that passes gets
# 200 {"code":"0","message":"success","result":{...}}; one that fails gets
# the gateway's 401 {"error":{"errorCode":"200","message":...}}.  Every
# answer has a Date header.  --clock-offset runs the mock's clock that far
# ahead (or behind): its Date, and the window the timestamp must fall in.
#
# For the failure tests, a request header "X-Mock" makes it misbehave once
# the request is recorded:
#   hang          never answer (until the peer closes)
#   reset         close the connection with a TCP reset
#   close         close the connection without an answer
#   http09        answer as HTTP/0.9 does: the body alone, with no status
#                 line and no headers, then close
#   big-header    answer 200 with a 64 KiB header
#   delay N       answer as usual, N ms late (make rehearsal's FAULT=slow)
#   status NNN    answer NNN with the gateway's JSON error envelope
#                 (errorCode "mock-NNN"); words may follow: a number is
#                 the errorCode instead ("status 401 210": the gateway's
#                 permission denied, "status 401 200": its authentication
#                 failure), "no-date" leaves the Date header out, and
#                 "trickle" sends the body a few bytes at a time
#
# The query string of a request may also ask for an answer (the signature
# is checked first all the same): mock_status=NNN answers NNN,
# mock_delay_ms=N answers N ms late, and mock_close=1 closes the
# connection without answering.
#
# A request whose body stops short of its Content-Length, or of its last
# chunk, when the peer closes is recorded too, unverified, with the bytes
# that came and the error "incomplete body: ...": a test can tell a partial
# body from none.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_base64 sha256_hex);
use Getopt::Long;
use FindBin;
use lib $FindBin::Bin;
use MiMockServer;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Fcntl qw(:flock);
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes ();

my ($port, $keys_file, $log_file, $window_ms, $clock_offset, $role_keys)
    = (0, undef, undef, 300_000, 0, undef);

GetOptions(
    'port=i'         => \$port,
    'keys=s'         => \$keys_file,
    'log=s'          => \$log_file,
    'window-ms=i'    => \$window_ms,
    'clock-offset=i' => \$clock_offset,
    'role-keys=s'    => \$role_keys,
) or die "usage: $0 --port N --keys FILE [--log FILE]\n";

die "$0: --keys is required\n" unless defined $keys_file;

my %secret;
open my $kf, '<', $keys_file or die "$0: $keys_file: $!\n";
while (<$kf>) {
    next if /^\s*(#|$)/;
    my ($ak, $sk) = /^\s*(\S+)\s+(\S+)\s*$/ or die "$0: bad line in keys\n";
    $secret{$ak} = $sk;
}
close $kf;

my $json = JSON::PP->new->canonical->utf8;

MiMockServer::run('mi-mock', $port, \&serve);


# One connection: requests until the peer closes, asks to close, or idles.
sub serve {
    my ($c) = @_;
    my $buf = '';

    while (1) {
        my $req = read_request($c, \$buf) or return;
        my %ask = $req->{target} =~ /[?&](mock_\w+)=(\d+)/g;

        Time::HiRes::sleep($ask{mock_delay_ms} / 1000) if $ask{mock_delay_ms};

        if ($ask{mock_close}) {
            record($req, verify($req));
            return;
        }

        my ($status, $body) = answer($req, $ask{mock_status});
        my $close = $req->{close};
        my $mode = $req->{h}{'x-mock'}[0] // '';
        my ($extra, $no_date, $trickle) = ('', undef, undef);

        if ($mode eq 'hang') {
            1 while fill($c, \$buf);
            return;

        } elsif ($mode eq 'reset') {
            setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
            close $c;
            return;

        } elsif ($mode eq 'close') {
            close $c;
            return;

        } elsif ($mode eq 'http09') {
            print {$c} $body;
            close $c;
            return;

        } elsif ($mode eq 'big-header') {
            $extra = 'X-Big: ' . ('b' x 65536) . "\r\n";

        } elsif ($mode =~ /^delay (\d+)$/) {
            Time::HiRes::sleep($1 / 1000);

        } elsif ($mode =~ /^status (\d{3})((?: (?:\d+|no-date|trickle))*)$/) {
            my %words = map { $_ => 1 } split ' ', $2;
            my ($code) = grep { /^\d+$/ } keys %words;
            ($status, $body) = ("$1 Mock", error_envelope($1, $code));
            ($no_date, $trickle) = @words{qw(no-date trickle)};
        }

        my $head = "HTTP/1.1 $status\r\n"
            . ($no_date ? "" : "Date: " . http_date(now() / 1000) . "\r\n")
            . "Content-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\n"
            . $extra
            . ($close ? "Connection: close\r\n" : "")
            . "\r\n";

        $body = '' if $req->{method} eq 'HEAD';

        if ($trickle) {
            print {$c} $head;
            for my $piece (unpack '(a5)*', $body) {
                Time::HiRes::sleep(0.01);
                print {$c} $piece;
            }
        } else {
            print {$c} $head, $body;
        }

        return if $close;
    }
}


# The body a "status NNN" answer carries, for tests to compare; with an
# errorCode, the gateway's own message for it.
sub error_envelope {
    my ($status, $code) = @_;
    my %message = (200 => 'Authentication Failed', 210 => 'Permission Denied');

    return qq({"error":{"errorCode":"mock-$status","message":"from the mock"}})
        unless defined $code;
    return $json->encode({ error => { errorCode => "$code",
                                      message => $message{$code}
                                                 // 'from the mock' } });
}


# The mock's clock, in milliseconds since the epoch.
sub now {
    return int((Time::HiRes::time() + $clock_offset) * 1000);
}


# RFC 9110's IMF-fixdate, in English whatever the locale.
sub http_date {
    my ($sec, $min, $hour, $mday, $mon, $year, $wday) = gmtime $_[0];
    return sprintf('%s, %02d %s %04d %02d:%02d:%02d GMT',
                   (qw(Sun Mon Tue Wed Thu Fri Sat))[$wday], $mday,
                   (qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec))[$mon],
                   $year + 1900, $hour, $min, $sec);
}


sub fill {
    my ($c, $buf) = @_;
    my $rin = '';
    vec($rin, fileno($c), 1) = 1;
    return 0 unless select(my $rout = $rin, undef, undef, 30);
    my $n = sysread($c, $$buf, 65536, length $$buf);
    return $n ? 1 : 0;
}


sub read_request {
    my ($c, $buf) = @_;

    while ($$buf !~ /\r\n\r\n/) {
        fill($c, $buf) or return;
    }

    $$buf =~ s/^(.*?)\r\n\r\n//s;
    my @lines = split /\r\n/, $1;
    my ($method, $target, $version) = split / /, shift(@lines), 3;
    my @headers = map { [ /^([^:]+):\s*(.*?)\s*$/ ] } @lines;

    my %h;
    push @{ $h{lc $_->[0]} }, $_->[1] for @headers;

    my $conn = lc($h{connection}[0] // '');
    my $req = {
        method  => $method,
        target  => $target,
        version => $version,
        headers => \@headers,
        h       => \%h,
        body    => '',
        close   => ($version eq 'HTTP/1.0' && $conn ne 'keep-alive')
                   || $conn eq 'close',
    };

    if (($h{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        while (1) {
            while ($$buf !~ /\r\n/) {
                fill($c, $buf) or return incomplete($req, 'no last chunk');
            }
            $$buf =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n// or return;
            my $size = hex $1;
            while (length($$buf) < $size + 2) {
                fill($c, $buf) or return incomplete($req, 'no last chunk');
            }
            $req->{body} .= substr($$buf, 0, $size);
            substr($$buf, 0, $size + 2) = '';
            if ($size == 0) {
                last;
            }
        }

    } elsif (my $len = $h{'content-length'}[0]) {
        while (length($$buf) < $len) {
            next if fill($c, $buf);
            $req->{body} = $$buf;
            return incomplete($req, length($$buf) . " of $len bytes");
        }
        $req->{body} = substr($$buf, 0, $len);
        substr($$buf, 0, $len) = '';
    }

    return $req;
}


# A request whose body the peer did not finish: recorded, never answered.
sub incomplete {
    my ($req, $what) = @_;
    record($req, "incomplete body: $what");
    return;
}


# The gateway's check, written from the NCP documentation.
sub verify {
    my ($req) = @_;
    my $h = $req->{h};

    for my $name (qw(x-ncp-apigw-timestamp x-ncp-iam-access-key
                     x-ncp-apigw-signature-v2))
    {
        my $n = scalar @{ $h->{$name} // [] };
        return "$name: sent $n times" if $n != 1;
    }

    my $ts = $h->{'x-ncp-apigw-timestamp'}[0];
    my $ak = $h->{'x-ncp-iam-access-key'}[0];
    my $sig = $h->{'x-ncp-apigw-signature-v2'}[0];

    return "timestamp not in milliseconds" unless $ts =~ /^[0-9]{13}$/;

    my $now = now();
    return "timestamp off by " . ($now - $ts) . " ms"
        if abs($now - $ts) > $window_ms;

    if (!exists $secret{$ak} && defined $role_keys) {
        my $window = role_key($ak);
        if ($window) {
            return "role key used at $ts, valid from $window->[1] to "
                   . "$window->[2]"
                if $ts < $window->[1] || $ts >= $window->[2];
            $secret{$ak} = $window->[0];
            my $error = verify_signature($req, $ts, $ak, $sig);
            delete $secret{$ak};
            return $error;
        }
    }

    return "unknown access key" unless exists $secret{$ak};

    return verify_signature($req, $ts, $ak, $sig);
}


# A Server Role key of the metadata mock's record: [secret, from, until].
sub role_key {
    my ($ak) = @_;
    open my $f, '<', $role_keys or return undef;
    flock $f, LOCK_SH;
    while (<$f>) {
        my ($k, $sk, $from, $until) = split;
        return [$sk, $from, $until] if defined $until && $k eq $ak;
    }
    return undef;
}


sub verify_signature {
    my ($req, $ts, $ak, $sig) = @_;

    my $msg = "$req->{method} $req->{target}\n$ts\n$ak";
    my $want = hmac_sha256_base64($msg, $secret{$ak});
    $want .= '=' while length($want) % 4;

    return "signature mismatch" unless $sig eq $want;

    return undef;
}


sub answer {
    my ($req, $forced) = @_;
    my $error = verify($req);

    record($req, $error);

    if (defined $error) {
        return ('401 Unauthorized', $json->encode({
            error => { errorCode => '200', message => 'Authentication Failed',
                       details => $error } }));
    }

    if ($forced) {
        return ("$forced Mock", $json->encode({
            code => 'mock', message => "status $forced asked by the test" }));
    }

    my $result = {
        mock     => JSON::PP::true,
        method   => $req->{method},
        target   => $req->{target},
        bodySha256 => sha256_hex($req->{body}),
        bodyLength => length $req->{body},
    };

    if ($req->{target} =~ m{/status(\?|$)}) {
        $result->{status} = 'SUMMARIZE_COMPLETED';
    } elsif ($req->{method} eq 'POST' && $req->{target} !~ m{/cancel(\?|$)}) {
        $result->{sceneSummaryId} = 101;
        $result->{status} = 'WAIT_SUMMARIZE';
    }

    return ('200 OK', $json->encode({
        code => '0', message => 'success', result => $result }));
}


sub record {
    my ($req, $error) = @_;
    return unless defined $log_file;

    my $line = $json->encode({
        method   => $req->{method},
        target   => $req->{target},
        version  => $req->{version},
        headers  => $req->{headers},
        body     => encode_base64($req->{body}, ''),
        verified => defined $error ? JSON::PP::false : JSON::PP::true,
        error    => $error,
        pid      => $$,
    });

    open my $fh, '>>', $log_file or die "$0: $log_file: $!\n";
    flock $fh, LOCK_EX;
    print {$fh} $line, "\n";
    close $fh;
}
