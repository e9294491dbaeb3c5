/**
 * The jobexec.v1 API: messages and service descriptors generated from packages/proto/proto,
 * plus the standard gRPC health service.
 */
export * from "./gen/jobexec/v1/job_pb.ts";
export * from "./gen/jobexec/v1/job_service_pb.ts";
export * from "./gen/grpc/health/v1/health_pb.ts";
