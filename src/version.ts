// Kept equal to package.json's version by test/version.test.ts (a JSON import would need
// runtime-specific import attributes in the single-file builds).
export const VERSION = '0.1.0';
