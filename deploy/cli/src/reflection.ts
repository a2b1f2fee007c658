import { create, createFileRegistry, type DescService, type FileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { ServerReflection } from "@mesh/proto/grpc/reflection/v1/reflection_pb";

/**
 * Asks a server (through gRPC reflection) for the file that defines a service and everything it imports, and
 * builds a registry from them, so the CLI can call any service without its generated code.
 */
export async function reflectService(
  transport: Transport,
  target: string,
  service: string,
): Promise<{ registry: FileRegistry; service: DescService }> {
  const reflection = createClient(ServerReflection, transport);
  async function* ask() {
    yield { messageRequest: { case: "fileContainingSymbol" as const, value: service } };
  }
  const files = new Map<string, Uint8Array>();
  for await (const answer of reflection.serverReflectionInfo(ask(), { timeoutMs: 5000 })) {
    const response = answer.messageResponse;
    if (response.case === "errorResponse") throw new Error(`reflection on ${target}: ${response.value.errorMessage}`);
    if (response.case === "fileDescriptorResponse") {
      for (const bytes of response.value.fileDescriptorProto) {
        files.set(fromBinary(FileDescriptorProtoSchema, bytes).name, bytes);
      }
    }
  }
  // A descriptor set must list every file after the files it imports.
  const protos = [...files.values()].map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
  const ordered: typeof protos = [];
  const visit = (name: string) => {
    const proto = protos.find((each) => each.name === name);
    if (!proto || ordered.includes(proto)) return;
    proto.dependency.forEach(visit);
    ordered.push(proto);
  };
  for (const proto of protos) visit(proto.name);
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
  const desc = registry.getService(service);
  if (!desc) throw new Error(`${target} does not describe ${service}`);
  return { registry, service: desc };
}
