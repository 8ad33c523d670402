// Shared building blocks: buttons, states (loading, empty, error), dialogs with confirmation, copy buttons.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <div class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: Error | string; onRetry?: () => void }) {
  return (
    <div class="state state-error" role="alert">
      <strong>Something went wrong.</strong> {typeof error === "string" ? error : error.message}
      {onRetry && (
        <button type="button" class="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty">
      <strong>{title}</strong>
      {children && <div>{children}</div>}
    </div>
  );
}

export function PageHeader({ title, description, actions }: { title: string; description?: string; actions?: ComponentChildren }) {
  return (
    <header class="page-header">
      <div>
        <h1>{title}</h1>
        {description && <p class="muted">{description}</p>}
      </div>
      {actions && <div class="page-actions">{actions}</div>}
    </header>
  );
}

export function Tabs({ tabs, current, onSelect }: { tabs: { id: string; label: string }[]; current: string; onSelect: (id: string) => void }) {
  return (
    <div class="tabs" role="tablist">
      {tabs.map((t) => (
        <button
          type="button"
          role="tab"
          aria-selected={t.id === current}
          class={t.id === current ? "tab active" : "tab"}
          onClick={() => onSelect(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

/// A modal on the native <dialog>: focus moves inside, Escape closes, the page behind is inert.
export function Modal({ title, open, onClose, children, wide }: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} class={wide ? "modal modal-wide" : "modal"} aria-label={title} onClose={onClose} onCancel={onClose}>
      {open && (
        <>
          <header class="modal-header">
            <h2>{title}</h2>
            <button type="button" class="btn btn-ghost" aria-label="Close" onClick={onClose}>
              ✕
            </button>
          </header>
          <div class="modal-body">{children}</div>
        </>
      )}
    </dialog>
  );
}

/// A destructive action: asks first, then runs `onConfirm`; errors are shown in the dialog.
export function ConfirmButton({
  label,
  title,
  message,
  confirmLabel = "Delete",
  onConfirm,
  small = true,
}: {
  label: string;
  title: string;
  message: ComponentChildren;
  confirmLabel?: string;
  onConfirm: () => Promise<unknown>;
  small?: boolean;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <>
      <button type="button" class={`btn btn-danger${small ? " btn-small" : ""}`} onClick={() => { setError(undefined); setOpen(true); }}>
        {label}
      </button>
      <Modal title={title} open={open} onClose={() => setOpen(false)}>
        <p>{message}</p>
        {error && <ErrorBox error={error} />}
        <div class="form-actions">
          <button type="button" class="btn" onClick={() => setOpen(false)}>
            Cancel
          </button>
          <button
            type="button"
            class="btn btn-danger"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await onConfirm();
                setOpen(false);
              } catch (e) {
                setError((e as Error).message);
              } finally {
                setBusy(false);
              }
            }}
          >
            {busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </Modal>
    </>
  );
}

/// Create/edit dialog shell: the form, its whole-form error, and the submit button.
export function FormDialog({
  title,
  open,
  onClose,
  onSubmit,
  busy,
  error,
  submitLabel,
  children,
  wide,
}: {
  title: string;
  open: boolean;
  onClose: () => void;
  onSubmit: () => void;
  busy: boolean;
  error?: string;
  submitLabel: string;
  children: ComponentChildren;
  wide?: boolean;
}) {
  return (
    <Modal title={title} open={open} onClose={onClose} wide={wide}>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit();
        }}
      >
        {children}
        {error && <ErrorBox error={error} />}
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? "Saving…" : submitLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="btn btn-small"
      aria-label={`${label}: ${text.length > 60 ? text.slice(0, 60) + "…" : text}`}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // Clipboard API needs a secure context or permission: fall back to a selection copy.
          const area = document.createElement("textarea");
          area.value = text;
          document.body.appendChild(area);
          area.select();
          document.execCommand("copy");
          area.remove();
        }
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}

/// A value with its copy button, in monospace.
export function CopyField({ label, value }: { label: string; value: string }) {
  return (
    <div class="copy-field">
      <span class="copy-label">{label}</span>
      <code data-testid={`copy-${label}`}>{value}</code>
      <CopyButton text={value} label={`Copy ${label}`} />
    </div>
  );
}

export function CodeBlock({ code, label }: { code: string; label: string }) {
  return (
    <div class="code-block">
      <div class="code-block-bar">
        <span>{label}</span>
        <CopyButton text={code} label={`Copy ${label}`} />
      </div>
      <pre>
        <code>{code}</code>
      </pre>
    </div>
  );
}

/// A labelled form control; `error` (from the platform's 400 naming this field) is shown under it.
export function Field({ label, children, hint, error }: { label: string; children: ComponentChildren; hint?: string; error?: string }) {
  return (
    <div class={error ? "field field-invalid" : "field"}>
      <label class="field-inner">
        <span class="field-label">{label}</span>
        {children}
      </label>
      {hint && <span class="field-hint">{hint}</span>}
      {error && (
        <span class="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

/// The platform's 400s read "Field 'name': why" (or "Field 'model[2]'", "Field 'oidcConfig.clientId'"): the field
/// it names (model, oidcConfig.clientId), if any.
export function erroredField(error: string | undefined): string | undefined {
  const m = error ? /^Field '([A-Za-z0-9_.]+)/.exec(error) : null;
  return m ? m[1] : undefined;
}

/// Splits a submit error between the form's fields: `on(name)` is the message for that field (shown next to
/// it); `rest` is the error when it names none of `fields` (shown for the whole form).
export function fieldErrors(error: string | undefined, fields: string[]) {
  const field = erroredField(error);
  const mine = field !== undefined && fields.includes(field);
  // "Field 'conditions[0].maxLength': …" under the conditions field keeps its path, which says what is wrong.
  const exact = error !== undefined && error.startsWith(`Field '${field}':`);
  return {
    on: (name: string) => (mine && field === name ? (exact ? error!.replace(/^Field '[^']*':\s*/, "") : error) : undefined),
    rest: mine ? undefined : error,
  };
}

export function Badge({ tone = "neutral", children }: { tone?: "neutral" | "good" | "bad" | "warn"; children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

/// Form wrapper: runs the async submit, shows its error, disables while busy.
export function useSubmit<A extends unknown[]>(run: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (...args: A) => {
    setBusy(true);
    setError(undefined);
    try {
      await run(...args);
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit, setError };
}

export type InputEvent = JSX.TargetedEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, Event>;
export const valueOf = (e: InputEvent) => (e.currentTarget as HTMLInputElement).value;

/// The create/edit dialog of a list: `editing` is the row being edited, "new", or undefined (closed); `item` is
/// that row (undefined for "new", the dialog's create mode); `close()` closes it; `saved()` closes it and reloads
/// the list.
export function useEditor<T>(reload: () => void) {
  const [editing, setEditing] = useState<T | "new">();
  return {
    editing,
    item: editing === "new" ? undefined : editing,
    edit: (row: T | "new") => setEditing(() => row),
    close: () => setEditing(undefined),
    saved: () => {
      setEditing(undefined);
      reload();
    },
  };
}
