import fc from "fast-check";

/**
 * Requests generated from an OpenAPI 3.1 document, for test/docs/conformance.test.ts: valid ones
 * from the declared schemas, and broken ones (a required field removed, a wrong type, a value out
 * of range, an unknown field, the wrong content type, no or wrong credentials). Nothing here
 * knows a route: whatever the document declares is what gets generated.
 */

export type Schema = Record<string, any>;
export type Doc = { paths: Record<string, Record<string, Operation>>; components?: { schemas?: Record<string, Schema> }; security?: Security };
export type Security = Record<string, string[]>[];
export interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema: Schema;
}
export interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }>; headers?: Record<string, { required?: boolean; schema: Schema }> }>;
  security?: Security;
}

/** How a request authenticates: a header value, or nothing. `label` says what it is, for failures. */
export interface Auth {
  label: string;
  authorization?: string;
  /** Headers computed from the final body (a signature over it), added when the request is sent. */
  sign?: (body: string) => Record<string, string>;
}

/** What the generator may draw on: credentials per security scheme, and values seen so far. */
export interface FuzzContext {
  doc: Doc;
  /** Per security scheme: credentials that should work, and credentials that must not. */
  credentials: Record<string, { valid: Auth[]; wrong: Auth[] }>;
  /** Values the service has answered, by field name (`id`, `account_id`, `client_secret`, ...). */
  seen: Map<string, Set<string>>;
  /** Field names whose values are also worth trying under another name. */
  aliases: Record<string, string[]>;
  /** Values never to send (the test's own fixtures, which it must not delete). */
  reserved: Set<string>;
}

export interface GeneratedRequest {
  /** "valid", or the kind of breakage. */
  kind: string;
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body?: string;
  /** The credential's signing, for `send` to apply to the body as sent. */
  sign?: (body: string) => Record<string, string>;
}

export function resolve(doc: Doc, schema: Schema): Schema {
  let current = schema;
  while (typeof current?.$ref === "string") {
    const name = current.$ref.replace("#/components/schemas/", "");
    current = doc.components!.schemas![name]!;
  }
  return current;
}

const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
/** Mostly printable ASCII, sometimes other scripts, emoji, odd spaces and controls. */
const CHAR = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...ASCII) },
  { weight: 1, arbitrary: fc.constantFrom("é", "請", "😀", "\u00A0", "\u3000", "\t", "\n", "\u0000", "\u202E") },
);

function stringFor(schema: Schema): fc.Arbitrary<string> {
  if (schema.format === "date-time") {
    return fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString());
  }
  const pattern = schema.pattern === undefined ? null : new RegExp(schema.pattern, "u");
  const minLength = schema.minLength ?? 0;
  const generated = fc
    .string({ unit: CHAR, minLength, maxLength: Math.max(minLength, Math.min(schema.maxLength ?? 24, 24)) })
    .filter((value) => pattern === null || pattern.test(value));
  return typeof schema.example === "string" ? fc.oneof(fc.constant(schema.example), generated) : generated;
}

/**
 * A value valid against `schema`; for a named field, often one the service has answered before
 * under that name, and of the same kind as the example when it has a kind prefix (`acct_`).
 * `inPath`: the value names what the operation acts on, so the test's own fixtures are excluded.
 */
export function valueFor(ctx: FuzzContext, input: Schema, name?: string, inPath = false): fc.Arbitrary<unknown> {
  const schema = resolve(ctx.doc, input);
  const fromSchema = schemaValue(ctx, schema);
  if (name === undefined) return fromSchema;
  const known = [name, ...(ctx.aliases[name] ?? [])]
    .flatMap((key) => [...(ctx.seen.get(key) ?? [])])
    .filter((value) => !(inPath && ctx.reserved.has(value)));
  const kind = typeof schema.example === "string" ? /^[a-z]+_/.exec(schema.example)?.[0] : undefined;
  const sameKind = kind === undefined ? [] : known.filter((value) => value.startsWith(kind));
  const candidates = sameKind.length ? sameKind : known;
  return candidates.length ? fc.oneof(fc.constantFrom(...candidates), fromSchema) : fromSchema;
}

function schemaValue(ctx: FuzzContext, schema: Schema): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  for (const key of ["anyOf", "oneOf"] as const) {
    if (Array.isArray(schema[key])) return fc.oneof(...schema[key].map((option: Schema) => valueFor(ctx, option)));
  }
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type: string) => schemaValue(ctx, { ...schema, type })));
  switch (schema.type) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer":
    case "number":
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1_000_000 });
    case "string":
      return stringFor(schema);
    case "array": {
      const items = valueFor(ctx, schema.items ?? {});
      const bounds = { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) };
      return schema.uniqueItems ? fc.uniqueArray(items, { ...bounds, selector: (v) => JSON.stringify(v) }) : fc.array(items, bounds);
    }
    case "object": {
      const properties: Record<string, Schema> = schema.properties ?? {};
      const model = Object.fromEntries(Object.entries(properties).map(([key, property]) => [key, valueFor(ctx, property, key)]));
      const required: string[] = schema.required ?? [];
      // The required fields alone half the time: optional ones are where most 400s come from.
      return fc.oneof(
        fc.record(Object.fromEntries(Object.entries(model).filter(([key]) => required.includes(key)))),
        fc.record(model, { requiredKeys: required }),
      );
    }
    default:
      return fc.constant({});
  }
}

/** A value that breaks `schema`'s bounds (length, range, count, pattern), if it has any. */
function outOfRange(schema: Schema): unknown[] {
  const pattern = schema.pattern === undefined ? null : new RegExp(schema.pattern, "u");
  switch (schema.type) {
    case "string":
      return [
        ...(schema.maxLength !== undefined ? ["x".repeat(schema.maxLength + 1)] : []),
        ...(schema.minLength ? [""] : []),
        ...(pattern ? ["", " ", "a\u0000b", "x".repeat(300)].filter((value) => !pattern.test(value)).slice(0, 2) : []),
        ...(Array.isArray(schema.enum) ? [`${schema.enum[0]}-not-one`] : []),
      ];
    case "integer":
    case "number":
      return [
        ...(schema.maximum !== undefined ? [schema.maximum + 1] : []),
        ...(schema.minimum !== undefined ? [schema.minimum - 1] : []),
        ...(schema.type === "integer" ? [1.5] : []),
      ];
    case "array":
      return [
        ...(schema.maxItems !== undefined ? [Array.from({ length: schema.maxItems + 1 }, (_, i) => `s${i}`)] : []),
        ...(schema.uniqueItems ? [["same", "same"]] : []),
      ];
    default:
      return [];
  }
}

/** A JSON value of another type than `schema` allows. */
function wrongType(schema: Schema): unknown[] {
  const types: string[] = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const samples: [string, unknown][] = [
    ["string", "a string"],
    ["integer", 7],
    ["boolean", true],
    ["array", [1]],
    ["object", { nested: 1 }],
    ["null", null],
  ];
  return samples.filter(([type]) => !types.includes(type) && !(type === "integer" && types.includes("number"))).map(([, value]) => value);
}

interface Parts {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  headers: Record<string, unknown>;
  auth: Auth;
  mediaType?: string;
  body?: unknown;
}

const stringify = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

function serialize(method: string, path: string, parts: Parts, kind: string, rawBody?: { type: string; text: string }): GeneratedRequest {
  const url = path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(stringify(parts.params[name] ?? "")));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(parts.headers)) if (value !== undefined) headers[name] = stringify(value);
  if (parts.auth.authorization !== undefined) headers.authorization = parts.auth.authorization;
  const query = Object.entries(parts.query)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]): [string, string] => [name, stringify(value)]);
  let body: string | undefined;
  if (rawBody) {
    headers["content-type"] = rawBody.type;
    body = rawBody.text;
  } else if (parts.mediaType !== undefined && parts.body !== undefined) {
    headers["content-type"] = parts.mediaType;
    body =
      parts.mediaType === "application/x-www-form-urlencoded"
        ? new URLSearchParams(Object.entries(parts.body as Record<string, unknown>).map(([k, v]) => [k, stringify(v)])).toString()
        : JSON.stringify(parts.body);
  }
  return {
    kind: `${kind} (${parts.auth.label})`,
    method: method.toUpperCase(),
    path: url,
    query,
    headers,
    ...(body !== undefined ? { body } : {}),
    ...(parts.auth.sign ? { sign: parts.auth.sign } : {}),
  };
}

/** The valid credentials for an operation's security, and those that must be refused. */
function authChoices(ctx: FuzzContext, operation: Operation): { valid: Auth[]; wrong: Auth[]; anonymousAllowed: boolean } {
  const requirements = operation.security ?? ctx.doc.security ?? [];
  const schemes = requirements.flatMap((requirement) => Object.keys(requirement));
  const anonymousAllowed = requirements.length === 0 || requirements.some((requirement) => Object.keys(requirement).length === 0);
  const valid = schemes.flatMap((scheme) => ctx.credentials[scheme]?.valid ?? []);
  const wrong = schemes.flatMap((scheme) => ctx.credentials[scheme]?.wrong ?? []);
  return { valid: valid.length ? valid : [{ label: "no credentials" }], wrong, anonymousAllowed };
}

/**
 * Generated requests for one operation: valid ones, and broken ones by kind of breakage (only the
 * kinds that apply to it). `anyRequest` mixes them.
 */
export function requestsFor(
  ctx: FuzzContext,
  method: string,
  path: string,
  operation: Operation,
): { valid: fc.Arbitrary<GeneratedRequest>; broken: Map<string, fc.Arbitrary<GeneratedRequest>> } {
  const parameters = operation.parameters ?? [];
  const byLocation = (where: Parameter["in"]) => parameters.filter((parameter) => parameter.in === where);
  const paramRecord = (list: Parameter[]) =>
    fc.record(Object.fromEntries(list.map((p) => [p.name, valueFor(ctx, p.schema, p.name, p.in === "path")])), {
      requiredKeys: list.filter((p) => p.required).map((p) => p.name),
    });
  const media = Object.entries(operation.requestBody?.content ?? {})[0];
  const bodySchema = media ? resolve(ctx.doc, media[1].schema) : undefined;
  const auth = authChoices(ctx, operation);

  const parts: fc.Arbitrary<Parts> = fc.record({
    params: paramRecord(byLocation("path")),
    query: paramRecord(byLocation("query")),
    headers: paramRecord(byLocation("header")),
    auth: fc.constantFrom(...auth.valid, ...(auth.anonymousAllowed ? [{ label: "anonymous" }] : [])),
    ...(media && bodySchema
      ? { mediaType: fc.constant(media[0]), body: operation.requestBody?.required ? valueFor(ctx, bodySchema) : fc.option(valueFor(ctx, bodySchema), { nil: undefined }) }
      : {}),
  });

  const properties: [string, Schema][] = bodySchema?.type === "object" ? Object.entries(bodySchema.properties ?? {}).map(([k, s]) => [k, resolve(ctx.doc, s as Schema)]) : [];
  const isJson = media?.[0] === "application/json";
  const withBody = (p: Parts, body: unknown): Parts => ({ ...p, body });
  const asObject = (p: Parts) => (typeof p.body === "object" && p.body !== null && !Array.isArray(p.body) ? (p.body as Record<string, unknown>) : {});

  const broken = new Map<string, fc.Arbitrary<GeneratedRequest>>();
  const add = (kind: string, arbitrary: fc.Arbitrary<Parts>) => broken.set(kind, arbitrary.map((p) => serialize(method, path, p, kind)));

  // Credentials: none at all, and wrong ones.
  if (!auth.anonymousAllowed) add("no credentials", parts.map((p) => ({ ...p, auth: { label: "none" } })));
  if (auth.wrong.length) add("wrong credentials", fc.tuple(parts, fc.constantFrom(...auth.wrong)).map(([p, wrong]) => ({ ...p, auth: wrong })));
  // Query: an unknown parameter; a declared one of the wrong type or out of range.
  add("unknown query parameter", parts.map((p) => ({ ...p, query: { ...p.query, unexpected_parameter: "1" } })));
  for (const parameter of byLocation("query")) {
    const bad = [...outOfRange(resolve(ctx.doc, parameter.schema)), ...(resolve(ctx.doc, parameter.schema).type === "integer" ? ["abc"] : [])];
    if (bad.length) add(`query ${parameter.name} out of range`, fc.tuple(parts, fc.constantFrom(...bad)).map(([p, v]) => ({ ...p, query: { ...p.query, [parameter.name]: v } })));
  }
  if (media && bodySchema) {
    // Body: a required field removed, a field of the wrong type or out of range, an unknown field.
    for (const field of bodySchema.required ?? []) {
      add(`body without ${field}`, parts.map((p) => withBody(p, Object.fromEntries(Object.entries(asObject(p)).filter(([k]) => k !== field)))));
    }
    for (const [field, schema] of properties) {
      const bad = [...(isJson ? wrongType(schema) : []), ...outOfRange(schema)];
      if (bad.length) add(`body ${field} wrong`, fc.tuple(parts, fc.constantFrom(...bad)).map(([p, v]) => withBody(p, { ...asObject(p), [field]: v })));
    }
    add("unknown body field", parts.map((p) => withBody(p, { ...asObject(p), unexpected_field: "1" })));
    if (isJson) add("body of the wrong type", fc.tuple(parts, fc.constantFrom(...wrongType(bodySchema))).map(([p, v]) => withBody(p, v)));
    // The wrong content type, and a body far over any limit.
    broken.set("wrong content type", parts.map((p) => serialize(method, path, p, "wrong content type", { type: "text/plain", text: "name=x" })));
    broken.set(
      "oversized body",
      parts.map((p) =>
        serialize(method, path, p, "oversized body", {
          type: media[0],
          text: isJson ? JSON.stringify({ ...asObject(p), padding: "x".repeat(70 * 1024) }) : `padding=${"x".repeat(70 * 1024)}`,
        }),
      ),
    );
  }

  return { valid: parts.map((p) => serialize(method, path, p, "valid")), broken };
}

/** Valid and broken requests mixed: two valid ones for every broken one, since successes build the state (ids, secrets) that later requests use. */
export function anyRequest({ valid, broken }: ReturnType<typeof requestsFor>): fc.Arbitrary<GeneratedRequest> {
  return fc.oneof({ weight: 2 * broken.size || 1, arbitrary: valid }, ...[...broken.values()].map((arbitrary) => ({ weight: 1, arbitrary })));
}
