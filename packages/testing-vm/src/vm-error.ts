/** What went wrong in the VM tier, so the runner can tell a missing tool from a failed boot. */
export type VmErrorCode =
  /** A prerequisite (qemu, kernel, busybox, mkfs.ext4) is missing or unusable. */
  | "missing_prerequisite"
  /** The initramfs or a disk image could not be built. */
  | "build_failed"
  /** The VM did not boot, or ended without reporting the tests' exit status. */
  | "boot_failed"
  /** The VM ran past its hard time limit and was killed. */
  | "timeout";

/** The one error class of @jobexec/testing-vm. `cause` carries the underlying error when there is one. */
export class VmError extends Error {
  override readonly name = "VmError";
  readonly code: VmErrorCode;

  constructor(code: VmErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
