// The official provider SDKs pointed at the platform's LLM proxy, as the proxy tests use them, and the two tools
// the upstream stand-in's "scenario:parallel-tools" answers with (get_weather(Paris), send_email(bob@example.com)).
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";

/// get_weather and send_email in OpenAI's chat completions format.
export const openAiTools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather for a place",
      parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
    },
  },
  {
    type: "function",
    function: {
      name: "send_email",
      description: "Send an email",
      parameters: {
        type: "object",
        properties: { to: { type: "string" }, body: { type: "string" } },
        required: ["to", "body"],
      },
    },
  },
];

/// The same two tools in Anthropic's messages format.
export const anthropicTools = openAiTools.map((t) => ({
  name: t.function.name,
  description: t.function.description,
  input_schema: t.function.parameters,
}));

const proxyUrl = (platform, provider, profileId) =>
  `${platform.baseUrl}/v1/${provider}${profileId ? `/${profileId}` : ""}`;

/// An `openai` client on `platform`'s proxy for `profileId` (none: the default profile), without retries (each
/// call reaches the upstream once); `options` (apiKey, timeout, ...) override the defaults.
export function openAiClient(platform, profileId, options = {}) {
  return new OpenAI({
    baseURL: proxyUrl(platform, "openai", profileId),
    apiKey: "sk-test-openai-key",
    maxRetries: 0,
    timeout: 20000,
    ...options,
  });
}

/// An `@anthropic-ai/sdk` client on `platform`'s proxy, like openAiClient.
export function anthropicClient(platform, profileId, options = {}) {
  return new Anthropic({
    baseURL: proxyUrl(platform, "anthropic", profileId),
    apiKey: "sk-ant-test-key",
    maxRetries: 0,
    timeout: 20000,
    ...options,
  });
}
