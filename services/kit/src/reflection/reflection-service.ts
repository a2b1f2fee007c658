import type { DescService } from "@bufbuild/protobuf";
import { status } from "@grpc/grpc-js";
import * as v1 from "@mesh/proto/grpc/reflection/v1/reflection_pb";
import * as v1alpha from "@mesh/proto/grpc/reflection/v1alpha/reflection_pb";
import { implement, type ServiceImplementation } from "../grpc/handlers.ts";
import { DescriptorIndex } from "./descriptor-index.ts";

// No npm package serves reflection from protobuf-es descriptors (@grpc/reflection needs proto-loader definitions
// and invents file names); this serves the real files the services were generated from.

/** The question of a reflection request; v1 and v1alpha share this shape. */
type Question = v1.ServerReflectionRequest["messageRequest"] | v1alpha.ServerReflectionRequest["messageRequest"];

/** The answer to one question, without package-specific message types, so both versions can send it. */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

function notFound(what: string): Answer {
  return { case: "errorResponse", value: { errorCode: status.NOT_FOUND, errorMessage: `${what} not found` } };
}

function files(found: Uint8Array[] | undefined, what: string): Answer {
  return found ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: found } } : notFound(what);
}

function answer(index: DescriptorIndex, question: Question): Answer {
  switch (question.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((s) => ({ name: s.typeName })) } };
    case "fileByFilename":
      return files(index.fileByName(question.value), `file "${question.value}"`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(question.value), `symbol "${question.value}"`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = question.value;
      return files(
        index.fileContainingExtension(containingType, extensionNumber),
        `extension ${extensionNumber} of "${containingType}"`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(question.value);
      return numbers
        ? { case: "allExtensionNumbersResponse", value: { baseTypeName: question.value, extensionNumber: numbers } }
        : notFound(`type "${question.value}"`);
    }
    default:
      return { case: "errorResponse", value: { errorCode: status.INVALID_ARGUMENT, errorMessage: "empty request" } };
  }
}

/** Answers each request of a reflection stream in turn; the same for v1 and v1alpha. */
function answering(index: DescriptorIndex) {
  return async function* <R extends { messageRequest: Question }>(requests: AsyncIterable<R>) {
    for await (const request of requests) {
      yield { originalRequest: request, messageResponse: answer(index, request.messageRequest) };
    }
  };
}

/** grpc.reflection.v1 and v1alpha for the given services (which should include health and reflection themselves). */
export function reflectionServices(services: readonly DescService[]): ServiceImplementation[] {
  const index = new DescriptorIndex([...services, v1.ServerReflection, v1alpha.ServerReflection]);
  return [
    implement(v1.ServerReflection, { serverReflectionInfo: answering(index) }),
    implement(v1alpha.ServerReflection, { serverReflectionInfo: answering(index) }),
  ];
}
