// Costs: usage statistics over time (Chart.js), limits, token prices and optimization rules.
import { Chart, type ChartConfiguration, registerables } from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { raw } from "../api/client";
import { DataTable } from "../components/DataTable";
import { ConfirmButton, Empty, ErrorBox, Field, PageHeader, Spinner, Tabs, useSubmit } from "../components/ui";
import { useLoad } from "../lib/hooks";
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
        ]}
        current={tab}
        onSelect={(id) => navigate(`/cost/${id}`)}
      />
      {tab === "statistics" && <Statistics />}
      {tab === "limits" && <Limits />}
      {tab === "token-price" && <TokenPrices />}
      {tab === "optimization-rules" && <OptimizationRules />}
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
    const config: ChartConfiguration<"line"> = {
      type: "line",
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
  return (
    <div class="chart-box">
      <canvas ref={canvas} role="img" aria-label="Cost over time" />
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

interface TokenPrice {
  id: string;
  provider: string;
  model: string;
  pricePerMillionInput: string;
  pricePerMillionOutput: string;
}

function TokenPrices() {
  const prices = useLoad(() => raw<TokenPrice[]>("GET", "/api/token-prices"));
  const [form, setForm] = useState({ provider: "openai", model: "", pricePerMillionInput: "", pricePerMillionOutput: "" });
  const add = useSubmit(async () => {
    await raw("POST", "/api/token-prices", form);
    setForm({ ...form, model: "", pricePerMillionInput: "", pricePerMillionOutput: "" });
    prices.reload();
  });
  return (
    <section class="card" aria-label="Token prices">
      <h2>Token prices (USD per million tokens)</h2>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          add.submit();
        }}
      >
        <Field label="Provider">
          <select class="input" value={form.provider} onChange={(e) => setForm({ ...form, provider: e.currentTarget.value })}>
            <option value="openai">OpenAI</option>
            <option value="anthropic">Anthropic</option>
            <option value="gemini">Gemini</option>
          </select>
        </Field>
        <Field label="Model">
          <input class="input" required value={form.model} onInput={(e) => setForm({ ...form, model: e.currentTarget.value })} />
        </Field>
        <Field label="Input price">
          <input class="input" required inputMode="decimal" value={form.pricePerMillionInput} onInput={(e) => setForm({ ...form, pricePerMillionInput: e.currentTarget.value })} />
        </Field>
        <Field label="Output price">
          <input class="input" required inputMode="decimal" value={form.pricePerMillionOutput} onInput={(e) => setForm({ ...form, pricePerMillionOutput: e.currentTarget.value })} />
        </Field>
        <button type="submit" class="btn btn-primary" disabled={add.busy}>
          Add price
        </button>
      </form>
      {add.error && <ErrorBox error={add.error} />}
      <DataTable
        label="Token prices"
        rows={prices.data}
        loading={prices.loading}
        error={prices.error}
        onRetry={prices.reload}
        rowKey={(p) => p.id}
        emptyTitle="No token prices"
        defaultSort={{ key: "model", dir: "asc" }}
        columns={[
          { key: "provider", label: "Provider" },
          { key: "model", label: "Model" },
          { key: "pricePerMillionInput", label: "Input", value: (p) => Number(p.pricePerMillionInput), render: (p) => `$${p.pricePerMillionInput}` },
          { key: "pricePerMillionOutput", label: "Output", value: (p) => Number(p.pricePerMillionOutput), render: (p) => `$${p.pricePerMillionOutput}` },
          {
            key: "actions",
            label: "Actions",
            sortable: false,
            render: (p) => (
              <ConfirmButton
                label="Delete"
                title={`Delete the price of ${p.model}?`}
                message="Costs of this model will no longer be computed."
                onConfirm={async () => {
                  await raw("DELETE", `/api/token-prices/${p.id}`);
                  prices.reload();
                }}
              />
            ),
          },
        ]}
      />
    </section>
  );
}

interface Limit {
  id: string;
  entityType: string;
  entityId: string;
  limitType: string;
  limitValue: number;
  model?: string[] | null;
  mcpServerName?: string | null;
  toolName?: string | null;
  modelUsage?: { model: string; cost: number | string }[];
}

function Limits() {
  const limits = useLoad(() => raw<Limit[]>("GET", "/api/limits"));
  return (
    <DataTable
      label="Limits"
      rows={limits.data}
      loading={limits.loading}
      error={limits.error}
      onRetry={limits.reload}
      rowKey={(l) => l.id}
      emptyTitle="No limits"
      emptyBody="Limits are created with the API or Terraform (POST /api/limits)."
      columns={[
        { key: "entityType", label: "Applies to", value: (l) => `${l.entityType} ${l.entityId}` },
        { key: "limitType", label: "Type" },
        { key: "limitValue", label: "Limit" },
        { key: "scope", label: "Scope", value: (l) => l.model?.join(", ") || [l.mcpServerName, l.toolName].filter(Boolean).join(" / ") || "—" },
        { key: "usage", label: "Used", value: (l) => (l.modelUsage ?? []).reduce((s, u) => s + Number(u.cost), 0), render: (l) => `$${(l.modelUsage ?? []).reduce((s, u) => s + Number(u.cost), 0).toFixed(4)}` },
        {
          key: "actions",
          label: "Actions",
          sortable: false,
          render: (l) => (
            <ConfirmButton
              label="Delete"
              title="Delete this limit?"
              message="Usage will no longer be capped by it."
              onConfirm={async () => {
                await raw("DELETE", `/api/limits/${l.id}`);
                limits.reload();
              }}
            />
          ),
        },
      ]}
    />
  );
}

interface Rule {
  id: string;
  entityType: string;
  entityId: string;
  provider: string;
  targetModel: string;
  enabled: boolean;
  conditions: unknown[];
}

function OptimizationRules() {
  const rules = useLoad(() => raw<Rule[]>("GET", "/api/optimization-rules"));
  return (
    <DataTable
      label="Optimization rules"
      rows={rules.data}
      loading={rules.loading}
      error={rules.error}
      onRetry={rules.reload}
      rowKey={(r) => r.id}
      emptyTitle="No optimization rules"
      emptyBody="A rule switches matching requests to a cheaper model."
      columns={[
        { key: "entityType", label: "Applies to", value: (r) => `${r.entityType} ${r.entityId}` },
        { key: "provider", label: "Provider" },
        { key: "targetModel", label: "Target model" },
        { key: "conditions", label: "Conditions", value: (r) => JSON.stringify(r.conditions) },
        { key: "enabled", label: "Enabled", value: (r) => (r.enabled ? "yes" : "no") },
        {
          key: "actions",
          label: "Actions",
          sortable: false,
          render: (r) => (
            <ConfirmButton
              label="Delete"
              title="Delete this rule?"
              message="Matching requests keep their model."
              onConfirm={async () => {
                await raw("DELETE", `/api/optimization-rules/${r.id}`);
                rules.reload();
              }}
            />
          ),
        },
      ]}
    />
  );
}
