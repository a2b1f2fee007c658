import { createRegistry, type DescFile, type DescService, type Registry, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { withDependencies } from "./descriptor-set.ts";

/** The files behind a set of services, with their dependencies, searchable the way reflection clients ask. */
export class DescriptorIndex {
  private readonly registry: Registry;
  private readonly files: Map<string, DescFile>;

  constructor(readonly services: readonly DescService[]) {
    const files = withDependencies(services.map((service) => service.file));
    this.registry = createRegistry(...files);
    this.files = new Map(files.map((file) => [file.proto.name, file]));
  }

  /** The file with this name (for example `shop/order/v1/order.proto`) and its dependencies, serialized. */
  fileByName(name: string): Uint8Array[] | undefined {
    const file = this.files.get(name);
    return file && serialized(file);
  }

  /** The file that defines a fully qualified message, enum, service, method or extension, with its dependencies. */
  fileContainingSymbol(symbol: string): Uint8Array[] | undefined {
    const file = this.findFile(symbol);
    return file && serialized(file);
  }

  /** The file that extends a message with this field number, with its dependencies. */
  fileContainingExtension(extendee: string, fieldNumber: number): Uint8Array[] | undefined {
    const message = this.registry.getMessage(extendee);
    const extension = message && this.registry.getExtensionFor(message, fieldNumber);
    return extension && serialized(extension.file);
  }

  /** The extension numbers known for a message, or undefined when the message is unknown. */
  extensionNumbers(typeName: string): number[] | undefined {
    if (!this.registry.getMessage(typeName)) return undefined;
    return [...this.registry]
      .filter((desc) => desc.kind === "extension" && desc.extendee.typeName === typeName)
      .map((desc) => (desc.kind === "extension" ? desc.number : 0));
  }

  private findFile(symbol: string): DescFile | undefined {
    const desc = this.registry.get(symbol);
    if (desc) return desc.file;
    // Methods are not registry entries: `pkg.Service.Method` resolves through its service.
    const dot = symbol.lastIndexOf(".");
    const service = this.registry.getService(symbol.slice(0, dot));
    return service?.methods.some((method) => method.name === symbol.slice(dot + 1)) ? service.file : undefined;
  }
}

/** The file first, then every file it depends on, so a client can build the descriptors from one answer. */
function serialized(file: DescFile): Uint8Array[] {
  const dependencies = withDependencies([file]).filter((each) => each !== file);
  return [file, ...dependencies].map((each) => toBinary(FileDescriptorProtoSchema, each.proto));
}
