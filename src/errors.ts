/**
 * Every error a client can see. Each kind maps to exactly one D-Bus error name
 * and one HTTP status, decided here and nowhere else.
 */
export type ErrorKind =
  | 'invalid-argument'
  | 'access-denied'
  | 'interactive-authorization-required'
  | 'not-found'
  | 'exists'
  | 'too-large'
  | 'bad-request'
  | 'forbidden'
  | 'not-acceptable'
  | 'locked'
  | 'method-not-allowed'
  | 'range-not-satisfiable'
  | 'internal';

interface Mapping {
  dbus: string;
  http: number;
}

const MAPPINGS: Record<ErrorKind, Mapping> = {
  'invalid-argument': { dbus: 'org.freedesktop.DBus.Error.InvalidArgs', http: 400 },
  'access-denied': { dbus: 'org.freedesktop.DBus.Error.AccessDenied', http: 403 },
  'interactive-authorization-required': {
    dbus: 'org.freedesktop.DBus.Error.InteractiveAuthorizationRequired',
    http: 403,
  },
  'not-found': { dbus: 'org.freedesktop.Passim.Error.NotFound', http: 404 },
  exists: { dbus: 'org.freedesktop.Passim.Error.Exists', http: 409 },
  'too-large': { dbus: 'org.freedesktop.Passim.Error.TooLarge', http: 413 },
  'bad-request': { dbus: 'org.freedesktop.DBus.Error.InvalidArgs', http: 400 },
  forbidden: { dbus: 'org.freedesktop.DBus.Error.AccessDenied', http: 403 },
  'not-acceptable': { dbus: 'org.freedesktop.DBus.Error.InvalidArgs', http: 406 },
  locked: { dbus: 'org.freedesktop.Passim.Error.Disabled', http: 423 },
  'method-not-allowed': { dbus: 'org.freedesktop.DBus.Error.NotSupported', http: 405 },
  'range-not-satisfiable': { dbus: 'org.freedesktop.DBus.Error.InvalidArgs', http: 416 },
  internal: { dbus: 'org.freedesktop.DBus.Error.Failed', http: 500 },
};

export class PassimError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PassimError';
    this.kind = kind;
  }

  get dbusName(): string {
    return MAPPINGS[this.kind].dbus;
  }

  get httpStatus(): number {
    return MAPPINGS[this.kind].http;
  }
}

/** Wraps anything thrown into a PassimError; unknown failures become 'internal'. */
export function toPassimError(err: unknown): PassimError {
  if (err instanceof PassimError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PassimError('internal', message, { cause: err });
}

/** The errno code of a Node.js system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
