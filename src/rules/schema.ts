// The rules file, version 1: the single source of the gateway's behaviour. This TypeBox schema is
// at once the TypeScript type, the defaults and the reference documentation (the README's rules
// reference follows these descriptions). Names here are a contract with existing rules files:
// extend freely, never rename.
import { Type, type Static } from '@sinclair/typebox';

const Listen = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0', description: 'Address to listen on.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port; 0 picks a free one (tests).' }),
    trustForwardedFor: Type.Boolean({
      default: false,
      description:
        'Take the client address from X-Forwarded-For (the last hop, as an ALB appends it). Only when every ' +
        'request reaches the gateway through a load balancer you control.',
    }),
    allowedHosts: Type.Optional(Type.Array(Type.String({ pattern: '^(\\*\\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$' }), {
      minItems: 1,
      description:
        'Host names (host or host:port; *.example.com for subdomains) the gateway answers to; other Host headers get 421. ' +
        'Guards browsers against DNS rebinding. The gateway\'s own health endpoints answer any host (ALB health checks use the IP).',
    })),
  },
  { additionalProperties: false, default: {} },
);

const Backend = Type.Object(
  {
    arn: Type.Optional(Type.String({
      description:
        'SageMaker MLflow tracking-server or MLflow-App ARN. Mode, host, signing name and routing header follow from it.',
    })),
    endpoint: Type.Optional(Type.String({
      description: 'Base-URL override for a SageMaker backend (VPC endpoint, tests); same as the plugin\'s SAGEMAKER_MLFLOW_CUSTOM_ENDPOINT.',
    })),
    url: Type.Optional(Type.String({ description: 'Instead of arn: a self-hosted MLflow server, called without signing.' })),
    hostHeader: Type.Optional(Type.String({
      description: 'Host header sent to a self-hosted MLflow (url); MLflow 3.5+ only accepts hosts in its --allowed-hosts.',
    })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), {
      description: 'Static headers added to every request to a self-hosted MLflow (url), e.g. a shared secret.',
    })),
    forwardHeaders: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), {
      description:
        'Client request headers passed upstream beyond the ones MLflow\'s clients send (Accept*, Cache-Control, Content-Type, ' +
        'Content-Encoding, conditional and Range headers, Origin, User-Agent, X-MLflow-Client-Version, X-MLFLOW-WORKSPACE); ' +
        'every other client header is dropped. Credentials, Host, x-amz-* and hop-by-hop headers cannot be listed.',
    })),
    assumeRoleArn: Type.Optional(Type.String({ description: 'IAM role to assume (STS AssumeRole) for signing, e.g. cross-account.' })),
    timeoutSeconds: Type.Number({
      exclusiveMinimum: 0,
      default: 120,
      description:
        'How long to wait for the backend: for its response headers (counted from the end of the request body, so a slow upload is never cut), ' +
        'then between two chunks of its response body (an idle limit, as the read timeout of Python\'s requests: an answer that keeps ' +
        'sending is never cut, however long it takes). A backend silent for longer gets 504 while nothing has been sent yet; a streamed ' +
        'answer already under way is ended where it stopped, and its audit line says incomplete. Enforced within an eighth of it (at most 1 s). ' +
        'MLflow\'s client waits 120 s; do not go lower. See docs/timeouts.md.',
    }),
  },
  { additionalProperties: false },
);

// limits.store (issue 14): where the rate-limit and failed-sign-in buckets live. `local` keeps them
// in each process; `valkey` shares them across a fleet through Valkey / Redis (ElastiCache), failing
// open to the local buckets while it cannot be reached (src/limits/store-from-rules.ts).
const LimitStore = Type.Object(
  {
    kind: Type.Union([Type.Literal('local'), Type.Literal('valkey')], {
      default: 'local',
      description: 'local: buckets in each gateway process (N hosts allow N times a limit). valkey: one set of buckets for the fleet, in Valkey / Redis.',
    }),
    url: Type.Optional(Type.String({
      pattern: '^rediss?://',
      description: 'redis://HOST:PORT, or rediss://HOST:PORT for TLS (ElastiCache Serverless requires it). No password in the URL: use passwordFile or passwordEnv.',
    })),
    cluster: Type.Boolean({
      default: false,
      description: 'Speak the cluster protocol (follow MOVED redirects). ElastiCache Serverless and cluster-mode-enabled caches need true.',
    }),
    username: Type.Optional(Type.String({ minLength: 1, description: 'User for AUTH (an ElastiCache RBAC user); default: the server\'s default user.' })),
    passwordFile: Type.Optional(Type.String({
      minLength: 1,
      description: 'File holding the AUTH token / RBAC password (e.g. ${CREDENTIALS_DIRECTORY}/valkey with systemd LoadCredential=).',
    })),
    passwordEnv: Type.Optional(Type.String({
      pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
      description: 'Instead of passwordFile: the environment variable holding it (e.g. from the unit\'s EnvironmentFile).',
    })),
    caFile: Type.Optional(Type.String({ minLength: 1, description: 'PEM CA bundle for rediss:// when the server\'s certificate is not from a public CA.' })),
    keyPrefix: Type.String({ default: 'smp:rl:', description: 'Prefix of the bucket keys, so several gateways\' fleets can share one cache.' }),
    timeoutMs: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: 50,
      description: 'Longest a request waits for the store; then (and on any error) the gateway switches to local buckets.',
    }),
    probeSeconds: Type.Number({
      minimum: 0.1,
      maximum: 60,
      default: 2,
      description: 'While on local buckets, how often the store is probed in the background; the first answer switches back.',
    }),
  },
  { additionalProperties: false, description: 'Absent: kind local.' },
);

const Limits = Type.Object(
  {
    maxBodyBytes: Type.Integer({
      minimum: 0,
      default: 8 * 1024 * 1024,
      description: 'Largest request body accepted for a SageMaker backend (it is buffered to be hashed for SigV4); larger → 413.',
    }),
    maxBufferedBytes: Type.Integer({
      minimum: 0,
      default: 256 * 1024 * 1024,
      description:
        'Request-body bytes held in memory at once, by all requests together (bodies read whole: SageMaker signing, policy ' +
        'conditions, GraphQL); a request that would pass it → 503 with Retry-After. The default (256 MiB, 32 bodies of the ' +
        'default maxBodyBytes at once) keeps the gateway well inside a 2 GiB host (t3.small / t4g.small).',
    }),
    // Bun.serve answers 431 itself, before the gateway sees the request, once the request line and
    // headers pass 16 KiB (measured: a bare GET's query is cut at 16,338 characters; no Bun.serve
    // option changes it, only the runtime's --max-http-header-size flag). A limit above what the
    // runtime lets through would never apply, and its refusal would have no request id and no
    // audit line: the maxima keep the gateway's own 400 in force and leave room for headers.
    maxPathLength: Type.Integer({ minimum: 1, maximum: 8192, default: 2048, description: 'Longest request path accepted; longer → 400.' }),
    maxQueryLength: Type.Integer({ minimum: 0, maximum: 8192, default: 8192, description: 'Longest query string accepted; longer → 400 (at most 8192: the runtime refuses request heads over 16 KiB itself).' }),
    store: Type.Optional(LimitStore),
  },
  { additionalProperties: false, default: {} },
);

const MiB = 1024 * 1024;
const Artifacts = Type.Object(
  {
    s3Root: Type.Optional(Type.String({
      description:
        'The tracking server\'s artifact root, s3://bucket/prefix (its ArtifactStoreUri). The gateway serves MLflow\'s ' +
        'artifact API (/api/2.0/mlflow-artifacts/...) from keys under it and shows locations under it as mlflow-artifacts:/.',
    })),
    discover: Type.Boolean({
      default: false,
      description: 'Instead of s3Root: ask SageMaker at start-up (DescribeMlflowTrackingServer / DescribeMlflowApp → ArtifactStoreUri).',
    }),
    region: Type.Optional(Type.String({ description: 'The bucket\'s region; default: the backend ARN\'s region.' })),
    endpoint: Type.Optional(Type.String({ description: 'S3 endpoint override (VPC endpoint, an S3-compatible server in tests).' })),
    forcePathStyle: Type.Boolean({ default: false, description: 'Address objects as ENDPOINT/bucket/key instead of bucket.ENDPOINT/key.' }),
    maxJsonRewriteBytes: Type.Integer({
      minimum: 0,
      default: 32 * MiB,
      description: 'Largest JSON answer whose artifact locations are rewritten; a larger one passes unchanged (its locations stay s3://).',
    }),
    singlePutMaxBytes: Type.Integer({
      minimum: 0,
      maximum: 5 * 1024 * MiB,
      default: 64 * MiB,
      description:
        'Uploads with a Content-Length up to this size stream to S3 as one PUT, nothing buffered; larger ones, and ' +
        'uploads without a length, go multipart.',
    }),
    partSizeBytes: Type.Integer({ minimum: 5 * MiB, default: 8 * MiB, description: 'Multipart part size (S3\'s minimum is 5 MiB).' }),
    partsInFlight: Type.Integer({
      minimum: 1,
      maximum: 16,
      default: 2,
      description: 'Parts of one multipart upload sent at once; each is held in memory (partSizeBytes × partsInFlight per upload).',
    }),
    presignedUrlSeconds: Type.Integer({
      minimum: 60,
      maximum: 7 * 24 * 3600,
      default: 3600,
      description: 'Lifetime of the presigned part URLs that mpu/create returns (clients with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD).',
    }),
  },
  { additionalProperties: false },
);

const Endpoints = Type.Object(
  {
    liveness: Type.String({ default: '/-/live', description: 'The gateway\'s own liveness path (never forwarded).' }),
    readiness: Type.String({ default: '/-/ready', description: 'The gateway\'s own readiness path (never forwarded).' }),
  },
  { additionalProperties: false, default: {} },
);

export const RewriteRule = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Shown by explain and in the audit log.' })),
    stripPrefix: Type.Optional(Type.String({ description: 'Remove this mount prefix (e.g. /mlflow); /mlflow alone becomes /.' })),
    prefix: Type.Optional(Type.String({ description: 'Replace this leading path prefix with `replace`.' })),
    match: Type.Optional(Type.String({ description: 'A regular expression on the whole path; `replace` may use $1, $2, $<name>.' })),
    replace: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const PathRule = Type.Object(
  {
    methods: Type.Array(Type.String(), { minItems: 1, description: 'HTTP methods, or ["*"].' }),
    paths: Type.Array(Type.String(), {
      minItems: 1,
      description: 'Upstream path patterns (after rewrites): `*` is one segment or part of one, `**` any rest of the path.',
    }),
  },
  { additionalProperties: false },
);

const Conditions = Type.Object(
  {
    experimentNamePrefix: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
      description:
        'The calls that name an experiment (CreateExperiment, GetExperimentByName, UpdateExperiment\'s new_name) are granted by ' +
        'this policy only for names starting with one of these prefixes. Calls that refer to an experiment or run by id cannot be ' +
        'checked from the request alone and are not restricted by it (see the README).',
    }),
  },
  { additionalProperties: false },
);

// Scopes (issue 19): which experiments and registry entries a policy's operations apply to, so teams
// sharing one MLflow server stay apart. Patterns are matched against names; every id in a request is
// resolved to the experiment (or registered model) it belongs to (src/scopes/).
const NamePatterns = (what: string) => Type.Array(Type.String({ minLength: 1 }), {
  description:
    `${what} names this policy applies to: \`*\` is any run of characters but \`/\`, \`**\` any run at all; ` +
    '`{client}` is the caller\'s client id (or token subject), `{group}` any of the caller\'s groups.',
});

const Scope = Type.Object(
  {
    experiments: Type.Optional(NamePatterns('Experiment')),
    registeredModels: Type.Optional(NamePatterns('Registered model (not prompt)')),
    prompts: Type.Optional(NamePatterns('Prompt (a registered model tagged mlflow.prompt.is_prompt=true)')),
  },
  {
    additionalProperties: false,
    description:
      'Limits the policy\'s operations (its own and included ones) to these experiments (with their runs, metrics, params, ' +
      'tags, traces, assessments, logged models, datasets, scorers and artifacts) and registry entries (with their versions, ' +
      'aliases and tags). A kind left out is not covered at all. Without a scope, a policy applies everywhere.',
  },
);

export const Policy = Type.Object(
  {
    description: Type.Optional(Type.String()),
    // Optional rather than defaulted: TypeBox's Value.Default does not reach into Record values.
    include: Type.Optional(Type.Array(Type.String(), { description: 'Other policies whose permissions this one adds.' })),
    operations: Type.Optional(Type.Array(Type.String(), {
      description: 'MLflow operations by proto / IAM action name (LogMetric, SearchRuns...); `*` wildcards allowed (Get*) but never match sensitive operations (AI-gateway secrets, workspaces, webhooks...: name them); `!Name` takes one back out.',
    })),
    allow: Type.Optional(Type.Array(PathRule, { description: 'Method + path patterns, for paths that are not MLflow operations.' })),
    conditions: Type.Optional(Conditions),
    scope: Type.Optional(Scope),
  },
  { additionalProperties: false },
);

const RateLimit = Type.Object(
  {
    requestsPerSecond: Type.Number({ exclusiveMinimum: 0, description: 'Sustained rate: tokens added to the bucket per second.' }),
    burst: Type.Optional(Type.Integer({ minimum: 1, description: 'Bucket size: requests allowed at once. Default: requestsPerSecond, at least 1.' })),
  },
  { additionalProperties: false, description: 'Token bucket per identity (anonymous callers: per client address); over it → 429 with Retry-After (the MLflow client waits and retries).' },
);

const ApiKey = Type.Object(
  {
    sha256: Type.String({ description: 'Hex SHA-256 of the key (`hash-key` prints it); never the key itself.' }),
    expires: Type.Optional(Type.String({ description: 'ISO date or date-time after which the key is refused (2027-06-30 or 2027-06-30T12:00:00Z).' })),
  },
  { additionalProperties: false },
);

// auth.albMtls (issue 22): which certificate is which client, when the ALB terminates mutual TLS.
const CertificateMatch = Type.Object(
  {
    subject: Type.Optional(Type.String({
      minLength: 1,
      description:
        'The certificate\'s subject DN in RFC 2253 form, as the ALB sends it and `openssl x509 -noout -subject -nameopt RFC2253` ' +
        'prints it (CN=erp-batch,O=Example,C=US). Attribute names compare without case, values exactly.',
    })),
    san: Type.Optional(Type.String({
      pattern: '^(DNS|URI|email|IP):.+$',
      description: 'A subject alternative name of the certificate, as OpenSSL prints it: DNS:host, URI:spiffe://..., email:a@b, IP:10.0.0.1.',
    })),
    serial: Type.Optional(Type.String({
      pattern: '^[0-9A-Fa-f:]+$',
      description: 'The certificate\'s serial number in hex (colons and leading zeros ignored). Needs issuer: serials are unique only per CA.',
    })),
    issuer: Type.Optional(Type.String({
      minLength: 1,
      description: 'The issuing CA\'s subject DN (RFC 2253): the match holds only for certificates that CA issued.',
    })),
  },
  { additionalProperties: false, description: 'Exactly one of subject, san or serial; issuer optional (required with serial).' },
);

const Client = Type.Object(
  {
    id: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._@:-]+$', description: 'Stable client name; appears in the audit log. Also the HTTP Basic user name.' }),
    apiKeys: Type.Optional(Type.Array(ApiKey, { minItems: 1, description: 'API keys (Bearer or X-API-Key), each with an optional expiry; several allow rotation.' })),
    apiKeySha256: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], {
      description: 'Short form of apiKeys without expiry: a hash or a list of hashes.',
    })),
    passwordHash: Type.Optional(Type.String({
      description: 'HTTP Basic password (MLFLOW_TRACKING_USERNAME = id, MLFLOW_TRACKING_PASSWORD), as printed by `hash-password` (scrypt).',
    })),
    subjects: Type.Optional(Type.Array(Type.String({ minLength: 1 }), {
      description: 'JWT / ALB-OIDC subjects (the issuer\'s subjectClaim values) that act as this client.',
    })),
    certificates: Type.Optional(Type.Array(CertificateMatch, {
      minItems: 1,
      description: 'Client certificates (through the ALB\'s mutual TLS, auth.albMtls) that act as this client, each matched by subject, SAN or serial.',
    })),
    policies: Type.Array(Type.String()),
    assumeRoleArn: Type.Optional(Type.String({ description: 'IAM role this client\'s requests are signed with (session name and source identity = client id).' })),
    rateLimit: Type.Optional(RateLimit),
  },
  { additionalProperties: false },
);

const Group = Type.Object(
  {
    description: Type.Optional(Type.String()),
    policies: Type.Array(Type.String(), { description: 'Policies for every token holder in this group (JWT / ALB-OIDC groups claim).' }),
    assumeRoleArn: Type.Optional(Type.String({ description: 'Role for members that have none of their own (the first such group in file order wins).' })),
    rateLimit: Type.Optional(RateLimit),
  },
  { additionalProperties: false },
);

const Anonymous = Type.Object(
  {
    policies: Type.Array(Type.String(), {
      description: 'Policies for requests without credentials. Absent = anonymous requests are refused (401).',
    }),
    rateLimit: Type.Optional(RateLimit),
  },
  { additionalProperties: false },
);

// Operations sections (metrics, readiness, shutdown, logging): additive, each optional with defaults.

const Metrics = Type.Object(
  {
    enabled: Type.Boolean({ default: false, description: 'Serve Prometheus metrics on their own listener.' }),
    host: Type.String({
      default: '127.0.0.1',
      description: 'Address of the metrics listener; keep it off the ALB-facing address (metrics name clients and operations).',
    }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 9464, description: 'Port of the metrics listener; 0 picks a free one (tests).' }),
    path: Type.String({ pattern: '^/', default: '/metrics', description: 'Path of the Prometheus text exposition.' }),
  },
  { additionalProperties: false, default: {} },
);

// tracing (issue 22): OpenTelemetry spans over OTLP/HTTP, off unless the section is there
// (observability/otel.ts; docs/tracing.md). Read at start-up: a change needs a restart.
const Tracing = Type.Object(
  {
    endpoint: Type.String({
      pattern: '^https?://[^\\s/?#]+/[^\\s?#]*$',
      description:
        'The collector\'s OTLP/HTTP traces URL, path included (what OTEL_EXPORTER_OTLP_TRACES_ENDPOINT names), e.g. ' +
        'http://127.0.0.1:4318/v1/traces for an OpenTelemetry or ADOT Collector on the host. Spans are sent as OTLP JSON.',
    }),
    serviceName: Type.String({ minLength: 1, default: 'sagemaker-mlflow-proxy', description: 'The service.name resource attribute: what the spans are filed under.' }),
    sampleRatio: Type.Number({
      minimum: 0,
      maximum: 1,
      default: 1,
      description:
        'Share of new traces recorded (0.01: one request in a hundred). A request that arrives with a W3C traceparent follows ' +
        'its caller\'s sampled flag instead, so a trace is recorded whole or not at all.',
    }),
    resourceAttributes: Type.Record(Type.String({ minLength: 1 }), Type.String(), {
      default: {},
      description: 'More resource attributes for every span, e.g. deployment.environment.name: prod, service.namespace: mlflow.',
    }),
    headers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Type.String(), {
      default: {},
      description: 'Headers sent with each export (a collector that wants a token: Authorization: Bearer ${OTLP_TOKEN}). Never logged.',
    }),
    maxQueueSize: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 2048,
      description:
        'Finished spans held for export. When the collector is slow or down the queue fills and further spans are dropped and ' +
        'counted (sagemaker_mlflow_proxy_trace_spans_dropped_total): requests never wait for the collector.',
    }),
    exportIntervalMs: Type.Integer({ minimum: 1, maximum: 60_000, default: 5000, description: 'How often queued spans are sent (sooner when a batch of 512 is full).' }),
    exportTimeoutMs: Type.Integer({
      minimum: 1,
      maximum: 120_000,
      default: 10_000,
      description: 'Longest one export may take, retries included; its spans are then dropped and counted.',
    }),
  },
  { additionalProperties: false, description: 'Absent: no tracing, and nothing of it loaded or done per request.' },
);

const Readiness = Type.Object(
  {
    minCredentialSeconds: Type.Number({
      minimum: 0,
      default: 60,
      description: 'Not ready when the signing credentials expire sooner than this (and cannot be refreshed).',
    }),
    checkUpstream: Type.Boolean({
      default: false,
      description: 'Also require the backend to answer (any HTTP status) a request to its base URL.',
    }),
    upstreamTimeoutSeconds: Type.Number({
      exclusiveMinimum: 0,
      default: 2,
      description: 'How long the upstream check (and the backend status check) waits.',
    }),
    checkBackendStatus: Type.Boolean({
      default: false,
      description:
        'SageMaker backends only: also ask SageMaker (DescribeMlflowTrackingServer / DescribeMlflowApp) whether the backend ' +
        'serves; a stopped, updating or deleted one makes the host not ready. Needs sagemaker:Describe* on the ARN (iam-policy adds it).',
    }),
    backendStatusSeconds: Type.Number({
      minimum: 1,
      maximum: 3600,
      default: 30,
      description:
        'How long a status answer is reused: health checks every few seconds share one Describe call per period ' +
        '(the control plane throttles). A failed call is retried after the same period.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const Ui = Type.Object(
  {
    path: Type.String({
      pattern: '^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$',
      default: '/ui',
      description: 'Where browsers open the MLflow UI: the gateway signs the person in and redirects to a fresh presigned URL.',
    }),
    presignedUrlExpiresSeconds: Type.Integer({
      minimum: 5,
      maximum: 300,
      default: 30,
      description: 'How long the presigned URL may wait before the browser uses it (AWS: 5-300). It is used at once by the redirect.',
    }),
    sessionExpiresSeconds: Type.Integer({
      minimum: 1800,
      maximum: 43200,
      default: 43200,
      description: 'How long the UI session the URL opens lasts (AWS: 1800-43200); after it the person comes back to the entry.',
    }),
  },
  { additionalProperties: false },
);

const Shutdown = Type.Object(
  {
    drainSeconds: Type.Number({
      minimum: 0,
      maximum: 300,
      default: 15,
      description:
        'After SIGTERM: readiness fails at once and the listener keeps serving this long, so the load balancer ' +
        'stops routing here before the listener closes. Keep it above the ALB health check\'s interval x unhealthy threshold.',
    }),
    finishSeconds: Type.Number({
      minimum: 0,
      maximum: 300,
      default: 10,
      description: 'Then the listener closes; requests still in flight get this long to finish before they are cut.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const Logging = Type.Object(
  {
    level: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')], {
      default: 'info',
      description: 'Lowest level of operational lines written. Per-request audit lines are written at info unless `requests` is false.',
    }),
    requests: Type.Boolean({ default: true, description: 'Write one audit line per request (keep on: it is the audit trail).' }),
  },
  { additionalProperties: false, default: {} },
);

const JwtIssuer = Type.Object(
  {
    issuer: Type.String({ minLength: 1, description: 'Expected `iss`, exactly. Tokens are routed to this entry by their `iss`.' }),
    jwksUrl: Type.Optional(Type.String({ description: 'The issuer\'s JWKS; when absent it is discovered from ISSUER/.well-known/openid-configuration.' })),
    audiences: Type.Array(Type.String(), { minItems: 1, description: 'Accepted `aud` values (at least one must match).' }),
    algorithms: Type.Array(Type.Union(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'].map((a) => Type.Literal(a))), {
      minItems: 1,
      default: ['RS256', 'ES256'],
      description: 'Allowed signature algorithms (asymmetric only: `none` and HMAC are never accepted).',
    }),
    clockSkewSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 60, description: 'Tolerance for exp / nbf / iat.' }),
    subjectClaim: Type.String({ default: 'sub', description: 'Claim naming the caller (matched against clients[].subjects, logged as client id).' }),
    groupsClaim: Type.String({ default: 'groups', description: 'Claim listing the caller\'s groups (array or space-separated string), matched against `groups`.' }),
    jwksCooldownSeconds: Type.Number({
      minimum: 0,
      default: 30,
      description: 'Least time between JWKS fetches triggered by an unknown key id (key rotation); protects the issuer from floods.',
    }),
  },
  { additionalProperties: false },
);

const AlbOidc = Type.Object(
  {
    albArn: Type.String({ description: 'The load balancer whose x-amzn-oidc-data is trusted (checked against the token\'s `signer`).' }),
    keyEndpoint: Type.Optional(Type.String({
      description: 'Where the ALB\'s public keys are fetched by key id; default https://public-keys.auth.elb.REGION.amazonaws.com.',
    })),
    clockSkewSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 60, description: 'Tolerance for the header\'s exp.' }),
    subjectClaim: Type.String({ default: 'sub', description: 'Claim naming the caller (e.g. email).' }),
    groupsClaim: Type.String({ default: 'groups', description: 'Claim listing the caller\'s groups, when the identity provider sends one.' }),
  },
  { additionalProperties: false },
);

const AlbMtls = Type.Object(
  {
    mode: Type.Union([Type.Literal('verify'), Type.Literal('passthrough')], {
      description:
        'The ALB listener\'s mutual TLS mode. verify: the ALB has checked the certificate against its trust store and sends ' +
        'X-Amzn-Mtls-Clientcert-Subject, -Issuer, -Serial-Number, -Validity and -Leaf; the gateway checks the validity and maps the ' +
        'certificate to a client. passthrough: the ALB sends the chain it was shown (X-Amzn-Mtls-Clientcert) unchecked; the gateway ' +
        'verifies it against caBundle (and crl) before mapping it.',
    }),
    caBundle: Type.Optional(Type.String({
      minLength: 1,
      description:
        'passthrough only (required there): the PEM certificates of the CAs that issue client certificates, in the rules as a ' +
        'YAML block (caBundle: |). Intermediates the client sends are used to reach one of these.',
    })),
    crl: Type.Optional(Type.String({
      minLength: 1,
      description:
        'passthrough only: PEM certificate revocation lists (-----BEGIN X509 CRL-----), each signed by a CA of caBundle. A revoked ' +
        'certificate is refused; while a CRL is past its nextUpdate, every certificate of its CA is refused (fail closed): refresh it and reload.',
    })),
    clockSkewSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 60, description: 'Tolerance for the certificates\' notBefore and notAfter.' }),
  },
  {
    additionalProperties: false,
    description:
      'Client certificates from the load balancer\'s mutual TLS (clients[].certificates say whose they are). Only with this section ' +
      'does the gateway read the X-Amzn-Mtls-* headers; they are never passed upstream. The headers prove nothing on their own: ' +
      'the gateway must be reachable only through that load balancer.',
  },
);

const Auth = Type.Object(
  {
    realm: Type.String({ default: 'MLflow', description: 'Realm in the WWW-Authenticate challenge (browsers show it in the Basic prompt).' }),
    jwt: Type.Array(JwtIssuer, { default: [], description: 'OIDC issuers whose JWTs are accepted as Bearer tokens (MLFLOW_TRACKING_TOKEN).' }),
    alb: Type.Optional(AlbOidc),
    albMtls: Type.Optional(AlbMtls),
    jwtCookie: Type.Optional(Type.String({
      pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$',
      description:
        'Also accept a JWT (of the issuers above) from this cookie, for browsers whose single sign-on sets one. ' +
        'Cookie-authenticated writes from another site are refused (CSRF).',
    })),
    failedSignInLimit: Type.Optional(Type.Object(RateLimit.properties, {
      additionalProperties: false,
      description:
        'Failed sign-ins allowed per client address (token bucket); beyond it the address gets 429 until a token refills. ' +
        'Needs listen.trustForwardedFor behind a load balancer, or every client shares one address.',
    })),
  },
  { additionalProperties: false, default: {} },
);

// lookups (issue 19): how scoped policies learn whose an id is. The gateway asks the backend itself
// (signed with the host's credentials) and remembers the answers.
const Lookups = Type.Object(
  {
    cacheEntries: Type.Integer({
      minimum: 100,
      default: 100_000,
      description: 'Most ids (run, trace, logged model, dataset → experiment; experiment id → name) remembered at once; the least recently used go first.',
    }),
    nameSeconds: Type.Number({
      minimum: 0,
      default: 30,
      description:
        'How long an experiment\'s name (and whether a registry entry is a prompt) is trusted before it is asked again; a rename ' +
        'through this gateway forgets it at once. Links that never change (a run\'s experiment) are kept until evicted.',
    }),
    timeoutSeconds: Type.Number({ exclusiveMinimum: 0, default: 10, description: 'How long one lookup waits; a failed or slow lookup refuses the request (503, retryable).' }),
    maxSearchPages: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 10,
      description: 'A scoped search reads at most this many backend pages to fill one page of in-scope rows (then answers a shorter page with a next_page_token).',
    }),
  },
  { additionalProperties: false, default: {}, description: 'How scoped policies (policies.*.scope) resolve ids to the experiment or model they belong to.' },
);

export const RulesSchema = Type.Object(
  {
    version: Type.Literal(1, { description: 'Rules format version.' }),
    listen: Listen,
    backend: Backend,
    limits: Limits,
    endpoints: Endpoints,
    artifacts: Type.Optional(Artifacts),
    ui: Type.Optional(Ui),
    rewrites: Type.Array(RewriteRule, { default: [], description: 'Applied in order, each to the previous one\'s output.' }),
    auth: Auth,
    anonymous: Type.Optional(Anonymous),
    clients: Type.Array(Client, { default: [] }),
    groups: Type.Record(Type.String({ minLength: 1 }), Group, {
      default: {},
      description: 'Groups named in JWT / ALB-OIDC tokens, and what their members may do.',
    }),
    policies: Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]+$' }), Policy, { default: {} }),
    lookups: Lookups,
    metrics: Metrics,
    tracing: Type.Optional(Tracing),
    readiness: Readiness,
    shutdown: Shutdown,
    logging: Logging,
  },
  { additionalProperties: false },
);

export type Rules = Static<typeof RulesSchema>;
export type RewriteRuleSpec = Static<typeof RewriteRule>;
export type PolicySpec = Static<typeof Policy>;
export type ScopeSpec = Static<typeof Scope>;
export type LookupsSpec = Static<typeof Lookups>;
export type ClientSpec = Static<typeof Client>;
export type GroupSpec = Static<typeof Group>;
export type RateLimitSpec = Static<typeof RateLimit>;
export type JwtIssuerSpec = Static<typeof JwtIssuer>;
export type AlbOidcSpec = Static<typeof AlbOidc>;
export type AlbMtlsSpec = Static<typeof AlbMtls>;
export type CertificateMatchSpec = Static<typeof CertificateMatch>;
export type ArtifactsSpec = Static<typeof Artifacts>;
export type UiSpec = Static<typeof Ui>;
export type LimitStoreSpec = Static<typeof LimitStore>;
export type TracingSpec = Static<typeof Tracing>;
