// Config entries as Consul's /v1/config endpoints show them (agent/structs/config_entry_intentions.go,
// config_entry.go): field names and omissions as Consul's JSON has them, limited to the fields consul-dev keeps.
import type { ServiceIntentionsEntry, SourceIntention } from "./intentions.ts";
import type { ServiceDefaultsEntry } from "./service-defaults.ts";
import { goTime } from "./views.ts";

const nonEmpty = (meta: Record<string, string>) => Object.keys(meta).length > 0;

/** A source: Action or Permissions (never both), and the legacy fields only for one the legacy endpoints wrote. */
function sourceView(source: SourceIntention) {
  const legacy = source.legacy;
  return {
    Name: source.name,
    ...(source.action ? { Action: source.action } : {}),
    ...(source.permissions.length ? { Permissions: source.permissions } : {}),
    Precedence: source.precedence,
    ...(legacy ? { LegacyID: legacy.id } : {}),
    Type: "consul",
    ...(source.description ? { Description: source.description } : {}),
    ...(legacy && nonEmpty(legacy.meta) ? { LegacyMeta: legacy.meta } : {}),
    ...(legacy ? { LegacyCreateTime: goTime(legacy.createdAt), LegacyUpdateTime: goTime(legacy.updatedAt) } : {}),
  };
}

export function serviceIntentionsView(entry: ServiceIntentionsEntry) {
  return {
    Kind: "service-intentions",
    Name: entry.name,
    Sources: entry.sources.map(sourceView),
    ...(nonEmpty(entry.meta) ? { Meta: entry.meta } : {}),
    CreateIndex: entry.createIndex,
    ModifyIndex: entry.modifyIndex,
  };
}

export function serviceDefaultsView(entry: ServiceDefaultsEntry) {
  return {
    Kind: "service-defaults",
    Name: entry.name,
    Protocol: entry.protocol,
    ...(nonEmpty(entry.meta) ? { Meta: entry.meta } : {}),
    CreateIndex: entry.createIndex,
    ModifyIndex: entry.modifyIndex,
  };
}
