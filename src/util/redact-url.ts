/** What redactUrl shows for text that is not a URL. */
export const UNPARSEABLE_URL = "(unparseable URL)";

/**
 * The URL without query (a SAS), fragment or user info: what may be shown, logged or stored.
 * Text that does not parse is replaced as a whole: without a parser there is no telling where a secret
 * sits in it (a SAS without '?', or a connection string with its AccountKey pasted in place of a URL).
 */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.search = "";
    url.hash = "";
    url.username = "";
    url.password = "";
    return url.toString().replace(/\/+$/, "");
  } catch {
    return UNPARSEABLE_URL;
  }
}
