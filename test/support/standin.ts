// Starting the SageMaker data-plane stand-in (test/standins/sagemaker_dataplane.py, botocore-verified).
import { join } from 'node:path';
import { readFileSync, existsSync } from 'node:fs';
import { REPO, startProcess, tempDir, type Started } from './processes.ts';

export interface DataPlaneStandin extends Started {
  /** The JSON-lines file log() reads (for tests that follow it as it grows). */
  logPath: string;
  /** Log lines the stand-in wrote: one per request it received. */
  log(): Array<{ verdict: string; reason?: string; akid?: string; service?: string; path: string; query?: string; method: string; status?: number; client_request_id?: string | null }>;
}

export async function startDataPlane(python: string, arn: string, upstream: string): Promise<DataPlaneStandin> {
  const logFile = join(tempDir('dataplane'), 'requests.jsonl');
  const started = await startProcess(python, [join(REPO, 'test/standins/sagemaker_dataplane.py'), '--arn', arn, '--upstream', upstream, '--log', logFile, '--port', '0'], {
    name: 'SageMaker data-plane stand-in',
    ready: (output) => {
      const match = /READY (\d+)/.exec(output);
      return match ? Number(match[1]) : undefined;
    },
  });
  return {
    ...started,
    logPath: logFile,
    log: () =>
      existsSync(logFile)
        ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
        : [],
  };
}
