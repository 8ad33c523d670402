// Vault stand-in (NOT HashiCorp Vault): the subset of Vault's HTTP API the secrets.vault plugin uses, for tests.
import http from "node:http";
import crypto from "node:crypto";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const port = Number(args.port || 8200);
const kvVersion = Number(args["kv-version"] || 2);
const tokenTtlMs = Number(args["token-ttl-ms"] || 3600000);
const rootToken = args["root-token"] || "root";
const k8sJwt = args["k8s-jwt"] || "";
const k8sRole = args["k8s-role"] || "archestra";
const awsAccessKey = args["aws-access-key"] || "";
const awsSecretKey = args["aws-secret-key"] || "";
const awsRole = args["aws-role"] || "archestra";
const awsServerId = args["aws-server-id"] || "";

const tokens = new Map([[rootToken, { expiresAt: Infinity, ttlMs: 0, renewable: false }]]);
const kv = new Map(); // path under the mount -> value object
const stats = { logins: 0, k8sLogins: 0, awsLogins: 0, renewals: 0, writes: 0, denied: 0 };

function send(res, status, body) {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
const deny = (res) => { stats.denied++; send(res, 403, { errors: ["permission denied"] }); };
const liveToken = (req) => {
  const t = tokens.get(req.headers["x-vault-token"] || "");
  return t && Date.now() < t.expiresAt ? t : null;
};
function issueToken() {
  const token = "hvs." + crypto.randomBytes(12).toString("hex");
  tokens.set(token, { expiresAt: Date.now() + tokenTtlMs, ttlMs: tokenTtlMs, renewable: true });
  return { client_token: token, lease_duration: Math.max(1, Math.round(tokenTtlMs / 1000)), renewable: true, policies: ["default"] };
}

// SigV4 check of the forwarded sts:GetCallerIdentity request (what Vault's aws auth method asks STS to do).
function verifySigV4(method, url, body, headers) {
  const flat = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v[0] : v]));
  const auth = flat.authorization || "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(auth);
  if (!m) return "malformed authorization header";
  const [, accessKey, date, region, service, signedHeaders, signature] = m;
  if (awsAccessKey && accessKey !== awsAccessKey) return "unknown access key";
  if (service !== "sts") return "service is not sts";
  if (awsServerId) {
    if (flat["x-vault-aws-iam-server-id"] !== awsServerId) return "X-Vault-AWS-IAM-Server-ID mismatch";
    if (!signedHeaders.split(";").includes("x-vault-aws-iam-server-id")) return "server id header not signed";
  }
  if (body !== "Action=GetCallerIdentity&Version=2011-06-15") return "body is not GetCallerIdentity";
  const u = new URL(url);
  const canonicalHeaders = signedHeaders.split(";").map((h) => `${h}:${flat[h]}\n`).join("");
  const hash = (s) => crypto.createHash("sha256").update(s).digest("hex");
  const hmac = (k, s) => crypto.createHmac("sha256", k).update(s).digest();
  const canonical = [method, u.pathname || "/", "", canonicalHeaders, signedHeaders, hash(body)].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", flat["x-amz-date"], scope, hash(canonical)].join("\n");
  let key = hmac("AWS4" + awsSecretKey, date);
  for (const part of [region, service, "aws4_request"]) key = hmac(key, part);
  const expected = crypto.createHmac("sha256", key).update(toSign).digest("hex");
  return expected === signature ? null : "signature does not match";
}

function handle(req, res, raw) {
  const url = new URL(req.url, "http://localhost");
  let method = req.method;
  if (method === "GET" && url.searchParams.get("list") === "true") method = "LIST";
  const body = raw ? JSON.parse(raw) : {};
  const path = url.pathname;

  if (path === "/_standin/stats") return send(res, 200, { ...stats, secrets: [...kv.keys()] });
  if (path === "/_standin/expire-tokens") {
    for (const [t, info] of tokens) if (t !== rootToken) info.expiresAt = 0;
    return send(res, 200, { ok: true });
  }
  const login = /^\/v1\/auth\/([^/]+)\/login$/.exec(path);
  if (login && method === "POST") {
    stats.logins++;
    if (body.jwt !== undefined) {
      if (body.role !== k8sRole || body.jwt !== k8sJwt) return send(res, 403, { errors: ["permission denied"] });
      stats.k8sLogins++;
      return send(res, 200, { auth: issueToken() });
    }
    if (body.iam_http_request_method !== undefined) {
      if (body.role !== awsRole) return send(res, 400, { errors: [`entry for role ${body.role} not found`] });
      const b64 = (s) => Buffer.from(s || "", "base64").toString("utf8");
      const problem = verifySigV4(body.iam_http_request_method, b64(body.iam_request_url), b64(body.iam_request_body),
        JSON.parse(b64(body.iam_request_headers) || "{}"));
      if (problem) return send(res, 400, { errors: [`error validating AWS request: ${problem}`] });
      stats.awsLogins++;
      return send(res, 200, { auth: issueToken() });
    }
    return send(res, 400, { errors: ["unsupported login"] });
  }
  const token = liveToken(req);
  if (!token) return deny(res);
  if (path === "/v1/auth/token/lookup-self") {
    const ttl = token.expiresAt === Infinity ? 0 : Math.max(0, Math.round((token.expiresAt - Date.now()) / 1000));
    return send(res, 200, { data: { ttl, renewable: token.renewable } });
  }
  if (path === "/v1/auth/token/renew-self" && method === "POST") {
    if (!token.renewable) return send(res, 400, { errors: ["lease is not renewable"] });
    stats.renewals++;
    token.expiresAt = Date.now() + token.ttlMs;
    return send(res, 200, { auth: { client_token: req.headers["x-vault-token"], lease_duration: Math.round(token.ttlMs / 1000), renewable: true } });
  }
  const list = (prefix) => {
    const keys = new Set();
    for (const k of kv.keys()) if (k.startsWith(prefix + "/")) keys.add(k.slice(prefix.length + 1).split("/")[0]);
    return keys.size ? send(res, 200, { data: { keys: [...keys] } }) : send(res, 404, { errors: [] });
  };
  if (kvVersion === 2) {
    const data = /^\/v1\/secret\/data\/(.+)$/.exec(path);
    const meta = /^\/v1\/secret\/metadata\/(.+)$/.exec(path);
    if (data && (method === "POST" || method === "PUT")) {
      if (!body.data || typeof body.data !== "object") return send(res, 400, { errors: ["no data provided"] });
      stats.writes++;
      kv.set(data[1], body.data);
      return send(res, 200, { data: { version: 1 } });
    }
    if (data && method === "GET")
      return kv.has(data[1]) ? send(res, 200, { data: { data: kv.get(data[1]), metadata: { version: 1 } } }) : send(res, 404, { errors: [] });
    if (meta && method === "DELETE") { kv.delete(meta[1]); return send(res, 204); }
    if (meta && method === "LIST") return list(meta[1]);
  } else {
    const v1 = /^\/v1\/secret\/(.+)$/.exec(path);
    if (v1 && (method === "POST" || method === "PUT")) { stats.writes++; kv.set(v1[1], body); return send(res, 204); }
    if (v1 && method === "GET") return kv.has(v1[1]) ? send(res, 200, { data: kv.get(v1[1]) }) : send(res, 404, { errors: [] });
    if (v1 && method === "DELETE") { kv.delete(v1[1]); return send(res, 204); }
    if (v1 && method === "LIST") return list(v1[1]);
  }
  return send(res, 404, { errors: [] });
}

const server = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    try { handle(req, res, raw); } catch (e) { send(res, 500, { errors: [String(e)] }); }
  });
});
server.listen(port, "127.0.0.1", () => console.log(`vault stand-in listening on 127.0.0.1:${port} (kv v${kvVersion})`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
