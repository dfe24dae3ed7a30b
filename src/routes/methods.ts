/**
 * A method a known path does not have is a 405 with `Allow`, not a 404: the paths and methods
 * are the OpenAPI document's own (every route is declared there), so the answer always agrees
 * with the document. HEAD is answered wherever GET is. As in OpenAPI, a concrete path is matched
 * before a templated one that would also match it.
 */
import type { MiddlewareHandler } from "hono";
import { HttpProblem } from "../contracts/problems";
import type { App } from "../env";

/** What the middleware needs of the app's OpenAPI registry. */
interface RouteRegistry {
  definitions: readonly { type: string; route?: { method: string; path: string } }[];
}

interface KnownPath {
  pattern: RegExp;
  methods: Set<string>;
  /** Templated segments: OpenAPI matches a concrete path before a templated one (`/history/import` before `/history/{content_id}`). */
  params: number;
}

function knownPaths(registry: RouteRegistry): KnownPath[] {
  const byTemplate = new Map<string, Set<string>>();
  for (const definition of registry.definitions) {
    if (definition.type !== "route" || !definition.route) continue;
    const { path, method } = definition.route;
    const methods = byTemplate.get(path) ?? new Set<string>();
    methods.add(method.toUpperCase());
    if (method === "get") methods.add("HEAD");
    byTemplate.set(path, methods);
  }
  return [...byTemplate].map(([template, methods]) => ({
    pattern: new RegExp(
      `^${template
        .split("/")
        .map((s) => (/^\{[^}]+\}$/.test(s) ? "[^/]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
        .join("/")}$`,
    ),
    methods,
    params: template.split("/").filter((s) => /^\{[^}]+\}$/.test(s)).length,
  }));
}

/** Answers 405 problem+json with `Allow` when the path is known and the method is not one of its own. */
export function methodNotAllowed(registry: () => RouteRegistry): MiddlewareHandler<App> {
  let table: KnownPath[] | null = null;
  return async (c, next) => {
    table ??= knownPaths(registry());
    const pathname = new URL(c.req.url).pathname;
    const matches = table.filter((known) => known.pattern.test(pathname));
    const mostConcrete = Math.min(...matches.map((known) => known.params));
    const allowed = new Set<string>();
    for (const known of matches) {
      if (known.params !== mostConcrete) continue;
      if (known.methods.has(c.req.method)) return next();
      for (const method of known.methods) allowed.add(method);
    }
    if (allowed.size === 0) return next();
    const allow = [...allowed].sort().join(", ");
    throw new HttpProblem(405, "method-not-allowed", `${c.req.method} is not a method of ${pathname}; use ${allow}`, {
      headers: { allow },
    });
  };
}
