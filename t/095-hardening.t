#!/usr/bin/perl
# The module is built with Debian's hardening (dpkg-buildflags, as Debian's
# nginx itself): full RELRO (-z relro -z now) and the stack protector.
# Each check reads the built .so and fails if its flag was dropped.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $so = $MiTest::MODULE;

plan skip_all => 'MI_MODULE=static: no .so to check' if $so eq 'static';
plan skip_all => "$so not built: run make" unless -f $so;
plan skip_all => 'readelf not found: make deps installs binutils'
    unless grep { -x "$_/readelf" } split /:/, $ENV{PATH};

sub readelf {
    my ($what) = @_;
    open my $fh, '-|', 'readelf', '-W', $what, $so or die "readelf: $!";
    my $out = do { local $/; <$fh> };
    close $fh or die "readelf $what $so failed";
    return $out;
}

my $dynamic = readelf('--dynamic');
my $symbols = readelf('--dyn-syms');

# make asan's build is instrumented for the tests, not hardened to ship
plan skip_all => "$so is built with ASan (make asan)"
    if $symbols =~ /\s__asan_init\b/;

# -Wl,-z,now: every symbol bound at load, so the GOT can be made read-only
ok($dynamic =~ /\(FLAGS\)\s.*\bBIND_NOW\b|\(FLAGS_1\)\s.*\bNOW\b/,
   'BIND_NOW (-z now)')
    or diag(grep { /FLAGS/ } split /^/, $dynamic);

# -Wl,-z,relro: the relocated data is mapped read-only after relocation
# (Debian's linker does so by default: this fails on -z norelro; the check
# above is what makes the RELRO full)
ok(readelf('--segments') =~ /^\s*GNU_RELRO\s/m, 'a GNU_RELRO segment');

# -fstack-protector-strong: functions with arrays on the stack check a
# canary, and call __stack_chk_fail when it was overwritten
ok($symbols =~ /\sUND\s+__stack_chk_fail\b/,
   'the stack protector (__stack_chk_fail)');

done_testing;
