import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { LOG_EVENTS, logEventFields, type LogEventName } from "../../src/monitoring/log-events";

/**
 * The KQL of the workbook and the alerts (infra/monitoring/queries), checked with Kusto's own parser and
 * semantic analyzer (@kusto/language-service-next): against the schema of Application Insights' traces
 * table, and every field a query reads from a log line (`e.<field>`, `e["<field>"]`) against the fields
 * the events it names carry in src/monitoring/log-events.ts.
 */
const MONITORING = resolve(__dirname, "../../infra/monitoring");
const QUERIES = join(MONITORING, "queries");

// Scripts that define the Kusto globals, in this order.
require("@kusto/language-service-next/bridge.js");
require("@kusto/language-service-next/Kusto.Language.Bridge.js");
const Kusto = (globalThis as any).Kusto.Language;

/** The columns of Application Insights' `traces` table that a query may name. */
const TRACES_SCHEMA =
  "(timestamp:datetime, message:string, severityLevel:int, itemType:string, customDimensions:dynamic, customMeasurements:dynamic, " +
  "operation_Name:string, operation_Id:string, operation_ParentId:string, cloud_RoleName:string, cloud_RoleInstance:string, " +
  "appName:string, appId:string, itemId:string, itemCount:int, sdkVersion:string)";

function analyze(text: string): any {
  const traces = new Kusto.Symbols.TableSymbol.$ctor7("traces", TRACES_SCHEMA, null);
  const database = new Kusto.Symbols.DatabaseSymbol.ctor("applicationinsights", [traces]);
  return Kusto.KustoCode.ParseAndAnalyze(text, Kusto.GlobalState.Default.WithDatabase(database));
}

function errors(code: any): string[] {
  const found: string[] = [];
  const diagnostics = code.GetDiagnostics();
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    if (String(d.Severity) === "Error") found.push(`${d.Message} (at ${d.Start})`);
  }
  return found;
}

interface FieldUse {
  readonly fields: string[];
  readonly events: LogEventName[];
}

/** What a query reads from the parsed line `e`, and which kvbackup events it names in string literals. */
function fieldUse(code: any): FieldUse {
  const Syntax = Kusto.Syntax;
  const fields = new Set<string>();
  const events = new Set<LogEventName>();
  code.Syntax.WalkElements((element: any) => {
    if (element instanceof Syntax.PathExpression && element.Expression instanceof Syntax.NameReference && element.Expression.SimpleName === "e") {
      fields.add(String(element.Selector.SimpleName));
    }
    if (element instanceof Syntax.ElementExpression && element.Expression instanceof Syntax.NameReference && element.Expression.SimpleName === "e") {
      element.Selector.WalkElements((inner: any) => {
        if (inner instanceof Syntax.LiteralExpression) fields.add(String(inner.LiteralValue));
      });
    }
    if (element instanceof Syntax.LiteralExpression && typeof element.LiteralValue === "string" && element.LiteralValue in LOG_EVENTS) {
      events.add(element.LiteralValue as LogEventName);
    }
  });
  return { fields: [...fields].sort(), events: [...events].sort() };
}

/** Fields a query reads that none of the events it names carries. */
function unknownFields(use: FieldUse): string[] {
  const known = new Set(["source", "event", ...use.events.flatMap((e) => logEventFields(e))]);
  return use.fields.filter((f) => !known.has(f));
}

const queryFiles = readdirSync(QUERIES).filter((f) => f.endsWith(".kql")).sort();
const bicep = readdirSync(MONITORING).filter((f) => f.endsWith(".bicep")).map((f) => readFileSync(join(MONITORING, f), "utf8")).join("\n");

describe("the monitoring queries", () => {
  it("when the folder is read, it holds the six queries of the workbook and the alerts", () => {
    expect(queryFiles).toEqual(["job-failures.kql", "job-runs.kql", "jobs-over-time.kql", "last-complete-backup.kql", "running-jobs.kql", "timer-runs.kql"]);
  });

  it.each(queryFiles)("when %s is parsed and analyzed against the traces table, Kusto reports no error", (file) => {
    expect(errors(analyze(readFileSync(join(QUERIES, file), "utf8")))).toEqual([]);
  });

  it.each(queryFiles)("when %s reads fields of the log lines, each is one the events it names carry", (file) => {
    const use = fieldUse(analyze(readFileSync(join(QUERIES, file), "utf8")));
    expect(use.events.length).toBeGreaterThan(0);
    expect(use.fields.length).toBeGreaterThan(0);
    expect(unknownFields(use)).toEqual([]);
  });

  it("when a query names a field the app does not log, or a column traces does not have, the checks fail", () => {
    const wrongField = `traces | extend e = parse_json(message) | where tostring(e.event) == "job.ended" | project tostring(e.keysRestored), tostring(e["vault"])`;
    expect(unknownFields(fieldUse(analyze(wrongField)))).toEqual(["keysRestored", "vault"]);
    expect(errors(analyze("traces | where nosuchcolumn > 1"))).toEqual([expect.stringContaining("nosuchcolumn")]);
  });

  it("when the Bicep files load the queries, every file is used and every parameter placeholder is in its query", () => {
    const loaded = [...bicep.matchAll(/loadTextContent\('queries\/([^']+)'\)/g)].map((m) => m[1]!);
    expect([...new Set(loaded)].sort()).toEqual(queryFiles);
    // replace(loadTextContent('queries/x.kql'), '<text>', …) must find its text, or the parameter would be silently ignored.
    for (const m of bicep.matchAll(/replace\(loadTextContent\('queries\/([^']+)'\), '([^']+)'/g)) {
      expect(readFileSync(join(QUERIES, m[1]!), "utf8")).toContain(m[2]!);
    }
    expect([...bicep.matchAll(/replace\(loadTextContent/g)]).toHaveLength(2);
  });
});
