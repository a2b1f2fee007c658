// The Connect CA configuration (PUT /v1/connect/ca/configuration): Consul's defaults, and its validation with its own
// error texts (agent/structs/connect_ca.go CommonCAProviderConfig.Validate, ParseConsulCAConfig).
import { formatDuration, parseDuration } from "../duration.ts";
import { field } from "../http/fields.ts";
import { EC_KEY_BITS, type EcKeyBits } from "./x509.ts";

export interface CaSettings {
  leafCertTtlMs: number;
  intermediateCertTtlMs: number;
  rootCertTtlMs: number;
  privateKeyType: "ec";
  privateKeyBits: EcKeyBits;
  /** An operator's CA key (PEM); with rootCert, that root is installed; alone, a root is made for the key. */
  privateKey?: string;
  rootCert?: string;
}

export interface CaConfiguration {
  settings: CaSettings;
  /** The Config map as GET shows it: Consul's names and duration strings, without the private key. */
  shown: Record<string, unknown>;
  forceWithoutCrossSigning: boolean;
}

const HOUR = 3_600_000;
const MAX_LEAF_TTL_MS = 365 * 24 * HOUR;
const DEFAULTS = { LeafCertTTL: "72h", IntermediateCertTTL: "8760h", RootCertTTL: "87600h" };

/** Go's Duration.String for the validation texts ("1h0m0s", "8760h0m0s"). */
const goDuration = (ms: number) => formatDuration(ms);

export class CaConfigError extends Error {}

/** The configuration consul-dev starts with: Consul's defaults, except a leaf TTL the agent may be given. */
export function defaultCaConfiguration(leafCertTtlMs?: number): CaConfiguration {
  const shown: Record<string, unknown> = { ...DEFAULTS, PrivateKeyType: "ec", PrivateKeyBits: 256 };
  if (leafCertTtlMs !== undefined) shown.LeafCertTTL = goDuration(leafCertTtlMs);
  return {
    settings: {
      leafCertTtlMs: leafCertTtlMs ?? 72 * HOUR,
      intermediateCertTtlMs: 8760 * HOUR,
      rootCertTtlMs: 87600 * HOUR,
      privateKeyType: "ec",
      privateKeyBits: 256,
    },
    shown,
    forceWithoutCrossSigning: false,
  };
}

function durationSetting(config: unknown, name: keyof typeof DEFAULTS): { ms: number; shown: unknown } {
  const raw = field(config, name);
  if (raw === undefined || raw === null) return { ms: parseDuration(DEFAULTS[name]) as number, shown: DEFAULTS[name] };
  try {
    if (typeof raw !== "string" && typeof raw !== "number") throw new Error(`expected a duration, got ${typeof raw}`);
    return { ms: parseDuration(raw) ?? 0, shown: raw };
  } catch (error) {
    // mapstructure's wording, as Consul wraps it.
    throw new CaConfigError(
      `error decoding config: 1 error(s) decoding:\n\n* error decoding '${name}': ${(error as Error).message}`,
    );
  }
}

function stringSetting(config: unknown, name: string): string | undefined {
  const raw = field(config, name);
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (typeof raw !== "string") throw new CaConfigError(`error decoding config: '${name}' expected type 'string'`);
  return raw;
}

/**
 * Reads a PUT body ({Provider, Config, ForceWithoutCrossSigning}) as Consul does: fields left out take Consul's
 * defaults (not the previous values), durations are Go durations, and the result is validated.
 */
export function parseCaConfiguration(body: unknown, limits: { minLeafCertTtlMs: number }): CaConfiguration {
  const provider = field(body, "Provider");
  if (provider !== "consul") {
    if (provider === "vault" || provider === "aws-pca") {
      throw new CaConfigError(`consul-dev supports only the "consul" CA provider, not "${provider}"`);
    }
    throw new CaConfigError(`unknown CA provider "${typeof provider === "string" ? provider : ""}"`);
  }
  const config = field(body, "Config") ?? {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new CaConfigError("Request decode failed: Config must be an object");
  }
  const leaf = durationSetting(config, "LeafCertTTL");
  const intermediate = durationSetting(config, "IntermediateCertTTL");
  const root = durationSetting(config, "RootCertTTL");
  const privateKeyType = stringSetting(config, "PrivateKeyType") ?? "ec";
  const bitsRaw = field(config, "PrivateKeyBits");
  const privateKeyBits = bitsRaw === undefined || bitsRaw === null || bitsRaw === 0 ? 256 : Number(bitsRaw);
  const privateKey = stringSetting(config, "PrivateKey");
  const rootCert = stringSetting(config, "RootCert");

  if (!privateKey && rootCert) throw new CaConfigError("must provide a private key when providing a root cert");
  // Consul's minimum leaf lifetime is 1h; consul-dev may be started with a lower one so tests can watch renewals.
  if (leaf.ms < limits.minLeafCertTtlMs) {
    throw new CaConfigError(`leaf cert TTL must be greater or equal than ${goDuration(limits.minLeafCertTtlMs)}`);
  }
  if (leaf.ms > MAX_LEAF_TTL_MS)
    throw new CaConfigError(`leaf cert TTL must be less than ${goDuration(MAX_LEAF_TTL_MS)}`);
  if (intermediate.ms < 3 * HOUR) throw new CaConfigError("Intermediate Cert TTL must be greater or equal than 3h");
  if (intermediate.ms < 3 * leaf.ms) {
    throw new CaConfigError(
      `Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>=${goDuration(3 * leaf.ms)}).`,
    );
  }
  if (root.ms <= 0) throw new CaConfigError("root cert TTL must be greater than 0");
  if (privateKeyType === "rsa") {
    if (privateKeyBits !== 2048 && privateKeyBits !== 4096) {
      throw new CaConfigError("RSA key length must be 2048 or 4096 bits");
    }
    throw new CaConfigError('consul-dev\'s CA makes only EC keys: use PrivateKeyType "ec"');
  }
  if (privateKeyType !== "ec") throw new CaConfigError("private key type must be either 'ec' or 'rsa'");
  if (![224, 256, 384, 521].includes(privateKeyBits)) {
    throw new CaConfigError("EC key length must be one of (224, 256, 384, 521) bits");
  }
  if (!(EC_KEY_BITS as readonly number[]).includes(privateKeyBits)) {
    throw new CaConfigError("consul-dev's CA makes EC keys of 256, 384 or 521 bits (WebCrypto has no P-224)");
  }

  const shown: Record<string, unknown> = {
    LeafCertTTL: leaf.shown,
    IntermediateCertTTL: intermediate.shown,
    RootCertTTL: root.shown,
    PrivateKeyType: privateKeyType,
    PrivateKeyBits: privateKeyBits,
  };
  if (rootCert) shown.RootCert = rootCert;
  const force = field(body, "ForceWithoutCrossSigning") ?? field(body, "force_without_cross_signing");
  return {
    settings: {
      leafCertTtlMs: leaf.ms,
      intermediateCertTtlMs: intermediate.ms,
      rootCertTtlMs: root.ms,
      privateKeyType: "ec",
      privateKeyBits: privateKeyBits as EcKeyBits,
      privateKey,
      rootCert,
    },
    shown,
    forceWithoutCrossSigning: force === true,
  };
}
