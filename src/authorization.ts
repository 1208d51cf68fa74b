import { PassimError } from './errors.js';
import type { Logger } from './log.js';
import { connectionUnixUser, type MessageBus } from './bus.js';

/** What a caller wants to do; each maps to one polkit action. */
export type Action = 'publish' | 'unpublish';

export interface Caller {
  /** Unique bus name of the caller, e.g. ":1.42". */
  sender: string;
  /** The call carried ALLOW_INTERACTIVE_AUTHORIZATION: the caller can show a password prompt. */
  interactive: boolean;
}

/** Decides whether a caller may perform an action; throws an access-denied PassimError if not. */
export interface Authorizer {
  authorize(action: Action, caller: Caller): Promise<void>;
}

const VERBS: Record<Action, string> = { publish: 'publish files', unpublish: 'unpublish files' };

/** Allows only callers running as UID 0 (the original daemon's rule). */
export class RootOnlyAuthorizer implements Authorizer {
  constructor(private readonly bus: MessageBus) {}

  async authorize(action: Action, caller: Caller): Promise<void> {
    const uid = await connectionUnixUser(this.bus, caller.sender);
    if (uid !== 0) {
      throw new PassimError('access-denied', `Only root may ${VERBS[action]} (caller runs as UID ${uid})`);
    }
  }
}

/** Allows everything: `passimd --insecure`, for tests only. */
export class InsecureAuthorizer implements Authorizer {
  constructor(private readonly log: Logger) {}

  async authorize(action: Action, caller: Caller): Promise<void> {
    this.log.debug(`--insecure: allowing ${caller.sender} to ${VERBS[action]} without checks`);
  }
}
