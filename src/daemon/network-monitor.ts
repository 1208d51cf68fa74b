// SPDX-License-Identifier: LGPL-2.1-or-later
// NetworkManager's Metered property: advertising stops on a connection that costs money per byte.
import { EventEmitter } from 'node:events';
import {
  type Message,
  MessageType,
  PROPERTIES_INTERFACE,
  addMatch,
  callMethod,
  nameOwnerChange,
  watchNameOwner,
  type MessageBus,
} from '../shared/dbus/bus.js';
import type { Logger } from '../shared/log.js';

const NM_NAME = 'org.freedesktop.NetworkManager';
const NM_PATH = '/org/freedesktop/NetworkManager';

/** NMMetered: 1 yes and 3 guess-yes mean the connection costs money per byte. */
const METERED_VALUES = new Set([1, 3]);

export interface NetworkMonitorEvents {
  metered: [boolean];
}

/** Follows NetworkManager's Metered property; without NetworkManager the network counts as not metered. */
export class NetworkMonitor extends EventEmitter<NetworkMonitorEvents> {
  private current = false;
  private readonly onMessage = (msg: Message): void => this.handle(msg);

  constructor(
    private readonly bus: MessageBus,
    private readonly log: Logger,
  ) {
    super();
  }

  get metered(): boolean {
    return this.current;
  }

  async start(): Promise<void> {
    this.bus.on('message', this.onMessage);
    await watchNameOwner(this.bus, NM_NAME);
    await addMatch(
      this.bus,
      `type='signal',sender='${NM_NAME}',path='${NM_PATH}',interface='${PROPERTIES_INTERFACE}',member='PropertiesChanged'`,
    );
    await this.refresh();
  }

  stop(): void {
    this.bus.removeListener('message', this.onMessage);
  }

  private async refresh(): Promise<void> {
    try {
      const [variant] = await callMethod(this.bus, {
        destination: NM_NAME,
        path: NM_PATH,
        interface: PROPERTIES_INTERFACE,
        member: 'Get',
        signature: 'ss',
        body: [NM_NAME, 'Metered'],
      });
      this.set(METERED_VALUES.has(Number((variant as { value: unknown }).value)));
    } catch (err) {
      this.log.debug(`NetworkManager not available, assuming an unmetered network: ${(err as Error).message}`);
      this.set(false);
    }
  }

  private handle(msg: Message): void {
    if (msg.type !== MessageType.SIGNAL) return;
    if (nameOwnerChange(msg, NM_NAME) !== undefined) {
      void this.refresh();
    } else if (
      msg.path === NM_PATH &&
      msg.interface === PROPERTIES_INTERFACE &&
      msg.member === 'PropertiesChanged' &&
      msg.body[0] === NM_NAME
    ) {
      const changed = msg.body[1] as Record<string, { value: unknown }>;
      if (changed.Metered !== undefined) this.set(METERED_VALUES.has(Number(changed.Metered.value)));
    }
  }

  private set(metered: boolean): void {
    if (metered === this.current) return;
    this.current = metered;
    this.log.info(metered ? 'the network is metered: no longer sharing with other machines' : 'the network is not metered: sharing again');
    this.emit('metered', metered);
  }
}
