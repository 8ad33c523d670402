// Profiles (agents): list, create, edit name/labels/teams, delete, and "Connect" with the exact proxy and MCP
// gateway URLs and SDK snippets.
import { useEffect, useState } from "preact/hooks";
import { api, raw, unwrap } from "../api/client";
import { type Column, DataTable, DeleteButton } from "../components/DataTable";
import { Badge, CodeBlock, CopyField, ErrorBox, Field, fieldErrors, Modal, PageHeader, Tabs, useSubmit } from "../components/ui";
import { apiBaseUrl } from "../lib/apiBase";
import { formatTime, useLoad } from "../lib/hooks";

export interface Profile {
  id: string;
  name: string;
  isDefault?: boolean;
  considerContextUntrusted?: boolean;
  teams: { id: string; name: string }[];
  labels: { key: string; value: string }[];
  tools?: unknown[];
  createdAt: string;
}
interface Team {
  id: string;
  name: string;
}

export const loadProfiles = () => unwrap(api.GET("/api/agents/all")) as Promise<Profile[]>;

export function ProfilesPage() {
  const profiles = useLoad(loadProfiles);
  const teams = useLoad(() => unwrap(api.GET("/api/teams")) as Promise<Team[]>);
  const [editing, setEditing] = useState<Profile | "new">();
  const [connecting, setConnecting] = useState<Profile>();

  const columns: Column<Profile>[] = [
    {
      key: "name",
      label: "Name",
      render: (p) => (
        <span>
          <strong>{p.name}</strong> {p.isDefault && <Badge tone="good">default</Badge>}
        </span>
      ),
      value: (p) => p.name,
    },
    {
      key: "labels",
      label: "Labels",
      value: (p) => p.labels.map((l) => `${l.key}:${l.value}`).join(" "),
      render: (p) =>
        p.labels.length ? p.labels.map((l) => <Badge>{`${l.key}: ${l.value}`}</Badge>) : <span class="muted">—</span>,
    },
    { key: "teams", label: "Teams", value: (p) => p.teams.map((t) => t.name).join(", ") || "—" },
    { key: "tools", label: "Tools", value: (p) => p.tools?.length ?? 0 },
    { key: "createdAt", label: "Created", value: (p) => p.createdAt, render: (p) => formatTime(p.createdAt) },
    {
      key: "actions",
      label: "Actions",
      sortable: false,
      render: (p) => (
        <div class="row-actions">
          <button type="button" class="btn btn-small btn-primary" onClick={() => setConnecting(p)}>
            Connect
          </button>
          <button type="button" class="btn btn-small" onClick={() => setEditing(p)}>
            Edit
          </button>
          <DeleteButton
            title={`Delete profile ${p.name}?`}
            message={`Agents using ${p.name} will stop being attributed to it. This cannot be undone.`}
            remove={() => unwrap(api.DELETE("/api/agents/{id}", { params: { path: { id: p.id } } }))}
            done={profiles.reload}
          />
        </div>
      ),
    },
  ];

  return (
    <>
      <PageHeader
        title="Profiles"
        description="A profile is what an agent connects through: its LLM proxy URL, MCP gateway, tools and policies."
        actions={
          <button type="button" class="btn btn-primary" onClick={() => setEditing("new")}>
            Create profile
          </button>
        }
      />
      <DataTable
        label="Profiles"
        columns={columns}
        rows={profiles.data}
        loading={profiles.loading}
        error={profiles.error}
        onRetry={profiles.reload}
        rowKey={(p) => p.id}
        emptyTitle="No profiles yet"
        emptyBody="Create one to give an agent its own proxy URL."
        defaultSort={{ key: "createdAt", dir: "desc" }}
      />
      <Modal title={editing === "new" ? "Create profile" : `Edit ${editing?.name ?? ""}`} open={!!editing} onClose={() => setEditing(undefined)}>
        {editing && (
          <ProfileForm
            profile={editing === "new" ? undefined : editing}
            teams={teams.data ?? []}
            onSaved={() => {
              setEditing(undefined);
              profiles.reload();
            }}
          />
        )}
      </Modal>
      <Modal title={`Connect to ${connecting?.name ?? ""}`} open={!!connecting} onClose={() => setConnecting(undefined)} wide>
        {connecting && <ConnectPanel profile={connecting} />}
      </Modal>
    </>
  );
}

function ProfileForm({ profile, teams, onSaved }: { profile?: Profile; teams: Team[]; onSaved: () => void }) {
  const [name, setName] = useState(profile?.name ?? "");
  const [teamIds, setTeamIds] = useState<string[]>(profile?.teams.map((t) => t.id) ?? []);
  const [labels, setLabels] = useState<{ key: string; value: string }[]>(profile?.labels.map((l) => ({ key: l.key, value: l.value })) ?? []);
  const [untrusted, setUntrusted] = useState(profile?.considerContextUntrusted ?? false);
  const { busy, error, submit } = useSubmit(async () => {
    const cleanLabels = labels.filter((l) => l.key.trim());
    const body = { name, teams: teamIds, labels: cleanLabels, considerContextUntrusted: untrusted };
    if (profile) await unwrap(api.PUT("/api/agents/{id}", { params: { path: { id: profile.id } }, body: body as never }));
    else await unwrap(api.POST("/api/agents", { body: body as never }));
    onSaved();
  });
  const errors = fieldErrors(error, ["name", "labels"]);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <Field label="Name" error={errors.on("name")}>
        <input class="input" name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <fieldset class="fieldset">
        <legend>Teams</legend>
        {teams.length === 0 && <p class="muted">No teams.</p>}
        {teams.map((t) => (
          <label class="check">
            <input
              type="checkbox"
              checked={teamIds.includes(t.id)}
              onChange={(e) => setTeamIds(e.currentTarget.checked ? [...teamIds, t.id] : teamIds.filter((x) => x !== t.id))}
            />
            {t.name}
          </label>
        ))}
      </fieldset>
      <fieldset class="fieldset">
        <legend>Labels</legend>
        {labels.map((l, i) => (
          <div class="label-row">
            <input class="input" aria-label={`Label ${i + 1} key`} placeholder="key" value={l.key} onInput={(e) => setLabels(labels.map((x, j) => (j === i ? { ...x, key: e.currentTarget.value } : x)))} />
            <input class="input" aria-label={`Label ${i + 1} value`} placeholder="value" value={l.value} onInput={(e) => setLabels(labels.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)))} />
            <button type="button" class="btn btn-small" aria-label={`Remove label ${i + 1}`} onClick={() => setLabels(labels.filter((_, j) => j !== i))}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" class="btn btn-small" onClick={() => setLabels([...labels, { key: "", value: "" }])}>
          Add label
        </button>
        {errors.on("labels") && (
          <span class="field-error" role="alert">
            {errors.on("labels")}
          </span>
        )}
      </fieldset>
      <label class="check">
        <input type="checkbox" checked={untrusted} onChange={(e) => setUntrusted(e.currentTarget.checked)} />
        Treat the whole context as untrusted
      </label>
      {errors.rest && <ErrorBox error={errors.rest} />}
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? "Saving…" : profile ? "Save" : "Create"}
        </button>
      </div>
    </form>
  );
}

export function ConnectPanel({ profile }: { profile: Profile }) {
  const [base, setBase] = useState<string>();
  const [tab, setTab] = useState("openai");
  const [token, setToken] = useState<string>();
  useEffect(() => {
    apiBaseUrl().then(setBase);
    raw<{ id: string; isOrganizationToken: boolean; tokenStart: string }[]>("GET", "/api/tokens").then(
      (tokens) => setToken(tokens.find((t) => t.isOrganizationToken)?.tokenStart ? `${tokens.find((t) => t.isOrganizationToken)!.tokenStart}…` : undefined),
      () => setToken(undefined),
    );
  }, []);
  if (!base) return <p class="muted">Loading…</p>;
  const urls = {
    openai: `${base}/v1/openai/${profile.id}`,
    anthropic: `${base}/v1/anthropic/${profile.id}`,
    gemini: `${base}/v1/gemini/${profile.id}`,
    mcp: `${base}/v1/mcp/${profile.id}`,
  };
  const snippets: Record<string, { label: string; code: string }[]> = {
    openai: [
      { label: "Python", code: `from openai import OpenAI\n\nclient = OpenAI(\n    base_url="${urls.openai}",\n    api_key=os.environ["OPENAI_API_KEY"],\n)` },
      { label: "TypeScript", code: `import OpenAI from "openai";\n\nconst client = new OpenAI({\n  baseURL: "${urls.openai}",\n  apiKey: process.env.OPENAI_API_KEY,\n});` },
    ],
    anthropic: [
      { label: "Python", code: `from anthropic import Anthropic\n\nclient = Anthropic(\n    base_url="${urls.anthropic}",\n    api_key=os.environ["ANTHROPIC_API_KEY"],\n)` },
      { label: "TypeScript", code: `import Anthropic from "@anthropic-ai/sdk";\n\nconst client = new Anthropic({\n  baseURL: "${urls.anthropic}",\n  apiKey: process.env.ANTHROPIC_API_KEY,\n});` },
    ],
    gemini: [
      { label: "TypeScript", code: `import { GoogleGenAI } from "@google/genai";\n\nconst ai = new GoogleGenAI({\n  apiKey: process.env.GEMINI_API_KEY,\n  httpOptions: { baseUrl: "${urls.gemini}", apiVersion: "" },\n});` },
      { label: "Python", code: `from google import genai\n\nclient = genai.Client(\n    api_key=os.environ["GEMINI_API_KEY"],\n    http_options={"base_url": "${urls.gemini}", "api_version": ""},\n)` },
    ],
    mcp: [
      {
        label: "MCP client configuration",
        code: JSON.stringify(
          { mcpServers: { archestra: { url: urls.mcp, headers: { Authorization: "Bearer <your archestra_ token from Settings → Teams>" } } } },
          null,
          2,
        ),
      },
    ],
  };
  return (
    <div>
      <Tabs
        tabs={[
          { id: "openai", label: "OpenAI" },
          { id: "anthropic", label: "Anthropic" },
          { id: "gemini", label: "Gemini" },
          { id: "mcp", label: "MCP gateway" },
        ]}
        current={tab}
        onSelect={setTab}
      />
      <CopyField label={tab === "mcp" ? "MCP gateway URL" : `${tab === "openai" ? "OpenAI" : tab === "anthropic" ? "Anthropic" : "Gemini"} base URL`} value={urls[tab as keyof typeof urls]} />
      {tab === "mcp" && (
        <p class="muted">
          Authenticate with a Bearer token: the organization token{token ? ` (${token})` : ""} or a team token of a team this profile is assigned to
          (Settings → Teams).
        </p>
      )}
      {tab !== "mcp" && <p class="muted">Point the SDK at this URL; the provider API key is passed through unchanged.</p>}
      {snippets[tab].map((s) => (
        <CodeBlock label={s.label} code={s.code} />
      ))}
    </div>
  );
}
