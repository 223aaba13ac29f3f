#!/usr/bin/perl
# mi_metrics: every key series once, however the signing locations share
# their keys.  Two profiles of one credentials file with the same access
# key and secret are one key; with the same access key and two secrets they
# are two nginx_mi_key_info series (two fingerprints) and one of
# nginx_mi_key_loaded_timestamp_seconds, which has no fingerprint label.
# Two secret files whose names differ only in bytes that a label value
# writes as '?' are one series too.  The exposition passes a strict parser
# (which refuses a series twice) and promtool.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use Test::More;
use Time::HiRes qw(time);
use MiTest;
use PromText;

my $t = MiTest->new;
my ($same, $one, $two, $other) = map { $t->new_secret } 1 .. 4;
my $started = time;

sub profile {
    my ($name, $ak, $sk) = @_;
    return "[$name]\nncloud_access_key_id = $ak\n"
           . "ncloud_secret_access_key = $sk\n";
}

my $cred = $t->write_file('shared.cred',
                          profile(a => 'AK_SAME', $same)
                          . profile(b => 'AK_SAME', $same)
                          . profile(c => 'AK_TWO', $one)
                          . profile(d => 'AK_TWO', $two));

# two names of three UTF-8 bytes each: both "???.secret" in a label
my $ga = $t->write_file("\xea\xb0\x80.secret", "$other\n");
my $na = $t->write_file("\xeb\x82\x98.secret", "$other\n");
(my $quoted = $ga) =~ s/\xea\xb0\x80/???/;

my $mock = $t->start_mock(AK_SAME => $same, AK_TWO => $one,
                          AK_OTHER => $other);
my $up = "127.0.0.1:$mock->{port}";

my $ngx = $t->start_nginx(<<"EOF");
    server {
        listen 127.0.0.1:%%PORT%%;
        mi_validate off;

        location /a/ {
            mi_sign on;
            mi_credentials_file $cred profile=a;
            proxy_pass http://$up;
        }

        location /b/ {
            mi_sign on;
            mi_credentials_file $cred profile=b;
            proxy_pass http://$up;
        }

        location /c/ {
            mi_sign on;
            mi_credentials_file $cred profile=c;
            proxy_pass http://$up;
        }

        location /d/ {
            mi_sign on;
            mi_credentials_file $cred profile=d;
            proxy_pass http://$up;
        }

        location /ga/ {
            mi_sign on;
            mi_access_key AK_OTHER;
            mi_secret_key_file $ga;
            proxy_pass http://$up;
        }

        location /na/ {
            mi_sign on;
            mi_access_key AK_OTHER;
            mi_secret_key_file $na;
            proxy_pass http://$up;
        }

        location = /metrics {
            mi_metrics;
        }
    }
EOF
my $port = $ngx->{port};

sub fp {
    return substr(sha256_hex("mi-secret-fingerprint:$_[0]"), 0, 8);
}

# every location signs with the pair of its own profile or file
is($t->signed_as($port, $mock, "/$_/x"), "verified AK_SAME",
   "/$_/: signed with profile $_") for qw(a b);
is($t->signed_as($port, $mock, '/c/x'), 'verified AK_TWO',
   '/c/: signed with the secret the API knows');
is(MiTest::http($port, 'GET', '/d/x')->{status}, 401,
   '/d/: signed with the other secret of that access key: refused');
is($t->signed_as($port, $mock, "/$_/x"), 'verified AK_OTHER',
   "/$_/: signed") for qw(ga na);

my $res = MiTest::http($port, 'GET', '/metrics');
is($res->{status}, 200, 'scrape: 200');

my $p = eval { PromText::parse($res->{body}) };
ok($p, 'the exposition parses: no series twice') or diag($@);

my @lines = grep { /^nginx_mi_key/ } split /\n/, $res->{body};
my %seen;
my @twice = grep { $seen{s/ \S+$//r}++ } @lines;
is_deeply(\@twice, [], 'no key series written twice')
    or diag(join "\n", @lines);

is_deeply(PromText::samples($p, 'nginx_mi_key_info'),
          { "nginx_mi_key_info{access_key=AK_SAME,fingerprint=" . fp($same)
            . ",location_key=$cred}" => 1,
            "nginx_mi_key_info{access_key=AK_TWO,fingerprint=" . fp($one)
            . ",location_key=$cred}" => 1,
            "nginx_mi_key_info{access_key=AK_TWO,fingerprint=" . fp($two)
            . ",location_key=$cred}" => 1,
            "nginx_mi_key_info{access_key=AK_OTHER,fingerprint=" . fp($other)
            . ",location_key=$quoted}" => 1 },
          'key_info: one series per file, access key and secret');

my $loaded = PromText::samples($p, 'nginx_mi_key_loaded_timestamp_seconds');
is_deeply([sort keys %$loaded],
          [sort map { "nginx_mi_key_loaded_timestamp_seconds{$_}" }
                "access_key=AK_SAME,location_key=$cred",
                "access_key=AK_TWO,location_key=$cred",
                "access_key=AK_OTHER,location_key=$quoted"],
          'key loaded: one series per file and access key');
ok(!grep({ $_ < int($started) - 1 || $_ > time + 1 } values %$loaded),
   'key loaded: when nginx started') or diag(explain $loaded);

SKIP: {
    my ($promtool) = grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH};
    skip 'promtool not installed (make deps installs it)', 2 unless $promtool;
    my $m = $t->write_file('metrics.txt', $res->{body}, 0644);
    my $out = `$promtool check metrics < $m 2>&1`;
    is($? >> 8, 0, 'promtool check metrics: accepted');
    is($out, '', 'promtool check metrics: no lint problem') or diag($out);
}

$t->stop_all;
$t->check_logs($cred, $ga, $na);

done_testing;
