// The artifact API's settings (the rules file's `artifacts` section, compiled by
// rules/compile-artifacts.ts), as the artifact service and the artifact stage read them.
import type { S3Root } from './keys.ts';

export interface ArtifactSettings {
  /** Known from the rules file; undefined when it is discovered at start-up. */
  root?: S3Root;
  discover: boolean;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  maxJsonRewriteBytes: number;
  singlePutMaxBytes: number;
  partSizeBytes: number;
  partsInFlight: number;
  presignedUrlSeconds: number;
}
