import { toBinary, type DescEnum, type DescExtension, type DescFile, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * The protobuf files behind a set of services, as server reflection serves them: each file with everything it
 * imports, found by file name or by the fully-qualified name of anything it declares (message, field, oneof, enum,
 * enum value, service, method, extension). Built once from the generated descriptors.
 */
export class DescriptorIndex {
  /** The services, by full name, in the order given. */
  readonly services: readonly string[];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #extensions = new Map<string, DescExtension[]>();
  readonly #bytes = new Map<DescFile, Uint8Array>();

  constructor(services: readonly DescService[]) {
    this.services = services.map((s) => s.typeName);
    for (const service of services) this.#addFile(service.file);
  }

  /** A file by its name (e.g. "jobexec/v1/job_service.proto"). */
  file(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  /** The file that declares a fully-qualified symbol (e.g. "jobexec.v1.JobService.StartJob"). */
  fileContaining(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol);
  }

  /** The extension of a message type with a field number, if any file declares it. */
  extension(extendee: string, number: number): DescExtension | undefined {
    return this.#extensions.get(extendee)?.find((e) => e.number === number);
  }

  /** The field numbers of a message type's extensions; undefined when the type is unknown. */
  extensionNumbers(messageType: string): number[] | undefined {
    if (!this.#symbols.has(messageType)) return undefined;
    return (this.#extensions.get(messageType) ?? []).map((e) => e.number);
  }

  /** A file and everything it imports, transitively, as serialized FileDescriptorProtos: the file first. */
  withImports(file: DescFile): Uint8Array[] {
    const seen = new Set<DescFile>();
    const visit = (f: DescFile): void => {
      if (seen.has(f)) return;
      seen.add(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return [...seen].map((f) => this.#serialized(f));
  }

  #serialized(file: DescFile): Uint8Array {
    let bytes = this.#bytes.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#bytes.set(file, bytes);
    }
    return bytes;
  }

  #addFile(file: DescFile): void {
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    file.dependencies.forEach((dependency) => this.#addFile(dependency));
    const add = (symbol: string): void => void this.#symbols.set(symbol, file);
    const addEnum = (e: DescEnum): void => {
      add(e.typeName);
      // Enum values are scoped as siblings of their enum, as in C++.
      const scope = e.typeName.slice(0, e.typeName.length - e.name.length);
      for (const value of e.values) add(`${scope}${value.name}`);
    };
    const addExtension = (e: DescExtension): void => {
      add(e.typeName);
      const list = this.#extensions.get(e.extendee.typeName) ?? [];
      list.push(e);
      this.#extensions.set(e.extendee.typeName, list);
    };
    const addMessage = (m: DescMessage): void => {
      add(m.typeName);
      for (const field of m.fields) add(`${m.typeName}.${field.name}`);
      for (const oneof of m.oneofs) add(`${m.typeName}.${oneof.name}`);
      m.nestedMessages.forEach(addMessage);
      m.nestedEnums.forEach(addEnum);
      m.nestedExtensions.forEach(addExtension);
    };
    file.messages.forEach(addMessage);
    file.enums.forEach(addEnum);
    file.extensions.forEach(addExtension);
    for (const service of file.services) {
      add(service.typeName);
      for (const method of service.methods) add(`${service.typeName}.${method.name}`);
    }
  }
}
