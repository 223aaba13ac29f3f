#!/usr/bin/perl
# One Content-Type or none (issue 6): a request to a checked route (mi_validate
# on) that carries more than one Content-Type header, or, with
# underscores_in_headers on, a Content_Type header beside or instead of
# Content-Type, is refused with 415 UNSUPPORTED_MEDIA_TYPE and a JSON body,
# and never reaches the upstream.  nginx reads only the first Content-Type;
# the upstream would read whichever it likes, so the check of the first one
# proves nothing.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;
use MiH2;
use MiHeaders qw(forwarded_problems);

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('ct.secret');
my $signing = MiTest::signing($file);
my $plain_port = MiTest::free_port();
my $h2_port = MiTest::free_port();

my $ngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        listen 127.0.0.1:$h2_port http2;
        underscores_in_headers on;

        $signing

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }

    # nginx's default: a name with '_' is dropped before any module sees it
    server {
        listen 127.0.0.1:$plain_port;

        $signing

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $body = '{"sceneIds":[1,2]}';

sub post {
    my (@headers) = @_;
    return ['POST', "$P/scene-summary", body => $body,
            headers => \@headers];
}

sub get {
    my (@headers) = @_;
    return ['GET', "$P/scene-summary/status", headers => \@headers];
}

my $JSON = ['Content-Type', 'application/json'];

for my $case (
    # two Content-Type headers
    ['application/json, then text/plain',
     post($JSON, ['Content-Type', 'text/plain'])],
    ['text/plain, then application/json',
     post(['Content-Type', 'text/plain'], $JSON)],
    ['application/json twice', post($JSON, $JSON)],
    ['two, in other cases, apart',
     post(['content-type', 'application/json'], ['X-A', '1'],
          ['CONTENT-TYPE', 'application/json; charset=utf-8'])],
    ['on the index-scoped request route',
     ['POST', "$P/indexes/1001/scene-summaries", body => $body,
      headers => [$JSON, ['Content-Type', 'text/plain']]]],
    ['a GET with two, no body', get($JSON, ['Content-Type', 'text/plain'])],

    # Content_Type, with underscores_in_headers on
    ['Content-Type, then Content_Type',
     post($JSON, ['Content_Type', 'text/plain'])],
    ['content_type first, then Content-Type',
     post(['content_type', 'application/json'], $JSON)],
    ['Content_Type instead of Content-Type',
     post(['Content_Type', 'application/json'])],
    ['CONTENT_TYPE instead, a GET without a body',
     get(['CONTENT_TYPE', 'application/json'])],
) {
    $t->rejected($port, $mock, @$case, status => 415,
                 code => 'UNSUPPORTED_MEDIA_TYPE');
}

# --- what must still pass
my $r = $t->accepted($port, $mock, 'one Content-Type: application/json',
                     post($JSON), target => "$P/scene-summary", body => $body);
is_deeply($r->{h}{'content-type'}, ['application/json'],
          'one Content-Type: forwarded once');

$r = $t->accepted($port, $mock, 'X-Content-Type-Options beside it',
                  post($JSON, ['X-Content-Type-Options', 'nosniff']),
                  target => "$P/scene-summary");
is_deeply($r->{h}{'x-content-type-options'}, ['nosniff'],
          'X-Content-Type-Options: forwarded');

$r = $t->accepted($port, $mock, 'a GET without Content-Type', get(),
                  target => "$P/scene-summary/status");
is_deeply($r->{h}{'content-type'}, ['application/json'],
          'a GET without Content-Type: the module adds one');

# underscores_in_headers off: nginx drops Content_Type itself
my @sent = (['Host', 'localhost'], ['Connection', 'close'], $JSON,
            ['Content_Type', 'text/plain'],
            ['Content-Length', length $body]);
my $before = scalar $t->mock_requests($mock);
my $res = MiTest::http_raw($plain_port, MiHeaders::h1_raw('POST',
    "$P/scene-summary", \@sent) . $body);
is($res->{status}, 200,
   'underscores_in_headers off: Content_Type ignored, 200');
my @got = $t->mock_requests($mock);
my @p = forwarded_problems($got[$before],
                           [grep { $_->[0] ne 'Content_Type' } @sent]);
ok(@got == $before + 1 && !@p,
   'underscores_in_headers off: forwarded without Content_Type')
    or diag(join "\n", @p);

# --- the one Content-Type's value: "application/json" in any case, then
# parameters or nothing; every other byte, at every place, is refused
for my $value ('application/json', 'APPLICATION/JSON', 'Application/Json',
               'aPPLICATIOn/jSOn', 'application/json; charset=utf-8',
               'application/json ;charset=utf-8', "application/json\t",
               'APPLICATION/JSON;')
{
    $t->accepted($port, $mock, "Content-Type: $value",
                 post(['Content-Type', $value]),
                 target => "$P/scene-summary", body => $body);
}

for my $value ('application/jso', 'application/jsonp', 'application.json',
               "application\x0fjson", 'application\\json', 'applicatio/json',
               "applicat\x09on/json", 'application/json-seq',
               'application/json x', 'application/vnd.api+json',
               'text/json', 'json', "\x01pplication/json",
               "application/jso\x0e")
{
    (my $shown = $value) =~ s/([^\x21-\x7e])/sprintf '\\x%02x', ord $1/ge;
    $t->rejected($port, $mock, "Content-Type: $shown",
                 post(['Content-Type', $value]), status => 415,
                 code => 'UNSUPPORTED_MEDIA_TYPE');
}

# --- HTTP/2: two content-type fields
$before = scalar $t->mock_requests($mock);
my $h2 = MiH2->new($h2_port);
$res = $h2->request('POST', "$P/scene-summary", body => $body,
                    headers => [['content-type', 'application/json'],
                                ['content-type', 'text/plain']]);
is($res && $res->{status}, 415, 'HTTP/2, two content-type: 415');
is((MiTest::json_body($res // {}) // {})->{code}, 'UNSUPPORTED_MEDIA_TYPE',
   'HTTP/2, two content-type: JSON code');
$res = $h2->request('POST', "$P/scene-summary", body => $body,
                    headers => [['content_type', 'application/json']]);
is($res && $res->{status}, 415, 'HTTP/2, content_type: 415');
$h2->disconnect;
is(scalar $t->mock_requests($mock), $before,
   'HTTP/2: nothing refused reached the upstream');

is(scalar(MiTest::worker_deaths($ngx)), 0, 'no worker died');

$t->stop_all;
$t->check_logs($file);

done_testing;
