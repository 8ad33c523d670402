// MCP installation requests (/mcp-catalog/installation-requests[/id]): members ask for a server to be added to
// the private registry; admins approve (the catalog gets the entry) or decline, each side adds notes.
import { useState } from "preact/hooks";
import { raw } from "../api/client";
import { DataTable } from "../components/DataTable";
import { Badge, ErrorBox, Field, fieldErrors, FormDialog, PageHeader, Spinner, Tabs, useSubmit, valueOf } from "../components/ui";
import { formatTime, useLoad } from "../lib/hooks";
import { linkHandler, navigate, useLocation } from "../lib/router";
import { useSession } from "../lib/session";

interface Note {
  id: string;
  userId: string;
  userName?: string | null;
  content: string;
  createdAt: string;
}
interface InstallationRequest {
  id: string;
  externalCatalogId: string | null;
  requestedBy: string | null;
  status: "pending" | "approved" | "declined";
  requestReason: string | null;
  customServerConfig: { name?: string; description?: string; serverType?: string; serverUrl?: string; localConfig?: { command?: string; arguments?: string[] } } | null;
  adminResponse: string | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
  notes: Note[];
  createdAt: string;
}

const base = "/api/mcp_server_installation_requests";
const tone = (s: string) => (s === "approved" ? "good" : s === "declined" ? "bad" : "warn");
const serverName = (r: InstallationRequest) => r.customServerConfig?.name ?? r.externalCatalogId ?? "—";

export function InstallationRequestsPage() {
  const { path } = useLocation();
  const id = path.split("/")[3];
  return id ? <RequestDetail id={id} /> : <RequestList />;
}

/// Registry | Installation requests, above both pages.
export function RegistryTabs({ current = "installation-requests" }: { current?: string }) {
  return (
    <Tabs
      tabs={[
        { id: "registry", label: "Registry" },
        { id: "installation-requests", label: "Installation requests" },
      ]}
      current={current}
      onSelect={(t) => navigate(`/mcp-catalog/${t}`)}
    />
  );
}

function RequestList() {
  const [status, setStatus] = useState("pending");
  const list = useLoad(() => raw<InstallationRequest[]>("GET", status === "all" ? base : `${base}?status=${status}`), [status]);
  const [asking, setAsking] = useState(false);
  return (
    <>
      <PageHeader
        title="Installation requests"
        description="Ask for an MCP server to be added to the organization's private registry; admins approve or decline."
        actions={
          <button type="button" class="btn btn-primary" onClick={() => setAsking(true)}>
            Request a server
          </button>
        }
      />
      <RegistryTabs />
      <div class="filters" role="group" aria-label="Status">
        {["pending", "approved", "declined", "all"].map((s) => (
          <button type="button" class={s === status ? "btn btn-small btn-primary" : "btn btn-small"} aria-pressed={s === status} onClick={() => setStatus(s)}>
            {s[0].toUpperCase() + s.slice(1)}
          </button>
        ))}
      </div>
      <DataTable
        label="Installation requests"
        rows={list.data}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(r) => r.id}
        emptyTitle="No requests"
        defaultSort={{ key: "createdAt", dir: "desc" }}
        onRowClick={(r) => navigate(`/mcp-catalog/installation-requests/${r.id}`)}
        columns={[
          {
            key: "server",
            label: "Server",
            value: serverName,
            render: (r) => (
              <a href={`/mcp-catalog/installation-requests/${r.id}`} onClick={linkHandler(`/mcp-catalog/installation-requests/${r.id}`)}>
                {serverName(r)}
              </a>
            ),
          },
          { key: "status", label: "Status", value: (r) => r.status, render: (r) => <Badge tone={tone(r.status)}>{r.status}</Badge> },
          { key: "requestReason", label: "Reason", value: (r) => r.requestReason ?? "—" },
          { key: "createdAt", label: "Requested", value: (r) => r.createdAt, render: (r) => formatTime(r.createdAt) },
        ]}
      />
      <RequestDialog
        open={asking}
        onClose={() => setAsking(false)}
        onCreated={(r) => {
          setAsking(false);
          navigate(`/mcp-catalog/installation-requests/${r.id}`);
        }}
      />
    </>
  );
}

function RequestDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (r: InstallationRequest) => void }) {
  const [form, setForm] = useState({ name: "", description: "", serverType: "local", command: "", args: "", serverUrl: "", reason: "" });
  const set = (k: keyof typeof form) => (e: Parameters<typeof valueOf>[0]) => setForm({ ...form, [k]: valueOf(e) });
  const { busy, error, submit } = useSubmit(async () => {
    const config: Record<string, unknown> = { name: form.name, serverType: form.serverType };
    if (form.description) config.description = form.description;
    if (form.serverType === "remote") config.serverUrl = form.serverUrl;
    else config.localConfig = { command: form.command, arguments: form.args.split(/\s+/).filter(Boolean) };
    const created = await raw<InstallationRequest>("POST", base, { customServerConfig: config, requestReason: form.reason || null });
    onCreated(created);
  });
  const errors = fieldErrors(error, ["customServerConfig.name", "requestReason"]);
  return (
    <FormDialog title="Request an MCP server" open={open} onClose={onClose} onSubmit={submit} busy={busy} error={errors.rest} submitLabel="Send request">
      <Field label="Server name" error={errors.on("customServerConfig.name")}>
        <input class="input" value={form.name} onInput={set("name")} />
      </Field>
      <Field label="Description">
        <input class="input" value={form.description} onInput={set("description")} />
      </Field>
      <Field label="Type">
        <select class="input" value={form.serverType} onChange={set("serverType")}>
          <option value="local">local (a command)</option>
          <option value="remote">remote (a URL)</option>
        </select>
      </Field>
      {form.serverType === "remote" ? (
        <Field label="Server URL">
          <input class="input" value={form.serverUrl} onInput={set("serverUrl")} />
        </Field>
      ) : (
        <>
          <Field label="Command">
            <input class="input" value={form.command} onInput={set("command")} />
          </Field>
          <Field label="Arguments" hint="Separated by spaces">
            <input class="input" value={form.args} onInput={set("args")} />
          </Field>
        </>
      )}
      <Field label="Why do you need it?" error={errors.on("requestReason")}>
        <textarea class="input" rows={3} value={form.reason} onInput={set("reason")} />
      </Field>
    </FormDialog>
  );
}

function RequestDetail({ id }: { id: string }) {
  const { user } = useSession();
  const request = useLoad(() => raw<InstallationRequest>("GET", `${base}/${id}`), [id]);
  const [note, setNote] = useState("");
  const [response, setResponse] = useState("");
  const notes = useSubmit(async () => {
    await raw("POST", `${base}/${id}/notes`, { content: note });
    setNote("");
    request.reload();
  });
  const decide = useSubmit(async (action: "approve" | "decline") => {
    await raw("POST", `${base}/${id}/${action}`, { adminResponse: response || null });
    request.reload();
  });
  const back = (
    <a href="/mcp-catalog/installation-requests" onClick={linkHandler("/mcp-catalog/installation-requests")}>
      ← All requests
    </a>
  );
  if (request.loading && !request.data) return <Spinner />;
  if (request.error)
    return (
      <>
        {back}
        <ErrorBox error={request.error} onRetry={request.reload} />
      </>
    );
  const r = request.data!;
  const reviewer = user?.role === "admin";
  return (
    <>
      <PageHeader title={`Request: ${serverName(r)}`} description="An MCP server asked for by a member of the organization." />
      <RegistryTabs />
      {back}
      <section class="card" aria-label="Request">
        <p>
          Status: <Badge tone={tone(r.status)}>{r.status}</Badge> · requested {formatTime(r.createdAt)}
          {r.reviewedAt && <> · reviewed {formatTime(r.reviewedAt)}</>}
        </p>
        {r.requestReason && <p>Reason: {r.requestReason}</p>}
        {r.adminResponse && <p data-testid="admin-response">Admin response: {r.adminResponse}</p>}
        <pre class="chat-json">{JSON.stringify(r.customServerConfig ?? { externalCatalogId: r.externalCatalogId }, null, 2)}</pre>
      </section>
      {reviewer && r.status === "pending" && (
        <section class="card form-narrow" aria-label="Decision">
          <h2>Decision</h2>
          <Field label="Response to the requester">
            <textarea class="input" rows={2} value={response} onInput={(e) => setResponse(valueOf(e))} />
          </Field>
          {decide.error && <ErrorBox error={decide.error} />}
          <div class="form-actions">
            <button type="button" class="btn btn-danger" disabled={decide.busy} onClick={() => decide.submit("decline")}>
              Decline
            </button>
            <button type="button" class="btn btn-primary" disabled={decide.busy} onClick={() => decide.submit("approve")}>
              Approve
            </button>
          </div>
        </section>
      )}
      <section class="card" aria-label="Notes">
        <h2>Notes</h2>
        {r.notes.length === 0 && <p class="muted">No notes yet.</p>}
        <ul class="tool-list">
          {r.notes.map((n) => (
            <li>
              <strong>{n.userName ?? n.userId}</strong> <span class="muted small">{formatTime(n.createdAt)}</span>: {n.content}
            </li>
          ))}
        </ul>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (note.trim()) notes.submit();
          }}
        >
          <Field label="Add a note">
            <input class="input" value={note} onInput={(e) => setNote(valueOf(e))} />
          </Field>
          <button type="submit" class="btn" disabled={notes.busy || !note.trim()}>
            Add note
          </button>
        </form>
        {notes.error && <ErrorBox error={notes.error} />}
      </section>
    </>
  );
}
