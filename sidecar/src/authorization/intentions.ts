// Consul's intentions, as the match endpoint returns them, and the decision they make for one call. Pure: the
// inbound listener asks, the intention watch keeps the list current and compiles it once per change.
//
// Regexes are RE2, as in Consul and Envoy: RE2 syntax (`(?i)`, no backreferences or lookaround), matched against
// the whole value in time linear in its length, so no header value a caller picks can make a match slow.

import { RE2JS } from "re2js";

export type IntentionAction = "allow" | "deny";

export interface HeaderMatch {
  Name: string;
  Present?: boolean;
  Exact?: string;
  Prefix?: string;
  Suffix?: string;
  Regex?: string;
  Invert?: boolean;
}

export interface Permission {
  Action: IntentionAction;
  HTTP?: {
    PathExact?: string;
    PathPrefix?: string;
    PathRegex?: string;
    Methods?: string[] | null;
    Header?: HeaderMatch[] | null;
  } | null;
}

export interface Intention {
  ID?: string;
  SourceName: string;
  DestinationName: string;
  /** L4: the whole service; empty when Permissions decide. */
  Action?: IntentionAction | "";
  /** L7: evaluated top to bottom, the first match decides. */
  Permissions?: Permission[] | null;
  Precedence: number;
}

/** One call as authorization sees it: who calls, and the request line and headers. */
export interface CallFacts {
  source: string;
  path: string;
  method: string;
  header: (name: string) => string | undefined;
}

export interface Decision {
  allowed: boolean;
  /** Which rule decided, for the denied caller's message and the logs. */
  reason: string;
}

const WILDCARD = "*";

/** A regex compiled once when the intentions changed, or why RE2 refused it. */
type CompiledRegex = { regex: RE2JS; error?: undefined } | { regex?: undefined; error: string };

/** One permission with its regexes compiled; `invalid` names the first regex RE2 refused (the permission denies). */
interface CompiledPermission {
  permission: Permission;
  pathRegex: RE2JS | undefined;
  /** One per entry of HTTP.Header, same order; undefined where the entry has no Regex. */
  headerRegexes: (RE2JS | undefined)[];
  invalid: string | undefined;
}

interface CompiledIntention {
  intention: Intention;
  permissions: CompiledPermission[];
}

/** Intentions ready to decide calls: compiled once per change, never per call. */
export interface CompiledIntentions {
  readonly intentions: readonly Intention[];
  readonly compiled: readonly CompiledIntention[];
  readonly catchAll: Intention | undefined;
  /** One line per regex RE2 refused, for the log when the intentions change. */
  readonly problems: readonly string[];
}

function compileRegex(pattern: string): CompiledRegex {
  try {
    return { regex: RE2JS.compile(pattern) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

function compilePermission(permission: Permission, where: string, problems: string[]): CompiledPermission {
  const http = permission.HTTP;
  let invalid: string | undefined;
  let pathRegex: RE2JS | undefined;
  if (http?.PathRegex !== undefined) {
    const compiled = compileRegex(http.PathRegex);
    pathRegex = compiled.regex;
    if (compiled.error !== undefined)
      invalid = `${where}: PathRegex ${JSON.stringify(http.PathRegex)}: ${compiled.error}`;
  }
  const headerRegexes = (http?.Header ?? []).map((match) => {
    if (match.Regex === undefined) return undefined;
    const compiled = compileRegex(match.Regex);
    if (compiled.error !== undefined) {
      invalid ??= `${where}: header ${match.Name} Regex ${JSON.stringify(match.Regex)}: ${compiled.error}`;
    }
    return compiled.regex;
  });
  if (invalid) problems.push(invalid);
  return { permission, pathRegex, headerRegexes, invalid };
}

/**
 * Compiles the regexes of every permission once. A regex RE2 refuses (Consul would not have stored it; an old or
 * foreign server might) does not fail the set: the permission that holds it denies every call that reaches it, since
 * what it meant cannot be known, and `problems` says which for the log.
 */
export function compileIntentions(intentions: readonly Intention[]): CompiledIntentions {
  const problems: string[] = [];
  const compiled = intentions.map((intention) => ({
    intention,
    permissions: (intention.Permissions ?? []).map((permission, index) =>
      compilePermission(permission, `permission ${index + 1} of intention ${describe(intention)}`, problems),
    ),
  }));
  const catchAll = intentions.find((each) => each.SourceName === WILDCARD && each.DestinationName === WILDCARD);
  return { intentions, compiled, catchAll, problems };
}

function describe(intention: Intention): string {
  return `${intention.SourceName} -> ${intention.DestinationName}`;
}

function headerMatches(match: HeaderMatch, regex: RE2JS | undefined, value: string | undefined): boolean {
  let result: boolean;
  if (match.Present) result = value !== undefined;
  else if (value === undefined) result = false;
  else if (match.Exact !== undefined) result = value === match.Exact;
  else if (match.Prefix !== undefined) result = value.startsWith(match.Prefix);
  else if (match.Suffix !== undefined) result = value.endsWith(match.Suffix);
  else if (regex !== undefined) result = regex.testExact(value);
  else result = false;
  return match.Invert ? !result : result;
}

/** What a permission says of a call: it matches, it does not, or it cannot tell (a regex RE2 refused). */
const Match = { No: 0, Yes: 1, Unknown: 2 } as const;
type Match = (typeof Match)[keyof typeof Match];

/** Whether a compiled L7 permission's HTTP conditions all hold for the call. */
function permissionMatches(compiled: CompiledPermission, call: CallFacts): Match {
  const http = compiled.permission.HTTP;
  if (!http) return Match.Yes;
  if (http.PathExact !== undefined && call.path !== http.PathExact) return Match.No;
  if (http.PathPrefix !== undefined && !call.path.startsWith(http.PathPrefix)) return Match.No;
  if (http.Methods?.length && !http.Methods.includes(call.method)) return Match.No;
  // Past the plain conditions, a permission whose regex RE2 refused cannot say whether the call matches.
  if (compiled.invalid !== undefined) return Match.Unknown;
  if (compiled.pathRegex !== undefined && !compiled.pathRegex.testExact(call.path)) return Match.No;
  const headers = http.Header;
  if (!headers) return Match.Yes;
  for (let i = 0; i < headers.length; i++) {
    const match = headers[i] as HeaderMatch;
    if (!headerMatches(match, compiled.headerRegexes[i], call.header(match.Name.toLowerCase()))) return Match.No;
  }
  return Match.Yes;
}

function isCompiled(given: CompiledIntentions | readonly Intention[]): given is CompiledIntentions {
  return !Array.isArray(given);
}

function fallback(catchAll: Intention | undefined, why: string, defaultAllow: boolean): Decision {
  return catchAll?.Action
    ? {
        allowed: catchAll.Action === "allow",
        reason: `${why}; the default intention ${describe(catchAll)} ${catchAll.Action === "allow" ? "allows" : "denies"} it`,
      }
    : { allowed: defaultAllow, reason: `${why}; the default ACL policy ${defaultAllow ? "allows" : "denies"} it` };
}

/**
 * Decides a call the way Consul's proxies do: the most precise intention whose source matches the caller decides
 * (the list comes ordered by precedence: exact names before wildcards). An L4 intention decides by its Action; an
 * L7 one by its first matching permission, and when none matches, by the default. The default is the `*` -> `*`
 * intention's action when there is one (how an operator makes a mesh deny by default), else the agent's default
 * ACL policy. A permission with a regex RE2 refused denies the calls its plain conditions (path, method) let
 * through to it. Never throws.
 */
export function decide(
  given: CompiledIntentions | readonly Intention[],
  call: CallFacts,
  defaultAllow: boolean,
): Decision {
  // A list as Consul returned it is compiled here (one-off callers such as the CLI); the watch passes it compiled.
  const intentions = isCompiled(given) ? given : compileIntentions(given);
  let found: CompiledIntention | undefined;
  for (const each of intentions.compiled) {
    if (each.intention.SourceName === call.source || each.intention.SourceName === WILDCARD) {
      found = each;
      break;
    }
  }
  if (!found) return fallback(intentions.catchAll, "no intention matches", defaultAllow);
  const intention = found.intention;
  if (intention.Action) {
    return {
      allowed: intention.Action === "allow",
      reason: `intention ${describe(intention)} ${intention.Action === "allow" ? "allows" : "denies"} it`,
    };
  }
  const permissions = found.permissions;
  for (let index = 0; index < permissions.length; index++) {
    const permission = permissions[index] as CompiledPermission;
    const match = permissionMatches(permission, call);
    if (match === Match.No) continue;
    if (match === Match.Unknown) {
      // What the operator meant cannot be known: deny rather than guess (an allow skipped could let a later
      // permission allow what a deny meant to refuse).
      return { allowed: false, reason: `${permission.invalid}; a permission whose regex RE2 does not compile denies` };
    }
    return {
      allowed: permission.permission.Action === "allow",
      reason: `permission ${index + 1} of intention ${describe(intention)} ${permission.permission.Action === "allow" ? "allows" : "denies"} it`,
    };
  }
  return fallback(intentions.catchAll, `no permission of intention ${describe(intention)} matches`, defaultAllow);
}
