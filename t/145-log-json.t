#!/usr/bin/perl
# The JSON access log of conf/mi-log-format.conf, through nginx with two
# workers: every line is valid UTF-8 (Encode's strict decoder) and valid
# JSON (JSON::PP), and status is a JSON number, whatever bytes a client
# puts in the method and the path.  Paths with bytes that are not UTF-8
# (%FF%FE, overlong %C0%AF and %E0%80%AF, cut short %E2%82, a surrogate, a
# noncharacter), with '"', '\' and controls, with valid UTF-8 (which stays
# readable), as escapes and as raw bytes, over HTTP/1.1 and HTTP/2; an
# HTTP/2 method that is not UTF-8; requests with no status ("000": an
# HTTP/2 client gone before its header block ended), an HTTP/0.9 answer
# from the upstream ("009"), an HTTP/0.9 client, a client gone while the
# upstream keeps it waiting (499).  Then generated paths: each logged as a
# reference written here says ($mi_utf8_: each byte of what Encode would
# not decode as one character becomes U+FFFD).  Then $mi_utf8_NAME on
# other variables (User-Agent, $remote_user), and an unknown NAME refused.
#
#   MI_SEED=N            replay a run (the seed is printed as "# seed: N")
#   MI_PROPERTY_CASES=N  how many generated paths (default 300, each sent
#                        over HTTP/1.1 and over HTTP/2)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Encode ();
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Test::More;
use Time::HiRes qw(time);
use MiTest;
use MiH2;
use MiH2Raw;

MiTest::require_http2();

my $cases = $ENV{MI_PROPERTY_CASES} // 300;
my $seed = $ENV{MI_SEED} // int(time * 1000 + $$) % 2**31;

my $R = "\x{FFFD}";
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my @FIELDS = sort qw(time request_id client method path status route caller
                     error_code mi_timestamp upstream_status upstream_addr
                     request_time upstream_response_time request_length
                     body_bytes_sent);

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('log.secret');
my $conf = "$MiTest::ROOT/conf";
my $log = "$t->{dir}/mi.json.log";
my $h2_port = MiTest::free_port();

my $ngx = $t->start_nginx(<<"EOF", workers => 2, log_level => 'info');
    include $conf/mi-log-format.conf;
    access_log $log mi_json;

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2_port http2;
        keepalive_requests 1000000;

        mi_sign on;
        mi_access_key AK;
        mi_secret_key_file $file;

        location / {
            include $conf/mi-request-id.conf;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF
my $port = $ngx->{port};

diag("seed: $seed (replay: MI_SEED=$seed prove $0)");

# What each line should say, by request_id, or by path for a request whose
# X-Request-ID nginx never read: [method, path, status]; each under a case,
# which is one verdict, in the order first seen.
my (%want, @cases, %case_seen);
my $seq = 0;

sub want {
    my ($key, $case, $detail, @line) = @_;
    $want{$key} = { case => $case, detail => $detail, line => \@line };
    push @cases, $case unless $case_seen{$case}++;
}


# --- paths, each over HTTP/1.1 and HTTP/2: [name, as sent, as logged]
my @PATHS = (
    ['bytes FF FE', '/a%FF%FE', "/a$R$R"],
    ['JSON specials', '/q%22%0A%5C%09%01%7F', "/q\"\n\\\t\x01\x7f"],
    ['a literal \u00ff', '/b%5Cu00ff', '/b\u00ff'],
    ['overlong C0 AF', '/o%C0%AF', "/o$R$R"],
    ['overlong E0 80 AF', '/o%E0%80%AF', "/o$R$R$R"],
    ['cut short E2 82', '/t%E2%82', "/t$R$R"],
    ['cut short E2 82, then /x', '/t%E2%82/x', "/t$R$R/x"],
    ['surrogate ED A0 80', '/s%ED%A0%80', "/s$R$R$R"],
    ['past U+10FFFF', '/p%F4%90%80%80', "/p$R$R$R$R"],
    ['byte F5', '/f%F5%80%80%80', "/f$R$R$R$R"],
    ['noncharacter U+FFFF', '/n%EF%BF%BF', "/n$R$R$R"],
    ['valid UTF-8', '/utf8/%EA%B0%80%EB%82%98/%F0%9F%98%80/caf%C3%A9',
     "/utf8/\x{AC00}\x{B098}/\x{1F600}/caf\x{E9}"],
    ['raw bytes', "/raw/caf\xc3\xa9/\xff\xc0\xaf/\xe2\x82",
     "/raw/caf\x{E9}/$R$R$R/$R$R"],
);

my $h1 = MiTest::Conn->new($port);
my $h2 = MiH2->new($h2_port);

for my $c (@PATHS, ['a route', "$P/scene-summary", "$P/scene-summary", 200]) {
    my ($name, $target, $path, $status) = @$c;
    $status //= 404;

    my $id = 'h1-' . ++$seq;
    my $res = $h1->request("GET $target HTTP/1.1\r\nHost: localhost\r\n"
                           . "X-Request-ID: $id\r\n\r\n");
    is($res && $res->{status}, $status, "HTTP/1.1 $name: $status");
    want("id $id", $name, 'HTTP/1.1', 'GET', $path, $status);

    $id = 'h2-' . ++$seq;
    $res = $h2->request('GET', $target, headers => [['x-request-id', $id]]);
    is($res && $res->{status}, $status, "HTTP/2 $name: $status")
        or diag($h2->{error});
    want("id $id", $name, 'HTTP/2', 'GET', $path, $status);
}

# --- an HTTP/2 method that is not UTF-8: nginx answers 400, and logs it
# (:path first, so that the line has one: nginx stops at the method)
{
    my $c = MiH2Raw->new($h2_port);
    my $id = $c->open_stream(MiH2Raw::hpack_literal(':path', '/bad-method/%FF')
                             . MiH2Raw::hpack_literal(':method', "G\xffT"),
                             MiH2::END_HEADERS | MiH2::END_STREAM);
    $c->pump(sub { $_[0]->stream($id)->{ended} }, 10);
    is($c->stream($id)->{status}, 400, 'HTTP/2 method G FF T: 400');
    $c->close;
    want("path /bad-method/$R", 'HTTP/2 method G FF T', '', "G${R}T",
         "/bad-method/$R", 400);
}

# --- no status: an HTTP/2 header block that never ends, the connection
# closed (or the stream reset, which nginx takes as the end of it too)
for my $end ('close', 'RST_STREAM') {
    my $id = 'no-status-' . ++$seq;
    my $c = MiH2Raw->new($h2_port);
    my $sid = $c->open_stream(MiH2Raw::hpack_literal(':method', 'GET')
                  . MiH2Raw::hpack_literal(':scheme', 'http')
                  . MiH2Raw::hpack_literal(':authority', 'localhost')
                  . MiH2Raw::hpack_literal(':path', "$P/scene-summary/%FF")
                  . MiH2Raw::hpack_literal('x-request-id', $id),
                  MiH2::END_STREAM);

    if ($end eq 'RST_STREAM') {
        # not the CONTINUATION nginx waits for: it ends the connection
        $c->frame(MiH2::RST_STREAM, 0, $sid, pack('N', 8));
        ok($c->pump(sub { $_[0]->goaway }, 10),
           'a header block cut by RST_STREAM: GOAWAY');
    }

    $c->close;
    want("id $id", "HTTP/2 header block cut, then $end", '', 'GET',
         "$P/scene-summary/$R", 0);
}

# --- the upstream answers as HTTP/0.9, with no status line: "009"
{
    my $id = 'upstream-09-' . ++$seq;
    MiTest::http_raw($port, "GET $P/scene-summary HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\nX-Mock: http09\r\n"
        . "X-Request-ID: $id\r\n\r\n");
    want("id $id", 'an HTTP/0.9 upstream', '', 'GET', "$P/scene-summary", 9);
}

# --- an HTTP/0.9 client (no headers, so no X-Request-ID: found by path)
{
    my $path = '/api/v1/workspaces/my-ws/projects/1234/assets/909/'
        . 'scene-summary';
    my $s = MiTest::connect_to($port);
    print {$s} "GET $path\r\n";
    my $buf = '';
    1 while MiTest::read_more($s, \$buf);
    close $s;
    like($buf, qr/^\{"code":"0"/, 'an HTTP/0.9 client: the body alone');
    want("path $path", 'an HTTP/0.9 client', '', 'GET', $path, 200);
}

# --- a client gone while the upstream keeps it waiting: 499
{
    my $id = 'gone-' . ++$seq;
    my $before = scalar $t->mock_requests($mock);
    my $s = MiTest::connect_to($port);
    print {$s} "GET $P/scene-summary HTTP/1.1\r\nHost: localhost\r\n"
        . "X-Mock: hang\r\nX-Request-ID: $id\r\n\r\n";
    ok(MiTest::poll_until(10, sub { $t->mock_requests($mock) > $before }),
       'a client gone: its request reached the upstream first');
    close $s;
    want("id $id", 'a client gone while the upstream waits', '', 'GET',
         "$P/scene-summary", 499);
}

# --- generated paths: bytes of every kind, percent-escaped
srand($seed);

my @failed;

for my $i (1 .. $cases) {
    my $bytes = gen_bytes();
    my $target = "/gen/$i/" . join '', map { sprintf '%%%02X', ord }
                                       split //, $bytes;
    my $path = "/gen/$i/" . repaired($bytes);
    my $id = "g1-$i";
    my $res = $h1->request("GET $target HTTP/1.1\r\nHost: localhost\r\n"
                           . "X-Request-ID: $id\r\n\r\n");
    push @failed, "$id: HTTP/1.1 status " . ($res ? $res->{status} : 'none')
        unless $res && $res->{status} == 404;
    want("id $id", 'generated paths', "$i over HTTP/1.1 (MI_SEED=$seed)",
         'GET', $path, 404);

    $id = "g2-$i";
    $h2 = MiH2->new($h2_port) unless $h2->{s};
    $res = $h2->request('GET', $target, headers => [['x-request-id', $id]]);
    push @failed, "$id: HTTP/2 status " . ($res ? $res->{status} : 'none')
        unless $res && $res->{status} == 404;
    want("id $id", 'generated paths', "$i over HTTP/2 (MI_SEED=$seed)",
         'GET', $path, 404);
}

ok(!@failed, "$cases generated paths, each over HTTP/1.1 and HTTP/2: 404")
    or diag(join "\n", @failed[0 .. ($#failed < 4 ? $#failed : 4)]);

$h1->disconnect;
$h2->disconnect;

# --- the log: every line strict UTF-8 and JSON, and as its case wants
my $sent = keys %want;
my @lines = log_lines($log, $sent);
is(scalar @lines, $sent, "$sent requests, $sent lines");

my (@bad, %line_of);

for my $line (@lines) {
    my $j = strict_json($line);

    if (!ref $j) {
        push @bad, "$j: " . printable($line);
        next;
    }

    if ((join ',', sort keys %$j) ne join ',', @FIELDS) {
        push @bad, 'not the documented fields: ' . printable($line);
    }

    # a JSON number, written as one: no leading zero, no quotes
    unless ($line =~ /"status":(0|[1-9][0-9]*),/) {
        push @bad, 'status not a number: ' . printable($line);
    }

    my $key = "id $j->{request_id}";
    $key = "path $j->{path}" unless $want{$key};
    $line_of{$key} = $j;
}

ok(!@bad, 'every line: valid UTF-8, valid JSON, status a number')
    or diag(join "\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)]);

my %wrong;

for my $key (sort keys %want) {
    my $w = $want{$key};
    my $j = $line_of{$key};
    my $got = $j ? [@$j{qw(method path status)}] : undef;
    my $json = JSON::PP->new->ascii->canonical;

    next if $got && $json->encode($got) eq $json->encode($w->{line});

    push @{ $wrong{ $w->{case} } }, "$w->{detail}: "
        . ($got ? 'logged ' . $json->encode($got) : 'no line')
        . ', wanted ' . $json->encode($w->{line});
}

for my $case (@cases) {
    my $w = $wrong{$case} // [];
    ok(!@$w, "logged as sent: $case")
        or diag(join "\n", @$w[0 .. ($#$w < 4 ? $#$w : 4)]);
}

# --- $mi_utf8_NAME on other variables, escaped by escape=json as well
my $extra_log = "$t->{dir}/extra.json.log";
my $extra_h2 = MiTest::free_port();
my $extra = $t->start_nginx(<<"EOF", workers => 2, log_level => 'info');
    log_format extra escape=json
        '{"ua":"\$mi_utf8_http_user_agent",'
        '"user":"\$mi_utf8_remote_user",'
        '"unset":"\$mi_utf8_http_x_not_sent",'
        '"twice":"\$mi_utf8_mi_utf8_uri",'
        '"status":\$mi_status}';
    access_log $extra_log extra;

    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$extra_h2 http2;

        location / {
            return 204;
        }
    }
EOF

my @UA = (
    ['ASCII', 'curl/8.0', 'curl/8.0'],
    ['quote and backslash', 'a"b\\c', 'a"b\\c'],
    ['valid UTF-8', "caf\xc3\xa9 \xea\xb0\x80", "caf\x{E9} \x{AC00}"],
    ['invalid bytes', "a\xff\xfe\xc0\xafz", "a$R$R$R${R}z"],
    ['cut short', "x\xe2\x82", "x$R$R"],
    ['surrogate', "\xed\xa0\x80", "$R$R$R"],
);

my %extra_want;
my $n = 0;

for my $c (@UA) {
    my ($name, $ua, $want) = @$c;

    # each request has a path of its own: its line is found by it
    $n++;
    MiTest::http($extra->{port}, 'GET', "/ua%FF/$n", headers => [
        ['User-Agent', $ua],
        ['Authorization', 'Basic ' . encode_base64("u\xff$ua:pw", '')]]);
    $extra_want{"/ua$R/$n"} = ["HTTP/1.1 $name", $want, "u$R$want"];

    $n++;
    my $c2 = MiH2->new($extra_h2);
    $c2->request('GET', "/ua%FF/$n", headers => [['user-agent', $ua]]);
    $c2->disconnect;
    $extra_want{"/ua$R/$n"} = ["HTTP/2 $name", $want, ''];
}

my %extra_line;

for my $line (log_lines($extra_log, $n)) {
    my $j = strict_json($line);
    $extra_line{ ref $j ? $j->{twice} : printable($line) } = $j;
}

is(scalar keys %extra_line, $n, '$mi_utf8_: one line a request');

for my $path (sort { $extra_want{$a}[0] cmp $extra_want{$b}[0] }
              keys %extra_want)
{
    my ($name, $ua, $user) = @{ $extra_want{$path} };
    is_deeply($extra_line{$path}, { ua => $ua, user => $user, unset => '',
                                    twice => $path, status => 204 },
              "\$mi_utf8_: $name");
}

# --- an unknown NAME stops nginx at start, as any unknown variable does
{
    my ($rc, $out) = $t->nginx_test_conf(<<'EOF');
    log_format bad '$mi_utf8_no_such_variable';
    access_log off;
EOF
    isnt($rc, 0, '$mi_utf8_no_such_variable: nginx -t fails');
    like($out, qr/unknown "no_such_variable" variable/,
         '... naming the variable');
}

is(scalar(MiTest::worker_deaths($ngx), MiTest::worker_deaths($extra)), 0,
   'no worker died');

$t->stop_all;
$t->check_logs($file);

done_testing;


# The log's lines once there are $n (or after 10 s), raw bytes each.
sub log_lines {
    my ($path, $n) = @_;
    my @l;

    MiTest::poll_until(10, sub {
        @l = split /(?<=\n)/, MiTest::read_file($path);
        return @l >= $n;
    });

    return @l;
}


# A line decoded as a log pipeline would, strictly: a hash, or why not.
sub strict_json {
    my ($line) = @_;
    my $copy = $line;

    return 'no newline at the end' unless $copy =~ s/\n\z//;

    my $text = eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK) };
    return 'not UTF-8' unless defined $text;

    my $j = eval { JSON::PP->new->decode($text) };
    return 'not JSON: ' . ($@ =~ s/ at .*//sr) unless ref $j eq 'HASH';

    return $j;
}


# The reference: each byte of what Encode's strict decoder would not take
# as one character (of 1 to 4 bytes) becomes U+FFFD.
sub repaired {
    my ($bytes) = @_;
    my $out = '';
    my $i = 0;

    BYTE: while ($i < length $bytes) {
        for my $n (1 .. 4) {
            last if $i + $n > length $bytes;
            my $chunk = substr($bytes, $i, $n);
            my $c = eval { Encode::decode('UTF-8', $chunk, Encode::FB_CROAK) };
            if (defined $c && length $c == 1) {
                $out .= $c;
                $i += $n;
                next BYTE;
            }
        }

        $out .= $R;
        $i++;
    }

    return $out;
}


# Bytes for a path segment: valid characters of 1 to 4 bytes, and every
# kind of invalid sequence; never NUL, '/' or '.', which nginx refuses or
# folds (a path's meaning is not what is tested here).
sub gen_bytes {
    my @kinds = (
        sub { chr(32 + int rand 95) =~ s{[/.]}{_}r },
        sub { chr(1 + int rand 31) . (rand() < 0.5 ? '"' : '\\') },
        sub { utf8_of(0x80 + int rand 0x780) },
        sub { my $cp = 0x800 + int rand 0xf800;
              utf8_of($cp >= 0xd800 && $cp < 0xe000 ? 0xfffd : $cp) },
        sub { utf8_of(0x10000 + int rand 0x100000) },
        sub { utf8_of((0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe,
                       0x10ffff)[rand 6]) },
        sub { chr(0x80 + int rand 0x40) },                  # alone
        sub { chr(0xc0 + int rand 2) . chr(0x80 + int rand 0x40) },
        sub { "\xe0" . chr(0x80 + int rand 0x20) . "\x80" }, # overlong
        sub { "\xf0" . chr(0x80 + int rand 0x10) . "\x80\x80" },
        sub { "\xed" . chr(0xa0 + int rand 0x20) . "\x80" }, # surrogate
        sub { "\xf4" . chr(0x90 + int rand 0x30) . "\x80\x80" },
        sub { chr(0xf5 + int rand 11) },
        sub { substr(utf8_of(0x800 + int rand 0x100000), 0,
                     1 + int rand 2) },                     # cut short
    );
    my $bytes = '';

    $bytes .= $kinds[rand @kinds]->() for 1 .. 1 + int rand 12;

    return $bytes;
}


sub utf8_of {
    my ($cp) = @_;
    my $s = chr $cp;
    utf8::encode($s);
    return $s;
}


sub printable {
    my ($s) = @_;
    $s =~ s/([^\x20-\x7e])/sprintf('\\x%02X', ord $1)/ge;
    return length $s > 300 ? substr($s, 0, 300) . '...' : $s;
}
