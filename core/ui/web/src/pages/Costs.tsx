// Costs: usage statistics over time (Chart.js), limits, token prices, optimization rules and tool-result
// compression (TOON) with what it saved.
import { Chart, type ChartConfiguration, registerables } from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, raw, unwrap } from "../api/client";
import { actionsColumn, DataTable, EditDeleteActions } from "../components/DataTable";
import { Badge, Empty, ErrorBox, Field, fieldErrors, FormDialog, PageHeader, Spinner, Tabs, useEditor, useSubmit } from "../components/ui";
import { type Loaded, useLoad } from "../lib/hooks";
import { navigate, useLocation } from "../lib/router";

Chart.register(...registerables);

export function CostsPage() {
  const { path } = useLocation();
  const tab = path.split("/")[2] || "statistics";
  return (
    <>
      <PageHeader title="Costs" description="What agents spend, the limits that stop them, and the prices used to compute it." />
      <Tabs
        tabs={[
          { id: "statistics", label: "Statistics" },
          { id: "limits", label: "Limits" },
          { id: "token-price", label: "Token prices" },
          { id: "optimization-rules", label: "Optimization rules" },
          { id: "compression", label: "Compression" },
        ]}
        current={tab}
        onSelect={(id) => navigate(`/cost/${id}`)}
      />
      {tab === "statistics" && <Statistics />}
      {tab === "limits" && <Limits />}
      {tab === "token-price" && <TokenPrices />}
      {tab === "optimization-rules" && <OptimizationRules />}
      {tab === "compression" && <Compression />}
    </>
  );
}

interface Overview {
  totalRequests: number;
  totalTokens: number;
  totalCost: number | string;
  topTeam?: unknown;
  topAgent?: unknown;
  topModel?: unknown;
}
interface SeriesRow {
  agentName?: string;
  teamName?: string;
  model?: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cost: number | string;
  timeSeries: { timestamp: string; value: number }[];
}

const timeframes = ["1h", "24h", "7d", "30d", "90d", "12m", "all"];

function LineChart({ rows, label }: { rows: SeriesRow[]; label: (r: SeriesRow) => string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const stamps = [...new Set(rows.flatMap((r) => r.timeSeries.map((p) => p.timestamp)))].sort();
    // A line through one or two buckets shows little: bars then.
    const config: ChartConfiguration<"line" | "bar"> = {
      type: stamps.length <= 2 ? "bar" : "line",
      data: {
        labels: stamps.map((s) => new Date(s).toLocaleString()),
        datasets: rows.map((r) => ({
          label: label(r),
          data: stamps.map((s) => r.timeSeries.find((p) => p.timestamp === s)?.value ?? 0),
          tension: 0.25,
        })),
      },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, title: { display: true, text: "Cost ($)" } } } },
    };
    const chart = new Chart(canvas.current, config);
    return () => chart.destroy();
  }, [rows]);
  // The canvas is opaque to screen readers: its label carries each series' total.
  const summary = rows.map((r) => `${label(r)}: $${r.timeSeries.reduce((s, p) => s + Number(p.value), 0).toFixed(6)}`).join(", ");
  return (
    <div class="chart-box">
      <canvas ref={canvas} role="img" aria-label={`Cost over time: ${summary}`} />
    </div>
  );
}

function Statistics() {
  const [timeframe, setTimeframe] = useState("24h");
  const [groupBy, setGroupBy] = useState<"agents" | "models" | "teams">("agents");
  const overview = useLoad(() => raw<Overview>("GET", `/api/statistics/overview?timeframe=${timeframe}`), [timeframe]);
  const rows = useLoad(() => raw<SeriesRow[]>("GET", `/api/statistics/${groupBy}?timeframe=${timeframe}`), [timeframe, groupBy]);
  const name = (r: SeriesRow) => (groupBy === "agents" ? r.agentName : groupBy === "models" ? r.model : r.teamName) ?? "—";
  return (
    <div class="stack">
      <div class="filters">
        <label class="inline">
          Timeframe{" "}
          <select class="input" value={timeframe} onChange={(e) => setTimeframe(e.currentTarget.value)}>
            {timeframes.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </label>
        <label class="inline">
          Group by{" "}
          <select class="input" value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value as typeof groupBy)}>
            <option value="agents">Profile</option>
            <option value="models">Model</option>
            <option value="teams">Team</option>
          </select>
        </label>
      </div>
      {overview.error ? (
        <ErrorBox error={overview.error} onRetry={overview.reload} />
      ) : overview.data ? (
        <div class="stat-cards">
          <div class="card stat">
            <span class="muted">Requests</span>
            <strong>{overview.data.totalRequests}</strong>
          </div>
          <div class="card stat">
            <span class="muted">Tokens</span>
            <strong>{overview.data.totalTokens}</strong>
          </div>
          <div class="card stat">
            <span class="muted">Cost</span>
            <strong>${Number(overview.data.totalCost).toFixed(4)}</strong>
          </div>
        </div>
      ) : (
        <Spinner />
      )}
      <SavingsCards timeframe={timeframe} />
      <section class="card" aria-label="Cost over time">
        <h2>Cost over time</h2>
        {rows.error ? (
          <ErrorBox error={rows.error} onRetry={rows.reload} />
        ) : !rows.data ? (
          <Spinner />
        ) : rows.data.length === 0 ? (
          <Empty title="No usage in this timeframe" />
        ) : (
          <LineChart rows={rows.data} label={name} />
        )}
      </section>
      <DataTable
        label="Usage"
        rows={rows.data}
        loading={rows.loading}
        error={rows.error}
        rowKey={name}
        emptyTitle="No usage in this timeframe"
        defaultSort={{ key: "cost", dir: "desc" }}
        columns={[
          { key: "name", label: groupBy === "agents" ? "Profile" : groupBy === "models" ? "Model" : "Team", value: name },
          { key: "requests", label: "Requests" },
          { key: "inputTokens", label: "Input tokens" },
          { key: "outputTokens", label: "Output tokens" },
          { key: "cost", label: "Cost", value: (r) => Number(r.cost), render: (r) => `$${Number(r.cost).toFixed(6)}` },
        ]}
      />
    </div>
  );
}

// ---- who a limit or rule applies to --------------------------------------------------------------------------

type EntityType = "organization" | "team" | "agent";
interface Named {
  id: string;
  name: string;
}
interface Entities {
  organization: Named;
  teams: Named[];
  agents: Named[];
}

function useEntities(): Loaded<Entities> {
  return useLoad(async () => {
    const [organization, teams, agents] = await Promise.all([
      unwrap(api.GET("/api/organization")) as Promise<Named>,
      unwrap(api.GET("/api/teams")) as Promise<Named[]>,
      unwrap(api.GET("/api/agents/all")) as Promise<Named[]>,
    ]);
    return { organization, teams, agents };
  });
}

const entityTypeLabel: Record<EntityType, string> = { organization: "Organization", team: "Team", agent: "Profile" };

function entityName(entities: Entities | undefined, type: string, id: string): string {
  if (!entities) return id;
  if (type === "organization") return `Organization ${entities.organization.name}`;
  const list = type === "team" ? entities.teams : entities.agents;
  const found = list.find((e) => e.id === id);
  return `${entityTypeLabel[type as EntityType] ?? type} ${found ? found.name : id}`;
}

/// "Applies to": the kind of entity, then which one (the organization needs no choice).
function EntityFields({
  entities,
  type,
  id,
  onChange,
  errorOn,
}: {
  entities: Entities;
  type: EntityType;
  id: string;
  onChange: (type: EntityType, id: string) => void;
  errorOn: (field: string) => string | undefined;
}) {
  const choices = type === "team" ? entities.teams : type === "agent" ? entities.agents : [entities.organization];
  return (
    <>
      <Field label="Applies to" error={errorOn("entityType")}>
        <select
          class="input"
          value={type}
          onChange={(e) => {
            const t = e.currentTarget.value as EntityType;
            const first = t === "team" ? entities.teams[0] : t === "agent" ? entities.agents[0] : entities.organization;
            onChange(t, first?.id ?? "");
          }}
        >
          <option value="organization">Organization</option>
          <option value="team">Team</option>
          <option value="agent">Profile</option>
        </select>
      </Field>
      {type !== "organization" && (
        <Field label={type === "team" ? "Team" : "Profile"} error={errorOn("entityId")}>
          <select class="input" value={id} onChange={(e) => onChange(type, e.currentTarget.value)}>
            {choices.map((c) => (
              <option value={c.id}>{c.name}</option>
            ))}
          </select>
        </Field>
      )}
      {type === "organization" && errorOn("entityId") && <ErrorBox error={errorOn("entityId")!} />}
    </>
  );
}

// ---- token prices ---------------------------------------------------------------------------------------------

interface TokenPrice {
  id: string;
  provider: string;
  model: string;
  pricePerMillionInput: string;
  pricePerMillionOutput: string;
}
type PriceInput = Omit<TokenPrice, "id">;

function TokenPrices() {
  const prices = useLoad(() => unwrap(api.GET("/api/token-prices")) as Promise<TokenPrice[]>);
  const editor = useEditor<TokenPrice>(prices.reload);
  return (
    <section class="card" aria-label="Token prices">
      <div class="card-header">
        <h2>Token prices (USD per million tokens)</h2>
        <button type="button" class="btn btn-primary" onClick={() => editor.edit("new")}>
          Add token price
        </button>
      </div>
      <DataTable
        label="Token prices"
        rows={prices.data}
        loading={prices.loading}
        error={prices.error}
        onRetry={prices.reload}
        rowKey={(p) => p.id}
        emptyTitle="No token prices"
        emptyBody="Without a price, a model's requests are counted but cost nothing."
        defaultSort={{ key: "model", dir: "asc" }}
        columns={[
          { key: "provider", label: "Provider" },
          { key: "model", label: "Model" },
          { key: "pricePerMillionInput", label: "Input", value: (p) => Number(p.pricePerMillionInput), render: (p) => `$${p.pricePerMillionInput}` },
          { key: "pricePerMillionOutput", label: "Output", value: (p) => Number(p.pricePerMillionOutput), render: (p) => `$${p.pricePerMillionOutput}` },
          actionsColumn<TokenPrice>((p) => (
            <EditDeleteActions
              onEdit={() => editor.edit(p)}
              title={`Delete the price of ${p.model}?`}
              message="Costs of this model will no longer be computed."
              remove={() => unwrap(api.DELETE("/api/token-prices/{id}", { params: { path: { id: p.id } } }))}
              done={prices.reload}
            />
          )),
        ]}
      />
      {editor.editing && (
        <TokenPriceDialog
          price={editor.item}
          onClose={editor.close}
          onSaved={editor.saved}
        />
      )}
    </section>
  );
}

function TokenPriceDialog({ price, onClose, onSaved }: { price?: TokenPrice; onClose: () => void; onSaved: () => void }) {
  const [form, setForm] = useState<PriceInput>(
    price ? { provider: price.provider, model: price.model, pricePerMillionInput: price.pricePerMillionInput, pricePerMillionOutput: price.pricePerMillionOutput } : { provider: "openai", model: "", pricePerMillionInput: "", pricePerMillionOutput: "" },
  );
  const save = useSubmit(async () => {
    if (price) await unwrap(api.PUT("/api/token-prices/{id}", { params: { path: { id: price.id } }, body: form as never }));
    else await unwrap(api.POST("/api/token-prices", { body: form as never }));
    onSaved();
  });
  const errors = fieldErrors(save.error, ["provider", "model", "pricePerMillionInput", "pricePerMillionOutput"]);
  const set = (patch: Partial<PriceInput>) => setForm({ ...form, ...patch });
  return (
    <FormDialog title={price ? `Edit the price of ${price.model}` : "Add token price"} open onClose={onClose} onSubmit={() => save.submit()} busy={save.busy} error={errors.rest} submitLabel={price ? "Save" : "Add"}>
      <Field label="Provider" error={errors.on("provider")}>
        <select class="input" value={form.provider} onChange={(e) => set({ provider: e.currentTarget.value })}>
          <option value="openai">OpenAI</option>
          <option value="anthropic">Anthropic</option>
          <option value="gemini">Gemini</option>
        </select>
      </Field>
      <Field label="Model" error={errors.on("model")}>
        <input class="input" value={form.model} onInput={(e) => set({ model: e.currentTarget.value })} />
      </Field>
      <Field label="Input price" hint="USD per million input tokens, e.g. 0.15" error={errors.on("pricePerMillionInput")}>
        <input class="input" inputMode="decimal" value={form.pricePerMillionInput} onInput={(e) => set({ pricePerMillionInput: e.currentTarget.value })} />
      </Field>
      <Field label="Output price" hint="USD per million output tokens" error={errors.on("pricePerMillionOutput")}>
        <input class="input" inputMode="decimal" value={form.pricePerMillionOutput} onInput={(e) => set({ pricePerMillionOutput: e.currentTarget.value })} />
      </Field>
    </FormDialog>
  );
}

// ---- limits ---------------------------------------------------------------------------------------------------

type LimitType = "token_cost" | "mcp_server_calls" | "tool_calls";
interface Limit {
  id: string;
  entityType: EntityType;
  entityId: string;
  limitType: LimitType;
  limitValue: number;
  model?: string[] | null;
  mcpServerName?: string | null;
  toolName?: string | null;
  currentUsageCalls?: number;
  modelUsage?: { model: string; cost: number | string }[];
}

const limitTypeLabel: Record<LimitType, string> = { token_cost: "Token cost (USD)", mcp_server_calls: "MCP server calls", tool_calls: "Tool calls" };

/// What a limit has used so far: dollars for token_cost, calls otherwise.
function used(l: Limit): number {
  return l.limitType === "token_cost" ? (l.modelUsage ?? []).reduce((s, u) => s + Number(u.cost), 0) : l.currentUsageCalls ?? 0;
}

function UsageCell({ limit }: { limit: Limit }) {
  const value = used(limit);
  const share = limit.limitValue > 0 ? Math.min(1, value / limit.limitValue) : 1;
  const text = limit.limitType === "token_cost" ? `$${value.toFixed(6)} of $${limit.limitValue}` : `${value} of ${limit.limitValue} calls`;
  return (
    <span data-testid="limit-usage">
      {text}
      <span class={value >= limit.limitValue ? "usage-bar over" : "usage-bar"} role="progressbar" aria-label="Usage" aria-valuemin={0} aria-valuemax={limit.limitValue} aria-valuenow={value}>
        <span style={{ width: `${Math.round(share * 100)}%` }} />
      </span>
    </span>
  );
}

function Limits() {
  const limits = useLoad(() => unwrap(api.GET("/api/limits")) as Promise<Limit[]>);
  const entities = useEntities();
  const editor = useEditor<Limit>(limits.reload);
  return (
    <section class="card" aria-label="Limits">
      <div class="card-header">
        <h2>Limits</h2>
        <button type="button" class="btn btn-primary" disabled={!entities.data} onClick={() => editor.edit("new")}>
          Create limit
        </button>
      </div>
      <DataTable
        label="Limits"
        rows={limits.data}
        loading={limits.loading}
        error={limits.error ?? entities.error}
        onRetry={limits.reload}
        rowKey={(l) => l.id}
        emptyTitle="No limits"
        emptyBody="A limit stops a profile, team or the organization once it has spent its budget or made its calls."
        toolbar={
          <button type="button" class="btn btn-small" onClick={limits.reload}>
            Refresh
          </button>
        }
        columns={[
          { key: "entity", label: "Applies to", value: (l) => entityName(entities.data, l.entityType, l.entityId) },
          { key: "limitType", label: "Type", value: (l) => limitTypeLabel[l.limitType] ?? l.limitType },
          { key: "limitValue", label: "Limit" },
          { key: "scope", label: "Scope", value: (l) => l.model?.join(", ") || [l.mcpServerName, l.toolName].filter(Boolean).join(" / ") || "—" },
          { key: "usage", label: "Used", value: used, render: (l) => <UsageCell limit={l} /> },
          { key: "state", label: "State", value: (l) => (used(l) >= l.limitValue ? "exceeded" : "ok"), render: (l) => (used(l) >= l.limitValue ? <Badge tone="bad">exceeded</Badge> : <Badge tone="good">within</Badge>) },
          actionsColumn<Limit>((l) => (
            <EditDeleteActions
              onEdit={() => editor.edit(l)}
              title="Delete this limit?"
              message="Usage will no longer be capped by it."
              remove={() => unwrap(api.DELETE("/api/limits/{id}", { params: { path: { id: l.id } } }))}
              done={limits.reload}
            />
          )),
        ]}
      />
      {editor.editing && entities.data && (
        <LimitDialog
          limit={editor.item}
          entities={entities.data}
          onClose={editor.close}
          onSaved={editor.saved}
        />
      )}
    </section>
  );
}

function LimitDialog({ limit, entities, onClose, onSaved }: { limit?: Limit; entities: Entities; onClose: () => void; onSaved: () => void }) {
  const [entity, setEntity] = useState<{ type: EntityType; id: string }>(limit ? { type: limit.entityType, id: limit.entityId } : { type: "organization", id: entities.organization.id });
  const [limitType, setLimitType] = useState<LimitType>(limit?.limitType ?? "token_cost");
  const [value, setValue] = useState(limit ? String(limit.limitValue) : "");
  const [models, setModels] = useState(limit?.model?.join(", ") ?? "");
  const [server, setServer] = useState(limit?.mcpServerName ?? "");
  const [tool, setTool] = useState(limit?.toolName ?? "");
  const save = useSubmit(async () => {
    // The number is sent as typed when it is not one, so the platform names the field.
    const n = Number(value);
    const body = {
      entityType: entity.type,
      entityId: entity.id,
      limitType,
      limitValue: value.trim() !== "" && Number.isFinite(n) ? n : value,
      model: limitType === "token_cost" ? models.split(",").map((m) => m.trim()).filter(Boolean) : null,
      mcpServerName: limitType === "token_cost" ? null : server.trim() || null,
      toolName: limitType === "tool_calls" ? tool.trim() || null : null,
    };
    if (limit) await unwrap(api.PATCH("/api/limits/{id}", { params: { path: { id: limit.id } }, body: body as never }));
    else await unwrap(api.POST("/api/limits", { body: body as never }));
    onSaved();
  });
  const errors = fieldErrors(save.error, ["entityType", "entityId", "limitType", "limitValue", "model", "mcpServerName", "toolName"]);
  return (
    <FormDialog title={limit ? "Edit limit" : "Create limit"} open onClose={onClose} onSubmit={() => save.submit()} busy={save.busy} error={errors.rest} submitLabel={limit ? "Save" : "Create"}>
      <EntityFields entities={entities} type={entity.type} id={entity.id} onChange={(type, id) => setEntity({ type, id })} errorOn={errors.on} />
      <Field label="Limit type" error={errors.on("limitType")}>
        <select class="input" value={limitType} onChange={(e) => setLimitType(e.currentTarget.value as LimitType)}>
          {(Object.keys(limitTypeLabel) as LimitType[]).map((t) => (
            <option value={t}>{limitTypeLabel[t]}</option>
          ))}
        </select>
      </Field>
      <Field label="Limit value" hint={limitType === "token_cost" ? "USD, a whole number" : "Number of calls"} error={errors.on("limitValue")}>
        <input class="input" inputMode="numeric" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </Field>
      {limitType === "token_cost" ? (
        <Field label="Models" hint="Comma-separated model names whose cost counts" error={errors.on("model")}>
          <input class="input" value={models} onInput={(e) => setModels(e.currentTarget.value)} />
        </Field>
      ) : (
        <Field label="MCP server name" error={errors.on("mcpServerName")}>
          <input class="input" value={server} onInput={(e) => setServer(e.currentTarget.value)} />
        </Field>
      )}
      {limitType === "tool_calls" && (
        <Field label="Tool name" error={errors.on("toolName")}>
          <input class="input" value={tool} onInput={(e) => setTool(e.currentTarget.value)} />
        </Field>
      )}
    </FormDialog>
  );
}

// ---- optimization rules ----------------------------------------------------------------------------------------

interface Condition {
  maxLength?: number;
  hasTools?: boolean;
}
interface Rule {
  id: string;
  entityType: EntityType;
  entityId: string;
  provider: string;
  targetModel: string;
  enabled: boolean;
  conditions: Condition[];
}

const describeConditions = (conditions: Condition[]) =>
  conditions
    .map((c) => (c.maxLength !== undefined ? `at most ${c.maxLength} tokens` : c.hasTools !== undefined ? (c.hasTools ? "with tools" : "without tools") : JSON.stringify(c)))
    .join(" and ") || "always";

function OptimizationRules() {
  const rules = useLoad(() => unwrap(api.GET("/api/optimization-rules")) as Promise<Rule[]>);
  const entities = useEntities();
  const editor = useEditor<Rule>(rules.reload);
  return (
    <section class="card" aria-label="Optimization rules">
      <div class="card-header">
        <h2>Optimization rules</h2>
        <button type="button" class="btn btn-primary" disabled={!entities.data} onClick={() => editor.edit("new")}>
          Create rule
        </button>
      </div>
      <DataTable
        label="Optimization rules"
        rows={rules.data}
        loading={rules.loading}
        error={rules.error ?? entities.error}
        onRetry={rules.reload}
        rowKey={(r) => r.id}
        emptyTitle="No optimization rules"
        emptyBody="A rule switches matching requests to a cheaper model."
        columns={[
          { key: "entity", label: "Applies to", value: (r) => entityName(entities.data, r.entityType, r.entityId) },
          { key: "provider", label: "Provider" },
          { key: "targetModel", label: "Target model" },
          { key: "conditions", label: "When", value: (r) => describeConditions(r.conditions) },
          { key: "enabled", label: "Enabled", value: (r) => (r.enabled ? "yes" : "no"), render: (r) => <Badge tone={r.enabled ? "good" : "neutral"}>{r.enabled ? "enabled" : "disabled"}</Badge> },
          actionsColumn<Rule>((r) => (
            <EditDeleteActions
              onEdit={() => editor.edit(r)}
              title="Delete this rule?"
              message="Matching requests keep their model."
              remove={() => unwrap(api.DELETE("/api/optimization-rules/{id}", { params: { path: { id: r.id } } }))}
              done={rules.reload}
            />
          )),
        ]}
      />
      {editor.editing && entities.data && (
        <RuleDialog
          rule={editor.item}
          entities={entities.data}
          onClose={editor.close}
          onSaved={editor.saved}
        />
      )}
    </section>
  );
}

function RuleDialog({ rule, entities, onClose, onSaved }: { rule?: Rule; entities: Entities; onClose: () => void; onSaved: () => void }) {
  const [entity, setEntity] = useState<{ type: EntityType; id: string }>(rule ? { type: rule.entityType, id: rule.entityId } : { type: "organization", id: entities.organization.id });
  const [provider, setProvider] = useState(rule?.provider ?? "openai");
  const [targetModel, setTargetModel] = useState(rule?.targetModel ?? "");
  const [maxLength, setMaxLength] = useState(String(rule?.conditions.find((c) => c.maxLength !== undefined)?.maxLength ?? ""));
  const initialTools = rule?.conditions.find((c) => c.hasTools !== undefined)?.hasTools;
  const [hasTools, setHasTools] = useState(initialTools === undefined ? "any" : initialTools ? "yes" : "no");
  const [enabled, setEnabled] = useState(rule?.enabled ?? true);
  const save = useSubmit(async () => {
    const conditions: unknown[] = [];
    if (maxLength.trim() !== "") conditions.push({ maxLength: /^\d+$/.test(maxLength.trim()) ? Number(maxLength) : maxLength });
    if (hasTools !== "any") conditions.push({ hasTools: hasTools === "yes" });
    const body = { entityType: entity.type, entityId: entity.id, provider, targetModel, conditions, enabled };
    if (rule) await unwrap(api.PUT("/api/optimization-rules/{id}", { params: { path: { id: rule.id } }, body: body as never }));
    else await unwrap(api.POST("/api/optimization-rules", { body: body as never }));
    onSaved();
  });
  const errors = fieldErrors(save.error, ["entityType", "entityId", "provider", "targetModel", "conditions", "enabled"]);
  return (
    <FormDialog title={rule ? "Edit optimization rule" : "Create optimization rule"} open onClose={onClose} onSubmit={() => save.submit()} busy={save.busy} error={errors.rest} submitLabel={rule ? "Save" : "Create"}>
      <EntityFields entities={entities} type={entity.type} id={entity.id} onChange={(type, id) => setEntity({ type, id })} errorOn={errors.on} />
      <Field label="Provider" error={errors.on("provider")}>
        <select class="input" value={provider} onChange={(e) => setProvider(e.currentTarget.value)}>
          <option value="openai">OpenAI</option>
          <option value="anthropic">Anthropic</option>
          <option value="gemini">Gemini</option>
        </select>
      </Field>
      <Field label="Target model" hint="Matching requests are sent to this model instead" error={errors.on("targetModel")}>
        <input class="input" value={targetModel} onInput={(e) => setTargetModel(e.currentTarget.value)} />
      </Field>
      <Field label="Maximum length (tokens)" hint="Only requests up to this many tokens; empty for any length" error={errors.on("conditions")}>
        <input class="input" inputMode="numeric" value={maxLength} onInput={(e) => setMaxLength(e.currentTarget.value)} />
      </Field>
      <Field label="Tools in the request">
        <select class="input" value={hasTools} onChange={(e) => setHasTools(e.currentTarget.value)}>
          <option value="any">Either</option>
          <option value="no">Only without tools</option>
          <option value="yes">Only with tools</option>
        </select>
      </Field>
      <label class="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} /> Enabled
      </label>
    </FormDialog>
  );
}

// ---- savings and tool-result compression ----------------------------------------------------------------------

interface CostSavings {
  totalBaselineCost: number;
  totalActualCost: number;
  totalSavings: number;
  totalOptimizationSavings: number;
  totalToonSavings: number;
  timeSeries: { timestamp: string; toonSavings: number; optimizationSavings: number; savings: number }[];
}

const money = (n: number | string) => `$${Number(n).toFixed(6)}`;

/// What optimization rules and TOON compression saved in a timeframe (/api/statistics/cost-savings).
export function SavingsCards({ timeframe }: { timeframe: string }) {
  const savings = useLoad(() => raw<CostSavings>("GET", `/api/statistics/cost-savings?timeframe=${timeframe}`), [timeframe]);
  if (savings.error) return <ErrorBox error={savings.error} onRetry={savings.reload} />;
  if (!savings.data) return <Spinner />;
  const s = savings.data;
  const cards: [string, number][] = [
    ["Baseline cost", s.totalBaselineCost],
    ["Actual cost", s.totalActualCost],
    ["Total savings", s.totalSavings],
    ["Optimization savings", s.totalOptimizationSavings],
    ["TOON savings", s.totalToonSavings],
  ];
  return (
    <div class="stat-cards" aria-label="Savings">
      {cards.map(([label, value]) => (
        <div class="card stat" data-testid={`savings-${label.toLowerCase().replace(/ /g, "-")}`}>
          <span class="muted">{label}</span>
          <strong>{money(value)}</strong>
        </div>
      ))}
    </div>
  );
}

interface OrganizationToon {
  id: string;
  name: string;
  convertToolResultsToToon: boolean;
  compressionScope: "organization" | "team";
}
interface TeamToon {
  id: string;
  name: string;
  convertToolResultsToToon: boolean;
}

function Compression() {
  const [timeframe, setTimeframe] = useState("24h");
  const org = useLoad(() => unwrap(api.GET("/api/organization")) as Promise<OrganizationToon>);
  const teams = useLoad(() => unwrap(api.GET("/api/teams")) as Promise<TeamToon[]>);
  const save = useSubmit(async (patch: Partial<OrganizationToon>) => {
    await unwrap(api.PATCH("/api/organization", { body: patch as never }));
    org.reload();
  });
  const saveTeam = useSubmit(async (team: TeamToon, on: boolean) => {
    await unwrap(api.PUT("/api/teams/{id}", { params: { path: { id: team.id } }, body: { convertToolResultsToToon: on } as never }));
    teams.reload();
  });
  const o = org.data;
  return (
    <div class="stack">
      <section class="card" aria-label="Tool-result compression">
        <h2>Tool-result compression (TOON)</h2>
        <p class="muted">
          JSON tool results in LLM requests are rewritten to TOON, a compact notation (one header per table instead of repeated keys), before
          they go to the provider. The rest of the request is sent as it came. Off by default.
        </p>
        {org.error ? (
          <ErrorBox error={org.error} onRetry={org.reload} />
        ) : !o ? (
          <Spinner />
        ) : (
          <div class="stack">
            <Field label="Decided per" hint="Organization: one switch for every profile. Team: a profile's requests are compressed when one of its teams has it on.">
              <select class="input" aria-label="Compression scope" value={o.compressionScope} disabled={save.busy} onChange={(e) => save.submit({ compressionScope: e.currentTarget.value as OrganizationToon["compressionScope"] })}>
                <option value="organization">Organization</option>
                <option value="team">Team</option>
              </select>
            </Field>
            {o.compressionScope === "organization" && (
              <label class="inline">
                <input type="checkbox" checked={o.convertToolResultsToToon} disabled={save.busy} onChange={(e) => save.submit({ convertToolResultsToToon: e.currentTarget.checked })} /> Convert tool results to TOON for the
                whole organization
              </label>
            )}
            {save.error && <ErrorBox error={save.error} />}
          </div>
        )}
      </section>
      {o?.compressionScope === "team" && (
        <section class="card" aria-label="Team compression settings">
          <h2>Teams</h2>
          {saveTeam.error && <ErrorBox error={saveTeam.error} />}
          <DataTable
            label="Team compression"
            rows={teams.data}
            loading={teams.loading}
            error={teams.error}
            onRetry={teams.reload}
            rowKey={(t) => t.id}
            emptyTitle="No teams"
            emptyBody="Create teams under Settings → Teams; with the team scope, profiles without a team are not compressed."
            defaultSort={{ key: "name", dir: "asc" }}
            columns={[
              { key: "name", label: "Team" },
              {
                key: "convertToolResultsToToon",
                label: "TOON",
                value: (t) => (t.convertToolResultsToToon ? 1 : 0),
                render: (t) => (
                  <label class="inline">
                    <input type="checkbox" aria-label={`TOON for team ${t.name}`} checked={t.convertToolResultsToToon} disabled={saveTeam.busy} onChange={(e) => saveTeam.submit(t, e.currentTarget.checked)} />{" "}
                    {t.convertToolResultsToToon ? <Badge tone="good">on</Badge> : <Badge>off</Badge>}
                  </label>
                ),
              },
            ]}
          />
        </section>
      )}
      <section class="card" aria-label="Savings">
        <div class="card-header">
          <h2>Savings</h2>
          <label class="inline">
            Timeframe{" "}
            <select class="input" value={timeframe} onChange={(e) => setTimeframe(e.currentTarget.value)}>
              {timeframes.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </label>
        </div>
        <SavingsCards timeframe={timeframe} />
      </section>
    </div>
  );
}
