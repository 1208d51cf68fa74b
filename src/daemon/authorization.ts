// SPDX-License-Identifier: LGPL-2.1-or-later
// Who may publish and unpublish: polkit, the root-only rule when polkit cannot decide, or --insecure.
import { PassimError } from '../shared/errors.js';
import { N_, type Translatable } from '../shared/i18n.js';
import type { Logger } from '../shared/log.js';
import { callMethod, dbusErrorOf, isNobodyAnswered, Variant, type MessageBus } from '../shared/dbus/bus.js';
import type { Callers } from './callers.js';

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

/** Why a call was refused, one whole sentence per action: a verb put into a sentence does not translate. */
const REFUSALS: Record<
  Action,
  {
    notRoot: (uid: number) => Translatable;
    uncheckable: (actionId: string, reason: string) => Translatable;
    needsInteraction: (actionId: string) => Translatable;
    dismissed: (actionId: string) => Translatable;
    notAuthenticated: (actionId: string) => Translatable;
    notAllowed: (actionId: string) => Translatable;
  }
> = {
  publish: {
    // TRANSLATORS: UID is the caller's numeric user ID
    notRoot: (uid) => N_('Only root may publish files (caller runs as UID {uid})', { uid }),
    // TRANSLATORS: {action} is a polkit action ID, {reason} polkit's error message
    uncheckable: (action, reason) => N_('Cannot publish files: polkit could not check {action}: {reason}', { action, reason }),
    needsInteraction: (action) =>
      // TRANSLATORS: {action} is a polkit action ID; the program did not let polkit ask for a password
      N_('Authentication is required to publish files ({action}), but the call did not allow interactive authorization', { action }),
    dismissed: (action) => N_('Not authorized to publish files: the authentication request for {action} was dismissed', { action }),
    notAuthenticated: (action) =>
      N_(
        'Not authorized to publish files: {action} needs authentication, which did not succeed (no polkit authentication agent, or a wrong password)',
        { action },
      ),
    notAllowed: (action) => N_('Not authorized to publish files: an administrator must allow {action}', { action }),
  },
  unpublish: {
    // TRANSLATORS: UID is the caller's numeric user ID
    notRoot: (uid) => N_('Only root may unpublish files (caller runs as UID {uid})', { uid }),
    // TRANSLATORS: {action} is a polkit action ID, {reason} polkit's error message
    uncheckable: (action, reason) => N_('Cannot unpublish files: polkit could not check {action}: {reason}', { action, reason }),
    needsInteraction: (action) =>
      // TRANSLATORS: {action} is a polkit action ID; the program did not let polkit ask for a password
      N_('Authentication is required to unpublish files ({action}), but the call did not allow interactive authorization', { action }),
    dismissed: (action) => N_('Not authorized to unpublish files: the authentication request for {action} was dismissed', { action }),
    notAuthenticated: (action) =>
      N_(
        'Not authorized to unpublish files: {action} needs authentication, which did not succeed (no polkit authentication agent, or a wrong password)',
        { action },
      ),
    notAllowed: (action) => N_('Not authorized to unpublish files: an administrator must allow {action}', { action }),
  },
};

/** Allows only callers running as UID 0 (the original daemon's rule). */
export class RootOnlyAuthorizer implements Authorizer {
  constructor(private readonly callers: Callers) {}

  async authorize(action: Action, caller: Caller): Promise<void> {
    const uid = await this.callers.uid(caller.sender);
    if (uid !== 0) {
      throw new PassimError('access-denied', REFUSALS[action].notRoot(uid));
    }
  }
}

const POLKIT_NAME = 'org.freedesktop.PolicyKit1';
const POLKIT_PATH = '/org/freedesktop/PolicyKit1/Authority';
const POLKIT_INTERFACE = 'org.freedesktop.PolicyKit1.Authority';
/** CheckAuthorizationFlags.AllowUserInteraction */
const ALLOW_USER_INTERACTION = 1;

/** The polkit action id for each action; also named in polkit/org.freedesktop.passim.policy. */
export const POLKIT_ACTIONS: Record<Action, string> = {
  publish: 'org.freedesktop.passim.publish',
  unpublish: 'org.freedesktop.passim.unpublish',
};

/** The reply of CheckAuthorization: (bba{ss}). */
interface AuthorizationResult {
  isAuthorized: boolean;
  isChallenge: boolean;
  details: Record<string, string>;
}

function parseResult(body: unknown[]): AuthorizationResult {
  const [result] = body;
  if (!Array.isArray(result) || typeof result[0] !== 'boolean' || typeof result[1] !== 'boolean') {
    throw new PassimError('internal', 'polkit sent an unexpected reply to CheckAuthorization');
  }
  const details = typeof result[2] === 'object' && result[2] !== null ? (result[2] as Record<string, string>) : {};
  return { isAuthorized: result[0], isChallenge: result[1], details };
}

/**
 * Asks polkitd (CheckAuthorization for the caller's bus name) so administrators can delegate with rules
 * and desktops can prompt. polkitd authorizes UID 0 for anything without looking at rules, so root is
 * allowed without the round trip. While polkitd is not on the bus it falls back to the UID 0 rule, and
 * returns to polkit as soon as it answers again: every call asks anew.
 */
export class PolkitAuthorizer implements Authorizer {
  private readonly fallback: RootOnlyAuthorizer;
  /** Whether the last call reached polkitd; undefined before the first call. */
  private reachable: boolean | undefined;
  /** Whether polkitd knew our actions at the last failed check; logged when that changes. */
  private actionsKnown = true;

  constructor(
    private readonly bus: MessageBus,
    private readonly callers: Callers,
    private readonly log: Logger,
  ) {
    this.fallback = new RootOnlyAuthorizer(callers);
  }

  async authorize(action: Action, caller: Caller): Promise<void> {
    // A caller the bus cannot tell about (gone already) is left to polkitd to decide.
    const uid = await this.callers.uid(caller.sender).catch(() => undefined);
    if (uid === 0) return;
    const actionId = POLKIT_ACTIONS[action];
    let result: AuthorizationResult;
    try {
      // No timeout: with user interaction, polkit answers only once the person has typed a password.
      result = parseResult(
        await callMethod(this.bus, {
          destination: POLKIT_NAME,
          path: POLKIT_PATH,
          interface: POLKIT_INTERFACE,
          member: 'CheckAuthorization',
          signature: '(sa{sv})sa{ss}us',
          body: [
            ['system-bus-name', { name: new Variant('s', caller.sender) }],
            actionId,
            {},
            caller.interactive ? ALLOW_USER_INTERACTION : 0,
            '',
          ],
        }),
      );
    } catch (err) {
      const dbusError = dbusErrorOf(err);
      if (dbusError && isNobodyAnswered(dbusError.name)) {
        if (this.reachable !== false) {
          this.log.warn(
            `polkit is not available (${dbusError.text || dbusError.name}): only root may publish and unpublish until it is back`,
          );
          this.reachable = false;
        }
        return this.fallback.authorize(action, caller);
      }
      if (err instanceof PassimError) throw err;
      // A daemon run from a checkout, or a policy not installed yet: polkitd cannot decide about an action
      // it does not know, which is the same as polkitd being absent.
      if (dbusError && !(await this.actionRegistered(actionId))) {
        if (this.actionsKnown) {
          this.log.warn(
            `polkit does not know ${actionId} (is org.freedesktop.passim.policy installed?): only root may publish and unpublish until it does`,
          );
          this.actionsKnown = false;
        }
        return this.fallback.authorize(action, caller);
      }
      this.actionsKnown = true;
      // polkitd answered but could not decide: refuse rather than guess.
      const reason = dbusError ? dbusError.text || dbusError.name : String(err);
      this.log.warn(`polkit failed to check ${actionId} for ${caller.sender}: ${reason}`);
      throw new PassimError('access-denied', REFUSALS[action].uncheckable(actionId, reason), { cause: err });
    }
    if (this.reachable === false) this.log.info('polkit is available again: using it for authorization');
    this.reachable = true;

    if (result.isAuthorized) return;
    if (result.isChallenge && !caller.interactive) {
      throw new PassimError('interactive-authorization-required', REFUSALS[action].needsInteraction(actionId));
    }
    if (result.details['polkit.dismissed']) {
      throw new PassimError('access-denied', REFUSALS[action].dismissed(actionId));
    }
    if (result.isChallenge) {
      throw new PassimError('access-denied', REFUSALS[action].notAuthenticated(actionId));
    }
    throw new PassimError('access-denied', REFUSALS[action].notAllowed(actionId));
  }

  /** Whether polkitd has the action registered (EnumerateActions is open to every caller); false if it cannot say. */
  private async actionRegistered(actionId: string): Promise<boolean> {
    try {
      const [actions] = await callMethod(this.bus, {
        destination: POLKIT_NAME,
        path: POLKIT_PATH,
        interface: POLKIT_INTERFACE,
        member: 'EnumerateActions',
        signature: 's',
        body: [''],
      });
      return Array.isArray(actions) && actions.some((entry) => Array.isArray(entry) && entry[0] === actionId);
    } catch {
      return false;
    }
  }
}

/** Allows everything: `passimd --insecure`, for tests only. */
export class InsecureAuthorizer implements Authorizer {
  constructor(private readonly log: Logger) {}

  async authorize(action: Action, caller: Caller): Promise<void> {
    this.log.debug(`--insecure: allowing ${caller.sender} to ${action} without checks`);
  }
}
