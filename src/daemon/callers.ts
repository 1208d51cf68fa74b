// SPDX-License-Identifier: LGPL-2.1-or-later
// Who is calling: the Unix user and process behind a bus connection, asked of the bus once per connection.
import { connectionCredentials, type ConnectionCredentials, type MessageBus } from '../shared/dbus/bus.js';

/** Connections remembered; a client that publishes many files keeps one, and a name left behind is never reused. */
const REMEMBERED = 256;

/**
 * The credentials of callers by unique bus name. A unique name is never given to another connection while
 * the bus runs, and a connection's user and process are fixed when it connects: what the bus said once stays
 * true, so each caller costs one round trip to the bus, not one per call.
 */
export class Callers {
  private readonly known = new Map<string, Promise<ConnectionCredentials>>();

  constructor(private readonly bus: MessageBus) {}

  credentials(sender: string): Promise<ConnectionCredentials> {
    const remembered = this.known.get(sender);
    if (remembered) {
      // Most recently used last: the oldest is forgotten first.
      this.known.delete(sender);
      this.known.set(sender, remembered);
      return remembered;
    }
    const asked = connectionCredentials(this.bus, sender);
    this.known.set(sender, asked);
    asked.catch(() => {
      if (this.known.get(sender) === asked) this.known.delete(sender);
    });
    if (this.known.size > REMEMBERED) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    return asked;
  }

  async uid(sender: string): Promise<number> {
    return (await this.credentials(sender)).uid;
  }
}
