// Table with column sorting, a text filter and pagination, plus its loading, error and empty states; with
// `remote`, sorting and pages are the server's (for logs that outgrow one response).
import type { ComponentChildren } from "preact";
import { useMemo, useState } from "preact/hooks";
import { ConfirmButton, Empty, ErrorBox, Spinner } from "./ui";

export interface Column<T> {
  key: string;
  label: string;
  render?: (row: T) => ComponentChildren;
  /// Value used for sorting and filtering; defaults to row[key].
  value?: (row: T) => string | number | boolean | null | undefined;
  sortable?: boolean;
}

export type SortState = { key: string; dir: "asc" | "desc" };

/// Server-side paging: `rows` is the current page; the server sorts by the keys in `sortable`.
export interface RemotePaging {
  total: number;
  page: number;
  onPage: (page: number) => void;
  sort: SortState;
  onSort: (sort: SortState) => void;
  sortable: string[];
}

export function DataTable<T>({
  label,
  columns,
  rows,
  loading,
  error,
  onRetry,
  rowKey,
  emptyTitle,
  emptyBody,
  pageSize = 10,
  filterPlaceholder = "Filter…",
  defaultSort,
  toolbar,
  onRowClick,
  remote,
}: {
  label: string;
  columns: Column<T>[];
  rows: T[] | undefined;
  loading?: boolean;
  error?: Error;
  onRetry?: () => void;
  rowKey: (row: T) => string;
  emptyTitle: string;
  emptyBody?: ComponentChildren;
  pageSize?: number;
  filterPlaceholder?: string;
  defaultSort?: { key: string; dir: "asc" | "desc" };
  toolbar?: ComponentChildren;
  onRowClick?: (row: T) => void;
  remote?: RemotePaging;
}) {
  const [filter, setFilter] = useState("");
  const [localSort, setLocalSort] = useState(defaultSort);
  const [localPage, setLocalPage] = useState(0);
  const sort = remote ? remote.sort : localSort;
  const setPage = remote ? remote.onPage : setLocalPage;
  const valueOf = (col: Column<T>, row: T) =>
    col.value ? col.value(row) : ((row as Record<string, unknown>)[col.key] as string | number | undefined);

  const shown = useMemo(() => {
    let list = rows ?? [];
    if (remote) return list;
    const needle = filter.trim().toLowerCase();
    if (needle)
      list = list.filter((row) =>
        columns.some((c) => String(valueOf(c, row) ?? "").toLowerCase().includes(needle)),
      );
    if (sort) {
      const col = columns.find((c) => c.key === sort.key);
      if (col) {
        list = [...list].sort((a, b) => {
          const x = valueOf(col, a) ?? "";
          const y = valueOf(col, b) ?? "";
          const cmp = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
          return sort.dir === "asc" ? cmp : -cmp;
        });
      }
    }
    return list;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rows, filter, sort, remote]);

  const total = remote ? remote.total : shown.length;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const current = remote ? remote.page : Math.min(localPage, pages - 1);
  const pageRows = remote ? shown : shown.slice(current * pageSize, current * pageSize + pageSize);

  const toggleSort = (key: string) => {
    const next = (s: SortState | undefined): SortState => (s?.key === key ? { key, dir: s.dir === "asc" ? "desc" : "asc" } : { key, dir: "asc" });
    if (remote) remote.onSort(next(remote.sort));
    else setLocalSort(next);
  };

  return (
    <section class="table-card" aria-label={label}>
      <div class="table-toolbar">
        {!remote && (
        <input
          type="search"
          class="input"
          aria-label={`Filter ${label}`}
          placeholder={filterPlaceholder}
          value={filter}
          onInput={(e) => {
            setFilter(e.currentTarget.value);
            setPage(0);
          }}
        />
        )}
        {toolbar}
      </div>
      {error ? (
        <ErrorBox error={error} onRetry={onRetry} />
      ) : loading && !rows ? (
        <Spinner />
      ) : shown.length === 0 ? (
        <Empty title={filter ? `Nothing matches “${filter}”` : emptyTitle}>{!filter && emptyBody}</Empty>
      ) : (
        <>
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  {columns.map((c) => {
                    const sortable = remote
                      ? remote.sortable.includes(c.key)
                      : c.sortable !== false && !!(c.value || c.render === undefined || c.sortable);
                    const dir = sort?.key === c.key ? sort.dir : undefined;
                    return (
                      <th scope="col" aria-sort={dir ? (dir === "asc" ? "ascending" : "descending") : undefined}>
                        {sortable ? (
                          <button type="button" class="th-sort" onClick={() => toggleSort(c.key)}>
                            {c.label}
                            <span aria-hidden="true">{dir === "asc" ? " ▲" : dir === "desc" ? " ▼" : " ↕"}</span>
                          </button>
                        ) : (
                          c.label
                        )}
                      </th>
                    );
                  })}
                </tr>
              </thead>
              <tbody>
                {pageRows.map((row) => (
                  <tr key={rowKey(row)} class={onRowClick ? "clickable" : undefined} onClick={onRowClick ? () => onRowClick(row) : undefined}>
                    {columns.map((c) => (
                      <td data-label={c.label}>{c.render ? c.render(row) : String(valueOf(c, row) ?? "—")}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pagination" aria-label={`${label} pages`}>
            <span class="muted">
              {current * pageSize + 1}–{current * pageSize + pageRows.length} of {total}
            </span>
            <button type="button" class="btn btn-small" disabled={current === 0} onClick={() => setPage(current - 1)}>
              Previous
            </button>
            <span>
              Page {current + 1} of {pages}
            </span>
            <button type="button" class="btn btn-small" disabled={current >= pages - 1} onClick={() => setPage(current + 1)}>
              Next
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

/// The last column of a table: per-row buttons, never sorted.
export function actionsColumn<T>(render: (row: T) => ComponentChildren): Column<T> {
  return { key: "actions", label: "Actions", sortable: false, render: (row) => <div class="row-actions">{render(row)}</div> };
}

/// A delete (or revoke, remove…) button that asks first, runs `remove`, then `done` (usually a reload).
export function DeleteButton({
  title,
  message,
  remove,
  done,
  label = "Delete",
}: {
  title: string;
  message: ComponentChildren;
  remove: () => Promise<unknown>;
  done?: () => void;
  label?: string;
}) {
  return (
    <ConfirmButton
      label={label}
      confirmLabel={label}
      title={title}
      message={message}
      onConfirm={async () => {
        await remove();
        done?.();
      }}
    />
  );
}

/// A row's Edit button (opens its dialog) and DeleteButton, with any other buttons (`children`) between them.
export function EditDeleteActions({ onEdit, children, ...remove }: { onEdit: () => void; children?: ComponentChildren } & Parameters<typeof DeleteButton>[0]) {
  return (
    <>
      <button type="button" class="btn btn-small" onClick={onEdit}>
        Edit
      </button>
      {children}
      <DeleteButton {...remove} />
    </>
  );
}

/// An actions column whose only action is DeleteButton.
export function deleteColumn<T>(props: (row: T) => { title: string; message: ComponentChildren; remove: () => Promise<unknown>; done?: () => void; label?: string }): Column<T> {
  return actionsColumn((row) => <DeleteButton {...props(row)} />);
}
