// SPDX-License-Identifier: LGPL-2.1-or-later
// Typed errors: each kind's D-Bus error name and HTTP status, decided here and nowhere else.
import type { Translatable, Translator } from './i18n.js';

export type ErrorKind =
  | 'invalid-argument'
  | 'access-denied'
  | 'interactive-authorization-required'
  | 'not-found'
  | 'exists'
  | 'too-large'
  | 'limits-exceeded'
  | 'bad-request'
  | 'forbidden'
  | 'not-acceptable'
  | 'locked'
  | 'method-not-allowed'
  | 'range-not-satisfiable'
  | 'unavailable'
  | 'no-space'
  | 'internal';

/**
 * GIOErrorEnum codes the original daemon replies with. GDBus sends an unregistered GError as
 * org.gtk.GDBus.UnmappedGError.Quark.<escaped quark>.Code<n> and turns that name back into the same
 * domain and code on the client, which is how fwupd recognises G_IO_ERROR_EXISTS on a republish.
 */
export const GIoErrorCode = {
  NOT_FOUND: 1,
  EXISTS: 2,
  NO_SPACE: 12,
  PERMISSION_DENIED: 14,
  INVALID_DATA: 35,
} as const;

/** The D-Bus error name GDBus gives a G_IO_ERROR with this code (g_dbus_error_encode_gerror). */
export function gioErrorName(code: number): string {
  // The quark "g-io-error-quark" with every non-alphanumeric byte escaped as _<two hex digits>.
  const quark = 'g-io-error-quark'.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `org.gtk.GDBus.UnmappedGError.Quark._${quark}.Code${code}`;
}

interface Mapping {
  dbus: string;
  http: number;
}

const DBUS_ERROR = 'org.freedesktop.DBus.Error';

const MAPPINGS: Record<ErrorKind, Mapping> = {
  'invalid-argument': { dbus: `${DBUS_ERROR}.InvalidArgs`, http: 400 },
  'access-denied': { dbus: gioErrorName(GIoErrorCode.PERMISSION_DENIED), http: 403 },
  'interactive-authorization-required': { dbus: `${DBUS_ERROR}.InteractiveAuthorizationRequired`, http: 403 },
  'not-found': { dbus: gioErrorName(GIoErrorCode.NOT_FOUND), http: 404 },
  exists: { dbus: gioErrorName(GIoErrorCode.EXISTS), http: 409 },
  'too-large': { dbus: gioErrorName(GIoErrorCode.INVALID_DATA), http: 413 },
  'limits-exceeded': { dbus: `${DBUS_ERROR}.LimitsExceeded`, http: 413 },
  'bad-request': { dbus: `${DBUS_ERROR}.InvalidArgs`, http: 400 },
  forbidden: { dbus: gioErrorName(GIoErrorCode.PERMISSION_DENIED), http: 403 },
  'not-acceptable': { dbus: `${DBUS_ERROR}.InvalidArgs`, http: 406 },
  'method-not-allowed': { dbus: `${DBUS_ERROR}.NotSupported`, http: 405 },
  'range-not-satisfiable': { dbus: `${DBUS_ERROR}.InvalidArgs`, http: 416 },
  unavailable: { dbus: `${DBUS_ERROR}.LimitsExceeded`, http: 503 },
  'no-space': { dbus: gioErrorName(GIoErrorCode.NO_SPACE), http: 507 },
  internal: { dbus: `${DBUS_ERROR}.Failed`, http: 500 },
  // HTTP only; after `internal`, so that a client reads Failed as internal (errorKindOfDBusName takes the first).
  locked: { dbus: `${DBUS_ERROR}.Failed`, http: 423 },
};

/** For clients: the kind a D-Bus error name stands for (the first kind in the table that uses the name). */
export function errorKindOfDBusName(name: string): ErrorKind | undefined {
  for (const [kind, mapping] of Object.entries(MAPPINGS) as [ErrorKind, Mapping][]) {
    if (mapping.dbus === name) return kind;
  }
  return undefined;
}

export class PassimError extends Error {
  readonly kind: ErrorKind;
  /** The message to translate for whoever reads it; `message` is its English text (logs, D-Bus). */
  readonly text: Translatable | undefined;

  constructor(kind: ErrorKind, message: string | Translatable, options?: { cause?: unknown }) {
    super(String(message), options);
    this.name = 'PassimError';
    this.kind = kind;
    this.text = typeof message === 'string' ? undefined : message;
  }

  /** The message in the translator's language: translated if it is ours, recognised if another process wrote it. */
  localized(translator: Translator): string {
    return this.text ? translator.translate(this.text) : translator.fromEnglish(this.message);
  }

  get dbusName(): string {
    return MAPPINGS[this.kind].dbus;
  }

  get httpStatus(): number {
    return MAPPINGS[this.kind].http;
  }
}

/** What went wrong, to put into another message: a PassimError's translatable text, else the error's message. */
export function reasonOf(err: unknown): Translatable | string {
  if (err instanceof PassimError) return err.text ?? err.message;
  return err instanceof Error ? err.message : String(err);
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
