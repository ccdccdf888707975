/** Writes `<name>.report.html` beside the list's CSVs, atomically (a crash never leaves half a file). */
import type { ListReport } from '../collector/report.ts';
import { openAtomicFile } from '../collector/atomic-file.ts';
import { htmlReportPath, renderHtmlReport } from './html-report.ts';

export async function writeHtmlReport(report: ListReport): Promise<string> {
  const target = htmlReportPath(report);
  const file = openAtomicFile(target);
  try {
    file.stream.end(renderHtmlReport(report));
    await file.commit();
  } catch (err) {
    await file.abort();
    throw err;
  }
  return target;
}
