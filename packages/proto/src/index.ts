/**
 * The jobexec.v1 API: messages and service descriptors generated from packages/proto/proto,
 * plus the standard gRPC health service and both versions of the gRPC server reflection service
 * (namespaces: their messages have the same names).
 */
export * from "./gen/jobexec/v1/job_pb.ts";
export * from "./gen/jobexec/v1/job_service_pb.ts";
export * from "./gen/grpc/health/v1/health_pb.ts";
export * as reflectionV1 from "./gen/grpc/reflection/v1/reflection_pb.ts";
export * as reflectionV1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.ts";
