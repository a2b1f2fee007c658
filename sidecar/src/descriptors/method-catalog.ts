import { readFile } from "node:fs/promises";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel as Level } from "@bufbuild/protobuf/wkt";

export type Idempotency = "no_side_effects" | "idempotent" | "unknown";

/** Each method's idempotency level, from the descriptor sets the sidecar is given (`buf build -o image.binpb`). */
export class MethodCatalog {
  private readonly levels = new Map<string, Idempotency>();
  private readonly unaryResponses = new Set<string>();
  readonly services = new Set<string>();

  /** Adds every service of a serialized FileDescriptorSet. */
  addDescriptorSet(bytes: Uint8Array): void {
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
    for (const file of registry.files) {
      for (const service of file.services) {
        this.services.add(service.typeName);
        for (const method of service.methods) {
          const path = `/${service.typeName}/${method.name}`;
          this.levels.set(path, levelName(method.idempotency));
          if (method.methodKind === "unary" || method.methodKind === "client_streaming") this.unaryResponses.add(path);
        }
      }
    }
  }

  /** The idempotency of a method path (`/package.Service/Method`); unknown methods are never assumed safe. */
  idempotency(path: string): Idempotency {
    return this.levels.get(path) ?? "unknown";
  }

  /** Whether the descriptor sets describe a method path (`/package.Service/Method`). */
  describes(path: string): boolean {
    return this.levels.has(path);
  }

  /** The paths of the described methods named `method`, of any service or of the given ones. */
  methodsNamed(method: string, services?: readonly string[]): string[] {
    const suffix = `/${method}`;
    return [...this.levels.keys()].filter(
      (path) => path.endsWith(suffix) && (!services?.length || services.includes(path.slice(1, -suffix.length))),
    );
  }

  /** Whether a method answers with one message (so its response can be held whole); false when unknown. */
  answersOnce(path: string): boolean {
    return this.unaryResponses.has(path);
  }

  static async load(paths: readonly string[]): Promise<MethodCatalog> {
    const catalog = new MethodCatalog();
    for (const path of paths) {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(path);
      } catch (error) {
        throw new Error(`descriptors: cannot read ${path}: ${(error as Error).message}`);
      }
      try {
        catalog.addDescriptorSet(bytes);
      } catch (error) {
        throw new Error(
          `descriptors: ${path} is not a FileDescriptorSet (buf build -o x.binpb): ${(error as Error).message}`,
        );
      }
    }
    return catalog;
  }
}

function levelName(level: Level): Idempotency {
  if (level === Level.NO_SIDE_EFFECTS) return "no_side_effects";
  if (level === Level.IDEMPOTENT) return "idempotent";
  return "unknown";
}
