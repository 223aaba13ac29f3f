#!/usr/bin/perl
# Configuration checks: "nginx -t" fails, naming the directive and the path,
# for every misconfiguration of the signing directives.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use MiTest;

my $t = MiTest->new;
my $d = $t->dir;

my $secret = $t->new_secret;
my $good = $t->write_file('good.secret', "$secret\n", 0600);
my $loose = $t->write_file('loose.secret', "$secret\n", 0644);
my $empty = $t->write_file('empty.secret', '', 0600);
my $blank = $t->write_file('blank.secret', " \n\t\r\n", 0600);
my $large = $t->write_file('large.secret', 'k' x 5000, 0600);
mkdir "$d/dir.secret";

sub conf {
    my ($server, $location) = @_;
    return <<"EOF";
    server {
        listen 127.0.0.1:1;
        $server
        location / {
            $location
            proxy_pass http://127.0.0.1:1;
        }
    }
EOF
}

sub fails_with {
    my ($name, $conf, $re) = @_;
    my ($rc, $out) = $t->nginx_test_conf($conf);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, $re, "$name: message") or diag($out);
}

my ($rc, $out) = $t->nginx_test_conf(conf('',
    "mi_sign on; mi_access_key AK; mi_secret_key_file $good;"));
is($rc, 0, 'valid: nginx -t passes') or diag($out);
unlike($out, qr/mi_/, 'valid, mode 0600: no warning');

fails_with('no access key',
    conf('', "mi_sign on; mi_secret_key_file $good;"),
    qr/"mi_sign on" in \S+:\d+ has no "mi_access_key" in scope/);

fails_with('no secret file',
    conf('', 'mi_sign on; mi_access_key AK;'),
    qr/"mi_sign on" in \S+:\d+ has no "mi_secret_key_file" in scope/);

fails_with('keys only in a location, mi_sign on for the server',
    conf('mi_sign on;', "mi_access_key AK; mi_secret_key_file $good;"),
    qr/"mi_sign on" in \S+:\d+ has no "mi_access_key" in scope/);

fails_with('missing file',
    conf('', "mi_sign on; mi_access_key AK; mi_secret_key_file $d/nope;"),
    qr{"mi_secret_key_file": stat\(\) "\Q$d\E/nope" failed \(2: No such file or directory\) in \S+:\d+});

fails_with('a directory',
    conf('', "mi_sign on; mi_access_key AK; "
             . "mi_secret_key_file $d/dir.secret;"),
    qr{"mi_secret_key_file": "\Q$d\E/dir.secret" is not a regular file});

fails_with('empty file',
    conf('', "mi_sign on; mi_access_key AK; mi_secret_key_file $empty;"),
    qr{"mi_secret_key_file": "\Q$empty\E" is empty});

fails_with('whitespace only',
    conf('', "mi_sign on; mi_access_key AK; mi_secret_key_file $blank;"),
    qr{"mi_secret_key_file": "\Q$blank\E" is empty});

fails_with('too large',
    conf('', "mi_sign on; mi_access_key AK; mi_secret_key_file $large;"),
    qr{"mi_secret_key_file": "\Q$large\E" is larger than 4096 bytes});

fails_with('duplicate',
    conf('', "mi_secret_key_file $good; mi_secret_key_file $good;"),
    qr{"mi_secret_key_file" directive is duplicate});

fails_with('bad flag',
    conf('', 'mi_sign yes;'),
    qr{invalid value "yes" in "mi_sign" directive});

SKIP: {
    skip 'root reads any file: unreadable is tested as a directory', 2
        if $> == 0;
    my $unreadable = $t->write_file('unreadable.secret', "$secret\n", 0000);
    fails_with('unreadable',
        conf('', "mi_sign on; mi_access_key AK; "
                 . "mi_secret_key_file $unreadable;"),
        qr{"mi_secret_key_file": open\(\) "\Q$unreadable\E" failed \(13: Permission denied\)});
}

($rc, $out) = $t->nginx_test_conf(conf('',
    "mi_sign on; mi_access_key AK; mi_secret_key_file $loose;"));
is($rc, 0, 'mode 0644: nginx -t passes');
like($out, qr{\[warn\] .*"mi_secret_key_file": "\Q$loose\E" is accessible by group or others \(mode 0644\), use mode 0600},
     'mode 0644: warning');

# relative to the prefix (-p)
($rc, $out) = $t->nginx_test_conf(conf('',
    'mi_sign on; mi_access_key AK; mi_secret_key_file good.secret;'));
is($rc, 0, 'relative path: resolved against the prefix') or diag($out);

# mi_sign off needs nothing; inherited keys satisfy a location
($rc, $out) = $t->nginx_test_conf(conf('', 'mi_sign off;'));
is($rc, 0, 'mi_sign off: nothing required') or diag($out);

($rc, $out) = $t->nginx_test_conf(<<"EOF");
    mi_access_key AK;
    mi_secret_key_file $good;
    mi_sign on;
    server {
        listen 127.0.0.1:1;
        location / { proxy_pass http://127.0.0.1:1; }
    }
EOF
is($rc, 0, 'http-level keys and mi_sign inherited') or diag($out);

fails_with('empty access key',
    conf('', "mi_sign on; mi_access_key ''; mi_secret_key_file $good;"),
    qr{"mi_access_key" is empty in \S+:\d+});

fails_with('access key with a space',
    conf('', "mi_sign on; mi_access_key 'AK EY'; mi_secret_key_file $good;"),
    qr{"mi_access_key" has a character that cannot be sent in a header, at position 2});

fails_with('access key with a newline',
    conf('', "mi_sign on; mi_access_key \"AK\nX-Evil: 1\"; mi_secret_key_file $good;"),
    qr{"mi_access_key" has a character that cannot be sent in a header, at position 2});

# --- validation directives
fails_with('mi_param: unknown parameter',
    conf('', "mi_param workspace '^x\$';"),
    qr{"mi_param": unknown parameter "workspace", known: workspace_name, project_id, asset_id, index_id, scene_summary_id in \S+:\d+});

fails_with('mi_param: a bad pattern',
    conf('', "mi_param project_id '^([0-9]+\$';"),
    qr{"mi_param" "project_id": pcre2_compile\(\) failed: missing closing parenthesis in "\^\(\[0-9\]\+\$" in \S+:\d+});

fails_with('mi_param: duplicate',
    conf('', "mi_param asset_id '^[0-9]+\$'; mi_param asset_id '^[0-9]+\$';"),
    qr{"mi_param": "asset_id" is duplicate});

fails_with('mi_param: one argument',
    conf('', 'mi_param asset_id;'),
    qr{invalid number of arguments in "mi_param" directive});

fails_with('mi_max_scene_ids 0',
    conf('', 'mi_max_scene_ids 0;'),
    qr{"mi_max_scene_ids" must be between 1 and 4294967295, not "0" in \S+:\d+});

fails_with('mi_max_scene_ids too large',
    conf('', 'mi_max_scene_ids 4294967296;'),
    qr{"mi_max_scene_ids" must be between 1 and 4294967295, not "4294967296"});

fails_with('mi_max_scene_ids not a number',
    conf('', 'mi_max_scene_ids many;'),
    qr{"mi_max_scene_ids" directive invalid number});

fails_with('mi_validate: bad flag',
    conf('', 'mi_validate maybe;'),
    qr{invalid value "maybe" in "mi_validate" directive});

($rc, $out) = $t->nginx_test_conf(conf(
    "mi_param workspace_name '^[A-Za-z0-9_-]{1,100}\$'; mi_max_scene_ids 5;",
    "mi_validate off; mi_param scene_summary_id '^[0-9]+\$';"));
is($rc, 0, 'validation directives at server and location level')
    or diag($out);

$t->check_logs($good, $loose, $large);

done_testing;
