// The archestra-platform Helm chart, rendered without helm (test/helm/render: Go text/template + Sprig + Helm's
// built-ins) for the value sets of the deployment guide; every object is validated against the Kubernetes
// schemas (npm kubernetes-models), the merged values against values.schema.json (ajv), and the fields that
// matter are asserted: ports, probes, env, RBAC, selectors, database host, security context.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const chartDir = path.join(repo, "helm/archestra-platform");
const pgStandin = path.join(repo, "test/standins/bitnami-postgresql-chart");
const e2eModules = path.join(repo, "test/e2e/node_modules");
const requireE2e = createRequire(path.join(repo, "test/e2e/package.json"));
const Ajv = requireE2e("ajv");

let renderBin;
let validateValues;

before(() => {
  // Debian's Go in GOPATH mode with Debian's Sprig and yaml.v3 (packaging/install-deps.sh --test).
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "archestra-helm-"));
  renderBin = path.join(out, "render");
  execFileSync("go", ["build", "-o", renderBin, "."], {
    cwd: path.join(here, "render"),
    env: {
      ...process.env,
      GOPATH: "/usr/share/gocode",
      GO111MODULE: "off",
      GOFLAGS: "",
      GOCACHE: process.env.GOCACHE || path.join(os.tmpdir(), "archestra-helm-gocache"),
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const schema = JSON.parse(fs.readFileSync(path.join(chartDir, "values.schema.json"), "utf8"));
  validateValues = new Ajv({ allErrors: true, strict: false }).compile(schema);
});

/// Renders with the given values files (names under test/helm/values); returns {ok, objects, notes, values, stderr}.
function render(valueFiles = [], { release = "archestra-platform", namespace = "archestra", extra = [] } = {}) {
  const args = ["--chart", chartDir, "--subchart", `postgresql=${pgStandin}`, "--release", release, "--namespace", namespace];
  for (const f of valueFiles) args.push("--values", path.isAbsolute(f) ? f : path.join(here, "values", f));
  args.push(...extra);
  const r = spawnSync(renderBin, args, { encoding: "utf8" });
  if (r.status !== 0) return { ok: false, stderr: r.stderr };
  const doc = JSON.parse(r.stdout);
  return { ok: true, objects: doc.objects.map((o) => o.object), notes: doc.notes, values: doc.values, stderr: r.stderr };
}

function renderOk(valueFiles, options) {
  const r = render(valueFiles, options);
  assert.ok(r.ok, `render failed: ${r.stderr}`);
  return r;
}

function valuesFile(obj) {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "archestra-values-")), "values.json");
  fs.writeFileSync(f, JSON.stringify(obj)); // JSON is YAML
  return f;
}

function find(objects, kind, name) {
  const matches = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(matches.length, 1, `expected one ${kind}${name ? ` ${name}` : ""}, found ${matches.length}`);
  return matches[0];
}

/// Validates one object against its kubernetes-models schema (apiVersion/kind pick the model).
async function validateObject(obj) {
  const group = obj.apiVersion.includes("/") ? obj.apiVersion : `v1`;
  const file = path.join(e2eModules, "kubernetes-models", group, `${obj.kind}.js`);
  assert.ok(fs.existsSync(file), `no Kubernetes schema for ${obj.apiVersion} ${obj.kind}`);
  const mod = await import(pathToFileURL(file).href);
  new mod[obj.kind](obj).validate(); // throws with the failing path
}

async function validateAll(r) {
  assert.ok(validateValues(r.values), `values.schema.json rejects the values: ${JSON.stringify(validateValues.errors)}`);
  for (const obj of r.objects) {
    await assert.doesNotReject(validateObject(obj), `${obj.kind} ${obj.metadata?.name}`);
  }
}

function container(objects) {
  const dep = find(objects, "Deployment");
  return dep.spec.template.spec.containers.find((c) => c.name === "archestra-platform");
}

function envOf(objects) {
  return container(objects).env;
}

test("defaults: valid objects, ports, probes, env, selectors, security context, auth secret", async () => {
  const r = renderOk([]);
  await validateAll(r);
  const o = r.objects;
  const fullname = "archestra-platform"; // release name contains the chart name
  const svc = find(o, "Service", fullname);
  assert.deepEqual(
    svc.spec.ports.map((p) => [p.name, p.port, p.targetPort]),
    [["backend", 9000, "backend"], ["metrics", 9050, "metrics"], ["frontend", 3000, "frontend"]],
  );
  const dep = find(o, "Deployment", fullname);
  assert.equal(dep.spec.replicas, 1);
  assert.deepEqual(dep.spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  // The Service and the Deployment select the pods the Deployment creates.
  const podLabels = dep.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(podLabels[k], v, `service selector ${k}`);
  for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) assert.equal(podLabels[k], v, `selector ${k}`);

  const c = container(o);
  assert.equal(c.image, "archestra/platform:latest");
  assert.deepEqual(
    c.ports.map((p) => [p.name, p.containerPort]),
    [["backend", 9000], ["metrics", 9050], ["frontend", 3000]],
  );
  assert.equal(c.readinessProbe.httpGet.path, "/ready");
  assert.equal(c.livenessProbe.httpGet.path, "/health");
  assert.equal(c.startupProbe.httpGet.path, "/health");
  for (const p of [c.readinessProbe, c.livenessProbe, c.startupProbe]) assert.equal(p.httpGet.port, "backend");
  // The pod's grace period covers the platform's drain bound (ARCHESTRA_SHUTDOWN_GRACE_S, 10 s) plus the flush.
  assert.equal(dep.spec.template.spec.terminationGracePeriodSeconds, 30);
  assert.ok(c.resources.requests.cpu && c.resources.requests.memory, "resource requests");

  // Non-root, read-only root filesystem, and the writable places mounted.
  const pod = dep.spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.mountPath, m.name]));
  assert.ok(mounts["/app/data"] && mounts["/tmp"], "writable /app/data and /tmp");
  for (const name of Object.values(mounts)) {
    assert.ok(pod.volumes.find((v) => v.name === name && v.emptyDir), `volume ${name} is an emptyDir`);
  }

  // The env list of the original chart, in its order, with the database host of the bundled PostgreSQL; then
  // the Service's in-cluster names for the MCP gateway's Host check (agents in the cluster use them).
  const env = envOf(o);
  assert.deepEqual(env.map((e) => e.name), [
    "ARCHESTRA_DATABASE_URL",
    "ARCHESTRA_AUTH_SECRET",
    "ARCHESTRA_ORCHESTRATOR_K8S_NAMESPACE",
    "ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER",
    "ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS",
  ]);
  assert.equal(
    env[4].value,
    "archestra-platform,archestra-platform.archestra,archestra-platform.archestra.svc,archestra-platform.archestra.svc.cluster.local",
  );
  const pgService = find(o, "Service", "archestra-platform-postgresql");
  assert.equal(env[0].value, `postgresql://archestra:archestra_dev_password@${pgService.metadata.name}:5432/archestra_dev`);
  assert.deepEqual(env[1].valueFrom.secretKeyRef, { name: "archestra-platform-auth", key: "auth-secret" });
  assert.equal(env[2].value, "archestra");
  assert.equal(env[3].value, "true");
  const init = pod.initContainers.find((i) => i.name === "wait-for-postgres");
  assert.match(init.command.join(" "), /nc -z archestra-platform-postgresql 5432/);

  const secret = find(o, "Secret", "archestra-platform-auth");
  assert.equal(secret.type, "Opaque");
  assert.equal(secret.metadata.annotations["helm.sh/resource-policy"], "keep");
  assert.match(Buffer.from(secret.data["auth-secret"], "base64").toString(), /^[A-Za-z0-9]{64}$/);

  const sa = find(o, "ServiceAccount", "archestra-platform");
  assert.equal(pod.serviceAccountName, sa.metadata.name);
  const role = find(o, "Role", "archestra-platform-mcp-manager");
  assert.equal(role.metadata.namespace, "archestra");
  const rules = Object.fromEntries(role.rules.map((r) => [r.resources[0], r.verbs]));
  assert.deepEqual(rules["pods"], ["get", "list", "create", "update", "patch", "delete", "watch"]);
  assert.deepEqual(rules["pods/exec"], ["create"]);
  assert.deepEqual(rules["pods/log"], ["get", "list"]);
  assert.deepEqual(rules["pods/attach"], ["get", "create"]);
  assert.deepEqual(rules["services"], ["get", "list", "create", "update", "patch", "delete", "watch"]);
  assert.deepEqual(rules["secrets"], ["get", "list", "create", "update", "patch", "delete", "watch"]);
  const binding = find(o, "RoleBinding", "archestra-platform-mcp-manager");
  assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name });
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: "archestra" }]);

  for (const kind of ["Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget"]) {
    assert.equal(o.filter((x) => x.kind === kind).length, 0, `${kind} is off by default`);
  }
  assert.match(r.notes, /port-forward svc\/archestra-platform 9000:9000/);
});

test("the database host is the PostgreSQL dependency's Service for any release name", async () => {
  const cases = [
    { release: "rel", values: {} },
    { release: "my-postgresql", values: {} }, // Bitnami drops the suffix when the release contains "postgresql"
    { release: "prod", values: { postgresql: { fullnameOverride: "shared-db" } } },
    { release: "prod", values: { postgresql: { architecture: "replication" } } },
    { release: "team-archestra-platform", values: {} },
  ];
  for (const { release, values } of cases) {
    const r = renderOk([valuesFile(values)], { release });
    await validateAll(r);
    const pgServices = r.objects.filter((x) => x.kind === "Service" && x.spec.ports.some((p) => p.port === 5432));
    assert.equal(pgServices.length, 1, `${release}: one PostgreSQL service`);
    const url = new URL(envOf(r.objects)[0].value);
    assert.equal(url.hostname, pgServices[0].metadata.name, `${release} ${JSON.stringify(values)}`);
  }
});

test("external database: its URL, no bundled PostgreSQL, init container waits on its host and port", async () => {
  const r = renderOk(["external-db.yaml"]);
  await validateAll(r);
  assert.equal(envOf(r.objects)[0].value, "postgresql://user:password@db.example.com:6432/database");
  assert.equal(r.objects.filter((x) => x.kind === "StatefulSet").length, 0);
  const init = find(r.objects, "Deployment").spec.template.spec.initContainers[0];
  assert.match(init.command.join(" "), /nc -z db\.example\.com 6432/);
  assert.doesNotMatch(r.notes, /password/);
});

test("the guide's one-flag external database command works; NOTES warns the bundled PostgreSQL still runs", async () => {
  // deployment.md: `--set postgresql.external_database_url=...` alone. Helm cannot switch the subchart off from
  // another value, so the URL wins and NOTES.txt names the flag that removes the unused PostgreSQL.
  for (const values of [
    { postgresql: { external_database_url: "postgresql://u:p@db.example.com:5432/x" } },
    { postgresql: { external_database_url: "postgresql://u:p@db.example.com:5432/x", enabled: true } },
  ]) {
    const r = renderOk([valuesFile(values)]);
    await validateAll(r);
    assert.equal(envOf(r.objects)[0].value, "postgresql://u:p@db.example.com:5432/x");
    const init = find(r.objects, "Deployment").spec.template.spec.initContainers[0];
    assert.match(init.command.join(" "), /nc -z db\.example\.com 5432/);
    assert.match(r.notes, /Database: external \(postgresql:\/\/\*\*\*@db\.example\.com:5432\/x\)/);
    assert.match(r.notes, /WARNING: postgresql\.enabled is still true[^]*--set postgresql\.enabled=false/);
    assert.doesNotMatch(r.notes, /u:p@/);
  }
  // With enabled=false: no warning.
  const off = renderOk([valuesFile({ postgresql: { external_database_url: "postgresql://u:p@db.example.com/x", enabled: false } })]);
  assert.doesNotMatch(off.notes, /WARNING/);
  // An empty URL is "not set": the bundled one is used as before.
  const empty = renderOk([valuesFile({ postgresql: { external_database_url: "" } })]);
  assert.match(envOf(empty.objects)[0].value, /@archestra-platform-postgresql:5432\//);
});

test("listener ports follow archestra.env; the Service keeps its ports and targets them", async () => {
  // Settings::apiPort: the API URL's explicit port, else 9000 whatever the scheme.
  for (const [url, port] of [
    ["http://localhost:9001", 9001],
    ["https://api.example.com", 9000],
    ["https://user@api.example.com:8443/base?x=1", 8443],
    ["http://[::1]/", 9000],
  ]) {
    const r = renderOk([valuesFile({ archestra: { env: { ARCHESTRA_API_BASE_URL: url } } })]);
    const c = container(r.objects);
    assert.equal(c.ports.find((p) => p.name === "backend").containerPort, port, url);
    assert.equal(c.readinessProbe.httpGet.port, "backend");
  }
  const r = renderOk([valuesFile({ archestra: { env: { ARCHESTRA_METRICS_PORT: "9151", ARCHESTRA_UI_PORT: 3100 } } })]);
  await validateAll(r);
  const c = container(r.objects);
  assert.deepEqual(c.ports.map((p) => [p.name, p.containerPort]), [["backend", 9000], ["metrics", 9151], ["frontend", 3100]]);
  const svc = find(r.objects, "Service", "archestra-platform");
  assert.deepEqual(svc.spec.ports.map((p) => [p.port, p.targetPort]), [[9000, "backend"], [9050, "metrics"], [3000, "frontend"]]);
});

test("MCP gateway allowed hosts: the Service's names, the Ingress hosts, and archestra.env's own, set once", async () => {
  const r = renderOk([valuesFile({
    archestra: {
      env: { ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS: "agents.internal" },
      ingress: { enabled: true, hosts: [{ host: "archestra.example.com" }] },
    },
  })], { release: "gw", namespace: "tools" });
  await validateAll(r);
  const env = envOf(r.objects).filter((e) => e.name === "ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS");
  assert.equal(env.length, 1);
  const hosts = env[0].value.split(",");
  const svc = r.objects.find((o) => o.kind === "Service" && o.spec.ports.some((p) => p.name === "backend")).metadata.name;
  for (const h of [svc, `${svc}.tools`, `${svc}.tools.svc`, `${svc}.tools.svc.cluster.local`, "archestra.example.com", "agents.internal"])
    assert.ok(hosts.includes(h), `${h} missing from ${env[0].value}`);
});

test("no database at all fails with a clear message", () => {
  const r = render([valuesFile({ postgresql: { enabled: false } })]);
  assert.equal(r.ok, false);
  assert.match(r.stderr, /needs a database/);
});

test("GKE BackendConfig and EKS load balancer annotations land on the Service", async () => {
  const gke = renderOk(["gke-backendconfig.yaml"]);
  await validateAll(gke);
  assert.equal(
    find(gke.objects, "Service", "archestra-platform").metadata.annotations["cloud.google.com/backend-config"],
    '{"ports": {"9000":"archestra-platform-backend-config"}}',
  );
  const eks = renderOk(["eks.yaml"]);
  await validateAll(eks);
  assert.deepEqual(find(eks.objects, "Service", "archestra-platform").metadata.annotations, {
    "service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "http",
    "service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": "600",
  });
});

test("AKS ingress: annotations, and without hosts everything goes to the UI port", async () => {
  const r = renderOk(["aks-ingress.yaml"]);
  await validateAll(r);
  const ing = find(r.objects, "Ingress", "archestra-platform-ingress");
  assert.equal(ing.metadata.annotations["appgw.ingress.kubernetes.io/request-timeout"], "600");
  assert.equal(ing.metadata.annotations["appgw.ingress.kubernetes.io/connection-draining-timeout"], "60");
  assert.deepEqual(ing.spec.defaultBackend, { service: { name: "archestra-platform", port: { number: 3000 } } });
});

test("nginx ingress: annotations, class, hosts, paths, TLS", async () => {
  const r = renderOk(["nginx-ingress.yaml"]);
  await validateAll(r);
  const ing = find(r.objects, "Ingress");
  assert.equal(ing.metadata.annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"], "600");
  assert.equal(ing.spec.ingressClassName, "nginx");
  assert.deepEqual(ing.spec.tls, [{ hosts: ["archestra.example.com"], secretName: "archestra-tls" }]);
  const paths = ing.spec.rules[0].http.paths;
  assert.equal(ing.spec.rules[0].host, "archestra.example.com");
  assert.deepEqual(paths.map((p) => [p.path, p.pathType, p.backend.service.port.number]), [
    ["/", "Prefix", 3000],
    ["/v1", "Prefix", 9000],
  ]);
});

test("a custom ingress spec is rendered verbatim", async () => {
  const spec = { ingressClassName: "traefik", rules: [{ host: "a.example.com", http: { paths: [{ path: "/", pathType: "Exact", backend: { service: { name: "x", port: { number: 9000 } } } }] } }] };
  const r = renderOk([valuesFile({ archestra: { ingress: { enabled: true, spec } } })]);
  await validateAll(r);
  assert.deepEqual(find(r.objects, "Ingress").spec, spec);
});

test("HPA: the guide's example, and the Deployment leaves replicas to it", async () => {
  const r = renderOk(["hpa.yaml"]);
  await validateAll(r);
  const hpa = find(r.objects, "HorizontalPodAutoscaler", "archestra-platform");
  assert.equal(hpa.apiVersion, "autoscaling/v2");
  assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "archestra-platform" });
  assert.equal(hpa.spec.minReplicas, 2);
  assert.equal(hpa.spec.maxReplicas, 10);
  assert.equal(hpa.spec.metrics[0].resource.target.averageUtilization, 80);
  assert.equal(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds, 300);
  assert.equal(find(r.objects, "Deployment").spec.replicas, undefined);
});

test("PDB: minAvailable, maxUnavailable percentage, both or neither fail", async () => {
  const min = renderOk(["pdb-min-available.yaml"]);
  await validateAll(min);
  const pdb = find(min.objects, "PodDisruptionBudget", "archestra-platform");
  assert.equal(pdb.spec.minAvailable, 1);
  assert.equal(pdb.spec.maxUnavailable, undefined);
  assert.equal(pdb.spec.unhealthyPodEvictionPolicy, "IfHealthyBudget");
  const labels = find(min.objects, "Deployment").spec.template.metadata.labels;
  for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) assert.equal(labels[k], v);

  const max = renderOk(["pdb-max-unavailable.yaml"]);
  await validateAll(max);
  const pdb2 = find(max.objects, "PodDisruptionBudget");
  assert.equal(pdb2.spec.maxUnavailable, "25%");
  assert.equal(pdb2.spec.minAvailable, undefined);

  const both = render(["pdb-both.yaml"]);
  assert.equal(both.ok, false, "both bounds must fail");
  assert.match(both.stderr, /only one of minAvailable and maxUnavailable/);
  const neither = render([valuesFile({ archestra: { podDisruptionBudget: { enabled: true } } })]);
  assert.equal(neither.ok, false, "no bound must fail");
  assert.match(neither.stderr, /set one of minAvailable or maxUnavailable/);
});

test("orchestrator in another namespace: RBAC there, bound to the release's ServiceAccount; kubeconfig, env", async () => {
  const r = renderOk(["orchestrator.yaml"], { release: "rel", namespace: "archestra" });
  await validateAll(r);
  const o = r.objects;
  const role = find(o, "Role");
  const binding = find(o, "RoleBinding");
  assert.equal(role.metadata.namespace, "mcp-servers");
  assert.equal(binding.metadata.namespace, "mcp-servers");
  assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "rel-archestra-platform", namespace: "archestra" }]);
  const sa = find(o, "ServiceAccount");
  assert.deepEqual(sa.imagePullSecrets, [{ name: "regcred" }]);
  assert.equal(sa.metadata.annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::123:role/archestra");

  const env = Object.fromEntries(envOf(o).map((e) => [e.name, e.value ?? e.valueFrom]));
  assert.equal(env.ARCHESTRA_ORCHESTRATOR_K8S_NAMESPACE, "mcp-servers");
  assert.equal(env.ARCHESTRA_ORCHESTRATOR_MCP_SERVER_BASE_IMAGE, "registry.example.com/mcp-base:1.0");
  assert.equal(env.ARCHESTRA_ORCHESTRATOR_KUBECONFIG, "/etc/kubeconfig/config");
  assert.equal(env.ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER, "false");
  assert.equal(env.ARCHESTRA_API_BASE_URL, "https://api.example.com");
  assert.equal(env.HOSTNAME, "0.0.0.0");
  assert.deepEqual(env.ARCHESTRA_CHAT_OPENAI_API_KEY, { secretKeyRef: { name: "llm-keys", key: "openai" } });
  const c = container(o);
  assert.ok(c.volumeMounts.find((m) => m.name === "kubeconfig" && m.mountPath === "/etc/kubeconfig" && m.readOnly));
  const vol = find(o, "Deployment").spec.template.spec.volumes.find((v) => v.name === "kubeconfig");
  assert.equal(vol.secret.secretName, "remote-kubeconfig");
  assert.doesNotMatch(r.notes, /9000:9000/, "API URL given: no port-forward hint for it");
});

test("auth secret from values replaces the generated one; a short one fails", async () => {
  const secret = "x".repeat(40);
  const r = renderOk([valuesFile({ archestra: { env: { ARCHESTRA_AUTH_SECRET: secret } } })]);
  await validateAll(r);
  const env = envOf(r.objects).filter((e) => e.name === "ARCHESTRA_AUTH_SECRET");
  assert.deepEqual(env, [{ name: "ARCHESTRA_AUTH_SECRET", value: secret }]);
  const short = render([valuesFile({ archestra: { env: { ARCHESTRA_AUTH_SECRET: "short" } } })]);
  assert.equal(short.ok, false);
  assert.match(short.stderr, /at least 32 characters/);
});

test("NodePort service with fixed node ports; strategy null removes it", async () => {
  const r = renderOk([valuesFile({ archestra: { deploymentStrategy: null, service: { type: "NodePort", nodePorts: { backend: 30000, metrics: 30050, frontend: 30300 } } } })]);
  await validateAll(r);
  const svc = find(r.objects, "Service", "archestra-platform");
  assert.deepEqual(svc.spec.ports.map((p) => p.nodePort), [30000, 30050, 30300]);
  assert.equal(find(r.objects, "Deployment").spec.strategy, undefined);
});

test("values.schema.json rejects a misspelt key and a bad PDB value, accepts every example", () => {
  const typo = render(["typo.yaml"]);
  assert.ok(typo.ok, "renders (helm would stop at the schema)");
  assert.equal(validateValues(typo.values), false);
  assert.ok(validateValues.errors.some((e) => e.params?.additionalProperty === "imagee"), JSON.stringify(validateValues.errors));
  const bad = render([valuesFile({ archestra: { podDisruptionBudget: { enabled: true, maxUnavailable: "lots" } } })]);
  assert.equal(validateValues(bad.values ?? {}), false);
  for (const f of fs.readdirSync(path.join(here, "values"))) {
    if (["typo.yaml", "pdb-both.yaml"].includes(f)) continue;
    const r = renderOk([f]);
    assert.ok(validateValues(r.values), `${f}: ${JSON.stringify(validateValues.errors)}`);
  }
});

test("the guide's install command: image and HOSTNAME from --set land on the container", async () => {
  // helm upgrade archestra-platform ... --set archestra.image="archestra/platform:0.6.27" --set archestra.env.HOSTNAME="0.0.0.0"
  const r = renderOk([valuesFile({ archestra: { image: "archestra/platform:0.6.27", env: { HOSTNAME: "0.0.0.0" } } })]);
  await validateAll(r);
  const c = container(r.objects);
  assert.equal(c.image, "archestra/platform:0.6.27");
  assert.deepEqual(c.env.find((e) => e.name === "HOSTNAME"), { name: "HOSTNAME", value: "0.0.0.0" });
  // The guide's port-forward: svc/archestra-platform 9000:9000 3000:3000.
  const ports = find(r.objects, "Service", "archestra-platform").spec.ports.map((p) => p.port);
  for (const p of [9000, 3000]) assert.ok(ports.includes(p), `Service port ${p}`);
});

test("Traefik: the guide's ingress annotation lands on the Ingress", async () => {
  const r = renderOk([
    valuesFile({ archestra: { ingress: { enabled: true, annotations: { "traefik.ingress.kubernetes.io/service.passhostheader": "true" } } } }),
  ]);
  await validateAll(r);
  const ingress = find(r.objects, "Ingress");
  assert.equal(ingress.metadata.annotations["traefik.ingress.kubernetes.io/service.passhostheader"], "true");
});

test("terminationGracePeriodSeconds follows ARCHESTRA_SHUTDOWN_GRACE_S", async () => {
  const r = renderOk([valuesFile({ archestra: { env: { ARCHESTRA_SHUTDOWN_GRACE_S: "45" } } })]);
  const dep = find(r.objects, "Deployment", "archestra-platform");
  assert.equal(dep.spec.template.spec.terminationGracePeriodSeconds, 65);
  const env = Object.fromEntries(container(r.objects).env.map((e) => [e.name, e.value]));
  assert.equal(env.ARCHESTRA_SHUTDOWN_GRACE_S, "45");
});
