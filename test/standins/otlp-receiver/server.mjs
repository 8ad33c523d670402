// OTLP/HTTP traces receiver stand-in (not a collector): decodes each export request with the OpenTelemetry
// project's own OTLP message definitions (protobuf or JSON), keeps the spans and headers for the telemetry tests.
import http from "node:http";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// The shared npm project of the tests (test/e2e/package.json) pins @opentelemetry/otlp-transformer, whose
// protobufjs-generated module carries the opentelemetry-proto messages with decode/fromObject/verify.
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.resolve(here, "../../e2e/package.json"));
const { isValidTraceId, isValidSpanId } = require("@opentelemetry/api");
const proto = require("@opentelemetry/otlp-transformer/build/src/generated/root").opentelemetry.proto;
const ExportTraceServiceRequest = proto.collector.trace.v1.ExportTraceServiceRequest;

const port = Number(process.argv[2] || 0);
let spans = [];
let requests = [];
let failNext = { status: 0, count: 0 };

const ID_FIELDS = new Set(["traceId", "spanId", "parentSpanId"]);

/// OTLP JSON (ids in hex, as the OTLP/HTTP spec maps them) -> the object form protobufjs expects (ids as bytes).
function hexIdsToBytes(value, key) {
  if (Array.isArray(value)) return value.map((v) => hexIdsToBytes(v));
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = hexIdsToBytes(v, k);
    return out;
  }
  if (ID_FIELDS.has(key) && typeof value === "string") {
    if (!/^([0-9a-f]{2})*$/.test(value)) throw new Error(`${key} '${value}' is not lowercase hex`);
    return Buffer.from(value, "hex");
  }
  return value;
}

/// Every key of the JSON must be a field of the message: fromObject silently drops unknown ones, so compare
/// the input with what the definitions kept (toObject keeps every field that was set, zeros included).
function unknownField(input, kept, where = "") {
  if (Array.isArray(input)) {
    for (let i = 0; i < input.length; i++) {
      const bad = unknownField(input[i], kept?.[i], `${where}[${i}]`);
      if (bad) return bad;
    }
    return null;
  }
  if (input && typeof input === "object" && !Buffer.isBuffer(input)) {
    for (const [k, v] of Object.entries(input)) {
      if (kept === null || typeof kept !== "object" || !(k in kept)) return `${where}.${k}`;
      const bad = unknownField(v, kept[k], `${where}.${k}`);
      if (bad) return bad;
    }
  }
  return null;
}

/// The request body -> ExportTraceServiceRequest message; throws naming the first violation.
function decodeRequest(body, contentType) {
  let message;
  if (contentType.startsWith("application/x-protobuf")) {
    message = ExportTraceServiceRequest.decode(body);
  } else if (contentType.startsWith("application/json")) {
    const input = hexIdsToBytes(JSON.parse(body.toString("utf8")));
    message = ExportTraceServiceRequest.fromObject(input);
    const kept = ExportTraceServiceRequest.toObject(message, { longs: String, enums: Number, bytes: Buffer });
    const bad = unknownField(input, kept);
    if (bad) throw new Error(`unknown field ${bad.slice(1)} (not in ExportTraceServiceRequest)`);
    // int64/fixed64 are decimal strings in OTLP JSON: fromObject accepts them; check they are integers.
    const longs = /"(startTimeUnixNano|endTimeUnixNano|timeUnixNano|intValue)":\s*("[^"]*"|[^,}\]]*)/g;
    for (const [, field, raw] of body.toString("utf8").matchAll(longs)) {
      if (!/^"-?\d+"$|^-?\d+$/.test(raw.trim())) throw new Error(`${field} ${raw} is not an integer`);
    }
  } else {
    throw Object.assign(new Error(`content-type ${contentType || "(none)"}`), { status: 415 });
  }
  const problem = ExportTraceServiceRequest.verify(message);
  if (problem) throw new Error(`ExportTraceServiceRequest.verify: ${problem}`);
  return message;
}

const hex = (bytes) => Buffer.from(bytes || []).toString("hex");

function anyValue(v) {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values || []).map(anyValue);
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values);
  return undefined;
}

function attributes(list) {
  const out = {};
  for (const kv of list || []) out[kv.key] = anyValue(kv.value);
  return out;
}

/// Decoded message -> flattened spans; checks what the definitions cannot (id lengths, time order).
function flatten(message) {
  const plain = ExportTraceServiceRequest.toObject(message, { longs: String, enums: Number, bytes: Array });
  const out = [];
  (plain.resourceSpans || []).forEach((rs, i) => {
    const resource = attributes(rs.resource?.attributes);
    (rs.scopeSpans || []).forEach((ss, j) => {
      (ss.spans || []).forEach((s, k) => {
        const where = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        const traceId = hex(s.traceId);
        const spanId = hex(s.spanId);
        const parentSpanId = hex(s.parentSpanId);
        if (!isValidTraceId(traceId)) throw new Error(`${where}.traceId '${traceId}' is not a valid trace id`);
        if (!isValidSpanId(spanId)) throw new Error(`${where}.spanId '${spanId}' is not a valid span id`);
        if (parentSpanId && !isValidSpanId(parentSpanId)) throw new Error(`${where}.parentSpanId '${parentSpanId}' is invalid`);
        if (!s.name) throw new Error(`${where}.name is missing`);
        const start = BigInt(s.startTimeUnixNano || 0);
        const end = BigInt(s.endTimeUnixNano || 0);
        if (start === 0n) throw new Error(`${where}.startTimeUnixNano is missing`);
        if (end < start) throw new Error(`${where} ends before it starts`);
        out.push({
          traceId,
          spanId,
          parentSpanId,
          name: s.name,
          kind: s.kind ?? 0,
          startNs: start.toString(),
          endNs: end.toString(),
          durationMs: Number(end - start) / 1e6,
          attributes: attributes(s.attributes),
          status: { code: s.status?.code ?? 0, message: s.status?.message || "" },
          resource,
          scope: ss.scope?.name || "",
          scopeVersion: ss.scope?.version || "",
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
    const contentType = String(req.headers["content-type"] || "");
    const record = { method: req.method, path: url.pathname, headers: req.headers, contentType, error: null, spans: 0 };
    requests.push(record);
    if (failNext.count > 0) {
      failNext.count--;
      record.error = `answered ${failNext.status} on purpose`;
      return send(res, failNext.status, { error: "stand-in failure" });
    }
    try {
      const decoded = flatten(decodeRequest(Buffer.concat(chunks), contentType));
      record.spans = decoded.length;
      spans.push(...decoded);
      send(res, 200, {});
    } catch (err) {
      record.error = err.message;
      send(res, err.status || 400, { error: err.message });
    }
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`otlp-receiver stand-in listening on 127.0.0.1:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
