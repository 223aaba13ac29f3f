package MiH2Raw;

# A minimal HTTP/2 client over cleartext TCP (prior knowledge), written
# from RFC 9113 and RFC 7541 with core Perl only, for what curl cannot do:
# choose the initial flow-control window and open it by hand, and announce
# a body without racing to send it.  Requests are sent as HPACK literals
# without indexing; responses are decoded with the static table and the
# Huffman code, and no dynamic table: nginx never refers to one.

use strict;
use warnings;

use IO::Select;
use Time::HiRes qw(time);

use MiH2 ();
use MiTest;

# Frame types and flags are MiH2's (RFC 9113, section 6).
BEGIN {
    no strict 'refs';
    *{$_} = \&{"MiH2::$_"}
        for qw(DATA HEADERS RST_STREAM SETTINGS PING GOAWAY WINDOW_UPDATE
               END_STREAM ACK END_HEADERS);
}

use constant SETTINGS_INITIAL_WINDOW_SIZE => 0x4;

# RFC 7541, Appendix B: the Huffman code of bytes 0-255, as hex/bits.
my @HUFFMAN = qw(
    1ff8/13 7fffd8/23 fffffe2/28 fffffe3/28 fffffe4/28 fffffe5/28
    fffffe6/28 fffffe7/28 fffffe8/28 ffffea/24 3ffffffc/30 fffffe9/28
    fffffea/28 3ffffffd/30 fffffeb/28 fffffec/28 fffffed/28 fffffee/28
    fffffef/28 ffffff0/28 ffffff1/28 ffffff2/28 3ffffffe/30 ffffff3/28
    ffffff4/28 ffffff5/28 ffffff6/28 ffffff7/28 ffffff8/28 ffffff9/28
    ffffffa/28 ffffffb/28 14/6 3f8/10 3f9/10 ffa/12
    1ff9/13 15/6 f8/8 7fa/11 3fa/10 3fb/10
    f9/8 7fb/11 fa/8 16/6 17/6 18/6
    0/5 1/5 2/5 19/6 1a/6 1b/6
    1c/6 1d/6 1e/6 1f/6 5c/7 fb/8
    7ffc/15 20/6 ffb/12 3fc/10 1ffa/13 21/6
    5d/7 5e/7 5f/7 60/7 61/7 62/7
    63/7 64/7 65/7 66/7 67/7 68/7
    69/7 6a/7 6b/7 6c/7 6d/7 6e/7
    6f/7 70/7 71/7 72/7 fc/8 73/7
    fd/8 1ffb/13 7fff0/19 1ffc/13 3ffc/14 22/6
    7ffd/15 3/5 23/6 4/5 24/6 5/5
    25/6 26/6 27/6 6/5 74/7 75/7
    28/6 29/6 2a/6 7/5 2b/6 76/7
    2c/6 8/5 9/5 2d/6 77/7 78/7
    79/7 7a/7 7b/7 7ffe/15 7fc/11 3ffd/14
    1ffd/13 ffffffc/28 fffe6/20 3fffd2/22 fffe7/20 fffe8/20
    3fffd3/22 3fffd4/22 3fffd5/22 7fffd9/23 3fffd6/22 7fffda/23
    7fffdb/23 7fffdc/23 7fffdd/23 7fffde/23 ffffeb/24 7fffdf/23
    ffffec/24 ffffed/24 3fffd7/22 7fffe0/23 ffffee/24 7fffe1/23
    7fffe2/23 7fffe3/23 7fffe4/23 1fffdc/21 3fffd8/22 7fffe5/23
    3fffd9/22 7fffe6/23 7fffe7/23 ffffef/24 3fffda/22 1fffdd/21
    fffe9/20 3fffdb/22 3fffdc/22 7fffe8/23 7fffe9/23 1fffde/21
    7fffea/23 3fffdd/22 3fffde/22 fffff0/24 1fffdf/21 3fffdf/22
    7fffeb/23 7fffec/23 1fffe0/21 1fffe1/21 3fffe0/22 1fffe2/21
    7fffed/23 3fffe1/22 7fffee/23 7fffef/23 fffea/20 3fffe2/22
    3fffe3/22 3fffe4/22 7ffff0/23 3fffe5/22 3fffe6/22 7ffff1/23
    3ffffe0/26 3ffffe1/26 fffeb/20 7fff1/19 3fffe7/22 7ffff2/23
    3fffe8/22 1ffffec/25 3ffffe2/26 3ffffe3/26 3ffffe4/26 7ffffde/27
    7ffffdf/27 3ffffe5/26 fffff1/24 1ffffed/25 7fff2/19 1fffe3/21
    3ffffe6/26 7ffffe0/27 7ffffe1/27 3ffffe7/26 7ffffe2/27 fffff2/24
    1fffe4/21 1fffe5/21 3ffffe8/26 3ffffe9/26 ffffffd/28 7ffffe3/27
    7ffffe4/27 7ffffe5/27 fffec/20 fffff3/24 fffed/20 1fffe6/21
    3fffe9/22 1fffe7/21 1fffe8/21 7ffff3/23 3fffea/22 3fffeb/22
    1ffffee/25 1ffffef/25 fffff4/24 fffff5/24 3ffffea/26 7ffff4/23
    3ffffeb/26 7ffffe6/27 3ffffec/26 3ffffed/26 7ffffe7/27 7ffffe8/27
    7ffffe9/27 7ffffea/27 7ffffeb/27 ffffffe/28 7ffffec/27 7ffffed/27
    7ffffee/27 7ffffef/27 7fffff0/27 3ffffee/26
);

# RFC 7541, Appendix A: the static table, from index 1.
my @STATIC = (
    [':authority', ''], [':method', 'GET'], [':method', 'POST'],
    [':path', '/'], [':path', '/index.html'], [':scheme', 'http'],
    [':scheme', 'https'], [':status', '200'], [':status', '204'],
    [':status', '206'], [':status', '304'], [':status', '400'],
    [':status', '404'], [':status', '500'], ['accept-charset', ''],
    ['accept-encoding', 'gzip, deflate'], ['accept-language', ''],
    ['accept-ranges', ''], ['accept', ''],
    ['access-control-allow-origin', ''], ['age', ''], ['allow', ''],
    ['authorization', ''], ['cache-control', ''], ['content-disposition', ''],
    ['content-encoding', ''], ['content-language', ''],
    ['content-length', ''], ['content-location', ''], ['content-range', ''],
    ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
    ['expect', ''], ['expires', ''], ['from', ''], ['host', ''],
    ['if-match', ''], ['if-modified-since', ''], ['if-none-match', ''],
    ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''],
    ['link', ''], ['location', ''], ['max-forwards', ''],
    ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
    ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''],
    ['set-cookie', ''], ['strict-transport-security', ''],
    ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
    ['www-authenticate', ''],
);

my %HUFFMAN_SYMBOL;    # "bits/code" => byte
for my $byte (0 .. 255) {
    my ($code, $bits) = split m{/}, $HUFFMAN[$byte];
    $HUFFMAN_SYMBOL{"$bits/" . hex $code} = chr $byte;
}


# Connects and sends the preface and SETTINGS; options: initial_window.
sub new {
    my ($class, $port, %opt) = @_;
    my $s = MiTest::connect_to($port);

    my $self = bless { s => $s, buf => '', next_id => 1, streams => {} },
        $class;

    my $settings = '';
    $settings .= pack('nN', SETTINGS_INITIAL_WINDOW_SIZE,
                      $opt{initial_window})
        if defined $opt{initial_window};

    $self->write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    $self->frame(SETTINGS, 0, 0, $settings);

    return $self;
}


sub write {
    my ($self, $bytes) = @_;
    my $off = 0;

    while ($off < length $bytes) {
        my $n = syswrite($self->{s}, $bytes, length($bytes) - $off, $off);
        die "write: $!" unless defined $n;
        $off += $n;
    }
}


sub frame {
    my ($self, $type, $flags, $stream, $payload) = @_;
    my $len = length $payload;
    $self->write(pack('nCCCN', $len >> 8, $len & 0xff, $type, $flags,
                      $stream & 0x7fffffff) . $payload);
}


# HPACK's integer and literal-without-indexing encodings, shared with the
# header-list client (MiH2).
sub hpack_int { MiH2::integer(@_) }

sub hpack_literal {
    my ($name, $value) = @_;
    return "\x00" . MiH2::string($name) . MiH2::string($value);
}


# Opens a stream: method, path, [[name, value], ...]; with body => STRING
# the body follows in DATA frames, with end => 0 the stream stays open
# after the headers (a body announced but not sent).  Returns the stream id.
sub request {
    my ($self, $method, $path, %opt) = @_;
    my $id = $self->{next_id};
    $self->{next_id} += 2;

    my $block = hpack_literal(':method', $method)
        . hpack_literal(':scheme', 'http')
        . hpack_literal(':authority', 'localhost')
        . hpack_literal(':path', $path);
    $block .= hpack_literal(lc $_->[0], $_->[1]) for @{ $opt{headers} // [] };

    my $end = !defined $opt{body} && ($opt{end} // 1);
    $self->frame(HEADERS, END_HEADERS | ($end ? END_STREAM : 0), $id, $block);

    if (defined $opt{body}) {
        $self->frame(DATA, END_STREAM, $id, $opt{body});
    }

    $self->{streams}{$id} = { h => {}, body => '', frames => [] };
    return $id;
}


# Opens a stream with a header block the caller made: its fields in any
# order, or cut short (flags without END_HEADERS).  Returns the stream id.
sub open_stream {
    my ($self, $block, $flags) = @_;
    my $id = $self->{next_id};
    $self->{next_id} += 2;

    $self->frame(HEADERS, $flags, $id, $block);
    $self->{streams}{$id} = { h => {}, body => '', frames => [] };

    return $id;
}


# A round trip: returns once the server acknowledged a PING, so every
# frame it queued before reading the PING has arrived.
sub ping {
    my ($self) = @_;
    my $payload = pack('NN', $$, ++$self->{pings});
    $self->frame(PING, 0, 0, $payload);
    return $self->pump(sub { $_[0]{pongs}{$payload} }, 10);
}


sub window_update {
    my ($self, $stream, $increment) = @_;
    $self->frame(WINDOW_UPDATE, 0, $stream, pack('N', $increment));
}


# Reads one frame, waiting until the deadline (epoch seconds); returns
# { type, flags, stream, payload }, or undef at the deadline or at EOF.
sub read_frame {
    my ($self, $deadline) = @_;
    my $sel = IO::Select->new($self->{s});

    while (1) {
        if (length $self->{buf} >= 9) {
            my ($hi, $lo, $type, $flags, $stream)
                = unpack('nCCCN', $self->{buf});
            my $len = ($hi << 8) | $lo;

            if (length $self->{buf} >= 9 + $len) {
                my $payload = substr($self->{buf}, 9, $len);
                substr($self->{buf}, 0, 9 + $len) = '';
                return { type => $type, flags => $flags,
                         stream => $stream & 0x7fffffff,
                         payload => $payload };
            }
        }

        my $left = $deadline - time;
        return undef if $left <= 0 || !$sel->can_read($left);

        my $n = sysread($self->{s}, $self->{buf}, 65536,
                        length $self->{buf});
        return undef unless $n;
    }
}


# Reads frames until $done->($self) is true or the deadline passes,
# acknowledging the server's SETTINGS and PINGs and filing the frames of
# each stream; returns whether $done became true.
sub pump {
    my ($self, $done, $seconds) = @_;
    my $deadline = time + ($seconds // 10);

    until ($done->($self)) {
        my $f = $self->read_frame($deadline) or return 0;
        $self->file($f);
    }

    return 1;
}


sub file {
    my ($self, $f) = @_;

    if ($f->{type} == SETTINGS && !($f->{flags} & ACK)) {
        $self->frame(SETTINGS, ACK, 0, '');
        return;
    }

    if ($f->{type} == PING) {
        if ($f->{flags} & ACK) {
            $self->{pongs}{ $f->{payload} } = 1;
        } else {
            $self->frame(PING, ACK, 0, $f->{payload});
        }
        return;
    }

    if ($f->{type} == GOAWAY) {
        $self->{goaway} = 1;
        return;
    }

    my $st = $self->{streams}{ $f->{stream} } or return;
    push @{ $st->{frames} }, $f->{type};

    if ($f->{type} == HEADERS) {
        for my $field (decode_block($f->{payload})) {
            my ($name, $value) = @$field;
            if ($name eq ':status') {
                $st->{status} = $value;
            } else {
                $st->{h}{$name} = $value;
            }
        }
    } elsif ($f->{type} == DATA) {
        $st->{body} .= $f->{payload};
    } elsif ($f->{type} == RST_STREAM) {
        $st->{reset} = unpack('N', $f->{payload});
    }

    $st->{ended} = 1
        if ($f->{flags} & END_STREAM) || $f->{type} == RST_STREAM;
}


# The fields of a header block (no padding or priority: nginx sends
# neither, and no CONTINUATION for the small blocks of these tests).
sub decode_block {
    my ($block) = @_;
    my @fields;

    while (length $block) {
        my $b = ord $block;

        if ($b & 0x80) {                        # indexed
            my $i = take_int(\$block, 7);
            push @fields, [ @{ static_entry($i) } ];

        } elsif (($b & 0xe0) == 0x20) {         # table size update
            take_int(\$block, 5);

        } else {                                # a literal
            my $i = take_int(\$block, ($b & 0x40) ? 6 : 4);
            my $name = $i ? static_entry($i)->[0] : take_string(\$block);
            push @fields, [ $name, take_string(\$block) ];
        }
    }

    return @fields;
}


sub static_entry {
    my ($i) = @_;
    die "HPACK: index $i is not in the static table" if $i < 1 || $i > @STATIC;
    return $STATIC[$i - 1];
}


sub take_int {
    my ($buf, $n) = @_;
    my $max = (1 << $n) - 1;
    my $v = ord($$buf) & $max;
    substr($$buf, 0, 1) = '';

    return $v if $v < $max;

    my $shift = 0;
    while (1) {
        my $b = ord $$buf;
        substr($$buf, 0, 1) = '';
        $v += ($b & 0x7f) << $shift;
        $shift += 7;
        return $v unless $b & 0x80;
    }
}


sub take_string {
    my ($buf) = @_;
    my $huffman = ord($$buf) & 0x80;
    my $len = take_int($buf, 7);
    my $s = substr($$buf, 0, $len);
    substr($$buf, 0, $len) = '';

    return $huffman ? huffman_decode($s) : $s;
}


sub huffman_decode {
    my ($s) = @_;
    my ($out, $code, $bits) = ('', 0, 0);

    for my $bit (split //, unpack('B*', $s)) {
        $code = ($code << 1) | $bit;
        $bits++;
        if (defined(my $c = $HUFFMAN_SYMBOL{"$bits/$code"})) {
            $out .= $c;
            ($code, $bits) = (0, 0);
        }
    }

    # what is left is padding: fewer than 8 bits, all ones
    die "HPACK: bad Huffman padding" if $bits >= 8 || $code != (1 << $bits) - 1;

    return $out;
}


sub stream { $_[0]{streams}{ $_[1] } }

sub goaway { $_[0]{goaway} }

sub close { close $_[0]{s} }


1;
