#!/usr/bin/perl
# The body is checked as nginx reads it, by a request body filter: every
# byte of it goes through the filter once, a body that nginx writes to a
# temporary file is never read back, and the body reaches the upstream
# unchanged.  A body nginx read before the checks began (here: in a
# location without the module, before an error_page into a signing one)
# is read back from wherever nginx keeps it, and judged the same.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use List::Util qw(sum0);
use Test::More;
use MiTest;

my $t = MiTest->new;
my ($secret, $file, $mock) = $t->signing_mock('f.secret');
my $up = "127.0.0.1:$mock->{port}";
my $dead = MiTest::free_port();

my $ngx = $t->start_nginx(<<"EOF");
    mi_access_key AK;
    mi_secret_key_file $file;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /file/ {
            mi_sign on;
            client_body_buffer_size 1k;
            rewrite ^/file(/.*)\$ \$1 break;
            proxy_pass http://$up;
        }

        # no module here: the proxy reads the body, finds no upstream,
        # and error_page sends the request to a signing location
        location /late/ {
            client_body_buffer_size 1k;
            proxy_pass http://127.0.0.1:$dead;
            error_page 502 = \@signed;
        }

        location \@signed {
            mi_sign on;
            rewrite ^/late(/.*)\$ \$1 break;
            proxy_pass http://$up;
        }
    }
EOF

my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
my $INDEX = "$P/indexes/1001/scene-summaries";
my $CT = ['Content-Type', 'application/json'];

my $log_at = 0;

# The error log lines written since the last call.
sub new_log {
    my $log = MiTest::read_file($ngx->{error_log});
    my $new = substr($log, $log_at);
    $log_at = length $log;
    return $new;
}

sub filtered {
    my ($log) = @_;
    return sum0($log =~ /mi body filter: (\d+) bytes checked/g);
}

new_log();

my $ids = '{"sceneIds":[' . join(',', 1 .. 9000) . ']}';
$t->accepted($port, $mock, 'a 50 KB body, buffered to a temporary file',
             ['POST', "/file$INDEX", body => $ids, headers => [$CT]],
             target => $INDEX, body => $ids);
my $log = new_log();
like($log, qr/a client request body is buffered to a temporary file/,
     'nginx wrote it to a temporary file');
is(filtered($log), length $ids, 'every byte went through the filter once');
unlike($log, qr/mi body: read before/, 'and was not read back');

my $bad = '{"sceneIds":[' . join(',', 1 .. 9000) . ',-1]}';
my $at = index($bad, '-1');
$t->rejected($port, $mock, 'a bad 50 KB body, buffered to a temporary file',
             ['POST', "/file$INDEX", body => $bad, headers => [$CT]],
             status => 400, code => 'INVALID_BODY',
             message => qr/^sceneIds\[9000\]: negative at byte $at$/);
$log = new_log();
is(filtered($log), length $bad, 'the bad body went through the filter');
unlike($log, qr/mi body: read before/, 'and was not read back');

# chunked: the filter sees the decoded body, in the pieces nginx decodes
{
    my $body = '{"sceneIds":[' . join(',', 1 .. 2000) . ']}';
    my $raw = "POST /file$INDEX HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n";
    $raw .= sprintf("%x\r\n%s\r\n", length $_, $_) for unpack('(a333)*', $body);
    $raw .= "0\r\n\r\n";

    $t->accepted($port, $mock, 'chunked, in a temporary file', $raw,
                 target => $INDEX, body => $body);
    $log = new_log();
    is(filtered($log), length $body, 'chunked: the decoded body, once');
}

# read before the checks: judged from r->request_body, file included
$t->accepted($port, $mock, 'a body read before the checks',
             ['POST', "/late$INDEX", body => $ids, headers => [$CT]],
             target => $INDEX, body => $ids);
$log = new_log();
like($log, qr/mi body: read before the checks began, read back/,
     'read back');
is(filtered($log), 0, 'the filter took no part');

$t->rejected($port, $mock, 'a bad body read before the checks',
             ['POST', "/late$INDEX", body => $bad, headers => [$CT]],
             status => 400, code => 'INVALID_BODY',
             message => qr/^sceneIds\[9000\]: negative at byte $at$/);

$t->stop_all;
$t->check_logs($file);

done_testing;
