// A stdio MCP server that crashes on purpose, for e2e_hardening_mcp_crash_loop: it answers initialize and
// tools/list normally, answers `echo` calls, and exits with status 1 in the middle of its Nth call (no answer
// sent; CRASH_EVERY, default 5, counted per process), as a server with a fatal bug under load would.
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { ListToolsRequestSchema, CallToolRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const crashEvery = Number(process.env.CRASH_EVERY || 5);
let calls = 0;

const server = new Server({ name: "crashing", version: "1.0.0" }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: [
    {
      name: "echo",
      description: "Echoes its message; the process dies on every Nth call",
      inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
    },
  ],
}));
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  calls += 1;
  if (calls % crashEvery === 0) {
    process.stderr.write(`crashing-mcp-server: crashing on call ${calls} (pid ${process.pid})\n`);
    process.exit(1);
  }
  return { content: [{ type: "text", text: `echo:${request.params.arguments?.message ?? ""}` }] };
});
await server.connect(new StdioServerTransport());
