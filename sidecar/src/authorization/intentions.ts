// Consul's intentions, as the match endpoint returns them, and the decision they make for one call. Pure: the
// inbound listener asks, the intention watch keeps the list current.

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

function describe(intention: Intention): string {
  return `${intention.SourceName} -> ${intention.DestinationName}`;
}

function headerMatches(match: HeaderMatch, value: string | undefined): boolean {
  let result: boolean;
  if (match.Present) result = value !== undefined;
  else if (value === undefined) result = false;
  else if (match.Exact !== undefined) result = value === match.Exact;
  else if (match.Prefix !== undefined) result = value.startsWith(match.Prefix);
  else if (match.Suffix !== undefined) result = value.endsWith(match.Suffix);
  else if (match.Regex !== undefined) result = new RegExp(`^(?:${match.Regex})$`).test(value);
  else result = false;
  return match.Invert ? !result : result;
}

/** Whether an L7 permission's HTTP conditions all hold for the call. */
export function permissionMatches(permission: Permission, call: CallFacts): boolean {
  const http = permission.HTTP;
  if (!http) return true;
  if (http.PathExact !== undefined && call.path !== http.PathExact) return false;
  if (http.PathPrefix !== undefined && !call.path.startsWith(http.PathPrefix)) return false;
  if (http.PathRegex !== undefined && !new RegExp(`^(?:${http.PathRegex})$`).test(call.path)) return false;
  if (http.Methods?.length && !http.Methods.includes(call.method)) return false;
  return (http.Header ?? []).every((match) => headerMatches(match, call.header(match.Name.toLowerCase())));
}

/**
 * Decides a call the way Consul's proxies do: the most precise intention whose source matches the caller decides
 * (the list comes ordered by precedence: exact names before wildcards). An L4 intention decides by its Action; an
 * L7 one by its first matching permission, and when none matches, by the default. The default is the `*` -> `*`
 * intention's action when there is one (how an operator makes a mesh deny by default), else the agent's default
 * ACL policy.
 */
export function decide(intentions: readonly Intention[], call: CallFacts, defaultAllow: boolean): Decision {
  const catchAll = intentions.find((each) => each.SourceName === WILDCARD && each.DestinationName === WILDCARD);
  const fallback = (why: string): Decision =>
    catchAll?.Action
      ? {
          allowed: catchAll.Action === "allow",
          reason: `${why}; the default intention ${describe(catchAll)} ${catchAll.Action === "allow" ? "allows" : "denies"} it`,
        }
      : { allowed: defaultAllow, reason: `${why}; the default ACL policy ${defaultAllow ? "allows" : "denies"} it` };
  const intention = intentions.find((each) => each.SourceName === call.source || each.SourceName === WILDCARD);
  if (!intention) return fallback("no intention matches");
  if (intention.Action) {
    return {
      allowed: intention.Action === "allow",
      reason: `intention ${describe(intention)} ${intention.Action === "allow" ? "allows" : "denies"} it`,
    };
  }
  const permissions = intention.Permissions ?? [];
  const index = permissions.findIndex((permission) => permissionMatches(permission, call));
  const permission = permissions[index];
  if (!permission) return fallback(`no permission of intention ${describe(intention)} matches`);
  return {
    allowed: permission.Action === "allow",
    reason: `permission ${index + 1} of intention ${describe(intention)} ${permission.Action === "allow" ? "allows" : "denies"} it`,
  };
}
