// Every benchmark ends the same way: its report is printed, and kept in bench/results/ for the record (REPORT.md
// cites those files). Trial runs (--quick, --only) print only.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

const RESULTS = resolve(import.meta.dirname, "results");

/** Prints a report and, when `keep`, writes it to bench/results/<name>.md. */
export async function publishReport(name: string, text: string, keep: boolean): Promise<void> {
  process.stdout.write(`${text}\n`);
  if (!keep) return;
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, `${name}.md`), text);
}
