#!/usr/bin/perl
# What the error log tells the operator, at the levels a production nginx
# logs ("info" here, not the harness's "debug"): one "notice" line per key
# in use with its secret's fingerprint; one "warn" line when the upstream
# refuses a signed request, naming the clock or the key from the upstream's
# Date; the module's refusals at "info".  The response is not changed, and
# neither the secret nor any signature is in any log line.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;
use MiTest;

my $t = MiTest->new;
my $secret = $t->new_secret;
my $other = $t->new_secret;
my $file = $t->write_file('a.secret', "$secret\n");
my $signing = MiTest::signing($file);
my $file2 = $t->write_file('b.secret', "  $other  \n");
my $cred = $t->write_file('c.cred', "[DEFAULT]\n"
                          . "ncloud_access_key_id = AK\n"
                          . "ncloud_secret_access_key = $other\n");

my $mock = $t->start_mock(AK => $secret, AK2 => $other);
my $ahead = $t->start_mock(AK => $secret, -clock_offset => 360);
my $behind = $t->start_mock(AK => $secret, -clock_offset => -360);
my $wrong = $t->start_mock(AK => $t->new_secret);

my $ngx = $t->start_nginx(<<"EOF", log_level => 'info');
    server {
        listen 127.0.0.1:%%PORT%%;
        $signing

        location / {
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /ahead/ {
            rewrite ^/ahead(/.*)\$ \$1 break;
            proxy_pass http://127.0.0.1:$ahead->{port};
        }

        location /behind/ {
            mi_validate off;
            proxy_pass http://127.0.0.1:$behind->{port};
        }

        location /wrong/ {
            mi_validate off;
            proxy_pass http://127.0.0.1:$wrong->{port};
        }

        location /wrong-cred/ {
            mi_validate off;
            mi_credentials_file $cred;
            proxy_pass http://127.0.0.1:$wrong->{port};
        }

        location /second/ {
            mi_validate off;
            mi_access_key AK2;
            mi_secret_key_file $file2;
            proxy_pass http://127.0.0.1:$mock->{port};
        }

        location /second-again/ {
            mi_validate off;
            mi_access_key AK2;
            mi_secret_key_file $file2;
            proxy_pass http://127.0.0.1:$mock->{port};
        }
    }
EOF

my $port = $ngx->{port};
my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';

# the fingerprint docs/ngx_http_mi_module.md tells operators to compute
sub fingerprint { substr(sha256_hex("mi-secret-fingerprint:$_[0]"), 0, 8) }

sub log_lines { split /\n/, MiTest::read_file($ngx->{error_log}) }

# --- a notice per key in use
my @keys = grep { /\[notice\].* mi: access key/ } log_lines();
is(scalar @keys, 3, 'start: one notice per key in use (AK twice, from two files, and AK2 once)')
    or diag(join "\n", @keys);
ok((grep { /mi: access key "AK", secret fingerprint ${\ fingerprint($secret)} \(from "\Q$file\E"\)/ } @keys),
   'start: AK with its fingerprint and file');
ok((grep { /mi: access key "AK2", secret fingerprint ${\ fingerprint($other)} / } @keys),
   'start: AK2 with the fingerprint of the trimmed secret');

# --- the upstream refuses a signed request
sub refusal {
    my ($name, $target, @headers) = @_;
    my $count = () = grep { /upstream answered/ } log_lines();
    my $res = MiTest::http($port, 'GET', $target, headers => \@headers);
    my @all = grep { /upstream answered/ } log_lines();
    my @new = @all[$count .. $#all];
    is(scalar @new, 1, "$name: one line") or diag(join "\n", @new);
    return ($res, $new[0] // '');
}

my ($res, $line) = refusal('Date 6 minutes ahead', "/ahead$P/scene-summary/status");
my $seen = (MiTest::mock_requests($t, $ahead))[-1];
my $ts = $seen->{h}{'x-ncp-apigw-timestamp'}[0];
is($res->{status}, 401, 'Date 6 minutes ahead: the 401 reaches the client');
like($res->{body}, qr/"errorCode":"200"/,
     'Date 6 minutes ahead: with the gateway\'s own body');
like($line, qr/\[warn\] .* mi: upstream answered 401 to a signed request: route asset\.status, access key "AK", timestamp $ts; its Date is 3(59|60|61) s ahead of this host's clock: the clock is the likely cause/,
     'Date 6 minutes ahead: warn, route, key, timestamp sent, the clock');

($res, $line) = refusal('Date 6 minutes behind', '/behind/x');
like($line, qr/\[warn\] .* route generic, .* its Date is 3(59|60|61) s behind this host's clock: the clock is the likely cause/,
     'Date 6 minutes behind: the clock');

($res, $line) = refusal('a wrong secret, a correct Date', '/wrong/x');
is($res->{status}, 401, 'a wrong secret: the 401 reaches the client');
like($line, qr/\[warn\] .* mi: upstream answered 401 .* its Date is [01] s (ahead of|behind) this host's clock: the key is the likely cause/,
     'a wrong secret: warn, the key');
like($line, qr/check mi_access_key and mi_secret_key_file "\Q$file\E" while /,
     'a wrong secret: names the directives and the file in use');

($res, $line) = refusal('a wrong secret from a credentials file',
                        '/wrong-cred/x');
like($line, qr/the key is the likely cause .*: check mi_credentials_file "\Q$cred\E" while /,
     'a credentials file: names mi_credentials_file and its file');

($res, $line) = refusal('a 403', "$P/scene-summary/status",
                        ['X-Mock', 'status 403']);
like($line, qr/\[warn\] .* mi: upstream answered 403 .* the key is the likely cause/,
     'a 403: warn, the key');

($res, $line) = refusal('no Date', "$P/scene-summary/status",
                        ['X-Mock', 'status 401 no-date']);
like($line, qr/\[warn\] .* it sent no Date to compare clocks with/,
     'no Date: says so');

# responses that are not refusals of the key leave no such line
my $count = () = grep { /upstream answered/ } log_lines();
MiTest::http($port, 'GET', "$P/scene-summary/status");
MiTest::http($port, 'GET', "$P/scene-summary/status",
             headers => [['X-Mock', 'status 429']]);
is(scalar(() = grep { /upstream answered/ } log_lines()), $count,
   'a 200 or a 429 from the upstream: no line');

# --- the module's refusals: "info"
MiTest::http($port, 'GET', "$P/nowhere");
ok((grep { /\[info\] .* mi: ROUTE_NOT_FOUND: / } log_lines()),
   'a refusal is logged at info');

# --- no secret, no signature, in any log line
my @signatures = map { $_->{h}{'x-ncp-apigw-signature-v2'}[0] // () }
                 map { $t->mock_requests($_) } $mock, $ahead, $behind, $wrong;
ok(@signatures >= 6, scalar(@signatures) . ' signatures sent');
my $log = MiTest::read_file($ngx->{error_log});
is(scalar(grep { index($log, $_) >= 0 } @signatures), 0,
   'no signature in the error log');

$t->stop_all;
$t->check_logs($file, $file2, $cred);

done_testing;
