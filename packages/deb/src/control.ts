/** The package's name: jobexec_<version>_amd64.deb. */
export const PACKAGE = "jobexec";
/** The systemd unit the package installs, enables and starts. */
export const UNIT = "jobexec-server.service";
/** Where everything but the two commands, the unit and the configuration lives. */
export const LIB_DIR = "/usr/lib/jobexec";

/** The Maintainer field, and the changelog's signature. */
export const MAINTAINER = "jobexec maintainers <maintainers@jobexec.example>";

/**
 * What the files need of the host: the C and C++ libraries of the bundled Node (cgexec-enter is static). The
 * maintainer scripts' deb-systemd-helper and deb-systemd-invoke come with init-system-helpers, which is essential.
 */
export const DEPENDS = "libc6 (>= 2.28), libgcc-s1, libstdc++6";

/** DEBIAN/control of the package. */
export function controlFile(version: string, installedKiB: number): string {
  return `Package: ${PACKAGE}
Version: ${version}
Architecture: amd64
Maintainer: ${MAINTAINER}
Installed-Size: ${installedKiB}
Depends: ${DEPENDS}
Section: admin
Priority: optional
Description: job worker service: runs Linux processes under cgroup v2 limits
 jobexec-server runs arbitrary Linux processes as jobs under cgroup v2 limits
 (CPU, memory, disk IO, pids) and lets authenticated clients start, stop,
 inspect and stream the output of those jobs over gRPC with mutual TLS. The
 jobexec command is its client.
 .
 The package carries its own Node.js runtime in ${LIB_DIR}: neither the
 service nor its jobs depend on a Node installed on the host. It installs the
 systemd unit ${UNIT},
 creates certificates in /etc/jobexec on first installation, and keeps job
 records and output in /var/lib/jobexec.
`;
}

/** The command a wrapper in /usr/bin runs: the bundled Node and the program's entry point. */
export function wrapperScript(entry: string): string {
  return `#!/bin/sh
# Runs ${entry} on the Node that comes with the package, whatever node is on PATH. "--" ends Node's own options.
exec ${LIB_DIR}/node/bin/node -- ${entry} "$@"
`;
}
