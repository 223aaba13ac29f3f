package MiH2;

# A small HTTP/2 client for the tests (h2c with prior knowledge), so that a
# test can send thousands of requests on one connection, with header lists
# it chooses field by field, in the order it chooses.
#
# It sends: the connection preface, an empty SETTINGS, each request as a
# HEADERS frame (CONTINUATION frames past 16,384 bytes) whose fields are
# HPACK literals without indexing and without Huffman coding, then the
# body, if any, in DATA frames.  It answers SETTINGS and PING, and gives
# back the connection window that response bodies use.
#
# Of a response it decodes only :status, which nginx writes as the first
# field of the block, indexed or as a raw literal; the body is the DATA
# frames' bytes.  It reads nothing else of the HPACK block, so it never
# needs the Huffman table or the dynamic table.

use strict;
use warnings;

use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);

use constant {
    DATA          => 0x0,
    HEADERS       => 0x1,
    RST_STREAM    => 0x3,
    SETTINGS      => 0x4,
    PING          => 0x6,
    GOAWAY        => 0x7,
    WINDOW_UPDATE => 0x8,
    CONTINUATION  => 0x9,

    END_STREAM    => 0x1,
    ACK           => 0x1,
    END_HEADERS   => 0x4,
    PADDED        => 0x8,
    PRIORITY      => 0x20,

    MAX_FRAME     => 16384,   # what every HTTP/2 peer must accept
};

# HPACK static table indexes of the request pseudo-headers and :status
my %PSEUDO = (':authority' => 1, ':method' => 2, ':path' => 4,
              ':scheme' => 6);
my %STATUS_INDEX = (8 => 200, 9 => 204, 10 => 206, 11 => 304, 12 => 400,
                    13 => 404, 14 => 500);


sub new {
    my ($class, $port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 10)
        or die "h2: connect 127.0.0.1:$port: $@";
    binmode $s;

    # a WINDOW_UPDATE then the next request: two small writes that Nagle
    # would hold back for the server's delayed ACK (40 ms a request)
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);

    my $self = bless { s => $s, buf => '', next_id => 1 }, $class;
    $self->send_raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                    . frame(SETTINGS, 0, 0, ''));

    return $self;
}


# One request; headers are [name, value] pairs sent as given (HTTP/2 wants
# lower-case names).  Returns { status, body }, or undef with $self->{error}
# set if the stream or the connection ended first (the connection is then
# unusable: make a new client).
sub request {
    my ($self, $method, $path, %opt) = @_;
    my $id = $self->{next_id};
    my $body = $opt{body};

    $self->{next_id} += 2;

    my $block = field(':method', $method) . field(':scheme', 'http')
        . field(':authority', $opt{authority} // 'localhost')
        . field(':path', $path);
    $block .= field(@$_) for @{ $opt{headers} // [] };

    # HEADERS, then CONTINUATION frames, each at most MAX_FRAME bytes
    my @pieces = unpack '(a' . MAX_FRAME . ')*', $block;
    @pieces = ('') unless @pieces;
    my $out = '';

    for my $i (0 .. $#pieces) {
        my $flags = $i == $#pieces ? END_HEADERS : 0;
        $flags |= END_STREAM if $i == 0 && !defined $body;
        $out .= frame($i == 0 ? HEADERS : CONTINUATION, $flags, $id,
                      $pieces[$i]);
    }

    if (defined $body) {
        my @data = unpack '(a' . MAX_FRAME . ')*', $body;
        @data = ('') unless @data;
        $out .= frame(DATA, $_ == $#data ? END_STREAM : 0, $id, $data[$_])
            for 0 .. $#data;
    }

    $self->send_raw($out) or return $self->fail("write failed: $!");

    return $self->read_response($id);
}


sub read_response {
    my ($self, $id) = @_;
    my ($status, $block, $body) = (undef, undef, '');

    while (1) {
        my ($type, $flags, $sid, $payload) = $self->read_frame
            or return $self->fail($self->{error} // 'connection closed');

        if ($type == SETTINGS) {
            $self->send_raw(frame(SETTINGS, ACK, 0, '')) unless $flags & ACK;
            next;
        }

        if ($type == PING) {
            $self->send_raw(frame(PING, ACK, 0, $payload)) unless $flags & ACK;
            next;
        }

        if ($type == GOAWAY) {
            my ($last, $code) = unpack 'NN', $payload;
            return $self->fail(sprintf 'GOAWAY, error %d, last stream %d',
                               $code, $last & 0x7fffffff);
        }

        next if $sid != $id;    # WINDOW_UPDATE and the like

        if ($type == RST_STREAM) {
            return $self->fail('RST_STREAM, error ' . unpack 'N', $payload);
        }

        if ($type == HEADERS || $type == CONTINUATION) {
            if ($type == HEADERS) {
                $payload = strip_padding($payload, $flags);
                substr($payload, 0, 5) = '' if $flags & PRIORITY;
                $block = '';
            }
            $block .= $payload;

            if ($flags & END_HEADERS) {
                # the first HEADERS of a response carries :status; trailers
                # would come later and are not read
                $status //= status_of($block)
                    // return $self->fail('no :status in the response');
            }

        } elsif ($type == DATA) {
            $body .= strip_padding($payload, $flags);

            # give back to the connection what this frame used of its
            # window; the stream ends with the response
            $self->send_raw(frame(WINDOW_UPDATE, 0, 0,
                                  pack 'N', length $payload))
                if length $payload;
        }

        return { status => $status, body => $body }
            if $flags & END_STREAM
               && ($type == HEADERS || $type == DATA);
    }
}


sub fail {
    my ($self, $error) = @_;
    $self->{error} = $error;
    $self->disconnect;
    return undef;
}


sub disconnect {
    my ($self) = @_;
    CORE::close($self->{s}) if $self->{s};
    delete $self->{s};
}


sub send_raw {
    my ($self, $bytes) = @_;
    return 0 unless $self->{s};
    return print { $self->{s} } $bytes;
}


# (type, flags, stream id, payload) of the next frame, or () at the end.
sub read_frame {
    my ($self) = @_;

    $self->fill(9) or return;
    my ($len_hi, $len_lo, $type, $flags, $sid)
        = unpack 'CnCCN', substr($self->{buf}, 0, 9);
    my $len = ($len_hi << 16) | $len_lo;

    $self->fill(9 + $len) or return;
    my $payload = substr($self->{buf}, 9, $len);
    substr($self->{buf}, 0, 9 + $len) = '';

    return ($type, $flags, $sid & 0x7fffffff, $payload);
}


# Reads until the buffer holds $n bytes; a server silent for 30 s fails.
sub fill {
    my ($self, $n) = @_;

    while (length $self->{buf} < $n) {
        return 0 unless $self->{s};
        my $rin = '';
        vec($rin, fileno($self->{s}), 1) = 1;
        unless (select(my $rout = $rin, undef, undef, 30)) {
            $self->{error} = 'no answer in 30 s';
            return 0;
        }
        my $got = sysread($self->{s}, $self->{buf}, 65536,
                          length $self->{buf});
        return 0 unless $got;
    }

    return 1;
}


sub frame {
    my ($type, $flags, $id, $payload) = @_;
    my $len = length $payload;
    return pack('CnCCN', $len >> 16, $len & 0xffff, $type, $flags, $id)
        . $payload;
}


sub strip_padding {
    my ($payload, $flags) = @_;
    return $payload unless $flags & PADDED;
    my $pad = ord $payload;
    return substr($payload, 1, length($payload) - 1 - $pad);
}


# One header field: a literal without indexing, the name indexed for a
# pseudo-header and literal otherwise, no Huffman coding.
sub field {
    my ($name, $value) = @_;

    if (my $index = $PSEUDO{$name}) {
        return integer($index, 4, 0x00) . string($value);
    }

    return "\x00" . string($name) . string($value);
}


sub string {
    my ($s) = @_;
    return integer(length $s, 7, 0x00) . $s;
}


# RFC 7541 5.1: $v with an N-bit prefix, the first byte's other bits $high.
sub integer {
    my ($v, $n, $high) = @_;
    my $max = (1 << $n) - 1;

    return chr($high | $v) if $v < $max;

    my $out = chr($high | $max);
    $v -= $max;
    while ($v >= 128) {
        $out .= chr(($v & 0x7f) | 0x80);
        $v >>= 7;
    }
    return $out . chr $v;
}


# Reads an N-bit-prefix integer at $$pos of $block.
sub read_integer {
    my ($block, $pos, $n) = @_;
    my $max = (1 << $n) - 1;
    my $v = ord(substr $block, $$pos++, 1) & $max;

    return $v if $v < $max;

    my $shift = 0;
    while ($$pos < length $block) {
        my $b = ord substr $block, $$pos++, 1;
        $v += ($b & 0x7f) << $shift;
        $shift += 7;
        last unless $b & 0x80;
    }
    return $v;
}


# :status from the start of a response header block, or undef.
sub status_of {
    my ($block) = @_;
    my $pos = 0;

    while ($pos < length $block) {
        my $b = ord substr $block, $pos, 1;

        if (($b & 0xe0) == 0x20) {          # dynamic table size update
            read_integer($block, \$pos, 5);
            next;
        }

        if ($b & 0x80) {                    # indexed field
            return $STATUS_INDEX{ read_integer($block, \$pos, 7) };
        }

        # a literal: 6-bit name index with incremental indexing, else 4-bit
        my $index = read_integer($block, \$pos, ($b & 0x40) ? 6 : 4);
        return undef unless $index == 8;    # :status comes first, or not at all

        my $h = ord(substr $block, $pos, 1) & 0x80;
        my $len = read_integer($block, \$pos, 7);
        return undef if $h;                 # Huffman: nginx does not do it here
        return substr($block, $pos, $len);
    }

    return undef;
}


1;
