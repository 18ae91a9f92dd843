// Kept equal to package.json's version by test/cli.test.ts (a JSON import would need
// runtime-specific import attributes in the single-file builds).
export const VERSION = '0.1.0';

// scripts/build.sh replaces the identifier BUILD_COMMIT with the git commit (bun build --define);
// run from source, it is not defined and the commit reads "source".
declare const BUILD_COMMIT: string | undefined;
export const COMMIT: string = typeof BUILD_COMMIT === 'string' ? BUILD_COMMIT : 'source';

/** What `version` prints and the startup line and build-info metric carry. */
export const VERSION_LINE = `sagemaker-mlflow-proxy ${VERSION} (commit ${COMMIT})`;
