// The command line's grammar: each command's usage text, options and arguments, and the parse of
// argv into a command or a usage error. Pure (main.ts passes argv in and prints the answer), so
// every usage path is the same on Bun, Deno and the compiled executable. The habits of a CLI a
// security engineer trusts: `CMD --help` on stdout with exit 0; a usage error (an unknown command or
// flag, a missing argument) on stderr with that command's usage and exit 2, never a runtime's raw
// parser text; `--version`.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from './rules/schema-problems.ts';
import { HTTP_METHODS, isHttpMethod } from './http/methods.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

interface CommandSpec {
  synopsis: string[];
  summary: string;
  options: Options;
  /** Lines after the synopsis, describing the options. */
  details: string[];
}

const RULES = { rules: { type: 'string' } } as const;

export const COMMANDS = {
  serve: {
    synopsis: ['serve --rules FILE [--watch]'],
    summary: 'run the gateway; SIGHUP (or, with --watch, a change to FILE) reloads the rules',
    options: { ...RULES, watch: { type: 'boolean' } },
    details: ['--rules FILE   the rules file', '--watch        also reload when FILE changes'],
  },
  check: {
    synopsis: ['check --rules FILE [--strict] [--format text|json]'],
    summary: 'validate the rules file: every problem in one pass, as FILE:LINE:COL: key.path: message',
    options: { ...RULES, strict: { type: 'boolean' }, format: { type: 'string' } },
    details: [
      '--rules FILE          the rules file',
      '--strict              warnings fail too (exit 1), for CI',
      '--format json         one JSON object: {file, valid, errors, warnings, problems: [{file, line, column, keyPath, severity, message}]}',
      'exit 0 valid, 1 problems (errors, or warnings with --strict), 2 usage',
    ],
  },
  explain: {
    synopsis: ['explain --rules FILE [--client ID] [--data BODY] METHOD URL', 'explain --rules FILE --client ID'],
    summary: 'what the gateway would do with a request (no network calls), or everything a client may do',
    options: { ...RULES, client: { type: 'string' }, data: { type: 'string' } },
    details: [
      '--client ID   the client making the request (none: a request without credentials)',
      '--data BODY   the request body, read where the gateway reads it: a GraphQL document, the',
      '              experiment name a conditioned policy checks (never the body of a GET), e.g.',
      `              --data '{"name":"team-a/churn"}' POST /api/2.0/mlflow/experiments/create`,
      `              --data '{"query":"{ mlflowGetRun(input: {runId: \\"1\\"}) { run { info { runId } } } }"}'`,
      'exit 0 allowed (or the client exists), 1 refused (or no such client), 2 usage',
    ],
  },
  'iam-policy': {
    synopsis: ['iam-policy --rules FILE [--role ARN]'],
    summary: 'the least-privilege IAM policy for the signing role (or for one client role)',
    options: { ...RULES, role: { type: 'string' } },
    details: ['--role ARN   the policy a client role (assumeRoleArn) needs instead of the host role'],
  },
  'hash-key': {
    synopsis: ['hash-key'],
    summary: 'read an API key on stdin, print its hash for rules.yaml',
    options: {},
    details: ['e.g.: openssl rand -hex 32 | tee key.txt | sagemaker-mlflow-proxy hash-key'],
  },
  'hash-password': {
    synopsis: ['hash-password'],
    summary: 'read a password on stdin, print its salted scrypt hash for passwordHash',
    options: {},
    details: ['e.g.: read -rs PW; printf %s "$PW" | sagemaker-mlflow-proxy hash-password'],
  },
  version: {
    synopsis: ['version'],
    summary: 'print the version and the build commit (also: --version)',
    options: {},
    details: [],
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;

const NAME = 'sagemaker-mlflow-proxy';

export function generalUsage(version: string): string {
  const rows = Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(14)} ${spec.summary}`);
  return [`${NAME} ${version}`, '', `Usage: ${NAME} COMMAND [OPTIONS]`, '', 'Commands:', ...rows, '', `${NAME} COMMAND --help shows a command's options.`].join('\n');
}

export function commandUsage(name: CommandName): string {
  const spec: CommandSpec = COMMANDS[name];
  return [
    ...spec.synopsis.map((line, i) => `${i === 0 ? 'Usage: ' : '       '}${NAME} ${line}`),
    '',
    spec.summary,
    ...(spec.details.length ? ['', ...spec.details.map((line) => `  ${line}`)] : []),
  ].join('\n');
}

export type Parsed =
  | { kind: 'run'; command: CommandName; values: Record<string, string | boolean | undefined>; positionals: string[] }
  /** Print `text` and exit with `code`: help and --version on stdout (0), usage errors on stderr (2). */
  | { kind: 'exit'; code: 0 | 2; text: string };

export function parseCommandLine(argv: readonly string[], version: string, versionLine: string): Parsed {
  const [first, ...rest] = argv;
  if (first === undefined) return usageError(`no command given`, generalUsage(version));
  if (first === '--help' || first === '-h' || first === 'help') {
    const topic = rest[0];
    if (topic !== undefined && isCommand(topic)) return { kind: 'exit', code: 0, text: commandUsage(topic) };
    return { kind: 'exit', code: 0, text: generalUsage(version) };
  }
  if (first === '--version' || first === '-V') return { kind: 'exit', code: 0, text: versionLine };
  if (!isCommand(first)) {
    const hint = closest(first, Object.keys(COMMANDS));
    return usageError(`unknown command "${first}"${hint ? `; did you mean ${hint}?` : ''}`, generalUsage(version));
  }
  const spec: CommandSpec = COMMANDS[first];
  if (rest.includes('--help') || rest.includes('-h')) return { kind: 'exit', code: 0, text: commandUsage(first) };
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...rest], options: spec.options, allowPositionals: true, strict: true });
  } catch (error) {
    return usageError(`${first}: ${parseErrorText(error, spec.options)}`, commandUsage(first));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const problem = argumentProblem(first, values, parsed.positionals);
  if (problem) return usageError(`${first}: ${problem}`, commandUsage(first));
  return { kind: 'run', command: first, values, positionals: parsed.positionals };
}

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

function usageError(message: string, usage: string): Parsed {
  return { kind: 'exit', code: 2, text: `${message}\n\n${usage}` };
}

/** node:util's parseArgs errors in this CLI's words: which option, and the closest known one. */
function parseErrorText(error: unknown, options: Options): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-{1,2}[^' ]+)/.exec(message)?.[1];
  const known = Object.keys(options).map((name) => `--${name}`);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
    const hint = closest(option, known);
    return `unknown option ${option}${hint ? `; did you mean ${hint}?` : known.length ? `; options: ${known.join(', ')}` : '; it takes no options'}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    return options[option.replace(/^-+/, '')]?.type === 'boolean' ? `${option} takes no value` : `${option} needs a value`;
  }
  return message.split('.')[0] ?? message;
}

function argumentProblem(command: CommandName, values: Record<string, string | boolean | undefined>, positionals: string[]): string | undefined {
  if ('rules' in COMMANDS[command].options && typeof values.rules !== 'string') return '--rules FILE is required';
  if (command === 'check' && values.format !== undefined && values.format !== 'text' && values.format !== 'json') {
    return `--format is text or json, not "${values.format}"`;
  }
  if (command === 'explain') {
    if (positionals.length === 0 && values.client === undefined) return 'needs METHOD and URL, or --client ID alone';
    if (positionals.length !== 0 && positionals.length !== 2) return `needs METHOD and URL (got ${positionals.length} argument(s))`;
    if (positionals.length === 0 && values.data !== undefined) return '--data goes with METHOD and URL';
    if (positionals.length === 2) return methodProblem(positionals[0]!, positionals[1]!);
    return undefined;
  }
  if (positionals.length > 0) return `unexpected argument "${positionals[0]}"`;
  return undefined;
}

/**
 * explain's METHOD: an HTTP method, in any case. A URL where the method goes is the arguments
 * swapped (`explain /api/... GET`), said as such; anything else gets the closest method.
 */
function methodProblem(method: string, url: string): string | undefined {
  if (isHttpMethod(method)) return undefined;
  if (isHttpMethod(url) && (method.startsWith('/') || method.includes('://'))) {
    return `METHOD comes before URL; did you mean explain ${url.toUpperCase()} ${method}?`;
  }
  const hint = closest(method, HTTP_METHODS);
  return `"${method}" is not an HTTP method (one of ${HTTP_METHODS.join(', ')})${hint ? `; did you mean ${hint}?` : ''}`;
}
