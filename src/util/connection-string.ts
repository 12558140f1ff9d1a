/**
 * AccountName and AccountKey of a storage connection string (`Name=value;…`, names in any case), or
 * undefined when either is missing. Callers must never echo the string: it holds the key.
 */
export function accountKeyOf(connectionString: string): { name: string; key: string } | undefined {
  const fields = new Map<string, string>();
  for (const part of connectionString.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const name = fields.get("accountname");
  const key = fields.get("accountkey");
  return name && key ? { name, key } : undefined;
}
