#!/usr/bin/perl
# Validation of request bodies on the two request routes: content type,
# strict JSON, the members and their values, size; wherever nginx keeps the
# body (one buffer, several, a temporary file, chunked input).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('b.secret');
my $signing = MiTest::signing($file);
my $up = "127.0.0.1:$mock->{port}";

my $ngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;

        $signing
        client_max_body_size 1m;

        location / {
            proxy_pass http://$up;
        }

        location /three/ {
            mi_max_scene_ids 3;
            rewrite ^/three(/.*)\$ \$1 break;
            proxy_pass http://$up;
        }

        location /tiny/ {
            client_max_body_size 100;
            rewrite ^/tiny(/.*)\$ \$1 break;
            proxy_pass http://$up;
        }

        location /file/ {
            client_body_buffer_size 1k;
            rewrite ^/file(/.*)\$ \$1 break;
            proxy_pass http://$up;
        }
    }
EOF

my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $ASSET = "$P/scene-summary";
my $INDEX = "$P/indexes/1001/scene-summaries";
my $CT = ['Content-Type', 'application/json'];

sub good {
    my ($name, $target, $body, @headers) = @_;
    @headers = ($CT) unless @headers;
    (my $sent = $target) =~ s{^/(three|tiny|file)/}{/};
    $t->accepted($port, $mock, $name,
                 ['POST', $target, body => $body, headers => \@headers],
                 target => $sent, body => $body);
}

sub bad {
    my ($name, $target, $body, $code, $message, @headers) = @_;
    @headers = ($CT) unless @headers;
    $t->rejected($port, $mock, $name,
                 ['POST', $target, body => $body, headers => \@headers],
                 status => $code eq 'UNSUPPORTED_MEDIA_TYPE' ? 415
                           : $code eq 'BODY_TOO_LARGE' ? 413 : 400,
                 code => $code, message => $message);
}

# --- accepted bodies
good('empty object', $ASSET, '{}');
good('sceneIds null (a Java client)', $INDEX, '{"sceneIds":null}');
good('sceneIds', $INDEX, '{"sceneIds":[1,2,3]}');
good('repeated ids', $INDEX, '{"sceneIds":[5,5,0,2147483647]}');
good('JSON whitespace everywhere', $ASSET,
     " \t\r\n{ \"sceneIds\" :\n[ 1 ,\t2 ] } \n");
good('locale', $ASSET, '{"locale":"ko"}');
good('locale with region', $ASSET, '{"locale":"en-US","sceneIds":null}');
good('locale with script and region', $ASSET, '{"locale":"zh_Hant_TW"}');
good('locale null with sceneIds', $ASSET, '{"locale":null,"sceneIds":[7]}');
good('escaped member name', $INDEX, '{"scene\\u0049ds":[1]}');
good('charset parameter', $ASSET, '{}',
     ['Content-Type', 'application/json; charset=utf-8']);
good('media type in another case', $ASSET, '{}',
     ['Content-Type', 'Application/JSON']);
good('three ids where three are allowed', "/three$INDEX",
     '{"sceneIds":[1,2,3]}');

# --- Content-Type
bad('no Content-Type', $ASSET, '{}', 'UNSUPPORTED_MEDIA_TYPE',
    qr/^a request body needs Content-Type: application\/json; none was sent$/,
    ['X-Other', '1']);
bad('text/plain', $ASSET, '{}', 'UNSUPPORTED_MEDIA_TYPE',
    qr/^Content-Type "text\/plain" is not application\/json$/,
    ['Content-Type', 'text/plain']);
bad('application/jsonx', $ASSET, '{}', 'UNSUPPORTED_MEDIA_TYPE',
    qr/^Content-Type "application\/jsonx" is not application\/json$/,
    ['Content-Type', 'application/jsonx']);
bad('application/json-patch+json', $INDEX, '{}', 'UNSUPPORTED_MEDIA_TYPE',
    qr/is not application\/json$/,
    ['Content-Type', 'application/json-patch+json']);

# --- not strict JSON: INVALID_JSON
bad('trailing comma', $INDEX, '{"sceneIds":[1,2,]}', 'INVALID_JSON',
    qr/ at byte 17$/);
bad('single quotes', $INDEX, "{'sceneIds':[1]}", 'INVALID_JSON',
    qr/ at byte 1$/);
bad('comment', $INDEX, '{/* full */}', 'INVALID_JSON', qr/ at byte 1$/);
bad('byte order mark', $ASSET, "\xef\xbb\xbf{}", 'INVALID_JSON',
    qr/byte order mark.* at byte 0$/);
bad('trailing bytes', $ASSET, '{} x', 'INVALID_JSON',
    qr/^body: trailing data after the JSON object at byte 3$/);
bad('two objects', $ASSET, '{}{}', 'INVALID_JSON', qr/ at byte 2$/);
bad('truncated', $INDEX, '{"sceneIds":[1', 'INVALID_JSON',
    qr/end of input at byte 14$/);
bad('leading zero', $INDEX, '{"sceneIds":[01]}', 'INVALID_JSON',
    qr/leading zero/);
bad('NaN', $INDEX, '{"sceneIds":NaN}', 'INVALID_JSON', qr/ at byte 12$/);
bad('invalid UTF-8', $ASSET, "{\"locale\":\"k\xff\"}", 'INVALID_JSON',
    qr/^body: invalid UTF-8 at byte 12$/);
bad('overlong UTF-8', $ASSET, "{\"locale\":\"\xc0\xaf\"}", 'INVALID_JSON',
    qr/invalid UTF-8/);
bad('whitespace only', $ASSET, '   ', 'INVALID_JSON', qr/^body: /);

# --- JSON, but not a valid request: INVALID_BODY
bad('not an object', $INDEX, '[1,2]', 'INVALID_BODY',
    qr/^body: not a JSON object at byte 0$/);
bad('unknown member', $INDEX, '{"sceneIds":[1],"extra":true}',
    'INVALID_BODY', qr/extra.* at byte 16$/);
# a byte outside printable ASCII in a name is shown as '?', one per byte
bad('non-ASCII member name', $ASSET, "{\"loc\xC3\xA9le\":\"ko\"}",
    'INVALID_BODY', qr/^loc\?\?le: unknown member at byte 1$/);
bad('control character in a member name', $ASSET,
    '{"loc\\u0001ale":"ko"}', 'INVALID_BODY',
    qr/^loc\?ale: unknown member at byte 1$/);
bad('locale on the index route', $INDEX, '{"locale":"ko"}', 'INVALID_BODY',
    qr/locale.* at byte 1$/);
bad('member given twice', $INDEX, '{"sceneIds":null,"sceneIds":[1]}',
    'INVALID_BODY', qr/duplicate/);
bad('member twice, once escaped', $INDEX,
    '{"sceneIds":[1],"scene\\u0049ds":[2]}', 'INVALID_BODY', qr/duplicate/);
bad('empty sceneIds', $INDEX, '{"sceneIds":[]}', 'INVALID_BODY',
    qr/^sceneIds: .*empty.* at byte 12$/);
bad('the issue example', $INDEX, '{"sceneIds": [1, 2, 3, "4"]}',
    'INVALID_BODY', qr/^sceneIds\[3\]: not an integer at byte 23$/);
bad('a fraction', $INDEX, '{"sceneIds":[1.5]}', 'INVALID_BODY',
    qr/^sceneIds\[0\]: not an integer at byte 13$/);
bad('an exponent', $INDEX, '{"sceneIds":[1,1e3]}', 'INVALID_BODY',
    qr/^sceneIds\[1\]: not an integer at byte 15$/);
bad('negative', $INDEX, '{"sceneIds":[-1]}', 'INVALID_BODY',
    qr/^sceneIds\[0\]: negative at byte 13$/);
bad('out of range', $INDEX, '{"sceneIds":[2147483648]}', 'INVALID_BODY',
    qr/^sceneIds\[0\]: out of range 0\.\.2147483647 at byte 13$/);
bad('not an array', $INDEX, '{"sceneIds":5}', 'INVALID_BODY',
    qr/^sceneIds: .* at byte 12$/);
bad('nested array', $INDEX, '{"sceneIds":[[1]]}', 'INVALID_BODY',
    qr/^sceneIds\[0\]: not an integer at byte 13$/);
bad('four ids where three are allowed', "/three$INDEX",
    '{"sceneIds":[1,2,3,4]}', 'INVALID_BODY',
    qr/^sceneIds: more than 3 entries at byte 19$/);
bad('locale too short', $ASSET, '{"locale":"k"}', 'INVALID_BODY',
    qr/^locale: .* at byte 10$/);
bad('locale not a tag', $ASSET, '{"locale":"ko KR"}', 'INVALID_BODY',
    qr/^locale: .* at byte 10$/);
bad('locale too long', $ASSET, '{"locale":"' . join('-', 'en', ('abcdefgh') x 4) . '"}',
    'INVALID_BODY', qr/^locale: .* at byte 10$/);
bad('locale not a string', $ASSET, '{"locale":1}', 'INVALID_BODY',
    qr/^locale: .* at byte 10$/);
bad('locale with sceneIds', $ASSET, '{"sceneIds":[1],"locale":"ko"}',
    'INVALID_BODY', qr/^locale: .*full analysis.* at byte 25$/);
bad('sceneIds after locale', $ASSET, '{"locale":"ko","sceneIds":[1]}',
    'INVALID_BODY', qr/full analysis.* at byte 26$/);

# 1,000,000 nested arrays: refused at once, nothing exhausted
bad('a million nested arrays', $INDEX, '{"sceneIds":' . ('[' x 1_000_000),
    'INVALID_BODY', qr/^sceneIds\[0\]: not an integer at byte 13$/);

# --- where the body lives
my $ids = '{"sceneIds":[' . join(',', 1 .. 9000) . ']}';
good('a 50 KB body in a temporary file', "/file$INDEX", $ids);
like(MiTest::read_file($ngx->{error_log}),
     qr/a client request body is buffered to a temporary file/,
     'the body was in a temporary file');

my $bad_ids = '{"sceneIds":[' . join(',', 1 .. 9000) . ',"x"]}';
bad('a bad body in a temporary file', "/file$INDEX", $bad_ids, 'INVALID_BODY',
    qr/^sceneIds\[9000\]: not an integer at byte \d+$/);

my $too_many = '{"sceneIds":[' . join(',', (7) x 10_001) . ']}';
bad('more than the default 10000 ids', $INDEX, $too_many, 'INVALID_BODY',
    qr/^sceneIds: more than 10000 entries at byte 20013$/);

# several buffers: the body arrives in pieces
my $pieces = '{"sceneIds":[' . join(',', 1 .. 400) . ']}';
my $head = "POST /file$INDEX HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    . "Content-Type: application/json\r\nContent-Length: "
    . length($pieces) . "\r\n\r\n";
{
    my $before = scalar $t->mock_requests($mock);
    my $res = MiTest::http_raw($port, [$head . substr($pieces, 0, 10),
                                       substr($pieces, 10, 900),
                                       substr($pieces, 910)], pause => 0.1);
    my @got = $t->mock_requests($mock);
    is($res->{status}, 200, 'pieces: 200');
    is(scalar @got, $before + 1, 'pieces: forwarded once');
    ok($got[-1]{verified} && $got[-1]{body} eq $pieces,
       'pieces: signed, body byte for byte');
}

# chunked input, valid and not
sub chunked {
    my ($target, $body, $size) = @_;
    my $raw = "POST $target HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    $raw .= sprintf("%x\r\n%s\r\n", length $_, $_)
        for unpack("(a$size)*", $body);
    return $raw . "0\r\n\r\n";
}

$t->accepted($port, $mock, 'chunked, valid',
             chunked($INDEX, '{"sceneIds":[10,20,30]}', 4),
             target => $INDEX, body => '{"sceneIds":[10,20,30]}');
$t->rejected($port, $mock, 'chunked, invalid',
             chunked($INDEX, '{"sceneIds":[10,20,30,]}', 4),
             status => 400, code => 'INVALID_JSON', message => qr/ at byte 22$/);
$t->accepted($port, $mock, 'chunked, empty: a full analysis',
             chunked($INDEX, '', 4), target => $INDEX, body => '');
{
    my $raw = chunked($ASSET, '{}', 4);
    $raw =~ s/Content-Type: application\/json\r\n//;
    $t->rejected($port, $mock, 'chunked, no Content-Type', $raw,
                 status => 415, code => 'UNSUPPORTED_MEDIA_TYPE');
}

# --- size
$t->rejected($port, $mock, 'chunked body over client_max_body_size',
             chunked("/tiny$ASSET", '{"sceneIds":[' . join(',', 1 .. 100) . ']}', 300),
             status => 413, code => 'BODY_TOO_LARGE',
             message => qr/^body larger than client_max_body_size \(100 bytes\)$/);
# nginx itself refuses a Content-Length over the limit, before the module
# runs; the module still answers it in JSON
bad('Content-Length over client_max_body_size', "/tiny$ASSET",
    '{"sceneIds":[' . join(',', 1 .. 100) . ']}', 'BODY_TOO_LARGE',
    qr/^body larger than client_max_body_size \(100 bytes\)$/);

$t->stop_all;
$t->check_logs($file);

done_testing;
