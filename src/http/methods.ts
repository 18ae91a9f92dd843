// The HTTP methods an MLflow client or browser sends (RFC 9110 section 9, and PATCH, RFC 5789):
// what `explain` takes as METHOD. CONNECT and TRACE never reach MLflow.
export const HTTP_METHODS: ReadonlyArray<string> = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export function isHttpMethod(name: string): boolean {
  return HTTP_METHODS.includes(name.toUpperCase());
}
