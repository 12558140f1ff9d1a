import { OBJECT_KINDS, type HsmBackupInput, type HsmPollingPolicy, type HsmRestoreInput, type JobTuning, type ObjectKind, type VaultBackupInput, type VaultRestoreInput } from "../contracts";
import { DEFAULT_ACTIVITY_RETRY } from "../retry-policies";
import { DEFAULT_HSM_POLLING } from "../tuning";
import { isManagedHsmUrl } from "../validation";

/**
 * The inputs of each kind of job, made in one place for every trigger (HTTP API, schedule, CLI): what the
 * request asks for, plus how the job runs (its tuning, and the retry and polling policies).
 */
export type VaultBackupRequest = Omit<VaultBackupInput, "tuning" | "retry">;
export type VaultRestoreRequest = Omit<VaultRestoreInput, "tuning" | "retry">;

/**
 * The kinds a backup takes when the request names none: every kind for a vault (or those of
 * KVBACKUP_KINDS), keys for a Managed HSM, which holds nothing else.
 */
export function defaultBackupKinds(vaultUrl: string, configured: readonly ObjectKind[] = OBJECT_KINDS): ObjectKind[] {
  return isManagedHsmUrl(vaultUrl) ? ["key"] : [...configured];
}

export function vaultBackupInput(request: VaultBackupRequest, tuning: JobTuning, defaultKinds?: readonly ObjectKind[]): VaultBackupInput {
  return { ...request, kinds: request.kinds ?? defaultBackupKinds(request.vaultUrl, defaultKinds), tuning, retry: DEFAULT_ACTIVITY_RETRY };
}

export function vaultRestoreInput(request: VaultRestoreRequest, tuning: JobTuning): VaultRestoreInput {
  return { ...request, tuning, retry: DEFAULT_ACTIVITY_RETRY };
}

export function hsmBackupInput(hsmUrl: string, containerUrl: string, polling: HsmPollingPolicy = DEFAULT_HSM_POLLING): HsmBackupInput {
  return { hsmUrl, containerUrl, polling };
}

export function hsmRestoreInput(hsmUrl: string, folderUrl: string, keyName: string | undefined, polling: HsmPollingPolicy = DEFAULT_HSM_POLLING): HsmRestoreInput {
  return { hsmUrl, folderUrl, ...(keyName !== undefined ? { keyName } : {}), polling };
}
