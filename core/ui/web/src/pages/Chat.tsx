// Chat: the signed-in user's conversations with a profile (and optionally a saved prompt). Answers stream from
// POST /api/chat (AI SDK UI message stream over SSE): the model runs through the platform's LLM proxy, tools
// through the profile's MCP gateway, so tool calls, their results and blocked calls appear in the thread.
import { useEffect, useRef, useState } from "preact/hooks";
import { raw } from "../api/client";
import { DeleteButton } from "../components/DataTable";
import { Badge, Empty, ErrorBox, Field, fieldErrors, FormDialog, PageHeader, Spinner, useSubmit, valueOf } from "../components/ui";
import { formatTime, useLoad } from "../lib/hooks";
import { navigate, useLocation } from "../lib/router";
import { loadProfiles, type Profile } from "./Profiles";

interface Conversation {
  id: string;
  agentId: string | null;
  promptId: string | null;
  title: string | null;
  selectedModel: string;
  createdAt: string;
  updatedAt: string;
  agent?: { id: string; name: string } | null;
}
type Part = Record<string, unknown> & { type: string };
interface Message {
  id: string;
  role: "user" | "assistant" | "tool";
  parts: Part[];
  createdAt: string;
}
interface Prompt {
  id: string;
  name: string;
  agentId: string | null;
  userPrompt?: string | null;
}

const MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gemini-2.5-flash", "gemini-2.5-pro"];

/// The userPrompt of the prompt a conversation was just created with: sent once, as the first message.
const startWith = new Map<string, string>();

export function ChatPage() {
  const { path } = useLocation();
  const selectedId = path.startsWith("/chat/") ? path.slice("/chat/".length) : undefined;
  const list = useLoad(() => raw<Conversation[]>("GET", "/api/chat/conversations"));
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageHeader
        title="Chat"
        description="Talk to a profile's model through the platform's LLM proxy, with the profile's MCP tools behind the gateway's guardrails."
        actions={
          <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
            New conversation
          </button>
        }
      />
      <div class="chat-layout">
        <nav class="card chat-list" aria-label="Conversations">
          {list.loading && !list.data && <Spinner />}
          {list.error && <ErrorBox error={list.error} onRetry={list.reload} />}
          {list.data?.length === 0 && <Empty title="No conversations yet">Start one with “New conversation”.</Empty>}
          <ul>
            {list.data?.map((c) => (
              <li>
                <a
                  href={`/chat/${c.id}`}
                  class={c.id === selectedId ? "chat-list-item active" : "chat-list-item"}
                  aria-current={c.id === selectedId ? "page" : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`/chat/${c.id}`);
                  }}
                >
                  <span class="chat-list-title">{c.title || "Untitled conversation"}</span>
                  <span class="muted small">
                    {c.agent?.name ?? "profile deleted"} · {formatTime(c.updatedAt)}
                  </span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <section class="chat-main" aria-label="Conversation">
          {selectedId ? (
            <ConversationView key={selectedId} id={selectedId} onChanged={list.reload} />
          ) : (
            <div class="card">
              <Empty title="Pick a conversation or start a new one" />
            </div>
          )}
        </section>
      </div>
      <NewConversationDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(c, userPrompt) => {
          setCreating(false);
          if (userPrompt?.trim()) startWith.set(c.id, userPrompt);
          list.reload();
          navigate(`/chat/${c.id}`);
        }}
      />
    </>
  );
}

function NewConversationDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (c: Conversation, userPrompt?: string | null) => void }) {
  const profiles = useLoad(loadProfiles, [open]);
  const prompts = useLoad(() => raw<Prompt[]>("GET", "/api/prompts").catch(() => [] as Prompt[]), [open]);
  const [agentId, setAgentId] = useState("");
  const [promptId, setPromptId] = useState("");
  const [model, setModel] = useState(MODELS[0]);
  const profileList: Profile[] = profiles.data ?? [];
  const chosenAgent = agentId || profileList[0]?.id || "";
  const { busy, error, submit } = useSubmit(async () => {
    const created = await raw<Conversation>("POST", "/api/chat/conversations", {
      agentId: chosenAgent,
      ...(promptId ? { promptId } : {}),
      selectedModel: model,
    });
    onCreated(created, (prompts.data ?? []).find((p) => p.id === promptId)?.userPrompt);
  });
  const errors = fieldErrors(error, ["agentId", "promptId", "selectedModel"]);
  const promptChoices = (prompts.data ?? []).filter((p) => !p.agentId || p.agentId === chosenAgent);
  return (
    <FormDialog title="New conversation" open={open} onClose={onClose} onSubmit={submit} busy={busy} error={errors.rest} submitLabel="Start">
      <Field label="Profile" error={errors.on("agentId")}>
        <select class="input" value={chosenAgent} onChange={(e) => setAgentId(valueOf(e))}>
          {profileList.map((p) => (
            <option value={p.id}>{p.name}</option>
          ))}
        </select>
      </Field>
      <Field label="Prompt" hint="A saved prompt's system prompt steers the model; its user prompt is sent as the first message." error={errors.on("promptId")}>
        <select class="input" value={promptId} onChange={(e) => setPromptId(valueOf(e))}>
          <option value="">No prompt</option>
          {promptChoices.map((p) => (
            <option value={p.id}>{p.name}</option>
          ))}
        </select>
      </Field>
      <Field label="Model" hint="claude-* models use the Anthropic key of Settings → Chat, gemini-* the Gemini key, others the OpenAI key." error={errors.on("selectedModel")}>
        <select class="input" value={model} onChange={(e) => setModel(valueOf(e))}>
          {MODELS.map((m) => (
            <option value={m}>{m}</option>
          ))}
        </select>
      </Field>
    </FormDialog>
  );
}

/// Reads the SSE body of POST /api/chat, calling `onEvent` per `data:` event.
async function readEvents(response: Response, onEvent: (event: Part) => void) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data !== "[DONE]") onEvent(JSON.parse(data) as Part);
      }
    }
  }
}

/// The parts of the answer being streamed, built from the events (the stored messages replace them after).
function applyEvent(parts: Part[], event: Part): Part[] {
  switch (event.type) {
    case "text-delta": {
      const last = parts[parts.length - 1];
      if (last?.type === "text" && last.streamId === event.id) return [...parts.slice(0, -1), { ...last, text: String(last.text) + String(event.delta) }];
      return [...parts, { type: "text", text: event.delta, streamId: event.id }];
    }
    case "tool-input-available":
      return [...parts, { type: "tool-call", toolCallId: event.toolCallId, toolName: event.toolName, input: event.input }];
    case "tool-output-available": {
      const call = parts.find((p) => p.type === "tool-call" && p.toolCallId === event.toolCallId);
      const output = event.output as { isError?: boolean; _meta?: { archestra?: { blocked?: boolean } } };
      return [...parts, { type: "tool-result", toolCallId: event.toolCallId, toolName: call?.toolName, output, isError: !!output?.isError, blocked: !!output?._meta?.archestra?.blocked }];
    }
    case "data-tool-blocked": {
      const data = event.data as { toolCallId?: string; toolName: string; reason: string; text: string; blockedBy: string };
      if (data.blockedBy === "gateway") return parts; // the tool-result part shows it
      return [...parts, { type: "tool-blocked", toolCallId: data.toolCallId, toolName: data.toolName, reason: data.reason, text: data.text }];
    }
    case "error":
      return [...parts, { type: "error", errorText: event.errorText }];
    default:
      return parts;
  }
}

function resultText(output: unknown): string {
  const content = (output as { content?: { type: string; text?: string }[] })?.content;
  if (!Array.isArray(content)) return JSON.stringify(output, null, 2);
  return content.map((c) => c.text ?? JSON.stringify(c)).join("\n");
}

function PartView({ part }: { part: Part }) {
  switch (part.type) {
    case "text":
      return <div class="chat-text">{String(part.text)}</div>;
    case "tool-call":
      return (
        <div class="chat-tool" data-testid="tool-call">
          <div class="chat-tool-head">
            <Badge>Tool call</Badge> <code>{String(part.toolName)}</code>
          </div>
          <pre class="chat-json">{JSON.stringify(part.input, null, 2)}</pre>
        </div>
      );
    case "tool-result":
      return (
        <div class={part.blocked ? "chat-tool chat-tool-blocked" : "chat-tool"} data-testid="tool-result">
          <div class="chat-tool-head">
            <Badge tone={part.blocked ? "bad" : part.isError ? "warn" : "good"}>{part.blocked ? "Blocked" : part.isError ? "Tool error" : "Tool result"}</Badge>{" "}
            <code>{String(part.toolName ?? "")}</code>
          </div>
          <pre class="chat-json">{resultText(part.output)}</pre>
        </div>
      );
    case "tool-blocked":
      return (
        <div class="chat-tool chat-tool-blocked" data-testid="tool-blocked">
          <div class="chat-tool-head">
            <Badge tone="bad">Blocked</Badge> <code>{String(part.toolName)}</code>
          </div>
          <div>Blocked by a tool invocation policy: {String(part.reason)}</div>
        </div>
      );
    case "error":
      return <ErrorBox error={String(part.errorText)} />;
    default:
      return null;
  }
}

function MessageView({ role, parts }: { role: string; parts: Part[] }) {
  if (parts.length === 0) return null;
  return (
    <div class={`chat-message chat-${role}`} data-role={role}>
      <div class="chat-role muted small">{role === "user" ? "You" : role === "tool" ? "Tools (MCP gateway)" : "Assistant"}</div>
      {parts.map((p) => (
        <PartView part={p} />
      ))}
    </div>
  );
}

function ConversationView({ id, onChanged }: { id: string; onChanged: () => void }) {
  const conversation = useLoad(() => raw<Conversation & { messages: Message[] }>("GET", `/api/chat/conversations/${id}`), [id]);
  const [draft, setDraft] = useState("");
  const [pending, setPending] = useState<{ user: string; parts: Part[] } | null>(null);
  const [sendError, setSendError] = useState<string>();
  const [renaming, setRenaming] = useState(false);
  const bottom = useRef<HTMLDivElement>(null);
  useEffect(() => bottom.current?.scrollIntoView?.({ block: "end" }), [conversation.data, pending]);
  // A new conversation whose prompt has a user prompt starts with it (the server reads it from the prompt).
  useEffect(() => {
    const start = startWith.get(id);
    if (start && conversation.data && conversation.data.messages.length === 0 && !pending) {
      startWith.delete(id);
      send(start);
    }
  }, [conversation.data]);

  if (conversation.loading && !conversation.data) return <Spinner />;
  if (conversation.error) return <ErrorBox error={conversation.error} onRetry={conversation.reload} />;
  const c = conversation.data!;

  async function send(promptStart?: string) {
    const text = promptStart ?? draft.trim();
    if (!text || pending) return;
    if (!promptStart) setDraft("");
    setSendError(undefined);
    setPending({ user: text, parts: [] });
    try {
      const messages = promptStart ? [] : [{ id: crypto.randomUUID?.() ?? String(Date.now()), role: "user", parts: [{ type: "text", text }] }];
      const response = await fetch("/api/chat", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id, messages }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new Error(body?.error?.message ?? `The chat failed (${response.status})`);
      }
      await readEvents(response, (event) => setPending((p) => (p ? { ...p, parts: applyEvent(p.parts, event) } : p)));
      if (!conversation.data?.title) await raw("POST", `/api/chat/conversations/${id}/generate-title`, {}).catch(() => {});
    } catch (e) {
      setSendError((e as Error).message);
      if (!promptStart) setDraft(text);
    } finally {
      setPending(null);
      conversation.reload();
      onChanged();
    }
  }

  return (
    <div class="card chat-card">
      <div class="card-header">
        <div>
          <h2 class="chat-title">{c.title || "Untitled conversation"}</h2>
          <div class="muted small">
            Profile {c.agent?.name ?? "deleted"} · {c.selectedModel}
          </div>
        </div>
        <div class="row-actions">
          <button type="button" class="btn btn-small" onClick={() => setRenaming(true)}>
            Rename
          </button>
          <DeleteButton
            title="Delete this conversation?"
            message="Its messages are deleted with it."
            remove={() => raw("DELETE", `/api/chat/conversations/${id}`)}
            done={() => {
              onChanged();
              navigate("/chat");
            }}
          />
        </div>
      </div>
      <div class="chat-thread" aria-live="polite">
        {c.messages.length === 0 && !pending && <p class="muted">No messages yet: ask something below.</p>}
        {c.messages.map((m) => (
          <MessageView role={m.role} parts={m.parts} />
        ))}
        {pending && (
          <>
            <MessageView role="user" parts={[{ type: "text", text: pending.user }]} />
            <MessageView role="assistant" parts={pending.parts} />
            <Spinner label="The model is answering…" />
          </>
        )}
        <div ref={bottom} />
      </div>
      {sendError && <ErrorBox error={sendError} />}
      <form
        class="chat-composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <textarea
          class="input"
          aria-label="Message"
          placeholder="Message the profile's model…"
          rows={2}
          value={draft}
          onInput={(e) => setDraft(valueOf(e))}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              send();
            }
          }}
        />
        <button type="submit" class="btn btn-primary" disabled={!!pending || !draft.trim()}>
          Send
        </button>
      </form>
      <RenameDialog open={renaming} conversation={c} onClose={() => setRenaming(false)} onSaved={() => { setRenaming(false); conversation.reload(); onChanged(); }} />
    </div>
  );
}

function RenameDialog({ open, conversation, onClose, onSaved }: { open: boolean; conversation: Conversation; onClose: () => void; onSaved: () => void }) {
  const [title, setTitle] = useState(conversation.title ?? "");
  useEffect(() => setTitle(conversation.title ?? ""), [open]);
  const { busy, error, submit } = useSubmit(async () => {
    await raw("PATCH", `/api/chat/conversations/${conversation.id}`, { title });
    onSaved();
  });
  const errors = fieldErrors(error, ["title"]);
  return (
    <FormDialog title="Rename conversation" open={open} onClose={onClose} onSubmit={submit} busy={busy} error={errors.rest} submitLabel="Save">
      <Field label="Title" error={errors.on("title")}>
        <input class="input" value={title} onInput={(e) => setTitle(valueOf(e))} />
      </Field>
    </FormDialog>
  );
}
