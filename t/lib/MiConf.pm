package MiConf;

# The configuration an operator installs (conf/, the package's examples, the
# Kubernetes ConfigMap), as tests use it:
#   - debian_nginx_t: "nginx -t" on the files exactly as shipped, dropped
#     into a copy of this machine's /etc/nginx (Debian's own nginx.conf),
#     in a mount namespace of its own so that nothing of the system changes;
#   - adapt_site / adapt_credentials: the same files with only the listen
#     address, the resolver, the API's port and scheme (or CA file), the
#     log and the credentials path moved to the test's, each replaced
#     exactly once so that a changed file fails loudly.

use strict;
use warnings;

use MiTest;

our $UPSTREAM_HOST = 'mi.apigw.ntruss.com';


sub write_text {
    my ($path, $text, $mode) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print {$fh} $text;
    close $fh;
    chmod $mode // 0644, $path;
}


sub replace_once {
    my ($text, $what, $with) = @_;
    my $n = () = $text =~ /\Q$what\E/g;
    die "expected \"$what\" once in the shipped configuration, found $n\n"
        unless $n == 1;
    $text =~ s/\Q$what\E/$with/;
    return $text;
}


# The site, listening on listen, resolving through the DNS mock on port
# dns (which answers 127.0.0.1 for any name, or what the test set),
# forwarding in plain HTTP to the mock on port api_port under the API's
# host name, logging to access_log (and error_log, or the test's own error
# log).  With ca => FILE, it forwards over verified TLS as shipped,
# trusting that CA file instead of the system's.
sub adapt_site {
    my ($text, %to) = @_;
    $text = replace_once($text, 'listen 8080;', "listen $to{listen};");
    # conf/'s resolver line, or the include the Kubernetes ConfigMap has
    if ($text =~ m{include /run/mi-gateway/resolver\.conf;}) {
        $text = replace_once($text, 'include /run/mi-gateway/resolver.conf;',
            "resolver 127.0.0.1:$to{dns} valid=30s ipv6=off;");
    } else {
        $text = replace_once($text, 'resolver 127.0.0.53 ',
                             "resolver 127.0.0.1:$to{dns} ");
    }
    $text = replace_once($text, "mi_resolve $UPSTREAM_HOST:443;",
                         "mi_resolve $UPSTREAM_HOST:$to{api_port};");
    if (defined $to{ca}) {
        $text = replace_once($text, '/etc/ssl/certs/ca-certificates.crt',
                             $to{ca});
    } else {
        $text = replace_once($text, "proxy_pass https://$UPSTREAM_HOST;",
                             "proxy_pass http://$UPSTREAM_HOST;");
    }
    $text = replace_once($text, '/var/log/nginx/mi-gateway.access.log',
                         $to{access_log});
    # the site's own error log: error_log if given, else the test's (the
    # server then inherits the level the test set)
    $text = replace_once($text,
        'error_log /var/log/nginx/mi-gateway.error.log notice;',
        defined $to{error_log} ? "error_log $to{error_log} notice;"
                               : '# error_log: the test\'s');
    return $text;
}


sub adapt_credentials {
    my ($text, $path) = @_;
    return replace_once($text, 'mi_credentials_file /etc/nginx/mi/credentials;',
                        "mi_credentials_file $path;");
}


# An NCP CLI credentials file: profile => [access key, secret], as
# "ncloud configure" writes it.
sub cli_file {
    my (%profiles) = @_;
    return join "\n", map {
        "[$_]\nncloud_access_key_id = $profiles{$_}[0]\n"
        . "ncloud_secret_access_key = $profiles{$_}[1]\n"
        . "ncloud_api_url = https://ncloud.apigw.ntruss.com\n"
    } sort keys %profiles;
}


sub can_unshare {
    return $> == 0
           && system('unshare --mount --propagation private true '
                     . '>/dev/null 2>&1') == 0;
}


# Runs "nginx -t" with Debian's nginx.conf and the given site and
# credentials configuration in sites-enabled/ and conf.d/, a credentials
# file at /etc/nginx/mi/credentials and the module in modules-enabled/.
# /etc/nginx and /var/log/nginx are replaced for that one process only
# (the site resolves the API's host only while it runs, through its
# resolver: nothing is looked up at "nginx -t").
# Returns (exit code, output).
sub debian_nginx_t {
    my ($t, %files) = @_;
    my $d = $t->dir . '/debian' . ++$t->{seq};
    my $etc = "$d/etc-nginx";

    mkdir $d or die "$d: $!";
    system('cp', '-a', '/etc/nginx', $etc) == 0 or die "cp /etc/nginx";

    # what the package enables, and nothing left from an installed one
    unlink glob("$etc/modules-enabled/*mod-http-mi.conf*");
    write_text("$etc/modules-enabled/50-mod-http-mi.conf",
               "load_module $MiTest::MODULE;\n")
        unless $MiTest::MODULE eq 'static';

    write_text("$etc/conf.d/mi-credentials.conf", $files{credentials_conf});
    write_text("$etc/sites-available/mi-gateway.conf", $files{site});
    symlink '../sites-available/mi-gateway.conf',
            "$etc/sites-enabled/mi-gateway.conf" or die "symlink: $!";

    mkdir "$etc/mi", 0700;
    write_text("$etc/mi/credentials", $files{credentials}, 0600);

    mkdir "$d/log";

    # run: files under /run (path => content), which the namespace's /run
    # then holds alone
    mkdir "$d/run";
    for my $path (sort keys %{ $files{run} // {} }) {
        (my $dir = "$d/run/$path") =~ s{/[^/]+$}{};
        system('mkdir', '-p', $dir) == 0 or die "mkdir $dir";
        write_text("$d/run/$path", $files{run}{$path});
    }

    my @cmd = ('unshare', '--mount', '--propagation', 'private', 'sh', '-c',
        'mount --bind "$1" /etc/nginx && mount --bind "$2" /var/log/nginx '
        . '&& { [ -z "$5" ] || mount --bind "$5" /run; } '
        . '&& LD_PRELOAD="$3" exec "$4" -t 2>&1',
        'sh', $etc, "$d/log", $ENV{MI_NGINX_PRELOAD} // '',
        $MiTest::NGINX, $files{run} ? "$d/run" : '');

    open my $out, '-|', @cmd or die "unshare: $!";
    local $/;
    my $text = <$out> // '';
    close $out;

    $t->{logs_to_check}{"$d nginx -t"} = $text;

    return ($? >> 8, $text);
}


# The commands a oneshot unit runs (its ExecStart= lines, in order), with
# ${VAR} and $VAR expanded as systemd does from its Environment= lines,
# which env (a drop-in's Environment=) overrides: what systemd would run.
sub unit_exec_start {
    my ($unit, %env) = @_;
    my (%set, @cmds);

    for (split /\n/, MiTest::read_file($unit)) {
        next if /^\s*[#;]/;
        $set{$1} = $2 while /^Environment=(?:.*\s)?(\w+)=(\S*)/g;
        push @cmds, $1 if /^ExecStart=(.*)$/;
    }

    %set = (%set, %env);

    for my $cmd (@cmds) {
        die "unit_exec_start: quotes or prefixes not handled: $cmd\n"
            if $cmd =~ /["'\\]/ || $cmd =~ /^[-@+!:]/;
        $cmd =~ s{\$\{(\w+)\}|\$(\w+)}{$set{$1 // $2} // ''}ge;
        $cmd = [ split ' ', $cmd ];
    }

    return @cmds;
}

1;
