/**
 * jobexec-server: the jobexec JobService and gRPC health service over Connect (gRPC, gRPC-Web, Connect) with mutual
 * TLS and per-user authorization; plus the certificate functions behind `jobexec-server certs`.
 */
export { startServer, type RunningServer, type ServerConfig } from "./server.ts";
export { defaultLimits, type ServerLimits } from "./settings/limits.ts";
export { DEFAULT_PORT, parseServeArgs, type ServeSettings } from "./settings/config.ts";
export { createCa, issueCertificate, CA_VALIDITY_DAYS, LEAF_VALIDITY_DAYS, type Credentials, type IssueOptions, type Subject } from "./certificates/certificates.ts";
export { initCertificates, issueClientCertificate, readCredentials, writeCredentials, LOCAL_SANS, type InitOptions, type InitResult, type IssueClientOptions, type IssueResult } from "./certificates/cert-files.ts";
export { ADMIN_OU, type Caller } from "./network/identity.ts";
export { createLogger, silentLogger, type Logger, type LogLevel } from "./log.ts";
export { defaultConfigDir, defaultDataDir } from "./settings/paths.ts";
export { ServerError, type ServerErrorCode } from "./error.ts";
export type { ServerTls } from "./network/tls.ts";
