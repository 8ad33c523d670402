// Logs: LLM proxy interactions (filters by profile, external agent id, model, blocked) with a detail view of
// request, response and the policy decisions with their reasons; MCP gateway tool calls.
import { useState } from "preact/hooks";
import { api, unwrap } from "../api/client";
import { type Column, DataTable } from "../components/DataTable";
import { Badge, ErrorBox, Field, PageHeader, Spinner, Tabs } from "../components/ui";
import { formatTime, type Paginated, useLoad, useRemotePage } from "../lib/hooks";
import { linkHandler, navigate, useLocation } from "../lib/router";
import { loadProfiles } from "./Profiles";

export interface Interaction {
  id: string;
  profileId: string | null;
  externalAgentId: string | null;
  request: Record<string, unknown>;
  processedRequest?: unknown;
  response?: unknown;
  type: string;
  model: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cost: string | null;
  blocked: boolean;
  statusCode?: number | null;
  durationMs?: number | null;
  decisions?: Decisions | null;
  createdAt: string;
}
interface ToolCallDecision {
  toolCallId: string;
  toolName: string;
  allowed: boolean;
  requiresApproval?: boolean;
  reasonCode?: string;
  reason?: string;
  policyId?: string | null;
  argumentName?: string | null;
}
interface Decisions {
  toolCalls?: ToolCallDecision[];
  context?: { trusted?: boolean; needsSanitization?: boolean; reason?: string; reasonCode?: string; results?: { toolName?: string | null; verdict: string; reason?: string }[] };
  limit?: { limitId?: string; reason?: string };
  clientDisconnected?: boolean;
}

export function LogsPage() {
  const { path } = useLocation();
  const tab = path === "/logs/mcp-gateway" ? "mcp" : "llm";
  return (
    <>
      <PageHeader title="Logs" description="Every LLM call through the proxy and every tool call through the MCP gateway, with the guardrails' decisions." />
      <Tabs
        tabs={[
          { id: "llm", label: "LLM proxy" },
          { id: "mcp", label: "MCP gateway" },
        ]}
        current={tab}
        onSelect={(id) => navigate(id === "mcp" ? "/logs/mcp-gateway" : "/logs/llm-proxy")}
      />
      {tab === "llm" ? <InteractionsTable /> : <McpCallsTable />}
    </>
  );
}

function InteractionsTable() {
  const profiles = useLoad(loadProfiles);
  const [profileId, setProfileId] = useState("");
  const [externalAgentId, setExternalAgentId] = useState("");
  const [model, setModel] = useState("");
  const [blocked, setBlocked] = useState("");
  const agentIds = useLoad(() => unwrap(api.GET("/api/interactions/external-agent-ids")) as Promise<string[]>);
  const { list, rows, remote, pageSize } = useRemotePage<Interaction>(
    async (page) => {
      const query: Record<string, string | number | boolean> = { ...page };
      if (profileId) query.profileId = profileId;
      if (externalAgentId) query.externalAgentId = externalAgentId;
      if (model) query.model = model;
      if (blocked) query.blocked = blocked === "yes";
      return (await unwrap(api.GET("/api/interactions", { params: { query: query as never } }))) as Paginated<Interaction>;
    },
    [profileId, externalAgentId, model, blocked],
    ["createdAt", "profileId", "externalAgentId", "model"],
  );
  const profileName = (id: string | null) => profiles.data?.find((p) => p.id === id)?.name ?? id ?? "—";
  const columns: Column<Interaction>[] = [
    { key: "createdAt", label: "Time", value: (i) => i.createdAt, render: (i) => <a href={`/logs/${i.id}`} onClick={linkHandler(`/logs/${i.id}`)}>{formatTime(i.createdAt)}</a> },
    { key: "profileId", label: "Profile", value: (i) => profileName(i.profileId) },
    { key: "externalAgentId", label: "Agent id", value: (i) => i.externalAgentId ?? "—" },
    { key: "type", label: "Provider", value: (i) => i.type },
    { key: "model", label: "Model", value: (i) => i.model ?? "—" },
    { key: "tokens", label: "Tokens in/out", value: (i) => (i.inputTokens ?? 0) + (i.outputTokens ?? 0), render: (i) => `${i.inputTokens ?? "—"} / ${i.outputTokens ?? "—"}` },
    { key: "cost", label: "Cost", value: (i) => Number(i.cost ?? 0), render: (i) => (i.cost ? `$${Number(i.cost).toFixed(6)}` : "—") },
    {
      key: "blocked",
      label: "Decision",
      value: (i) => (i.blocked ? "Blocked" : "Allowed"),
      render: (i) => (i.blocked ? <Badge tone="bad">Blocked</Badge> : <Badge tone="good">Allowed</Badge>),
    },
  ];
  return (
    <DataTable
      label="LLM proxy interactions"
      columns={columns}
      rows={rows}
      loading={list.loading}
      error={list.error}
      onRetry={list.reload}
      rowKey={(i) => i.id}
      remote={remote}
      pageSize={pageSize}
      emptyTitle="No interactions recorded"
      emptyBody="Point an agent at a profile's base URL (Profiles → Connect) and its calls appear here."
      defaultSort={{ key: "createdAt", dir: "desc" }}
      onRowClick={(i) => navigate(`/logs/${i.id}`)}
      toolbar={
        <div class="filters">
          <select class="input" aria-label="Profile filter" value={profileId} onChange={(e) => setProfileId(e.currentTarget.value)}>
            <option value="">All profiles</option>
            {profiles.data?.map((p) => (
              <option value={p.id}>{p.name}</option>
            ))}
          </select>
          <select class="input" aria-label="Agent id filter" value={externalAgentId} onChange={(e) => setExternalAgentId(e.currentTarget.value)}>
            <option value="">All agent ids</option>
            {agentIds.data?.map((a) => (
              <option value={a}>{a}</option>
            ))}
          </select>
          <input class="input" aria-label="Model filter" placeholder="Model" value={model} onChange={(e) => setModel(e.currentTarget.value)} />
          <select class="input" aria-label="Decision filter" value={blocked} onChange={(e) => setBlocked(e.currentTarget.value)}>
            <option value="">Allowed and blocked</option>
            <option value="yes">Blocked only</option>
            <option value="no">Allowed only</option>
          </select>
          <button type="button" class="btn btn-small" onClick={list.reload}>
            Refresh
          </button>
        </div>
      }
    />
  );
}

interface McpCall {
  id: string;
  agentId: string;
  mcpServerName: string;
  method: string;
  toolCall?: { name?: string; arguments?: unknown } | null;
  toolResult?: unknown;
  createdAt: string;
}

function McpCallsTable() {
  const profiles = useLoad(loadProfiles);
  const [profileId, setProfileId] = useState("");
  const { list, rows, remote, pageSize } = useRemotePage<McpCall>(
    async (page) => {
      const query: Record<string, string | number> = { ...page };
      if (profileId) query.agentId = profileId;
      return (await unwrap(api.GET("/api/mcp-tool-calls", { params: { query: query as never } }))) as Paginated<McpCall>;
    },
    [profileId],
    ["createdAt", "agentId", "mcpServerName", "method"],
  );
  const profileName = (id: string | null) => profiles.data?.find((p) => p.id === id)?.name ?? id ?? "—";
  const [open, setOpen] = useState<McpCall>();
  return (
    <>
      <DataTable
        label="MCP gateway calls"
        columns={[
          { key: "createdAt", label: "Time", value: (c) => c.createdAt, render: (c) => formatTime(c.createdAt) },
          { key: "agentId", label: "Profile", value: (c) => profileName(c.agentId) },
          { key: "mcpServerName", label: "MCP server" },
          { key: "method", label: "Method" },
          { key: "tool", label: "Tool", value: (c) => c.toolCall?.name ?? "—" },
        ]}
        rows={rows}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(c) => c.id}
        remote={remote}
        pageSize={pageSize}
        emptyTitle="No MCP gateway calls recorded"
        emptyBody="Connect an MCP client to a profile's gateway URL (Profiles → Connect) and its calls appear here."
        onRowClick={setOpen}
        toolbar={
          <div class="filters">
            <select class="input" aria-label="Profile filter" value={profileId} onChange={(e) => setProfileId(e.currentTarget.value)}>
              <option value="">All profiles</option>
              {profiles.data?.map((p) => (
                <option value={p.id}>{p.name}</option>
              ))}
            </select>
            <button type="button" class="btn btn-small" onClick={list.reload}>
              Refresh
            </button>
          </div>
        }
      />
      {open && (
        <section class="card" aria-label="MCP call detail">
          <h2>
            {open.method} {open.toolCall?.name ?? ""} on {open.mcpServerName}
          </h2>
          <p class="muted">
            {formatTime(open.createdAt)} · profile {profileName(open.agentId)}
          </p>
          <JsonView label="Tool call" value={open.toolCall} />
          <JsonView label="Result" value={open.toolResult} />
        </section>
      )}
    </>
  );
}

function JsonView({ label, value }: { label: string; value: unknown }) {
  return (
    <details class="json-view" open>
      <summary>{label}</summary>
      <pre>{value === undefined ? "—" : JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}

export function LogDetailPage({ id }: { id: string }) {
  const item = useLoad(
    () => unwrap(api.GET("/api/interactions/{interactionId}", { params: { path: { interactionId: id } } })) as Promise<Interaction>,
    [id],
  );
  const profiles = useLoad(loadProfiles);
  if (item.error) return <ErrorBox error={item.error} onRetry={item.reload} />;
  if (!item.data) return <Spinner />;
  const i = item.data;
  const d = i.decisions ?? {};
  return (
    <>
      <PageHeader
        title={`Interaction ${i.model ?? ""}`}
        description={`${i.type} · ${formatTime(i.createdAt)}`}
        actions={
          <a class="btn" href="/logs/llm-proxy" onClick={linkHandler("/logs/llm-proxy")}>
            Back to logs
          </a>
        }
      />
      <section class="card summary-grid" aria-label="Summary">
        <div>
          <span class="muted">Decision</span>
          <div>{i.blocked ? <Badge tone="bad">Blocked</Badge> : <Badge tone="good">Allowed</Badge>}</div>
        </div>
        <div>
          <span class="muted">Profile</span>
          <div>{profiles.data?.find((p) => p.id === i.profileId)?.name ?? i.profileId ?? "—"}</div>
        </div>
        <div>
          <span class="muted">Agent id</span>
          <div>{i.externalAgentId ?? "—"}</div>
        </div>
        <div>
          <span class="muted">Tokens in / out</span>
          <div>
            {i.inputTokens ?? "—"} / {i.outputTokens ?? "—"}
          </div>
        </div>
        <div>
          <span class="muted">Cost</span>
          <div>{i.cost ? `$${Number(i.cost).toFixed(6)}` : "—"}</div>
        </div>
        <div>
          <span class="muted">Status / duration</span>
          <div>
            {i.statusCode ?? "—"} / {i.durationMs != null ? `${i.durationMs} ms` : "—"}
          </div>
        </div>
      </section>
      <section class="card" aria-label="Policy decisions">
        <h2>Policy decisions</h2>
        {!d.toolCalls?.length && !d.context && !d.limit && <p class="muted">No guardrail was involved in this call.</p>}
        {d.context && (
          <p>
            Context: {d.context.trusted ? <Badge tone="good">trusted</Badge> : <Badge tone="warn">untrusted</Badge>} {d.context.reason}
          </p>
        )}
        {d.limit && (
          <p>
            <Badge tone="bad">Limit</Badge> {d.limit.reason}
          </p>
        )}
        {!!d.toolCalls?.length && (
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Tool call</th>
                  <th scope="col">Decision</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {d.toolCalls.map((t) => (
                  <tr>
                    <td>
                      <code>{t.toolName}</code>
                    </td>
                    <td>{t.allowed ? <Badge tone="good">Allowed</Badge> : <Badge tone="bad">Blocked</Badge>}</td>
                    <td>{t.reason ?? t.reasonCode ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <JsonView label="Request" value={i.request} />
      <JsonView label="Response" value={i.response} />
    </>
  );
}
