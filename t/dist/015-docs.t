#!/usr/bin/perl
# The documentation's links: the README links only to files of this
# repository, and every relative link of the README and docs/ leads to a
# file that exists (and to a heading that exists, for "file.md#heading").
# The README's "Timeouts and retries" states the values that
# conf/mi-gateway.conf sets.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use MiTest;

my $root = $MiTest::ROOT;

# GitHub's anchors: lower case, punctuation dropped, spaces as '-'
sub anchors {
    my ($file) = @_;
    my %a;
    for (MiTest::read_file($file) =~ /^#+\s+(.+?)\s*$/mg) {
        (my $slug = lc) =~ s/[^\w\- ]//g;
        $slug =~ tr/ /-/;
        $a{$slug} = 1;
    }
    return \%a;
}

for my $doc ('README.md', map { s{^\Q$root\E/}{}r } glob "$root/docs/*.md") {
    my $text = MiTest::read_file("$root/$doc");
    my @links = $text =~ /\]\(([^)\s]+)\)/g;
    my @bad;

    for my $link (@links) {
        if ($link =~ m{^[a-z]+:}i) {
            push @bad, "$link (outside the repository)" if $doc eq 'README.md';
            next;
        }

        my ($path, $anchor) = split /#/, $link, 2;
        my $target = abs_path($path eq '' ? "$root/$doc"
                                          : dirname("$root/$doc") . "/$path");

        if (!defined $target || !-e $target
            || $target !~ m{^\Q$root\E(/|$)})
        {
            push @bad, "$link (no such file in the repository)";
        } elsif (defined $anchor && $target =~ /\.md$/
                 && !anchors($target)->{$anchor})
        {
            push @bad, "$link (no such heading)";
        }
    }

    ok(@links > 0 && !@bad, "$doc: " . scalar(@links) . ' links, all good')
        or diag(join "\n", @bad);
}

# each directive of the site, as "`name value`" in the README's section
my ($section) = MiTest::read_file("$root/README.md")
    =~ /^### Timeouts and retries\n(.*?)^##/ms;
my @retry = map { s/;$//r =~ s/\s+/ /gr } MiTest::retry_directives();
is(scalar @retry, 6, 'conf/mi-gateway.conf: 6 timeout and retry directives');
is_deeply([grep { index($section // '', "`$_`") < 0 } @retry], [],
          'README "Timeouts and retries" states each value of the site: '
          . join ', ', @retry);

done_testing;
