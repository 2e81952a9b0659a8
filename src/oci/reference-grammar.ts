/**
 * The grammar of image names as Docker spells them (`[REGISTRY/]REPOSITORY[:TAG]`), shared by the
 * registry client's reference parser and the engine loader, which must not hand an engine a name an
 * archive made up (a docker-archive's RepoTags are the archive's word, not the user's).
 */
export const REPOSITORY_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY_HOST = /^(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::\d{1,5})?$/;

/** Whether `text` is a full `NAME:TAG` Docker and Podman accept as an image name. */
export function isValidNameAndTag(text: string): boolean {
  if (text.length > 255) return false;
  const colon = text.lastIndexOf(':');
  if (colon <= text.lastIndexOf('/')) return false;
  if (!TAG.test(text.slice(colon + 1))) return false;
  const parts = text.slice(0, colon).split('/');
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) {
    if (!REGISTRY_HOST.test(parts.shift()!)) return false;
  }
  return parts.length > 0 && parts.every((part) => REPOSITORY_COMPONENT.test(part));
}
