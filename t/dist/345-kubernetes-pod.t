#!/usr/bin/perl
# deploy/: production-grade, as far as a machine without a cluster or a
# container engine can tell.
#
# The manifests (deploy/kubernetes/, hpa/): valid against the schemas;
# kustomization.yaml lists every object file and renders them (kubectl
# kustomize, where installed); the pods meet the "restricted" Pod
# Security Standard; nginx writes only to emptyDir volumes; 2 replicas or
# more, spread over nodes and zones, a PodDisruptionBudget, the optional
# HorizontalPodAutoscaler on CPU; the NetworkPolicy lets in only port 8080
# from labelled clients and the monitoring namespace, and out only DNS,
# 443 and the metadata service; worker_processes = the CPU limit; the
# Dockerfile pinned, non-root, the changelog's package, no compiler.
#
# Then the pod itself, on this machine: the Deployment's start script and
# the pod's nginx.conf, as the image's user (uid 10001), with a read-only
# root filesystem and only the emptyDir paths writable (a mount namespace
# of its own), the image's log links, the ConfigMap's site moved to test
# ports: it signs a request through to the mock; the reload container,
# run the same way (without /var/lib/nginx), reloads it when the Secret
# changes; the probes answer from an address the site's allow list
# refuses; a key the API rejects makes /health degraded but not the
# probes.  The alert rules through promtool,
# and every metric name of the rules and of the Grafana dashboard
# exported by that pod's /metrics; promtool's unit tests of the rules.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use IO::Socket::INET;
use JSON::PP;
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

# --- the objects, through the schema validator
my @files = (sort(grep { !m{/kustomization\.yaml$} } glob "$k8s/*.yaml"),
             "$k8s/hpa/hpa.yaml");
my $json = do {
    local $ENV{NODE_PATH} = $modules;
    `node $k8s/tools/validate.js @files 2>$d/validate.err`;
};
is($? >> 8, 0, 'every object valid against the Kubernetes schemas')
    or diag(MiTest::read_file("$d/validate.err"));
my $report = eval { decode_json($json) } // { objects => [] };
my %obj = map { ("$_->{kind}/$_->{name}" => $_->{object}) }
          @{ $report->{objects} };
my $dep = $obj{'Deployment/mi-gateway'} // {};
my $pod = $dep->{spec}{template}{spec} // {};
my $labels = $dep->{spec}{template}{metadata}{labels} // {};
my %containers = map { ($_->{name} => $_) }
                 @{ $pod->{containers} // [] }, @{ $pod->{initContainers} // [] };
my $nginx = $containers{nginx} // {};
my $nginx_conf = ($report->{configMaps}{'mi-gateway-nginx'} // {})
                 ->{'nginx.conf'} // '';
my $cm = $report->{configMaps}{'mi-gateway-conf'} // {};

# --- kustomize
sub kustomize_list {
    my ($file, $key) = @_;
    my $text = MiTest::read_file($file) // '';
    my ($block) = $text =~ /^$key:\n((?:  - .*\n)+)/m;
    return [sort(($block // '') =~ /^  - (\S+)$/mg)];
}

is_deeply(kustomize_list("$k8s/kustomization.yaml", 'resources'),
          [sort map { m{([^/]+)$} } grep { !m{/hpa/} } @files],
          'kustomization.yaml: every object file of deploy/kubernetes/');
is_deeply(kustomize_list("$k8s/hpa/kustomization.yaml", 'resources'),
          ['hpa.yaml'], 'hpa/: a component of hpa.yaml');

SKIP: {
    skip 'kubectl is not installed: kustomize not run', 3
        unless system('command -v kubectl >/dev/null 2>&1') == 0;

    my $out = `kubectl kustomize $k8s 2>&1`;
    is($? >> 8, 0, 'kubectl kustomize deploy/kubernetes') or diag($out);
    my @rendered;
    push @rendered, "$1/$2"
        while $out =~ /^kind: (\S+)\nmetadata:\n(?:  .*\n)*?  name: (\S+)$/mg;
    is_deeply([sort @rendered],
              [sort grep { !/^HorizontalPodAutoscaler/ } keys %obj],
              '... renders every object');

    system('cp', '-r', $k8s, "$d/kustomize") == 0 or die 'cp';
    my $k = MiTest::read_file("$d/kustomize/kustomization.yaml");
    $k = MiConf::replace_once($k, "# components:\n#   - hpa\n",
                              "components:\n  - hpa\n");
    $t->write_file("$d/kustomize/kustomization.yaml", $k, 0644);
    $out = `kubectl kustomize $d/kustomize 2>&1`;
    like($out, qr/^kind: HorizontalPodAutoscaler$/m,
         '... and the HorizontalPodAutoscaler with components: [hpa]');
}

# --- the "restricted" Pod Security Standard (v1.25 and later), on the
# pod template
my $psc = $pod->{securityContext} // {};
ok($psc->{runAsNonRoot}, 'pod: runAsNonRoot');
cmp_ok($psc->{runAsUser} // 0, '>', 0, 'pod: runAsUser not 0');
ok(!$pod->{$_}, "pod: no $_") for qw(hostNetwork hostPID hostIPC);
my %allowed_volume = map { ($_ => 1) } qw(configMap csi downwardAPI
    emptyDir ephemeral persistentVolumeClaim projected secret);
my @bad_volumes = grep { my $v = $_;
                         grep { !$allowed_volume{$_} && $_ ne 'name' } keys %$v }
                  @{ $pod->{volumes} // [] };
is_deeply(\@bad_volumes, [], 'pod: only the volume types the profile allows');

for my $c (values %containers) {
    my $sc = $c->{securityContext} // {};
    my $n = $c->{name};
    is($sc->{allowPrivilegeEscalation}, JSON::PP::false,
       "$n: allowPrivilegeEscalation false");
    ok(grep({ $_ eq 'ALL' } @{ $sc->{capabilities}{drop} // [] })
       && !grep({ $_ ne 'NET_BIND_SERVICE' } @{ $sc->{capabilities}{add} // [] }),
       "$n: capabilities drop ALL, add none");
    ok(!$sc->{privileged}, "$n: not privileged");
    ok(($sc->{runAsNonRoot} // $psc->{runAsNonRoot})
       && ($sc->{runAsUser} // $psc->{runAsUser} // 1) != 0,
       "$n: runs as non-root");
    is(($sc->{seccompProfile} // $psc->{seccompProfile} // {})->{type},
       'RuntimeDefault', "$n: seccompProfile RuntimeDefault");
    ok($sc->{readOnlyRootFilesystem}, "$n: readOnlyRootFilesystem");
    ok(!grep({ $_->{hostPort} } @{ $c->{ports} // [] }), "$n: no hostPort");
}

# --- where nginx writes: exactly the emptyDir volumes
my %empty = map { ($_->{name} => 1) } grep { $_->{emptyDir} }
            @{ $pod->{volumes} // [] };
my @empty_mounts = sort map { $_->{mountPath} }
                   grep { $empty{ $_->{name} } } @{ $nginx->{volumeMounts} // [] };
is_deeply(\@empty_mounts, ['/run', '/var/lib/nginx'],
          'nginx: emptyDir at /run and /var/lib/nginx, nothing else writable');
my @written = ($nginx_conf =~ /^\s*(?:pid|\w+_temp_path)\s+(\S+);/mg);
my %env = map { ($_->{name} => $_->{value}) } @{ $nginx->{env} // [] };
push @written, $env{RESOLVER_CONF} // 'no RESOLVER_CONF';
is_deeply([grep { my $p = $_; !grep { index($p, "$_/") == 0 } @empty_mounts }
           @written], [],
          'every path nginx.conf and the start script write is in one: '
          . join(' ', @written));
is(scalar(@written), 7, '... the pid, 5 temporary paths, the resolver line');
ok(grep({ $_->{mountPath} eq '/run' && $empty{ $_->{name} } }
        @{ ($containers{'reload-on-credentials-change'} // {})->{volumeMounts}
           // [] }),
   'the reload container shares /run (the pid file)');

# --- replicas, spreading, disruption, autoscaling
cmp_ok($dep->{spec}{replicas} // 0, '>=', 2, 'at least 2 replicas');
my %spread = map { ($_->{topologyKey} => $_) }
             @{ $pod->{topologySpreadConstraints} // [] };
for my $key ('kubernetes.io/hostname', 'topology.kubernetes.io/zone') {
    is_deeply(($spread{$key} // {})->{labelSelector}{matchLabels}, $labels,
              "spread over $key, the pods selected by their labels");
}
is($spread{'kubernetes.io/hostname'}{whenUnsatisfiable}, 'DoNotSchedule',
   '... never two on one node');
my $pdb = $obj{'PodDisruptionBudget/mi-gateway'} // {};
is_deeply($pdb->{spec}{selector}{matchLabels}, $labels,
          'PodDisruptionBudget: the pods');
is($pdb->{spec}{maxUnavailable}, 1, '... one evicted at a time');
my $hpa = $obj{'HorizontalPodAutoscaler/mi-gateway'} // {};
is("$hpa->{spec}{scaleTargetRef}{kind}/$hpa->{spec}{scaleTargetRef}{name}",
   'Deployment/mi-gateway', 'HorizontalPodAutoscaler: the Deployment');
cmp_ok($hpa->{spec}{minReplicas} // 0, '>=', 2, '... never under 2');
is(($hpa->{spec}{metrics}[0] // {})->{resource}{name}, 'cpu', '... on CPU');
ok($nginx->{resources}{requests}{cpu}, '... which the nginx container requests');

# --- the NetworkPolicy
my $np = $obj{'NetworkPolicy/mi-gateway'} // {};
is_deeply($np->{spec}{podSelector}{matchLabels}, $labels,
          'NetworkPolicy: the pods');
is_deeply([sort @{ $np->{spec}{policyTypes} // [] }], ['Egress', 'Ingress'],
          '... in and out');
my @in = @{ $np->{spec}{ingress} // [] };
is_deeply([map { [map { "$_->{protocol}/$_->{port}" } @{ $_->{ports} // [] }] }
           @in], [map { ['TCP/8080'] } @in],
          'ingress: port 8080 only, in every rule');
my @peers = map { @{ $_->{from} // [] } } @in;
ok(@in && !grep({ !$_->{from} } @in)
   && !grep({ !%{ ($_->{podSelector} // {})->{matchLabels} // {} }
              && !%{ ($_->{namespaceSelector} // {})->{matchLabels} // {} } }
            @peers),
   '... from labelled pods or namespaces only, never from anywhere');
ok(grep({ ($_->{namespaceSelector}{matchLabels} // {})
          ->{'kubernetes.io/metadata.name'} // '' eq 'monitoring' } @peers),
   '... the monitoring namespace among them (/metrics)');
my @out;
for my $rule (@{ $np->{spec}{egress} // [] }) {
    my $to = join ',', map { $_->{ipBlock} ? $_->{ipBlock}{cidr}
                             : 'pods ' . join('', %{ $_->{podSelector}{matchLabels} // {} }) }
             @{ $rule->{to} // [] };
    push @out, map { "$_->{protocol}/$_->{port} " . ($to || 'any') }
               @{ $rule->{ports} // [] };
}
is_deeply([sort @out],
          [sort 'TCP/443 any', 'TCP/53 pods k8s-appkube-dns',
           'UDP/53 pods k8s-appkube-dns', 'TCP/80 169.254.169.254/32'],
          'egress: DNS, 443, and the metadata service on 80, nothing else')
    or diag(explain(\@out));

# --- worker_processes and the CPU limit, side by side
my ($workers) = $nginx_conf =~ /^\s*worker_processes (\d+);/m;
is($workers, $nginx->{resources}{limits}{cpu},
   "worker_processes $workers = the nginx container's CPU limit");

# --- the image
my $docker = MiTest::read_file("$root/deploy/image/Dockerfile") // '';
like($docker, qr/^FROM debian:12\.\d+-slim$/m,
     'Dockerfile: Debian 12, a point release by tag');
my $deb_version = `cd $root && dpkg-parsechangelog -S Version`;
chomp $deb_version;
like($docker, qr/^ARG DEB_VERSION=\Q$deb_version\E$/m,
     "... the package of debian/changelog, $deb_version");
my ($uid, $gid) = $docker =~ /^USER (\d+):(\d+)$/m;
ok($uid && $uid == ($psc->{runAsUser} // -1)
   && $gid == ($psc->{runAsGroup} // -1),
   "... USER $uid:$gid, numeric: the Deployment's runAsUser and runAsGroup");
like($docker, qr/^EXPOSE 8080\b/m, '... listens on 8080');
unlike(join(' ', $docker =~ /^RUN (.*?)(?<!\\)$/msg),
       qr/\b(gcc|g\+\+|clang|cc|make|build-essential|dpkg-dev|nginx-dev)\b/,
       '... installs no compiler');
my %log_link;    # path => /dev/stdout or /dev/stderr
$log_link{$2} = $1
    while $docker =~ m{ln -sf (/dev/std(?:out|err)) (/var/log/nginx/\S+)}g;
my @log_paths = (($cm->{'mi-gateway.conf'} // '')
                 =~ m{^\s*(?:access|error)_log (/var/log/nginx/\S+)}mg,
                 '/var/log/nginx/error.log');
is_deeply([grep { !$log_link{$_} } @log_paths], [],
          '... every log path of the site to stdout or stderr: '
          . join(' ', @log_paths));

# --- promtool
my $rules = "$root/deploy/prometheus/mi-gateway-rules.yaml";
my $out = `promtool check rules $rules 2>&1`;
is($? >> 8, 0, 'promtool check rules: the alert rules') or diag($out);
like($out, qr/SUCCESS: \d+ rules found/, '... found');
my @rule_tests = qw(mi-gateway-rules.test.yaml
                    mi-gateway-rules-key-age.test.yaml);
$out = `cd $root/deploy/prometheus && promtool test rules @rule_tests 2>&1`;
is($? >> 8, 0, 'promtool test rules: MiKeyRejected, MiUpstreamErrors and '
   . 'MiKeyOld (across replicas) fire when they should, not before')
    or diag($out);
$out = `yamllint --strict $root/deploy/prometheus 2>&1`;
is($? >> 8, 0, '... yamllint --strict') or diag($out);
my $rules_text = MiTest::read_file($rules);
like($rules_text, qr/^\s*expr: nginx_mi_ready == 0$/m,
     'an alert on the readiness gauge (the key rejected)');
like($rules_text, qr/nginx_mi_upstream_denied_total/, '... on 401/403');
like($rules_text, qr/status=~"5xx\|error"/, '... on upstream errors');
like($rules_text, qr/histogram_quantile\(0\.99/, '... on latency');
like($rules_text, qr/nginx_mi_key_info/, '... on the key\'s age');

my $dash = eval { decode_json(MiTest::read_file(
    "$root/deploy/grafana/mi-gateway-dashboard.json")) } // {};
my @exprs = map { $_->{expr} } map { @{ $_->{targets} // [] } }
            @{ $dash->{panels} // [] };
ok(@exprs >= 8, 'the Grafana dashboard: ' . scalar(@exprs) . ' queries');
my %dash_text = map { ($_ => 1) } @exprs;
for my $want (qr/sum by \(route, outcome\) \(rate\(nginx_mi_requests_total/,
              qr/sum by \(code\) \(rate\(nginx_mi_rejections_total/,
              qr/histogram_quantile\(0\.5,/, qr/histogram_quantile\(0\.99,/,
              qr/nginx_mi_key_info/, qr/time\(\) - nginx_mi_key_loaded/) {
    ok(grep({ $_ =~ $want } @exprs), "... a query like $want");
}

# --- the pod, on this machine
SKIP: {
    skip 'the pod needs root, unshare and setpriv', 17
        unless MiConf::can_unshare()
               && system('command -v setpriv >/dev/null 2>&1') == 0;
    skip 'the pod runs Debian\'s nginx without a sanitizer', 17
        if $ENV{MI_NGINX_PRELOAD};

    my $p = "$d/pod";
    mkdir $p;
    # what the image holds: Debian's /etc/nginx, without the default site
    system('cp', '-a', '/etc/nginx', "$p/etc") == 0 or die 'cp /etc/nginx';
    unlink glob("$p/etc/sites-enabled/* $p/etc/conf.d/*");
    mkdir "$p/etc/mi";

    my $secret = $t->new_secret;
    my $secret2 = $t->new_secret;
    my $mock = $t->start_mock(AK_POD => $secret, AK_POD2 => $secret2);
    my $dns = $t->start_dns(ttl => 30);
    my ($site_port, $probe_port) = (MiTest::free_port(), MiTest::free_port());

    # the ConfigMaps as they are, but for the ports and the API's address
    MiConf::write_text("$p/etc/nginx.conf",
        MiConf::replace_once($nginx_conf, 'listen 8081;',
                             "listen 127.0.0.1:$probe_port;"));
    MiConf::write_text("$p/etc/sites-enabled/mi-gateway.conf",
        MiConf::adapt_site($cm->{'mi-gateway.conf'},
            listen => "127.0.0.1:$site_port", dns => $dns->{port},
            api_port => $mock->{port},
            access_log => '/var/log/nginx/mi-gateway.access.log',
            error_log => '/var/log/nginx/mi-gateway.error.log'));
    MiConf::write_text("$p/etc/conf.d/mi-credentials.conf",
                       $cm->{'mi-credentials.conf'});

    # the Secret: 0440, the group fsGroup
    mkdir "$p/mi";
    MiConf::write_text("$p/mi/credentials",
        MiConf::cli_file(DEFAULT => ['AK_POD', $secret]), 0440);
    chown 0, $psc->{fsGroup}, "$p/mi/credentials";

    # the image's log links, as the Dockerfile makes them
    mkdir "$p/log";
    symlink $log_link{$_}, "$p/log/" . (m{([^/]+)$})[0] for keys %log_link;

    # the module where the package puts it
    mkdir "$p/modules";
    system('cp', $MiTest::MODULE, "$p/modules/ngx_http_mi_module.so") == 0
        or die 'cp module';

    # the emptyDir volumes: world-writable, as the kubelet makes them
    for (qw(run temp)) { mkdir "$p/$_"; chmod 0777, "$p/$_"; }
    MiConf::write_text("$p/resolv.conf", "nameserver 10.96.0.10\n");

    my $ns = <<'EOF';
set -e
p=$1; shift
mount --bind "$p/etc" /etc/nginx
mount --bind "$p/mi" /etc/nginx/mi
mount --bind "$p/log" /var/log/nginx
mount --bind "$p/modules" /usr/lib/nginx/modules
mount --bind "$p/run" /run
[ -n "${NO_TEMP:-}" ] || mount --bind "$p/temp" /var/lib/nginx
mount -o bind,remount,ro /
for m in /etc/nginx /etc/nginx/mi /var/log/nginx /usr/lib/nginx/modules; do
    mount -o bind,remount,ro "$m"
done
exec setpriv --reuid="$UID_" --regid="$GID_" --clear-groups \
    --inh-caps=-all --bounding-set=-all --no-new-privs \
    sh -c '("$@") 2>&1 | cat' sh "$@"
EOF
    {
        local $ENV{UID_} = $psc->{runAsUser};
        local $ENV{GID_} = $psc->{fsGroup};
        local $ENV{RESOLV_CONF} = "$p/resolv.conf";
        local $ENV{RESOLVER_CONF} = $env{RESOLVER_CONF};
        local $ENV{LD_PRELOAD} = '';
        $t->spawn("$d/pod.log", 'unshare', '--mount', '--propagation',
                  'private', 'sh', '-c', $ns, 'sh', $p,
                  @{ $nginx->{command} // [] }, @{ $nginx->{args} // [] });
    }
    MiTest::wait_port($site_port, 'the pod\'s nginx');
    MiTest::wait_port($probe_port, 'the pod\'s probe server');

    my $log = sub { MiTest::read_file("$d/pod.log") // '' };
    ok(-s "$p/run/nginx.pid", 'nginx runs, its pid file in the /run emptyDir');
    my @owners = map { (stat)[4] } "$p/run/nginx.pid",
                 glob("$p/temp/*"), "$p/run/mi-gateway/resolver.conf";
    is_deeply([grep { $_ != $psc->{runAsUser} } @owners], [],
              "... written by uid $psc->{runAsUser} alone, with the "
              . 'temporary paths and the resolver line');
    ok(-d "$p/temp/body" && -d "$p/temp/proxy",
       '... the temporary paths in the /var/lib/nginx emptyDir');

    my $P = '/api/v1/workspaces/my-ws/projects/1234/assets/5678';
    is($t->signed_as($site_port, $mock, "$P/scene-summary/status"),
       'verified AK_POD', 'a signed request through to the mock');
    ok(MiTest::poll_until(5, sub { $log->() =~
           /\[notice\] .*mi: access key "AK_POD", secret fingerprint [0-9a-f]{8}/ }),
       'the container\'s log: the key\'s fingerprint, at notice');
    ok(MiTest::poll_until(5, sub { $log->() =~ /"route":"asset\.status"/ }),
       '... and the JSON access log, on stdout');

    # The reload container as the pod runs it: as uid 10001, its root
    # read-only and no /var/lib/nginx volume, it reloads nginx when the
    # Secret changes.
    my $reload = $containers{'reload-on-credentials-change'} // {};
    my %renv = map { ($_->{name} => $_->{value}) } @{ $reload->{env} // [] };
    my $rpid;
    {
        local $ENV{UID_} = $psc->{runAsUser};
        local $ENV{GID_} = $psc->{fsGroup};
        local $ENV{NO_TEMP} = 1;
        local @ENV{keys %renv} = values %renv;
        local $ENV{INTERVAL} = '0.2';
        local $ENV{LD_PRELOAD} = '';
        $rpid = $t->spawn("$d/reload.log", 'unshare', '--mount',
                          '--propagation', 'private', 'sh', '-c', $ns, 'sh',
                          $p, @{ $reload->{command} // [] },
                          @{ $reload->{args} // [] });
    }
    # its loop has begun (the file's first checksum taken) once it sleeps
    my $sleeping = sub {
        my @todo = ($rpid);
        while (my $pid = shift @todo) {
            return 1 if (MiTest::read_file("/proc/$pid/comm") // '')
                        eq "sleep\n";
            push @todo, MiTest::children_of($pid);
        }
        return 0;
    };
    ok(MiTest::poll_until(10, $sleeping), 'the reload container runs');
    MiConf::write_text("$p/mi/credentials",
        MiConf::cli_file(DEFAULT => ['AK_POD2', $secret2]), 0440);
    chown 0, $psc->{fsGroup}, "$p/mi/credentials";
    ok(MiTest::poll_until(10, sub {
           $t->signed_as($site_port, $mock, "$P/scene-summary/status")
           eq 'verified AK_POD2' }),
       'the Secret changed: the reload container reloaded nginx, the new '
       . 'key signs') or diag(MiTest::read_file("$d/reload.log"));
    my @warn = $log->() =~ /\[(?:warn|emerg|alert|crit)\] (.*)/g;
    is_deeply([grep { !/is accessible by group or others \(mode 0440\)/ }
               @warn], [],
              '... no other warning than the Secret\'s mode 0440')
        or diag(explain(\@warn));

    # from an address the site's allow list refuses: 127.0.0.2
    my $from_outside = sub {
        my ($port, $path) = @_;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      LocalAddr => '127.0.0.2', Timeout => 10)
            or return { status => 0 };
        print {$s} "GET $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        my $buf = '';
        my $res = MiTest::parse_response($s, \$buf);
        close $s;
        return $res;
    };
    for my $kind (qw(readinessProbe livenessProbe)) {
        my $path = $nginx->{$kind}{httpGet}{path};
        is($from_outside->($probe_port, $path)->{status}, 200,
           "$kind $path from 127.0.0.2: 200");
    }
    is($from_outside->($site_port, '/health')->{status}, 403,
       '... where the site refuses 127.0.0.2 (403)');

    # the API rejects the key: /health degraded, the probes still 200
    for (1 .. 3) {
        MiTest::http($site_port, 'GET', "$P/scene-summary/status",
                     headers => [['X-Mock', 'status 401 200']]);
    }
    # (counted when nginx logs each request, just after it answered)
    my $health = MiTest::eventually(sub {
        my $h = MiTest::http($site_port, 'GET', '/health');
        $h->{status} == 503 ? $h : undef }) // {};
    is($health->{status}, 503, 'the key rejected 3 times: /health 503');
    is(MiTest::json_body($health)->{status}, 'degraded', '... degraded');
    is(MiTest::http($probe_port, 'GET',
                    $nginx->{readinessProbe}{httpGet}{path})->{status}, 200,
       '... the readiness probe still 200: the pod stays in the Service');

    # the metric names of the rules and of the dashboard, against /metrics
    my $metrics = MiTest::http($site_port, 'GET', '/metrics')->{body} // '';
    my %exported = map { ($_ => 1) } $metrics =~ /^([a-z_]+)[{ ]/mg;
    ok(keys(%exported) >= 10, 'the pod\'s /metrics: '
       . scalar(keys %exported) . ' series names');
    my %used = map { ($_ => 1) } join(' ', @exprs, $rules_text)
                                 =~ /\b(nginx_mi_[a-z_]+)/g;
    is_deeply([sort grep { !$exported{$_} } keys %used], [],
              'every metric name of the rules and the dashboard is exported: '
              . join(' ', sort keys %used));

    $t->stop_all;
}

done_testing;
