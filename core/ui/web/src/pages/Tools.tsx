// Tools: the profile-tool table with trust settings, and the tool invocation / trusted data policies of each
// profile tool, edited in place.
import { useState } from "preact/hooks";
import { api, raw, unwrap } from "../api/client";
import { type Column, DataTable, DeleteButton } from "../components/DataTable";
import { Badge, ErrorBox, PageHeader, Spinner, useSubmit } from "../components/ui";
import { useLoad } from "../lib/hooks";

interface AgentTool {
  id: string;
  allowUsageWhenUntrustedDataIsPresent: boolean;
  toolResultTreatment: "trusted" | "sanitize_with_dual_llm" | "untrusted";
  agent: { id: string; name: string };
  tool: { id: string; name: string; description: string | null; mcpServerName?: string | null; catalogId?: string | null };
  createdAt: string;
}
interface InvocationPolicy {
  id?: string;
  agentToolId: string;
  argumentName: string;
  operator: string;
  value: string;
  action: string;
  reason: string | null;
}
interface TrustedDataPolicy {
  id?: string;
  agentToolId: string;
  description: string;
  attributePath: string;
  operator: string;
  value: string;
  action: string;
}

const treatments = [
  { value: "trusted", label: "Trusted" },
  { value: "untrusted", label: "Untrusted" },
  { value: "sanitize_with_dual_llm", label: "Sanitize with Dual LLM" },
];

async function loadAgentTools(): Promise<AgentTool[]> {
  const out: AgentTool[] = [];
  for (let offset = 0; offset < 1000; offset += 100) {
    const page = await raw<{ data: AgentTool[]; pagination: { hasNext: boolean } }>("GET", `/api/agent-tools?limit=100&offset=${offset}`);
    out.push(...page.data);
    if (!page.pagination?.hasNext) break;
  }
  return out;
}

export function ToolsPage() {
  const tools = useLoad(loadAgentTools);
  const invocation = useLoad(() => unwrap(api.GET("/api/autonomy-policies/tool-invocation")) as Promise<InvocationPolicy[]>);
  const trusted = useLoad(() => unwrap(api.GET("/api/trusted-data-policies")) as Promise<TrustedDataPolicy[]>);
  const operators = useLoad(() => unwrap(api.GET("/api/autonomy-policies/operators")) as Promise<{ value: string; label: string }[]>);
  const [selected, setSelected] = useState<string>();
  const [rowError, setRowError] = useState<string>();

  const patch = async (t: AgentTool, body: Partial<AgentTool>) => {
    setRowError(undefined);
    try {
      await raw("PATCH", `/api/agent-tools/${t.id}`, body);
      tools.reload();
    } catch (e) {
      setRowError(`${t.tool.name}: ${(e as Error).message}`);
    }
  };
  const count = (id: string) =>
    (invocation.data?.filter((p) => p.agentToolId === id).length ?? 0) + (trusted.data?.filter((p) => p.agentToolId === id).length ?? 0);

  const columns: Column<AgentTool>[] = [
    { key: "tool", label: "Tool", value: (t) => t.tool.name, render: (t) => <code>{t.tool.name}</code> },
    { key: "agent", label: "Profile", value: (t) => t.agent.name },
    { key: "origin", label: "Origin", value: (t) => t.tool.mcpServerName ?? (t.tool.catalogId ? "MCP" : "LLM proxy") },
    {
      key: "allowUsageWhenUntrustedDataIsPresent",
      label: "Allowed with untrusted data",
      value: (t) => (t.allowUsageWhenUntrustedDataIsPresent ? "yes" : "no"),
      render: (t) => (
        <label class="check">
          <input
            type="checkbox"
            aria-label={`Allow ${t.tool.name} on ${t.agent.name} when untrusted data is present`}
            checked={t.allowUsageWhenUntrustedDataIsPresent}
            onChange={(e) => patch(t, { allowUsageWhenUntrustedDataIsPresent: e.currentTarget.checked })}
          />
          {t.allowUsageWhenUntrustedDataIsPresent ? "Allowed" : "Blocked"}
        </label>
      ),
    },
    {
      key: "toolResultTreatment",
      label: "Results are",
      render: (t) => (
        <select
          class="input"
          aria-label={`Result treatment of ${t.tool.name} on ${t.agent.name}`}
          value={t.toolResultTreatment}
          onChange={(e) => patch(t, { toolResultTreatment: e.currentTarget.value as AgentTool["toolResultTreatment"] })}
        >
          {treatments.map((o) => (
            <option value={o.value}>{o.label}</option>
          ))}
        </select>
      ),
      value: (t) => t.toolResultTreatment,
    },
    {
      key: "policies",
      label: "Policies",
      value: (t) => count(t.id),
      render: (t) => (
        <button type="button" class="btn btn-small" aria-expanded={selected === t.id} onClick={() => setSelected(selected === t.id ? undefined : t.id)}>
          {count(t.id)} {count(t.id) === 1 ? "policy" : "policies"} · {selected === t.id ? "Close" : "Edit"}
        </button>
      ),
    },
  ];
  const current = tools.data?.find((t) => t.id === selected);
  return (
    <>
      <PageHeader title="Tools" description="Tools each profile's agents offer the model, how far they are trusted, and the policies that guard them." />
      {rowError && <ErrorBox error={rowError} />}
      <DataTable
        label="Profile tools"
        columns={columns}
        rows={tools.data}
        loading={tools.loading}
        error={tools.error}
        onRetry={tools.reload}
        rowKey={(t) => t.id}
        emptyTitle="No tools discovered yet"
        emptyBody="Tools appear once an agent sends a request with tools through a profile, or an MCP server is installed."
        defaultSort={{ key: "tool", dir: "asc" }}
      />
      {current && (
        <section class="card" aria-label={`Policies of ${current.tool.name}`}>
          <h2>
            Policies of <code>{current.tool.name}</code> on {current.agent.name}
          </h2>
          {!operators.data ? (
            <Spinner />
          ) : (
            <>
              <h3>Tool invocation policies</h3>
              <p class="muted">Checked against the tool call's arguments before the call reaches the agent.</p>
              <PolicyRows
                kind="invocation"
                agentToolId={current.id}
                rows={invocation.data?.filter((p) => p.agentToolId === current.id) ?? []}
                operators={operators.data}
                onChange={invocation.reload}
              />
              <h3>Trusted data policies</h3>
              <p class="muted">Decide whether this tool's results are trusted, blocked or sanitized.</p>
              <PolicyRows
                kind="trusted"
                agentToolId={current.id}
                rows={trusted.data?.filter((p) => p.agentToolId === current.id) ?? []}
                operators={operators.data}
                onChange={trusted.reload}
              />
            </>
          )}
        </section>
      )}
    </>
  );
}

type AnyPolicy = Partial<InvocationPolicy & TrustedDataPolicy> & { agentToolId: string };

function PolicyRows({ kind, agentToolId, rows, operators, onChange }: { kind: "invocation" | "trusted"; agentToolId: string; rows: AnyPolicy[]; operators: { value: string; label: string }[]; onChange: () => void }) {
  const [adding, setAdding] = useState(false);
  const blank: AnyPolicy =
    kind === "invocation"
      ? { agentToolId, argumentName: "", operator: "equal", value: "", action: "block_always", reason: "" }
      : { agentToolId, attributePath: "", operator: "equal", value: "", action: "mark_as_trusted", description: "" };
  return (
    <div class="policy-list">
      {rows.length === 0 && !adding && <p class="muted">No {kind === "invocation" ? "invocation" : "trusted data"} policies.</p>}
      {rows.map((p) => (
        <PolicyRow key={p.id} kind={kind} policy={p} operators={operators} onSaved={onChange} />
      ))}
      {adding && (
        <PolicyRow
          kind={kind}
          policy={blank}
          operators={operators}
          onSaved={() => {
            setAdding(false);
            onChange();
          }}
          onCancel={() => setAdding(false)}
        />
      )}
      {!adding && (
        <button type="button" class="btn btn-small" onClick={() => setAdding(true)}>
          Add {kind === "invocation" ? "invocation" : "trusted data"} policy
        </button>
      )}
    </div>
  );
}

function PolicyRow({ kind, policy, operators, onSaved, onCancel }: { kind: "invocation" | "trusted"; policy: AnyPolicy; operators: { value: string; label: string }[]; onSaved: () => void; onCancel?: () => void }) {
  const [p, setP] = useState<AnyPolicy>(policy);
  const [saved, setSaved] = useState(false);
  const isNew = !policy.id;
  const base = kind === "invocation" ? "/api/autonomy-policies/tool-invocation" : "/api/trusted-data-policies";
  const { busy, error, submit } = useSubmit(async () => {
    const body =
      kind === "invocation"
        ? { agentToolId: p.agentToolId, argumentName: p.argumentName, operator: p.operator, value: p.value, action: p.action, reason: p.reason || null }
        : { agentToolId: p.agentToolId, attributePath: p.attributePath, operator: p.operator, value: p.value, action: p.action, description: p.description };
    if (isNew) await raw("POST", base, body);
    else await raw("PUT", `${base}/${policy.id}`, body);
    setSaved(true);
    setTimeout(() => setSaved(false), 1500);
    onSaved();
  });
  const set = (k: keyof AnyPolicy) => (e: { currentTarget: { value: string } }) => setP({ ...p, [k]: e.currentTarget.value });
  const actions =
    kind === "invocation"
      ? [
          { value: "block_always", label: "Block always" },
          { value: "allow_when_context_is_untrusted", label: "Allow even when context is untrusted" },
        ]
      : [
          { value: "mark_as_trusted", label: "Mark as trusted" },
          { value: "block_always", label: "Block always" },
          { value: "sanitize_with_dual_llm", label: "Sanitize with Dual LLM" },
        ];
  return (
    <form
      class="policy-row"
      aria-label={isNew ? "New policy" : "Policy"}
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <span class="muted">If</span>
      {kind === "invocation" ? (
        <input class="input" aria-label="Argument name" placeholder="argument" required value={p.argumentName} onInput={set("argumentName")} />
      ) : (
        <input class="input" aria-label="Attribute path" placeholder="attribute path, e.g. emails[*].from" required value={p.attributePath} onInput={set("attributePath")} />
      )}
      <select class="input" aria-label="Operator" value={p.operator} onChange={set("operator")}>
        {operators.map((o) => (
          <option value={o.value}>{o.label}</option>
        ))}
      </select>
      <input class="input" aria-label="Value" placeholder="value" value={p.value} onInput={set("value")} />
      <span class="muted">then</span>
      <select class="input" aria-label="Action" value={p.action} onChange={set("action")}>
        {actions.map((o) => (
          <option value={o.value}>{o.label}</option>
        ))}
      </select>
      {kind === "invocation" ? (
        <input class="input" aria-label="Reason" placeholder="reason shown to the agent" value={p.reason ?? ""} onInput={set("reason")} />
      ) : (
        <input class="input" aria-label="Description" placeholder="description" value={p.description ?? ""} onInput={set("description")} />
      )}
      <button type="submit" class="btn btn-small btn-primary" disabled={busy}>
        {busy ? "Saving…" : isNew ? "Add" : "Save"}
      </button>
      {saved && <Badge tone="good">Saved</Badge>}
      {isNew ? (
        <button type="button" class="btn btn-small" onClick={onCancel}>
          Cancel
        </button>
      ) : (
        <DeleteButton
          title="Delete this policy?"
          message="The tool will no longer be checked against it."
          remove={() => raw("DELETE", `${base}/${policy.id}`)}
          done={onSaved}
        />
      )}
      {error && <ErrorBox error={error} />}
    </form>
  );
}
