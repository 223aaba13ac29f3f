package PromText;

# A strict reader of the Prometheus text exposition format 0.0.4 for the
# tests: it dies, saying which line, on anything a scraper could misread or
# reject, where Prometheus itself would let some of it pass.  Checked: the
# grammar of names, labels, escapes and values; HELP and TYPE once each,
# before the family's samples; a family's samples together; no series
# twice; counters named *_total and never negative; histograms with their
# le bounds ascending, cumulative counts, +Inf last and equal to _count,
# and a _sum.

use strict;
use warnings;

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LABEL = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $FLOAT = qr/[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN/;


sub number {
    my ($s) = @_;
    return 9**9**9 if $s =~ /^\+?Inf$/;
    return -9**9**9 if $s eq '-Inf';
    return 0 + $s;
}


# Returns { order => [family names], families => { name => { type, help,
# samples => [ { name, labels => {..}, value, line } ] } } }.
sub parse {
    my ($text) = @_;
    my (%fam, @order, %series, %closed, $current);

    die "exposition: empty\n" if $text eq '';
    die "exposition: the last line does not end with a newline\n"
        unless $text =~ /\n\z/;

    my $n = 0;

    # the family whose lines come now; the one before it is done with
    my $enter = sub {
        my ($family, $where) = @_;
        return if defined $current && $current eq $family;
        die "$where: lines of $family are not together\n" if $closed{$family};
        $closed{$current} = 1 if defined $current;
        $current = $family;
    };

    for my $line (split /\n/, $text) {
        $n++;
        my $where = "line $n: $line";

        if ($line =~ /^# (HELP|TYPE) ($NAME) (.*)$/) {
            my ($what, $name, $rest) = ($1, $2, $3);
            my $f = $fam{$name} //= do { push @order, $name; +{} };

            die "$where: $what of a family whose samples came already\n"
                if $f->{samples};
            $enter->($name, $where);
            die "$what twice for $name, $where\n" if exists $f->{lc $what};

            if ($what eq 'HELP') {
                die "$where: HELP with an escape other than \\\\ or \\n\n"
                    if $rest =~ /\\(?![\\n])/;
                $f->{help} = $rest;
            } else {
                die "$where: unknown type\n"
                    unless $rest =~ /^(counter|gauge|histogram|summary|untyped)$/;
                $f->{type} = $rest;
            }

            next;
        }

        die "$where: a comment that is neither HELP nor TYPE\n"
            if $line =~ /^#/;

        my ($name, $labels, $value, $ts) =
            $line =~ /^($NAME)(\{.*\})? ($FLOAT)(?: (-?[0-9]+))?$/
            or die "$where: not a sample line\n";

        my %l = parse_labels($labels // '', $where);

        my $family = $name;
        my ($base) = $name =~ /^(.*)_(?:bucket|sum|count)$/;
        $family = $base
            if defined $base && $fam{$base}
               && ($fam{$base}{type} // '') =~ /^(?:histogram|summary)$/;

        my $f = $fam{$family}
            or die "$where: a sample before its family's HELP and TYPE\n";
        die "$where: $family has no HELP\n" unless defined $f->{help};
        die "$where: $family has no TYPE\n" unless defined $f->{type};

        $enter->($family, $where);

        my $key = join "\0", $name, map { "$_=$l{$_}" } sort keys %l;
        die "$where: the same series twice\n" if $series{$key}++;

        push @{ $f->{samples} }, { name => $name, labels => \%l,
                                   value => number($value), line => $n };
    }

    for my $name (@order) {
        my $f = $fam{$name};
        die "$name: HELP or TYPE without samples\n" unless $f->{samples};
        check_counter($name, $f) if $f->{type} eq 'counter';
        check_histogram($name, $f) if $f->{type} eq 'histogram';
    }

    return { order => \@order, families => \%fam };
}


sub parse_labels {
    my ($s, $where) = @_;
    my %l;

    return %l if $s eq '';

    $s =~ s/^\{// && $s =~ s/\}$// or die "$where: labels not in braces\n";

    while (length $s) {
        $s =~ s/^($LABEL)="((?:[^"\\\n]|\\[\\"n])*)"//
            or die "$where: a bad label or escape at \"$s\"\n";
        my ($k, $v) = ($1, $2);

        die "$where: label $k twice\n" if exists $l{$k};
        die "$where: reserved label name $k\n" if $k =~ /^__/;

        $v =~ s/\\(["\\n])/$1 eq 'n' ? "\n" : $1/ge;
        $l{$k} = $v;

        last if $s eq '';
        $s =~ s/^,// or die "$where: labels not separated by a comma\n";
        die "$where: a trailing comma in the labels\n" if $s eq '';
    }

    return %l;
}


sub check_counter {
    my ($name, $f) = @_;

    die "counter $name: the name does not end with _total\n"
        unless $name =~ /_total$/;

    for my $s (@{ $f->{samples} }) {
        die "counter $name, line $s->{line}: not the family's name\n"
            unless $s->{name} eq $name;
        die "counter $name, line $s->{line}: negative or NaN\n"
            unless $s->{value} >= 0;
    }
}


sub check_histogram {
    my ($name, $f) = @_;
    my %by;

    for my $s (@{ $f->{samples} }) {
        my %l = %{ $s->{labels} };
        my $le = delete $l{le};
        my $key = join "\0", map { "$_=$l{$_}" } sort keys %l;
        my $h = $by{$key} //= { buckets => [] };

        if ($s->{name} eq "${name}_bucket") {
            die "$name, line $s->{line}: a bucket without le\n"
                unless defined $le && $le =~ /^$FLOAT$/;
            die "$name, line $s->{line}: a bucket after _sum or _count\n"
                if exists $h->{sum} || exists $h->{count};
            push @{ $h->{buckets} }, [number($le), $s->{value}, $s->{line}];
        } elsif ($s->{name} eq "${name}_sum") {
            die "$name, line $s->{line}: le on _sum\n" if defined $le;
            $h->{sum} = $s->{value};
        } elsif ($s->{name} eq "${name}_count") {
            die "$name, line $s->{line}: le on _count\n" if defined $le;
            $h->{count} = $s->{value};
        } else {
            die "$name, line $s->{line}: $s->{name} in a histogram\n";
        }
    }

    for my $h (values %by) {
        my @b = @{ $h->{buckets} };
        die "$name: a series without buckets\n" unless @b;

        for my $i (1 .. $#b) {
            die "$name, line $b[$i][2]: le not ascending\n"
                unless $b[$i][0] > $b[$i - 1][0];
            die "$name, line $b[$i][2]: bucket counts not cumulative\n"
                unless $b[$i][1] >= $b[$i - 1][1];
        }

        die "$name, line $b[-1][2]: the last bucket is not le=\"+Inf\"\n"
            unless $b[-1][0] == 9**9**9;
        die "$name: a series without _sum\n" unless defined $h->{sum};
        die "$name: a series without _count\n" unless defined $h->{count};
        die "$name: _count $h->{count} is not the +Inf bucket $b[-1][1]\n"
            unless $h->{count} == $b[-1][1];
    }
}


# The value of the one sample named name with exactly these labels, or
# undef when there is none.
sub value {
    my ($parsed, $name, %labels) = @_;
    my $want = join "\0", map { "$_=$labels{$_}" } sort keys %labels;

    for my $f (values %{ $parsed->{families} }) {
        for my $s (@{ $f->{samples} }) {
            next unless $s->{name} eq $name;
            my %l = %{ $s->{labels} };
            return $s->{value}
                if $want eq join "\0", map { "$_=$l{$_}" } sort keys %l;
        }
    }

    return undef;
}


# Every sample of a family, as "name{k=v,...}" => value.
sub samples {
    my ($parsed, $family) = @_;
    my %out;

    for my $s (@{ $parsed->{families}{$family}{samples} // [] }) {
        my %l = %{ $s->{labels} };
        $out{"$s->{name}\{" . join(',', map { "$_=$l{$_}" } sort keys %l)
             . '}'} = $s->{value};
    }

    return \%out;
}


1;
