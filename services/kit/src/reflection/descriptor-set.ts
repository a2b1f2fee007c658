import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/** The files and everything they import, each once, every file after the files it imports. */
export function withDependencies(files: readonly DescFile[]): DescFile[] {
  const ordered = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (ordered.has(file.proto.name)) return;
    file.dependencies.forEach(visit);
    ordered.set(file.proto.name, file);
  };
  files.forEach(visit);
  return [...ordered.values()];
}

/** A serialized FileDescriptorSet of the files and their imports, as `buf build -o` writes one. */
export function descriptorSet(files: readonly DescFile[]): Uint8Array {
  return toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, { file: withDependencies(files).map((file) => file.proto) }),
  );
}
