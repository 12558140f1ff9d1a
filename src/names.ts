/**
 * The names kvbackup checks, each rule in one place: what Key Vault accepts as an object name, and what
 * Blob Storage accepts as a container name. (The emulator keeps its own copy: it stands for the service.)
 */

/** A Key Vault key (secret, certificate) name: 1-127 letters, digits and '-'. */
export const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;

export function isKeyName(value: string): boolean {
  return KEY_NAME.test(value);
}

/** A blob container name: 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit. */
export const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

export function isContainerName(value: string): boolean {
  return CONTAINER_NAME.test(value);
}
