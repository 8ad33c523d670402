// An MCP client of the platform's gateway (`/v1/mcp/<profile>`), with the official SDK's streamable HTTP
// transport and a bearer token (a team or organisation token, or an API key).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/// Connects (initialize + initialized) to `platform`'s gateway for profile `profileId`; returns { client,
/// transport }. The caller closes the client.
export async function connectGateway(platform, profileId, token, { name = "archestra-e2e" } = {}) {
  const client = new Client({ name, version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${platform.baseUrl}/v1/mcp/${profileId}`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

/// The text parts of a tools/call result, one per line.
export const toolText = (result) => (result.content || []).map((c) => c.text ?? "").join("\n");

/// One tools/call on a connection of its own (connected, called, closed); resolves { isError, text }.
export async function callGatewayTool(platform, profileId, token, name, args = {}) {
  const { client } = await connectGateway(platform, profileId, token);
  try {
    const result = await client.callTool({ name, arguments: args });
    return { isError: result.isError === true, text: toolText(result) };
  } finally {
    await client.close();
  }
}
