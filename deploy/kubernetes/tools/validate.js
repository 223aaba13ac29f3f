// Validates every object of the given manifests against the Kubernetes
// object schemas of the kubernetes-models package (types, required fields,
// enums, formats; it does not flag unknown fields), then prints a JSON
// report for the tests: each object's file, kind and name, and each
// ConfigMap's data.  kustomize's kustomization.yaml files are skipped.  Exits 1, naming the object and the field, on any
// error.
//
//   node validate.js FILE...     (with NODE_PATH at the node_modules that
//                                 make k8s-tools installs into build/)
'use strict';

const fs = require('fs');
const YAML = require('yaml');

const groups = {
  v1: require('kubernetes-models/v1'),
  'apps/v1': require('kubernetes-models/apps/v1'),
  'policy/v1': require('kubernetes-models/policy/v1'),
  'networking.k8s.io/v1': require('kubernetes-models/networking.k8s.io/v1'),
  'autoscaling/v2': require('kubernetes-models/autoscaling/v2'),
};

// kustomize's own files: not objects of the cluster, no schema here
const kustomize = /^kustomize\.config\.k8s\.io\//;

const report = { objects: [], configMaps: {} };
let failed = false;

function fail(where, message) {
  console.error(`${where}: ${message}`);
  failed = true;
}

for (const file of process.argv.slice(2)) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));

  docs.forEach((doc, i) => {
    const where = `${file} (document ${i + 1})`;

    if (doc.errors.length) {
      fail(where, doc.errors.map((e) => e.message).join('; '));
      return;
    }

    const obj = doc.toJS();

    if (kustomize.test(obj.apiVersion)) {
      return;
    }

    const model = (groups[obj.apiVersion] || {})[obj.kind];

    if (!model) {
      fail(where, `no schema for ${obj.apiVersion} ${obj.kind}`);
      return;
    }

    try {
      new model(obj).validate();
    } catch (e) {
      fail(`${where} ${obj.kind}/${obj.metadata.name}`, e.message);
      return;
    }

    report.objects.push({ file, kind: obj.kind, name: obj.metadata.name,
                          object: obj });

    if (obj.kind === 'ConfigMap') {
      report.configMaps[obj.metadata.name] = obj.data;
    }
  });
}

if (failed) {
  process.exit(1);
}

process.stdout.write(JSON.stringify(report) + '\n');
