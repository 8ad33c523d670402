// Writes fuzz_http's body-mode seeds from the platform's own OpenAPI document: for every management operation
// (/api/...) with a JSON request body, test/fuzz/corpus/http/api-<operationId>.bin holds the mode byte 1 and
// {"schema": <its request schema, $refs resolved>, "value": <a body that conforms>}. The fuzzer then mutates
// real resource schemas and bodies through the validator the dispatcher runs before each handler.
//
//   node test/fuzz/api-seeds.mjs <archestra-platform binary | openapi.json>
// Re-run when routes change; old api-*.bin files are replaced.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const corpus = path.join(path.dirname(fileURLToPath(import.meta.url)), "corpus", "http");

function loadDocument(source) {
  if (!source) throw new Error("usage: api-seeds.mjs <archestra-platform binary | openapi.json>");
  const text = source.endsWith(".json")
    ? fs.readFileSync(source, "utf8")
    : execFileSync(source, ["--print-openapi"], { encoding: "utf8", maxBuffer: 64 << 20 });
  return JSON.parse(text);
}

// Inlines "#/components/schemas/X" references (the validator does not follow $ref); a reference met again
// inside itself stays a plain object schema, which is enough for a seed.
function resolve(schema, doc, seen = new Set()) {
  if (Array.isArray(schema)) return schema.map((s) => resolve(s, doc, seen));
  if (!schema || typeof schema !== "object") return schema;
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.split("/").pop();
    if (seen.has(name)) return { type: "object" };
    return resolve(doc.components?.schemas?.[name] ?? {}, doc, new Set([...seen, name]));
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolve(v, doc, seen)]));
}

// A value the schema accepts: every property filled, enums and bounds honoured.
function sample(schema) {
  if (!schema || typeof schema !== "object") return null;
  if (schema.enum) return schema.enum[0];
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return sample(alternatives[0]);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "string":
      if (schema.format === "uuid") return "6f1c2b1e-4a7d-4c1e-9b3a-2f5d8e9a0b1c";
      return "x".repeat(Math.max(1, schema.minLength ?? 1));
    case "integer":
    case "number":
      return schema.minimum ?? 1;
    case "boolean":
      return true;
    case "array":
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sample(schema.items));
    case "object":
    case undefined:
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, sample(v)]));
    default:
      return null;
  }
}

const doc = loadDocument(process.argv[2]);
for (const old of fs.readdirSync(corpus).filter((n) => n.startsWith("api-"))) fs.rmSync(path.join(corpus, old));
let written = 0;
for (const [route, operations] of Object.entries(doc.paths ?? {})) {
  if (!route.startsWith("/api/")) continue;
  for (const operation of Object.values(operations)) {
    const schema = operation?.requestBody?.content?.["application/json"]?.schema;
    if (!schema || !operation.operationId) continue;
    const resolved = resolve(schema, doc);
    const seed = JSON.stringify({ schema: resolved, value: sample(resolved) });
    fs.writeFileSync(path.join(corpus, `api-${operation.operationId}.bin`), `\u0001${seed}`);
    written++;
  }
}
console.error(`api-seeds: ${written} seeds in ${path.relative(process.cwd(), corpus)}`);
