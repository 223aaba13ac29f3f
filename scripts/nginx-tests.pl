#!/usr/bin/perl
# nginx's own test suite (nginx-tests) as a guard for the module.  Runs test
# files in parallel, one TAP file and one private TMPDIR each, reduces a run
# to one outcome per file and test number, and compares runs: the module
# loaded and off must change nothing; signing at http level may change only
# what t/compat/nginx-tests-expected.txt lists, and must crash nothing.
#
#   nginx-tests.pl run SUITE OUT JOBS FILE...
#       runs FILEs (names in the unpacked suite SUITE) with the TEST_NGINX_*
#       environment as given; writes OUT/results.txt and OUT/alerts.txt
#   nginx-tests.pl check VERSION EXPECTED DIR
#       compares DIR/off and DIR/on with DIR/none; writes
#       DIR/differences.txt in EXPECTED's format and DIR/retry.txt, the
#       files whose outcomes differ where they should not; exits 1 on any
#       problem
#   nginx-tests.pl merge RUN AGAIN
#       puts the results of files run again (AGAIN/results.txt) in place
#       of theirs in RUN/results.txt; adds AGAIN's alerts to RUN's
#   nginx-tests.pl expected EXPECTED DIFFERENCES...
#       prints EXPECTED regenerated from the differences of the last runs

use strict;
use warnings;

use File::Find qw(find);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use TAP::Parser;
use Time::HiRes qw(sleep time);

# A test file that runs longer than this is killed and counted as "timeout".
my $FILE_TIMEOUT = $ENV{NGINX_TESTS_TIMEOUT} // 300;

# Log lines that mean a process died: never expected, in any run.
my $CRASH = qr/exited on signal|core dumped|Segmentation fault|Sanitizer/;

my %command = (run => \&run, check => \&check, merge => \&merge,
               expected => \&expected);
my $cmd = shift // '';
$command{$cmd} or die "usage: $0 run|check|merge|expected ...\n";
exit $command{$cmd}->(@ARGV);


# --- run -----------------------------------------------------------------

sub run {
    my ($suite, $out, $jobs, @files) = @_;
    my %last = read_durations("$out/durations.txt");

    remove_tree($out);
    make_path("$out/tap");

    # short paths: tests put unix sockets in their folders (108 bytes)
    my $tmp = tempdir('mi-nt-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    # the longest files of the last run first: the run ends sooner
    @files = sort { ($last{$b} // 1e9) <=> ($last{$a} // 1e9) || $a cmp $b }
             @files;

    my (%running, %status, %took, @queue);
    @queue = @files;

    # stopped: the files running now stop too, with their nginx
    local $SIG{TERM} = local $SIG{INT} = sub {
        kill 'KILL', map { -$_ } keys %running;
        exit 1;
    };

    while (@queue || %running) {
        while (@queue && keys %running < $jobs) {
            my $file = shift @queue;
            my $dir = "$tmp/" . (keys(%status) + keys(%running));
            mkdir $dir;
            $running{start_file($suite, $out, $file, $dir)}
                = { file => $file, dir => $dir, start => time };
        }

        my $pid = waitpid(-1, WNOHANG);
        if ($pid > 0 && $running{$pid}) {
            my $r = delete $running{$pid};
            $status{$r->{file}} = $r->{timeout} ? 'timeout' : $?;
            $took{$r->{file}} = time - $r->{start};
            collect_logs($out, $r->{file}, $r->{dir});
            next;
        }

        for my $pid (keys %running) {
            next if $running{$pid}{timeout}
                || time - $running{$pid}{start} < $FILE_TIMEOUT;
            kill 'KILL', -$pid;
            $running{$pid}{timeout} = 1;
        }
        sleep 0.05;
    }

    write_file("$out/durations.txt",
               join '', map { sprintf "%s %.1f\n", $_, $took{$_} } @files);

    my @lines;
    for my $file (sort @files) {
        push @lines, tap_outcomes($file, "$out/tap/$file.tap",
                                  $status{$file});
    }
    write_file("$out/results.txt", join '', @lines);

    my %n;
    $n{ (split /\t/)[2] }++ for grep { !/\tplan\t/ } @lines;
    printf "%d files, %d tests: %d ok, %d failed, %d skipped, %d todo\n",
        scalar @files, scalar(grep { !/\tplan\t/ } @lines), $n{ok} // 0,
        $n{fail} // 0, $n{skip} // 0,
        ($n{'todo-ok'} // 0) + ($n{'todo-fail'} // 0);

    return 0;
}


sub start_file {
    my ($suite, $out, $file, $dir) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;

    # a process group of its own: a timeout kills nginx and backends too
    POSIX::setpgid(0, 0);
    chdir $suite or die "$suite: $!";
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', "$out/tap/$file.tap" or die "$out/tap/$file.tap: $!";
    open STDERR, '>&', \*STDOUT;
    $ENV{TMPDIR} = $dir;
    $ENV{TEST_NGINX_LEAVE} = 1;
    exec $^X, $file or POSIX::_exit(127);
}


# Keeps a file's crash and [alert] lines, numbers and paths made neutral so
# that runs compare; the test folders themselves are removed.
sub collect_logs {
    my ($out, $file, $dir) = @_;
    my %seen;

    my @logs;
    find(sub { push @logs, $File::Find::name if -f && /\.log$/ }, $dir);

    for my $log (@logs) {
        open my $fh, '<', $log or next;
        while (my $line = <$fh>) {
            next unless $line =~ /\[alert\]|$CRASH/;
            $line =~ s/^\S+ \S+ (\[\w+\]) \d+#\d+: (\*\d+ )?/$1 /;
            $line =~ s/\Q$dir\E[^\s,;"]*/<dir>/g;
            $line =~ s/\d+/N/g;
            $seen{$line} = 1;
        }
        close $fh;
    }

    remove_tree($dir);
    open my $fh, '>>', "$out/alerts.txt" or die "$out/alerts.txt: $!";
    print {$fh} map { "$file\t$_" } sort keys %seen;
    close $fh;
}


# One line per test: file, number, outcome, description; and a "plan" line
# for the file as a whole (its plan, a skip, a timeout or a signal).
sub tap_outcomes {
    my ($file, $tap, $status) = @_;
    my $parser = TAP::Parser->new({ tap => read_file($tap) });
    my @lines;

    while (my $r = $parser->next) {
        next unless $r->is_test;
        my $outcome = $r->has_skip ? 'skip'
                    : $r->has_todo ? ($r->is_actual_ok ? 'todo-ok' : 'todo-fail')
                    : $r->is_actual_ok ? 'ok' : 'fail';
        my $desc = $r->description;
        $desc =~ s/^-\s*//;
        $desc =~ s/\s+/ /g;
        push @lines, "$file\t" . $r->number . "\t$outcome\t$desc\n";
    }

    my $planned = $parser->tests_planned;
    my $ran = $parser->tests_run;
    my $plan = $status eq 'timeout'       ? 'timeout'
             : $status & 127              ? 'signal-' . ($status & 127)
             : $parser->skip_all          ? 'skip-all'
             : !defined $planned          ? "no-plan-ran-$ran"
             : $planned != $ran           ? "ran-$ran-of-$planned"
             : "$ran-tests";

    # an exit status that failed tests do not explain (a die at the end)
    my $failed = grep { /\tfail\t/ } @lines;
    $plan .= '-exit-' . ($status >> 8)
        if $plan =~ /-tests$/ && !$failed && $status >> 8;

    my $why = $parser->skip_all // '';
    $why =~ s/\s+/ /g;

    return (@lines, "$file\tplan\t$plan\t$why\n");
}


sub read_durations {
    my ($path) = @_;
    return map { split ' ' } split /\n/, read_file($path);
}


# --- check ---------------------------------------------------------------

sub check {
    my ($version, $expected_path, $dir) = @_;
    my @expected = read_expected($expected_path);
    my %none = read_results("$dir/none/results.txt");
    my @problems;

    # expected lines that apply to this version; flaky ones to both runs
    my @mine = grep { applies($_, $version) } @expected;
    my @flaky = grep { $_->{flaky} } @mine;

    # files whose outcomes may be a bad moment of the machine: run again
    my %again;

    for my $d (differences(\%none, { read_results("$dir/off/results.txt") })) {
        next if grep { matches($_, $d) } @flaky;
        $again{ $d->{file} } = 1;
        push @problems, "module loaded and off changed $d->{file} $d->{test}"
            . " ($d->{change}): " . ($d->{desc} || 'no description');
    }

    my @diffs = differences(\%none, { read_results("$dir/on/results.txt") });
    my (@lines, %used);

    for my $d (@diffs) {
        my ($e) = grep { matches($_, $d) } @mine;
        if ($e) {
            $used{$e} = 1;
        } else {
            $again{ $d->{file} } = 1;
            push @problems, "unexpected with mi_sign on: $d->{file}"
                . " $d->{test} ($d->{change}): " . ($d->{desc} || '-');
        }
        push @lines, format_line(8, $version, $d->{file}, $d->{test},
            $d->{change}, $e ? $e->{reason} : "UNEXPLAINED: $d->{desc}");
    }

    # only the files this run ran (NGINX_TESTS_FILES may choose fewer)
    my %ran = map { (split /\t/)[0] => 1 } keys %none;

    for my $e (grep { !$_->{flaky} && !$used{$_} && $ran{$_->{file}} }
               @mine)
    {
        $again{ $e->{file} } = 1;
        push @problems, "expected but did not happen with mi_sign on:"
            . " $e->{file} $e->{test} ($e->{change}): $e->{reason}";
    }

    push @problems, new_alerts($dir, $_) for qw(off on);
    push @problems, map { "crash without the module: $_" }
                    grep { /$CRASH/ } alert_lines("$dir/none");

    write_file("$dir/differences.txt", join '', @lines);
    write_file("$dir/retry.txt", join '', map { "$_\n" } sort keys %again);

    printf "%d differences with mi_sign on (%d expected), %d problems\n",
        scalar @diffs, scalar(keys %used), scalar @problems;
    print "  $_\n" for @problems;

    return @problems ? 1 : 0;
}


# Crashes, and [alert] lines that the run without the module did not log
# for the same test file.
sub new_alerts {
    my ($dir, $run) = @_;
    my %base = map { $_ => 1 } alert_lines("$dir/none");

    return map { "$run: " . ($_ =~ $CRASH ? 'crash' : 'new alert') . ": $_" }
           grep { /$CRASH/ || !$base{$_} } alert_lines("$dir/$run");
}


sub alert_lines {
    my ($dir) = @_;
    return map { s/\t/: /r } split /\n/, read_file("$dir/alerts.txt");
}


sub read_results {
    my ($path) = @_;
    -f $path or die "$path: no such file: did the run finish?\n";
    my %r;

    for (split /\n/, read_file($path)) {
        my ($file, $test, $outcome, $desc) = split /\t/;
        $r{"$file\t$test"} = { outcome => $outcome, desc => $desc // '' };
    }

    return %r;
}


# The tests whose outcome differs between two runs ("missing" where one
# run has no such test).
sub differences {
    my ($x, $y) = @_;
    my %keys = map { $_ => 1 } keys %$x, keys %$y;
    my @d;

    for my $k (sort by_file_test keys %keys) {
        my $from = $x->{$k}{outcome} // 'missing';
        my $to = $y->{$k}{outcome} // 'missing';
        next if $from eq $to;
        my ($file, $test) = split /\t/, $k;
        push @d, { file => $file, test => $test, change => "$from>$to",
                   desc => $x->{$k}{desc} || $y->{$k}{desc} };
    }

    return @d;
}


sub by_file_test {
    my ($fa, $ta) = split /\t/, $a;
    my ($fb, $tb) = split /\t/, $b;
    return $fa cmp $fb || test_order($ta) <=> test_order($tb);
}


# Test numbers in order, "plan" after them.
sub test_order {
    my ($test) = @_;
    return $test =~ /^\d+$/ ? $test : 1e9;
}


# --- merge ---------------------------------------------------------------

sub merge {
    my ($run, $again) = @_;
    my $new = read_file("$again/results.txt");
    my %files = map { (split /\t/)[0] => 1 } split /\n/, $new;

    write_file("$run/results.txt", join '', $new,
        grep { !$files{ (split /\t/)[0] } }
        map { "$_\n" } split /\n/, read_file("$run/results.txt"));

    # alerts are never taken back: a crash in any run stays a crash
    open my $fh, '>>', "$run/alerts.txt" or die "$run/alerts.txt: $!";
    print {$fh} read_file("$again/alerts.txt");
    close $fh;

    return 0;
}


# --- the expected file ---------------------------------------------------
#
# One difference a line: VERSIONS FILE TEST CHANGE REASON, where VERSIONS is
# "*" or a comma-separated list, TEST a test number or "plan", CHANGE
# "outcome-without>outcome-with" or "*", and a REASON that starts with
# "flaky:" marks a line that may or may not happen, in either run.

sub read_expected {
    my ($path) = @_;
    my @e;

    for (split /\n/, read_file($path)) {
        next if /^\s*(#|$)/;
        my ($versions, $file, $test, $change, $reason) = split ' ', $_, 5;
        die "$path: bad line: $_\n" unless defined $reason;
        push @e, { versions => $versions, file => $file, test => $test,
                   change => $change, reason => $reason,
                   flaky => $reason =~ /^flaky:/ ? 1 : 0 };
    }

    return @e;
}


sub applies {
    my ($e, $version) = @_;
    return $e->{versions} eq '*'
        || grep { $_ eq $version } split /,/, $e->{versions};
}


sub matches {
    my ($e, $d) = @_;
    return $e->{file} eq $d->{file} && $e->{test} eq $d->{test}
        && ($e->{change} eq '*' || $e->{change} eq $d->{change});
}


sub format_line {
    my ($width, $versions, $file, $test, $change, $reason) = @_;
    return sprintf "%-*s %-34s %-5s %-18s %s\n",
        $width, $versions, $file, $test, $change, $reason;
}


# The expected file rewritten from the differences the last runs wrote:
# its comments and flaky lines kept, a difference seen in every version
# written once with "*", the reason of a line of the file that matches.
sub expected {
    my ($expected_path, @paths) = @_;
    my @expected = read_expected($expected_path);
    my (%seen, %versions);

    for my $path (@paths) {
        for (split /\n/, read_file($path)) {
            my ($version, $file, $test, $change, $reason) = split ' ', $_, 5;
            my $d = { file => $file, test => $test, change => $change };
            my ($e) = grep { applies($_, $version) && matches($_, $d) }
                      @expected;
            $reason = $e->{reason} if $e;
            $versions{$version} = 1;
            push @{ $seen{"$file\t$test\t$change\t$reason"} }, $version;
        }
    }

    my @all = sort keys %versions;
    my @out = grep { /^\s*#/ } split /\n/, read_file($expected_path);
    print "$_\n" for @out;

    my @lines = map {
        my ($file, $test, $change, $reason) = split /\t/;
        my @v = sort @{ $seen{$_} };
        [ @v == @all && @all > 1 ? '*' : join(',', @v),
          $file, $test, $change, $reason ]
    } keys %seen;

    push @lines, map { [ @$_{qw(versions file test change reason)} ] }
                 grep { $_->{flaky} } @expected;

    my ($width) = sort { $b <=> $a } 8, map { length $_->[0] } @lines;
    my %uniq;
    print grep { !$uniq{$_}++ } map { format_line($width, @$_) }
        sort { $a->[1] cmp $b->[1]
               || test_order($a->[2]) <=> test_order($b->[2])
               || $a->[0] cmp $b->[0] } @lines;

    return 0;
}


# --- files ---------------------------------------------------------------

# A file's content, or '' when there is none.
sub read_file {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return scalar(<$fh>) // '';
}


sub write_file {
    my ($path, $content) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print {$fh} $content;
    close $fh;
}
