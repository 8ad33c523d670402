// Data loading hook with loading/error state and a reload function, used by every page.
import { useCallback, useEffect, useState } from "preact/hooks";

export interface Loaded<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  reload: () => void;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: Error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export interface PageQuery {
  limit: number;
  offset: number;
  sortBy: string;
  sortDirection: "asc" | "desc";
}
export interface Paginated<T> {
  data: T[];
  pagination: { total: number };
}

/// A list the server pages and sorts (the logs): the current page, and the paging state a DataTable's `remote`
/// takes. Changing a filter in `deps` goes back to the first page.
export function useRemotePage<T>(load: (query: PageQuery) => Promise<Paginated<T>>, deps: unknown[], sortable: string[], pageSize = 20) {
  const [sort, setSort] = useState<{ key: string; dir: "asc" | "desc" }>({ key: "createdAt", dir: "desc" });
  const filterKey = JSON.stringify(deps);
  // The page belongs to the filters it was chosen under: other filters start at the first page.
  const [paged, setPaged] = useState({ filterKey, page: 0 });
  const current = paged.filterKey === filterKey ? paged.page : 0;
  const setPage = (page: number) => setPaged({ filterKey, page });
  const list = useLoad(
    () => load({ limit: pageSize, offset: current * pageSize, sortBy: sort.key, sortDirection: sort.dir }),
    [filterKey, current, sort.key, sort.dir],
  );
  return {
    list,
    rows: list.data?.data,
    pageSize,
    remote: {
      total: list.data?.pagination.total ?? 0,
      page: current,
      onPage: setPage,
      sort,
      onSort: (s: { key: string; dir: "asc" | "desc" }) => {
        setSort(s);
        setPage(0);
      },
      sortable,
    },
  };
}
