#!/usr/bin/perl
# The HMAC key states derived from each secret live on pages of their own
# that core dumps leave out (MADV_DONTDUMP, "dd" in /proc/PID/smaps), in
# the master and in the workers it forks; the secret is in no log.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep time);
use MiTest;

plan skip_all => 'needs /proc/PID/smaps with VmFlags'
    unless MiTest::read_file("/proc/$$/smaps") =~ /^VmFlags:/m;

my $t = MiTest->new;
my @files = map { $t->write_file("k$_.secret", $t->new_secret . "\n") } 1 .. 3;

# The pages of a process that core dumps leave out (adjacent mappings
# with the same flags are merged, so their sizes are added up).
my $page_kb = (`getconf PAGESIZE` || 4096) / 1024;

sub dontdump_pages {
    my ($pid) = @_;
    my $kb = 0;
    for my $map (split /^(?=[0-9a-f]+-[0-9a-f]+ )/m,
                 MiTest::read_file("/proc/$pid/smaps"))
    {
        next unless $map =~ /^VmFlags:.*\bdd\b/m;
        $kb += $1 if $map =~ /^Size:\s+(\d+) kB/m;
    }
    return $kb / $page_kb;
}

sub worker_of {
    my ($ngx) = @_;
    my $deadline = time + 10;
    while (time < $deadline) {
        my @w = MiTest::children_of($ngx->{pid});
        return $w[0] if @w;
        sleep 0.05;
    }
    die "no worker within 10 s";
}

# the same server, with n keys loaded
sub start_with_keys {
    my ($n) = @_;
    my $locations = join '', map {
        "location /k$_/ { mi_sign on; mi_secret_key_file $files[$_ - 1]; "
        . "return 204; }\n"
    } 1 .. $n;

    return $t->start_nginx(<<"EOF2");
    server {
        listen 127.0.0.1:%%PORT%%;
        mi_access_key AK;
        $locations
        location / { return 204; }
    }
EOF2
}

my $none = start_with_keys(0);
my $three = start_with_keys(3);

my $base_master = dontdump_pages($none->{pid});
my $base_worker = dontdump_pages(worker_of($none));

is(dontdump_pages($three->{pid}) - $base_master, 3,
   'master: one page left out of core dumps per key');
is(dontdump_pages(worker_of($three)) - $base_worker, 3,
   'worker: the same pages, inherited');

# a reload replaces the keys: the old pages go with the old cycle
$t->reload_nginx($three);
is(dontdump_pages($three->{pid}) - $base_master, 3,
   'master after reload: still one page per key, the old ones unmapped');

$t->stop_all;
$t->check_logs(@files);

done_testing;
