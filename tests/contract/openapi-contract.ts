/**
 * Checks one exchange (request and response) against the service's OpenAPI 3.1 document, the way
 * a generated client or a validating proxy would read it:
 * - the path and method are an operation of the document, else the answer is a 405 naming the
 *   document's methods in `Allow` (known path) or a 4xx problem (unknown path);
 * - the status is one the operation documents, with a documented media type, a body that matches
 *   its schema and the headers the document says are always there;
 * - a request the server accepted (2xx) is one the document allows: its credentials, path and
 *   query parameters and body.
 * Pure JavaScript (@cfworker/json-schema): it runs inside workerd around the tests' fetch and in
 * Node in front of a local stack.
 */
import { Validator } from "@cfworker/json-schema";

type Schema = Record<string, any>;

export interface Exchange {
  method: string;
  /** An absolute URL or a path with its query. */
  url: string;
  requestHeaders: Headers;
  /** The request body as sent (text), when there was one. */
  requestBody?: string | null;
  status: number;
  responseHeaders: Headers;
  /** The response body as text ("" when none). */
  responseBody: string;
}

interface Route {
  template: string;
  regex: RegExp;
  names: string[];
  /** Literal segments: a more literal template wins ("/sync/watchlist" over "/sync/{x}"). */
  weight: number;
  operations: Record<string, Schema>;
}

const METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"];
const mediaType = (value: string | null) => (value ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
const isJson = (type: string) => type === "application/json" || type.endsWith("+json");

export class OpenApiContract {
  private readonly routes: Route[] = [];
  private readonly validators = new Map<Schema, Validator>();

  constructor(readonly doc: any) {
    for (const [template, item] of Object.entries<any>(doc.paths ?? {})) {
      const names: string[] = [];
      const source = template
        .split("/")
        .map((segment) => {
          const param = /^\{([^}]+)\}$/.exec(segment);
          if (param) {
            names.push(param[1] as string);
            return "([^/]+)";
          }
          return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        })
        .join("/");
      const operations: Record<string, Schema> = {};
      for (const method of METHODS) if (item[method]) operations[method] = item[method];
      this.routes.push({
        template,
        regex: new RegExp(`^${source}$`),
        names,
        weight: template.split("/").filter((s) => s && !s.startsWith("{")).length,
        operations,
      });
    }
    this.routes.sort((a, b) => b.weight - a.weight);
  }

  /** What the document says about a method and path: the operation, or the methods the path allows. */
  resolve(method: string, pathname: string) {
    for (const route of this.routes) {
      const match = route.regex.exec(pathname);
      if (!match) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = safeDecode(match[i + 1] as string);
      });
      const m = method.toLowerCase();
      const operation = route.operations[m] ?? (m === "head" ? route.operations.get : undefined);
      return { route, params, operation: operation ?? null };
    }
    return null;
  }

  /** The methods the document has for a path, as an `Allow` header lists them. */
  allowed(route: Route): string[] {
    const methods = Object.keys(route.operations).map((m) => m.toUpperCase());
    if (methods.includes("GET") && !methods.includes("HEAD")) methods.push("HEAD");
    return methods.sort();
  }

  /** Every way the exchange departs from the document; empty when it conforms. */
  check(exchange: Exchange): string[] {
    const url = new URL(exchange.url, "http://contract.invalid");
    const resolved = this.resolve(exchange.method, url.pathname);
    const where = `${exchange.method} ${url.pathname} → ${exchange.status}`;
    const contentType = mediaType(exchange.responseHeaders.get("content-type"));
    if (!resolved) {
      // Not a path of the document: only the API's own prefixes must answer a problem.
      if (!/^\/(api|events)\//.test(url.pathname) || exchange.status < 400) return [];
      return this.problemShape(exchange, where);
    }
    if (!resolved.operation) {
      const errors: string[] = [];
      const allow = this.allowed(resolved.route);
      if (exchange.status !== 405) {
        errors.push(`${where}: ${exchange.method} is not an operation of ${resolved.route.template}; expected 405`);
        return errors;
      }
      const header = (exchange.responseHeaders.get("allow") ?? "")
        .split(",")
        .map((m) => m.trim().toUpperCase())
        .filter(Boolean)
        .sort();
      if (header.join(", ") !== allow.join(", "))
        errors.push(`${where}: Allow is "${header.join(", ")}", the document has "${allow.join(", ")}"`);
      const component = this.doc.components?.responses?.MethodNotAllowed;
      if (!component) errors.push(`${where}: the document has no MethodNotAllowed response for wrong methods`);
      else errors.push(...this.checkResponse(component, exchange, contentType, where));
      return errors;
    }
    const op = resolved.operation;
    const errors: string[] = [];
    const documented = op.responses?.[String(exchange.status)] ?? op.responses?.[`${String(exchange.status)[0]}XX`];
    if (!documented && !op.responses?.default) {
      errors.push(
        `${where}: status ${exchange.status} is not documented (documented: ${Object.keys(op.responses ?? {}).join(", ")})` +
          (contentType.includes("json") ? ` body ${exchange.responseBody.slice(0, 200)}` : ""),
      );
    } else {
      errors.push(...this.checkResponse(this.deref(documented ?? op.responses.default), exchange, contentType, where));
    }
    if (exchange.status >= 200 && exchange.status < 300) {
      errors.push(...this.checkAcceptedRequest(op, resolved.params, url, exchange, where));
    }
    return errors;
  }

  private problemShape(exchange: Exchange, where: string): string[] {
    if (!mediaType(exchange.responseHeaders.get("content-type")).startsWith("application/problem+json"))
      return [`${where}: an error outside the document's operations is not problem+json`];
    return [];
  }

  private checkResponse(response: Schema, exchange: Exchange, contentType: string, where: string): string[] {
    const errors: string[] = [];
    for (const [name, header] of Object.entries<any>(response.headers ?? {})) {
      const spec = this.deref(header);
      if (spec.required && !exchange.responseHeaders.has(name))
        errors.push(`${where}: the documented header ${name} is missing`);
    }
    const content = response.content as Record<string, { schema?: Schema }> | undefined;
    const hasBody = exchange.responseBody.length > 0;
    if (exchange.method === "HEAD" || exchange.status === 101) return errors;
    if (!content || Object.keys(content).length === 0) {
      if (hasBody) errors.push(`${where}: a ${contentType || "body"} answer where the document has no content`);
      return errors;
    }
    if (!hasBody) {
      errors.push(`${where}: no body where the document has ${Object.keys(content).join(", ")}`);
      return errors;
    }
    const media = content[contentType];
    if (!media) {
      errors.push(
        `${where}: content type ${contentType || "(none)"} is not documented (${Object.keys(content).join(", ")})`,
      );
      return errors;
    }
    if (!media.schema || !isJson(contentType)) return errors;
    let value: unknown;
    try {
      value = JSON.parse(exchange.responseBody);
    } catch {
      return [...errors, `${where}: the ${contentType} body is not JSON`];
    }
    errors.push(...this.validate(media.schema, value).map((e) => `${where}: response body ${e}`));
    return errors;
  }

  private checkAcceptedRequest(
    op: Schema,
    params: Record<string, string>,
    url: URL,
    exchange: Exchange,
    where: string,
  ): string[] {
    const errors: string[] = [];
    const security: Record<string, unknown>[] | undefined = op.security ?? this.doc.security;
    if (security && security.length > 0 && !security.some((alternative) => Object.keys(alternative).length === 0)) {
      const presented = security.some((alternative) =>
        Object.keys(alternative).every((scheme) => this.presents(scheme, exchange, url)),
      );
      if (!presented) errors.push(`${where}: answered without the credentials the document requires`);
    }
    for (const parameter of (op.parameters ?? []).map((p: Schema) => this.deref(p))) {
      const schema = parameter.schema ?? {};
      let value: unknown;
      if (parameter.in === "path") value = params[parameter.name];
      else if (parameter.in === "query") {
        const values = url.searchParams.getAll(parameter.name);
        value = values.length === 0 ? undefined : queryValue(this.deref(schema), values);
      } else if (parameter.in === "header") value = exchange.requestHeaders.get(parameter.name) ?? undefined;
      else continue;
      if (value === undefined) {
        if (parameter.required)
          errors.push(`${where}: accepted without the required ${parameter.in} ${parameter.name}`);
        continue;
      }
      for (const e of this.validate(schema, value))
        errors.push(`${where}: accepted ${parameter.in} parameter ${parameter.name}=${JSON.stringify(value)}, ${e}`);
    }
    const body = op.requestBody ? this.deref(op.requestBody) : null;
    const sent = exchange.requestBody ?? "";
    if (body && sent.length > 0) {
      const type = mediaType(exchange.requestHeaders.get("content-type"));
      const media = body.content?.[type];
      if (!media)
        errors.push(
          `${where}: accepted a ${type || "typeless"} body; the document has ${Object.keys(body.content ?? {})}`,
        );
      else if (media.schema && isJson(type)) {
        let value: unknown;
        try {
          // A leading byte order mark is dropped, as the Fetch standard's JSON reading does.
          value = JSON.parse(sent.replace(/^\uFEFF/, ""));
        } catch {
          errors.push(`${where}: accepted a body that is not JSON`);
        }
        if (value !== undefined)
          for (const e of this.validate(media.schema, value)) errors.push(`${where}: accepted request body ${e}`);
      }
    } else if (body?.required && sent.length === 0) {
      errors.push(`${where}: accepted without the required body`);
    }
    return errors;
  }

  private presents(scheme: string, exchange: Exchange, url: URL): boolean {
    const spec = this.doc.components?.securitySchemes?.[scheme];
    if (!spec) return false;
    if (spec.type === "http") return /^bearer\s/i.test(exchange.requestHeaders.get("authorization") ?? "");
    if (spec.type === "apiKey" && spec.in === "query") return url.searchParams.has(spec.name);
    if (spec.type === "apiKey" && spec.in === "header") return exchange.requestHeaders.has(spec.name);
    return false;
  }

  private validate(schema: Schema, value: unknown): string[] {
    let validator = this.validators.get(schema);
    if (!validator) {
      validator = new Validator({ ...schema, components: this.doc.components } as Schema, "2020-12", false);
      this.validators.set(schema, validator);
    }
    const result = validator.validate(value);
    if (result.valid) return [];
    // The innermost errors say what is wrong; the outer ones only that something below is.
    const leaves = result.errors.filter(
      (e) =>
        !result.errors.some(
          (o) =>
            o !== e && o.instanceLocation.startsWith(e.instanceLocation) && o.instanceLocation !== e.instanceLocation,
        ),
    );
    const listed = leaves
      .slice(0, 4)
      .map((e) => `${e.instanceLocation}: ${e.error}`)
      .join("; ");
    return [`${listed} (value ${JSON.stringify(value)?.slice(0, 200)})`];
  }

  private deref(node: Schema): Schema {
    let current = node;
    for (let hops = 0; current?.$ref && hops < 10; hops++) {
      const path = String(current.$ref).replace(/^#\//, "").split("/");
      current = path.reduce<any>((at, key) => at?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], this.doc);
    }
    return current ?? {};
  }
}

/** A query parameter's values as the document's schema reads them (form style, exploded). */
function queryValue(schema: Schema, values: string[]): unknown {
  const types = new Set<string>();
  const collect = (s: Schema) => {
    for (const t of [s.type].flat()) if (typeof t === "string") types.add(t);
    for (const alternative of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) collect(alternative);
  };
  collect(schema);
  const scalar = (text: string): unknown => {
    if ((types.has("integer") || types.has("number")) && text.trim() !== "" && Number.isFinite(Number(text)))
      return Number(text);
    if (types.has("boolean") && (text === "true" || text === "false")) return text === "true";
    return text;
  };
  if (values.length > 1 || (types.has("array") && !types.has("string"))) return values.map(scalar);
  return scalar(values[0] as string);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
