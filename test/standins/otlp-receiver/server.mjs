// OTLP/HTTP traces receiver stand-in (not a collector): validates and decodes OTLP JSON export requests and keeps
// the spans and headers for the telemetry tests. Type definitions come from @opentelemetry/api.
import http from "node:http";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// The shared npm project of the tests (test/e2e/package.json) pins @opentelemetry/api.
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.resolve(here, "../../e2e/package.json"));
const { isValidTraceId, isValidSpanId, SpanKind, SpanStatusCode } = require("@opentelemetry/api");

const port = Number(process.argv[2] || 0);
let spans = [];
let requests = [];
let failNext = { status: 0, count: 0 };

/// OTLP JSON AnyValue -> plain JS value; throws on an unknown shape.
function anyValue(v) {
  if (v === null || typeof v !== "object") throw new Error(`AnyValue must be an object, got ${JSON.stringify(v)}`);
  if ("stringValue" in v) return String(v.stringValue);
  if ("boolValue" in v) {
    if (typeof v.boolValue !== "boolean") throw new Error("boolValue must be a boolean");
    return v.boolValue;
  }
  if ("intValue" in v) {
    // int64 is a decimal string in OTLP JSON (numbers are tolerated by the spec's decoders).
    if (!/^-?\d+$/.test(String(v.intValue))) throw new Error(`intValue ${v.intValue} is not an integer`);
    return Number(v.intValue);
  }
  if ("doubleValue" in v) return Number(v.doubleValue);
  if ("arrayValue" in v) return (v.arrayValue.values || []).map(anyValue);
  throw new Error(`unknown AnyValue ${JSON.stringify(v)}`);
}

function attributes(list, where) {
  if (list === undefined) return {};
  if (!Array.isArray(list)) throw new Error(`${where}.attributes must be an array`);
  const out = {};
  for (const kv of list) {
    if (typeof kv.key !== "string") throw new Error(`${where}: attribute without a string key`);
    out[kv.key] = anyValue(kv.value);
  }
  return out;
}

function nanos(v, where) {
  if (!/^\d+$/.test(String(v))) throw new Error(`${where} must be a decimal nanosecond count, got ${v}`);
  return BigInt(v);
}

/// ExportTraceServiceRequest (JSON) -> flattened spans; throws naming the first violation.
function decode(body) {
  if (!Array.isArray(body.resourceSpans)) throw new Error("resourceSpans must be an array");
  const out = [];
  body.resourceSpans.forEach((rs, i) => {
    const resource = attributes(rs.resource?.attributes, `resourceSpans[${i}].resource`);
    (rs.scopeSpans || []).forEach((ss, j) => {
      const scope = ss.scope || {};
      (ss.spans || []).forEach((s, k) => {
        const where = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        if (!isValidTraceId(s.traceId || "")) throw new Error(`${where}.traceId '${s.traceId}' is not 32 lowercase hex`);
        if (!isValidSpanId(s.spanId || "")) throw new Error(`${where}.spanId '${s.spanId}' is not 16 lowercase hex`);
        if (s.parentSpanId !== undefined && s.parentSpanId !== "" && !isValidSpanId(s.parentSpanId))
          throw new Error(`${where}.parentSpanId '${s.parentSpanId}' is invalid`);
        if (typeof s.name !== "string" || !s.name) throw new Error(`${where}.name is missing`);
        // OTLP kinds are SpanKind + 1 (0 is UNSPECIFIED in the proto).
        const kinds = Object.values(SpanKind).filter((x) => typeof x === "number").map((x) => x + 1);
        if (s.kind !== undefined && !kinds.includes(s.kind)) throw new Error(`${where}.kind ${s.kind} is not a span kind`);
        const start = nanos(s.startTimeUnixNano, `${where}.startTimeUnixNano`);
        const end = nanos(s.endTimeUnixNano, `${where}.endTimeUnixNano`);
        if (end < start) throw new Error(`${where} ends before it starts`);
        const code = s.status?.code ?? SpanStatusCode.UNSET;
        if (![SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR].includes(code))
          throw new Error(`${where}.status.code ${code} is invalid`);
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId || "",
          name: s.name,
          kind: s.kind,
          startNs: start.toString(),
          endNs: end.toString(),
          durationMs: Number(end - start) / 1e6,
          attributes: attributes(s.attributes, where),
          status: { code, message: s.status?.message || "" },
          resource,
          scope: scope.name || "",
        });
      });
    });
  });
  return out;
}

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (url.pathname === "/__spans") return send(res, 200, { spans });
    if (url.pathname === "/__requests") return send(res, 200, { requests });
    if (url.pathname === "/__reset") {
      spans = [];
      requests = [];
      failNext = { status: 0, count: 0 };
      return send(res, 200, { ok: true });
    }
    if (url.pathname === "/__fail") {
      failNext = { status: Number(url.searchParams.get("status") || 503), count: Number(url.searchParams.get("count") || 1) };
      return send(res, 200, failNext);
    }
    if (req.method !== "POST" || url.pathname !== "/v1/traces") return send(res, 404, { error: "not found" });
    const record = { method: req.method, path: url.pathname, headers: req.headers, error: null, spans: 0 };
    requests.push(record);
    if (failNext.count > 0) {
      failNext.count--;
      record.error = `answered ${failNext.status} on purpose`;
      return send(res, failNext.status, { error: "stand-in failure" });
    }
    if (!String(req.headers["content-type"] || "").startsWith("application/json")) {
      record.error = `content-type ${req.headers["content-type"]}`;
      return send(res, 415, { error: "expected application/json" });
    }
    try {
      const decoded = decode(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      record.spans = decoded.length;
      spans.push(...decoded);
      send(res, 200, {});
    } catch (err) {
      record.error = err.message;
      send(res, 400, { error: err.message });
    }
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`otlp-receiver stand-in listening on 127.0.0.1:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
