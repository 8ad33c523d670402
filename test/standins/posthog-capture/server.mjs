// PostHog capture endpoint stand-in: records analytics events and raw bodies for the telemetry tests.
import http from "node:http";

const port = Number(process.argv[2] || 0);
let events = [];
let bodies = [];

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (url.pathname === "/__events") return send(res, 200, { events, bodies });
    if (url.pathname === "/__reset") {
      events = [];
      bodies = [];
      return send(res, 200, { ok: true });
    }
    if (req.method !== "POST" || !["/batch/", "/capture/", "/i/v0/e/"].includes(url.pathname))
      return send(res, 404, { error: "not found" });
    const raw = Buffer.concat(chunks).toString("utf8");
    bodies.push(raw);
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, { error: "body is not JSON" });
    }
    if (!body.api_key) return send(res, 401, { error: "api_key missing" });
    for (const event of body.batch || [body]) events.push({ ...event, api_key: body.api_key });
    send(res, 200, { status: 1 });
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`posthog-capture stand-in listening on 127.0.0.1:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
