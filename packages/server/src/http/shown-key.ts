/** A request key as shown in an error: cut to 64 chars (keys are the caller's bytes, up to the body limit). */
export function shownKey(key: string): string {
  return key.length > 64 ? `${key.slice(0, 64)}…` : key;
}
