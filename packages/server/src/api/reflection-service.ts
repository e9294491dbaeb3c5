import { Code } from "@connectrpc/connect";
import type { reflectionV1, reflectionV1alpha } from "@jobexec/proto";
import type { DescriptorIndex } from "./descriptor-index.ts";
import type { GuardedImpl } from "./guard.ts";

/** A ServerReflectionRequest of either version: the two are the same messages in two packages. */
interface ReflectionRequest {
  host: string;
  messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
}

type ReflectionResponse = Omit<reflectionV1.ServerReflectionResponse, "$typeName" | "originalRequest" | "messageResponse"> & {
  messageResponse:
    | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
    | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
    | { case: "listServicesResponse"; value: { service: { name: string }[] } }
    | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };
};

/**
 * grpc.reflection.v1.ServerReflection, so that grpcurl, `buf curl`, Postman and evans can list and call the
 * services without .proto files. Answers from the generated descriptors; each request on the stream gets one
 * response. The guard in front of it lets any authenticated caller reflect.
 */
export function reflectionService(index: DescriptorIndex): GuardedImpl<typeof reflectionV1.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield { ...answer(index, request), originalRequest: request };
    },
  };
}

/** grpc.reflection.v1alpha.ServerReflection, the same service under its older name, which many clients still use. */
export function reflectionServiceV1alpha(index: DescriptorIndex): GuardedImpl<typeof reflectionV1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield { ...answer(index, request), originalRequest: request };
    },
  };
}

/** The answer to one reflection request, as the reference implementations (grpc-go, grpc-java) give it. */
export function answer(index: DescriptorIndex, request: ReflectionRequest): ReflectionResponse {
  const respond = (messageResponse: ReflectionResponse["messageResponse"]): ReflectionResponse => ({ validHost: request.host, messageResponse });
  const error = (code: Code, message: string) => respond({ case: "errorResponse", value: { errorCode: code, errorMessage: message } });
  const files = (file: Parameters<DescriptorIndex["withImports"]>[0]) => respond({ case: "fileDescriptorResponse", value: { fileDescriptorProto: index.withImports(file) } });
  const { messageRequest: ask } = request;
  switch (ask.case) {
    case "fileByFilename": {
      const file = index.file(ask.value);
      return file ? files(file) : error(Code.NotFound, `file ${JSON.stringify(ask.value)} not found`);
    }
    case "fileContainingSymbol": {
      const file = index.fileContaining(ask.value);
      return file ? files(file) : error(Code.NotFound, `symbol ${JSON.stringify(ask.value)} not found`);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = ask.value;
      const extension = index.extension(containingType, extensionNumber);
      return extension ? files(extension.file) : error(Code.NotFound, `extension ${extensionNumber} of ${JSON.stringify(containingType)} not found`);
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(ask.value);
      if (numbers === undefined) return error(Code.NotFound, `type ${JSON.stringify(ask.value)} not found`);
      return respond({ case: "allExtensionNumbersResponse", value: { baseTypeName: ask.value, extensionNumber: numbers } });
    }
    case "listServices":
      return respond({ case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } });
    default:
      return error(Code.InvalidArgument, "the request asks for nothing: set one of the message_request fields");
  }
}
