// Wildcard matching for scope filters and URL patterns, linear in practice and never exponential.

/**
 * Whether `text` matches `glob` (`*` matches any run of characters) in O(glob × text) at worst: on a
 * miss it resumes after the last `*` only, never retrying earlier ones. A regular expression of `.*`
 * per star backtracks in time of the text's length to the power of the stars: a tenant's
 * `scope_filter` of a few dozen stars froze the server on its own events, and so did a tenant's URL
 * of 2,000 characters checked against an admin's `allowed_url_patterns` entry with five.
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = t;
    } else if (g < glob.length && glob[g] === text[t]) {
      g++;
      t++;
    } else if (star !== -1) {
      g = star + 1;
      t = ++resume;
    } else return false;
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}
