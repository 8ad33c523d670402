// Table with column sorting, a text filter and pagination, plus its loading, error and empty states.
import type { ComponentChildren } from "preact";
import { useMemo, useState } from "preact/hooks";
import { Empty, ErrorBox, Spinner } from "./ui";

export interface Column<T> {
  key: string;
  label: string;
  render?: (row: T) => ComponentChildren;
  /// Value used for sorting and filtering; defaults to row[key].
  value?: (row: T) => string | number | boolean | null | undefined;
  sortable?: boolean;
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
}) {
  const [filter, setFilter] = useState("");
  const [sort, setSort] = useState(defaultSort);
  const [page, setPage] = useState(0);
  const valueOf = (col: Column<T>, row: T) =>
    col.value ? col.value(row) : ((row as Record<string, unknown>)[col.key] as string | number | undefined);

  const shown = useMemo(() => {
    let list = rows ?? [];
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
  }, [rows, filter, sort]);

  const pages = Math.max(1, Math.ceil(shown.length / pageSize));
  const current = Math.min(page, pages - 1);
  const pageRows = shown.slice(current * pageSize, current * pageSize + pageSize);

  const toggleSort = (key: string) => {
    setSort((s) => (s?.key === key ? { key, dir: s.dir === "asc" ? "desc" : "asc" } : { key, dir: "asc" }));
  };

  return (
    <section class="table-card" aria-label={label}>
      <div class="table-toolbar">
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
                    const sortable = c.sortable !== false && !!(c.value || c.render === undefined || c.sortable);
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
              {current * pageSize + 1}–{current * pageSize + pageRows.length} of {shown.length}
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
