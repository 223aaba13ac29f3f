#!/usr/bin/perl
# deploy/kubernetes/: yamllint (strict), every object valid against the
# Kubernetes object schemas (npm's kubernetes-models), the ConfigMap exactly
# conf/, its nginx configuration through "nginx -t" in Debian's layout, the
# Deployment wired to it (mounts, the pod's nginx.conf, probes, Secret,
# Service), the nginx container's start script (the resolver from the pod's
# resolv.conf), the site's mi_health and mi_metrics answering, and the
# reload container's script, run as it is, reloading a test nginx when its
# credentials file changes.  (The pod's nginx.conf running as the pod runs
# it, the restricted profile and the other objects: 345-kubernetes-pod.t.)

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use MiConf;
use MiTest;

MiTest::debian_nginx_only();

my $root = $MiTest::ROOT;
my $k8s = "$root/deploy/kubernetes";
my $modules = "$root/build/node/node_modules";

plan skip_all => 'kubernetes-models is not installed: run make k8s-tools'
    unless -d "$modules/kubernetes-models";

my $t = MiTest->new;
my $d = $t->dir;
my @manifests = sort glob "$k8s/*.yaml";

# (exit code, stdout, stderr) of the validator on these files
sub validate {
    my (@files) = @_;
    local $ENV{NODE_PATH} = $modules;
    my $out = `node $k8s/tools/validate.js @files 2>$d/validate.err`;
    return ($? >> 8, $out, MiTest::read_file("$d/validate.err"));
}

my $out = `yamllint --strict $k8s 2>&1`;
is($? >> 8, 0, 'yamllint --strict: no error, no warning') or diag($out);

is(MiTest::read_file("$k8s/configmap.yaml"),
   `bash $root/scripts/k8s-configmap.sh`,
   'configmap.yaml is what make k8s-configmap writes from conf/');

my $version = MiTest::module_version();
my @tags = MiTest::read_file("$k8s/deployment.yaml")
           =~ m{^\s*image: \S+/mi-gateway:(\S+)$}mg;
ok(@tags && !grep({ $_ ne $version } @tags),
   "deployment.yaml: the images tagged $version, debian/changelog's "
   . '(make k8s-deployment)') or diag("tags: @tags");
is(MiTest::read_file("$k8s/deployment.yaml"),
   `bash $root/scripts/k8s-deployment.sh`,
   'deployment.yaml is what make k8s-deployment writes');

my ($rc, $json, $err) = validate(@manifests);
is($rc, 0, 'every object valid against the Kubernetes schemas') or diag($err);
my $report = eval { decode_json($json) } // { objects => [] };
is_deeply([sort map { "$_->{kind}/$_->{name}" } @{ $report->{objects} }],
          ['ConfigMap/mi-gateway-conf', 'ConfigMap/mi-gateway-nginx',
           'Deployment/mi-gateway', 'NetworkPolicy/mi-gateway',
           'PodDisruptionBudget/mi-gateway', 'Service/mi-gateway'],
          'the objects: the two ConfigMaps, Deployment, Service, '
          . 'NetworkPolicy, PodDisruptionBudget');

# the validator fails on what the schemas refuse
$t->write_file('bad.yaml', MiTest::read_file("$k8s/service.yaml")
                           =~ s/port: 8080/port: "eighty"/r, 0644);
($rc, undef, $err) = validate("$d/bad.yaml");
is($rc, 1, 'a Service with a port that is not a number: refused');
like($err, qr{Service/mi-gateway: .*port must be integer}, '... saying so');

# --- how the objects fit together
my %obj = map { ("$_->{kind}/$_->{name}" => $_->{object}) }
          @{ $report->{objects} };
my $dep = $obj{'Deployment/mi-gateway'} // {};
my $svc = $obj{'Service/mi-gateway'} // {};
my $data = $report->{configMaps}{'mi-gateway-conf'} // {};
my $pod = $dep->{spec}{template}{spec} // {};
my ($nginx, $reload) = @{ $pod->{containers} // [] };
my %volumes = map { ($_->{name} => $_) } @{ $pod->{volumes} // [] };

my ($cred_path) = ($data->{'mi-credentials.conf'} // '')
    =~ /^mi_credentials_file (\S+);$/m;
$cred_path //= '';

# where each container sees which file: { mount path/file => source }
sub files_of {
    my ($c) = @_;
    my %f;
    for my $m (@{ $c->{volumeMounts} // [] }) {
        my $v = $volumes{ $m->{name} } or next;
        my $src = $v->{configMap} ? "configMap $v->{configMap}{name}"
                : $v->{secret} ? "secret $v->{secret}{secretName}" : next;
        my $items = ($v->{configMap} // $v->{secret})->{items} // [];
        if (defined $m->{subPath}) {
            # one file of the volume, mounted as mountPath itself
            $f{ $m->{mountPath} } = "$src:$_->{key}"
                for grep { $_->{path} eq $m->{subPath} } @$items;
            next;
        }
        $f{"$m->{mountPath}/$_->{path}"} = "$src:$_->{key}" for @$items;
    }
    return \%f;
}

my %want = (
    '/etc/nginx/nginx.conf' => 'configMap mi-gateway-nginx:nginx.conf',
    '/etc/nginx/sites-enabled/mi-gateway.conf'
        => 'configMap mi-gateway-conf:mi-gateway.conf',
    '/etc/nginx/conf.d/mi-credentials.conf'
        => 'configMap mi-gateway-conf:mi-credentials.conf',
    $cred_path => 'secret mi-credentials:credentials',
);
is_deeply(files_of($nginx), \%want,
          "nginx: the pod's nginx.conf, the site in sites-enabled/, the "
          . "credentials conf in conf.d/, the Secret at $cred_path");
is_deeply(files_of($reload), \%want,
          'the reload container reads the same configuration');
is($volumes{credentials}{secret}{defaultMode}, 0440,
   'the Secret mounted with mode 0440, for the group fsGroup');
ok($pod->{shareProcessNamespace}, 'one process namespace: it can signal nginx');

my ($listen) = ($data->{'mi-gateway.conf'} // '') =~ /^\s*listen (\d+);$/m;
my ($http) = grep { $_->{name} eq 'http' } @{ $nginx->{ports} // [] };
is($http->{containerPort}, $listen, "container port $listen: the site's");
is($svc->{spec}{ports}[0]{targetPort}, 'http', 'the Service targets it');
is_deeply($svc->{spec}{selector}, $dep->{spec}{template}{metadata}{labels},
          "the Service selects the Deployment's pods");

# the probes: on a port of their own, answered by the pod's nginx.conf
# itself (345-kubernetes-pod.t runs it), never by the site's allow list
my $pod_conf = ($report->{configMaps}{'mi-gateway-nginx'} // {})
               ->{'nginx.conf'} // '';
my ($probes) = grep { $_->{name} eq 'probes' } @{ $nginx->{ports} // [] };
for my $kind (qw(readinessProbe livenessProbe)) {
    my $p = $nginx->{$kind}{httpGet} // {};
    is($p->{port}, 'probes', "$kind on the probes port");
    like($pod_conf, qr/^\s*location\ =\ \Q$p->{path}\E\ \{\n
                       (?:\s*default_type\ \S+;\n)?\s*return\ 200\ /mx,
         "$kind $p->{path}: answered by nginx itself (return 200)");
}
like($pod_conf, qr/^\s*listen \Q$probes->{containerPort}\E;$/m,
     "the probes port, $probes->{containerPort}: the pod's probe server");
unlike($data->{'mi-gateway.conf'} // '',
       qr/listen \Q$probes->{containerPort}\E/, '... not the site\'s');

# --- the resolver: the nginx container writes it from the pod's
# /etc/resolv.conf at start, and the ConfigMap's site includes it
my %start_env = map { ($_->{name} => $_->{value}) } @{ $nginx->{env} // [] };
is_deeply(\%start_env, { RESOLV_CONF => '/etc/resolv.conf',
                         RESOLVER_CONF => '/run/mi-gateway/resolver.conf' },
          "nginx's start reads /etc/resolv.conf, writes "
          . '/run/mi-gateway/resolver.conf');
like($data->{'mi-gateway.conf'} // '',
     qr{^\s*include \Q$start_env{RESOLVER_CONF}\E;$}m,
     '... which the site includes');
unlike($data->{'mi-gateway.conf'} // '', qr/^\s*resolver\s/m,
       '... and no resolver line of its own (127.0.0.53 is no pod\'s)');
ok(grep({ $_->{mountPath} eq '/run' && $volumes{ $_->{name} }{emptyDir} }
        @{ $nginx->{volumeMounts} // [] }),
   '... in /run, an emptyDir the reload container mounts too');

# The start script, run as it is, with "nginx" a stub that says how it
# was started: (exit code, stderr, the resolver written, nginx's args).
mkdir "$d/start-bin";
$t->write_file("$d/start-bin/nginx",
               "#!/bin/sh\nprintf '%s\\n' \"\$*\" > '$d/started'\n", 0755);

sub start_nginx_container {
    my ($resolv) = @_;
    my $case = ++$t->{seq};
    $t->write_file("resolv.conf.$case", $resolv, 0644);
    unlink "$d/started";
    local $ENV{PATH} = "$d/start-bin:$ENV{PATH}";
    local $ENV{RESOLV_CONF} = "$d/resolv.conf.$case";
    local $ENV{RESOLVER_CONF} = "$d/run-$case/mi-gateway/resolver.conf";
    system('sh', '-c', '"$@" 2>"$0"', "$d/start.err.$case",
           @{ $nginx->{command} // [] }, @{ $nginx->{args} // [] });
    return ($? >> 8, MiTest::read_file("$d/start.err.$case"),
            MiTest::read_file($ENV{RESOLVER_CONF}),
            MiTest::read_file("$d/started"));
}

my ($start_rc, $start_err, $resolver, $started) = start_nginx_container(
    "# kubelet\nsearch default.svc.cluster.local svc.cluster.local\n"
    . "nameserver 10.96.0.10\nnameserver 10.96.0.11\noptions ndots:5\n");
is($start_rc, 0, "a pod's resolv.conf: the container starts") or diag($start_err);
is($resolver, "resolver 10.96.0.10 valid=30s ipv6=off;\n",
   '... the first nameserver, the cluster DNS, as the resolver');
is($started, "-g daemon off;\n", '... then nginx, in the foreground');

my (undef, undef, $resolver6) = start_nginx_container(
    "nameserver fd00:10:96::a\n");
is($resolver6, "resolver [fd00:10:96::a] valid=30s ipv6=off;\n",
   'an IPv6 nameserver: in brackets, as nginx reads an address');

($start_rc, $start_err, my $none, $started) = start_nginx_container(
    "search cluster.local\n# nameserver 10.0.0.1\n");
isnt($start_rc, 0, 'no nameserver: the container stops');
like($start_err, qr/no nameserver in \S+resolv\.conf/, '... saying why');
is($none . $started, '', '... without a resolver and without nginx');

# --- the ConfigMap's nginx configuration
my $secret = $t->new_secret;
my $cred_text = MiConf::cli_file(DEFAULT => ['AK_K8S', $secret]);

SKIP: {
    skip 'nginx -t in a copy of /etc/nginx needs root and unshare', 4
        unless MiConf::can_unshare();

    ($rc, $out) = MiConf::debian_nginx_t($t,
        site => $data->{'mi-gateway.conf'},
        credentials_conf => $data->{'mi-credentials.conf'},
        credentials => $cred_text,
        run => { 'mi-gateway/resolver.conf' => $resolver });
    is($rc, 0, "the ConfigMap in Debian's layout, with the resolver the "
       . 'container wrote: nginx -t passes') or diag($out);
    unlike($out, qr/\[(warn|emerg)\]/, '... without a warning') or diag($out);

    ($rc, $out) = MiConf::debian_nginx_t($t,
        site => $data->{'mi-gateway.conf'},
        credentials_conf => $data->{'mi-credentials.conf'},
        credentials => $cred_text, run => {});
    isnt($rc, 0, 'without it, nginx -t fails: the site needs the include');
    like($out, qr{resolver\.conf.*No such file}, '... saying which file');
}

# --- the probe's path and the reload container, against a test nginx
my $new = $t->new_secret;
my $cred = $t->write_file('credentials', $cred_text);
my $mock = $t->start_mock(AK_K8S => $secret, AK_NEW => $new);
my $dns = $t->start_dns(ttl => 30);
my $ngx = $t->start_nginx(
    MiConf::adapt_credentials($data->{'mi-credentials.conf'}, $cred) . "\n"
    . MiConf::adapt_site($data->{'mi-gateway.conf'},
                         listen => '127.0.0.1:%%PORT%%',
                         dns => $dns->{port}, api_port => $mock->{port},
                         access_log => "$d/access.log"));

my $res = MiTest::http($ngx->{port}, 'GET', '/health');
is($res->{status}, 200, "the site's GET /health (mi_health): 200");
is(MiTest::json_body($res)->{status}, 'ok', '... the key loaded: ok');
$res = MiTest::http($ngx->{port}, 'GET', '/metrics');
is($res->{status}, 200, "the site's GET /metrics (mi_metrics): 200");

sub signed_as { $t->signed_as($ngx->{port}, $mock, @_) }

my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678/scene-summary';
is(signed_as($P), 'verified AK_K8S', 'signed with the mounted credentials');

# "nginx" on the containers' PATH: the nginx under test, with the test's
# configuration where a container relies on the image's /etc/nginx
mkdir "$d/bin";
$t->write_file("$d/bin/nginx", "#!/bin/sh\nLD_PRELOAD='"
               . ($ENV{MI_NGINX_PRELOAD} // '') . "' exec $MiTest::NGINX"
               . ' ${TEST_CONF:+-c "$TEST_CONF"} "$@"' . "\n", 0755);

my %env = map { ($_->{name} => $_->{value}) } @{ $reload->{env} // [] };
is_deeply([sort keys %env], [qw(CREDENTIALS INTERVAL NGINX_CONF)],
          'the reload script is set by CREDENTIALS, NGINX_CONF, INTERVAL');
is($env{CREDENTIALS}, $cred_path, '... watching the mounted credentials');

{
    local $ENV{PATH} = "$d/bin:$ENV{PATH}";
    local $ENV{CREDENTIALS} = $cred;
    local $ENV{NGINX_CONF} = $ngx->{conf};
    local $ENV{INTERVAL} = '0.1';
    $t->spawn("$d/reload.log", @{ $reload->{command} },
              @{ $reload->{args} });
}

sleep 0.5;
is(signed_as($P), 'verified AK_K8S', 'unchanged file: no reload');

$t->write_file($cred, MiConf::cli_file(DEFAULT => ['AK_NEW', $new]));
my $deadline = time + 10;
my $got = '';
while (time < $deadline) {
    $got = signed_as($P);
    last if $got eq 'verified AK_NEW';
    sleep 0.1;
}
is($got, 'verified AK_NEW',
   'the file changed: the reload container reloaded nginx, new keys sign');
like(MiTest::read_file("$d/reload.log"),
     qr/^credentials changed: reloading nginx$/m, '... and said so');

# the preStop hook: nginx quits gracefully, and the hook waits for it
my $hook = join "\0", @{ $nginx->{lifecycle}{preStop}{exec}{command} // [] };
my $pid_file = "$d/" . ($ngx->{conf} =~ m{/([^/]+)\.conf$})[0] . '/nginx.pid';
$hook = MiConf::replace_once($hook, '/run/nginx.pid', $pid_file);
ok(-e $pid_file, 'nginx runs, with its pid file');
{
    local $ENV{PATH} = "$d/bin:$ENV{PATH}";
    local $ENV{TEST_CONF} = $ngx->{conf};
    my $start = time;
    system('sh', '-c', '"$@" >"$0" 2>&1', "$d/prestop.log",
           split /\0/, $hook);
    is($? >> 8, 0, 'preStop: the hook succeeds');
    # the master removes its pid file just before it exits: reaping it
    # may take a moment more (longer under ASan)
    ok(!-e $pid_file
       && MiTest::poll_until(5, sub {
              waitpid($ngx->{pid}, POSIX::WNOHANG()) == $ngx->{pid} }),
       'preStop: it returns once nginx has exited');
    cmp_ok(time - $start, '<', 15, 'preStop: well within the grace period');
}
like(MiTest::read_file($ngx->{error_log}), qr/gracefully shutting down/,
     'preStop: nginx stopped gracefully ("quit"), not terminated');

$t->stop_all;
$t->check_logs($cred);

done_testing;
