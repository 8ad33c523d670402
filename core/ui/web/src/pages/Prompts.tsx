// Prompts: the organisation's saved prompts (/api/prompts). List, create, edit (every save is a new version),
// the version history with rollback, and assignment to a profile.
import { useState } from "preact/hooks";
import { api, raw, unwrap } from "../api/client";
import { actionsColumn, DataTable, EditDeleteActions } from "../components/DataTable";
import { Badge, ErrorBox, Field, fieldErrors, FormDialog, Modal, PageHeader, Spinner, useEditor, useSubmit } from "../components/ui";
import { formatTime, useLoad } from "../lib/hooks";

interface Prompt {
  id: string;
  name: string;
  agentId: string | null;
  userPrompt: string | null;
  systemPrompt: string | null;
  version: number;
  parentPromptId: string | null;
  isActive: boolean;
  createdAt: string;
  updatedAt: string;
}
interface Named {
  id: string;
  name: string;
}

const loadProfiles = () => unwrap(api.GET("/api/agents/all")) as Promise<Named[]>;

export function PromptsPage() {
  const prompts = useLoad(() => raw<Prompt[]>("GET", "/api/prompts"));
  const profiles = useLoad(loadProfiles);
  const editor = useEditor<Prompt>(prompts.reload);
  const [history, setHistory] = useState<Prompt>();
  const [assigning, setAssigning] = useState<Prompt>();
  const profileName = (id: string | null) => (id ? (profiles.data?.find((p) => p.id === id)?.name ?? id) : "—");
  return (
    <>
      <PageHeader
        title="Prompts"
        description="Saved system and user prompts. Every edit is kept as a version; roll back to any of them."
        actions={
          <button type="button" class="btn btn-primary" onClick={() => editor.edit("new")}>
            New prompt
          </button>
        }
      />
      <DataTable
        label="Prompts"
        rows={prompts.data}
        loading={prompts.loading}
        error={prompts.error}
        onRetry={prompts.reload}
        rowKey={(p) => p.id}
        emptyTitle="No prompts yet"
        emptyBody="Create one with New prompt."
        defaultSort={{ key: "name", dir: "asc" }}
        columns={[
          { key: "name", label: "Name", render: (p) => <strong>{p.name}</strong> },
          { key: "agentId", label: "Profile", value: (p) => profileName(p.agentId) },
          { key: "version", label: "Version", render: (p) => <Badge tone="good">v{p.version}</Badge> },
          { key: "updatedAt", label: "Updated", value: (p) => p.updatedAt, render: (p) => formatTime(p.updatedAt) },
          actionsColumn<Prompt>((p) => (
            <EditDeleteActions
              onEdit={() => editor.edit(p)}
              title={`Delete the prompt ${p.name}?`}
              message="Every version of it is deleted."
              remove={() => raw("DELETE", `/api/prompts/${p.id}`)}
              done={prompts.reload}
            >
              <button type="button" class="btn btn-small" onClick={() => setHistory(p)}>
                Versions
              </button>
              <button type="button" class="btn btn-small" onClick={() => setAssigning(p)}>
                Assign
              </button>
            </EditDeleteActions>
          )),
        ]}
      />
      {editor.editing && (
        <PromptDialog
          prompt={editor.item}
          profiles={profiles.data ?? []}
          onClose={editor.close}
          onSaved={editor.saved}
        />
      )}
      {history && (
        <VersionsDialog
          prompt={history}
          onClose={() => setHistory(undefined)}
          onRolledBack={() => {
            setHistory(undefined);
            prompts.reload();
          }}
        />
      )}
      {assigning && (
        <AssignDialog
          prompt={assigning}
          profiles={profiles.data ?? []}
          onClose={() => setAssigning(undefined)}
          onSaved={() => {
            setAssigning(undefined);
            prompts.reload();
          }}
        />
      )}
    </>
  );
}

interface PromptInput {
  name: string;
  agentId: string;
  systemPrompt: string;
  userPrompt: string;
}

function PromptDialog({ prompt, profiles, onClose, onSaved }: { prompt?: Prompt; profiles: Named[]; onClose: () => void; onSaved: () => void }) {
  const [form, setForm] = useState<PromptInput>({
    name: prompt?.name ?? "",
    agentId: prompt?.agentId ?? profiles[0]?.id ?? "",
    systemPrompt: prompt?.systemPrompt ?? "",
    userPrompt: prompt?.userPrompt ?? "",
  });
  const save = useSubmit(async () => {
    const body = { ...form, systemPrompt: form.systemPrompt || null, userPrompt: form.userPrompt || null };
    if (prompt) await raw("PATCH", `/api/prompts/${prompt.id}`, body);
    else await raw("POST", "/api/prompts", body);
    onSaved();
  });
  const errors = fieldErrors(save.error, ["name", "agentId", "systemPrompt", "userPrompt"]);
  const set = (patch: Partial<PromptInput>) => setForm({ ...form, ...patch });
  return (
    <FormDialog
      title={prompt ? `Edit ${prompt.name} (saves version ${prompt.version + 1})` : "New prompt"}
      open
      wide
      onClose={onClose}
      onSubmit={() => save.submit()}
      busy={save.busy}
      error={errors.rest}
      submitLabel={prompt ? "Save new version" : "Create"}
    >
      <Field label="Name" error={errors.on("name")}>
        <input class="input" value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} />
      </Field>
      <Field label="Profile" error={errors.on("agentId")}>
        <select class="input" value={form.agentId} onChange={(e) => set({ agentId: e.currentTarget.value })}>
          {profiles.map((p) => (
            <option value={p.id}>{p.name}</option>
          ))}
        </select>
      </Field>
      <Field label="System prompt" error={errors.on("systemPrompt")}>
        <textarea class="input" rows={5} value={form.systemPrompt} onInput={(e) => set({ systemPrompt: e.currentTarget.value })} />
      </Field>
      <Field label="User prompt" error={errors.on("userPrompt")}>
        <textarea class="input" rows={4} value={form.userPrompt} onInput={(e) => set({ userPrompt: e.currentTarget.value })} />
      </Field>
    </FormDialog>
  );
}

function VersionsDialog({ prompt, onClose, onRolledBack }: { prompt: Prompt; onClose: () => void; onRolledBack: () => void }) {
  const versions = useLoad(() => raw<Prompt[]>("GET", `/api/prompts/${prompt.id}/versions`), [prompt.id]);
  const rollback = useSubmit(async (version: Prompt) => {
    await raw("POST", `/api/prompts/${prompt.id}/rollback`, { versionId: version.id });
    onRolledBack();
  });
  return (
    <Modal title={`Versions of ${prompt.name}`} open wide onClose={onClose}>
      {rollback.error && <ErrorBox error={rollback.error} />}
      {versions.error ? (
        <ErrorBox error={versions.error} onRetry={versions.reload} />
      ) : !versions.data ? (
        <Spinner />
      ) : (
        <div class="table-scroll">
        <table aria-label="Prompt versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>System prompt</th>
              <th>User prompt</th>
              <th>Saved</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {versions.data.map((v) => (
              <tr data-version={v.version}>
                <td>
                  v{v.version} {v.isActive && <Badge tone="good">active</Badge>}
                </td>
                <td>{v.systemPrompt ?? "—"}</td>
                <td>{v.userPrompt ?? "—"}</td>
                <td>{formatTime(v.createdAt)}</td>
                <td>
                  {!v.isActive && (
                    <button type="button" class="btn btn-small" disabled={rollback.busy} onClick={() => rollback.submit(v)}>
                      Roll back to v{v.version}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </Modal>
  );
}

function AssignDialog({ prompt, profiles, onClose, onSaved }: { prompt: Prompt; profiles: Named[]; onClose: () => void; onSaved: () => void }) {
  const [agentId, setAgentId] = useState(prompt.agentId ?? profiles[0]?.id ?? "");
  const save = useSubmit(async () => {
    await raw("POST", `/api/agents/${agentId}/prompts`, { promptIds: [prompt.id] });
    onSaved();
  });
  return (
    <FormDialog title={`Assign ${prompt.name} to a profile`} open onClose={onClose} onSubmit={() => save.submit()} busy={save.busy} error={save.error} submitLabel="Assign">
      <Field label="Profile">
        <select class="input" value={agentId} onChange={(e) => setAgentId(e.currentTarget.value)}>
          {profiles.map((p) => (
            <option value={p.id}>{p.name}</option>
          ))}
        </select>
      </Field>
    </FormDialog>
  );
}
