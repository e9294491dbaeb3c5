// The values of Connect, protobuf and the API that commands load only when they need them (with import()). Named
// here because a bundler keeps everything a package exports when its namespace is imported dynamically: the whole
// of @jobexec/proto (health, reflection) and of @bufbuild/protobuf/wkt (descriptor.proto, 20 ms to build).
export { timestampDate } from "@bufbuild/protobuf/wkt";
export { Code, ConnectError } from "@connectrpc/connect";
export { JobChangeKind, JobState } from "@jobexec/proto";
