// A small stand-in for NetworkManager: a real D-Bus service on a test bus that owns
// org.freedesktop.NetworkManager and exposes the one property passimd watches, Metered (u),
// with the standard PropertiesChanged signal when the test changes it.
import dbus from 'dbus-next';
import { connect } from './harness.js';

const { Interface } = dbus.interface;

export const NM_NAME = 'org.freedesktop.NetworkManager';
export const NM_PATH = '/org/freedesktop/NetworkManager';

/** NMMetered values, as NetworkManager defines them. */
export const Metered = Object.freeze({ UNKNOWN: 0, YES: 1, NO: 2, GUESS_YES: 3, GUESS_NO: 4 });

/**
 * Bus policy for the fake: no NetworkManager policy file is installed on the test machine, and the
 * test buses deny owning names by default, like the system bus.
 */
export const NETWORK_MANAGER_POLICY = `<policy user="root">
    <allow own="${NM_NAME}"/>
  </policy>
  <policy context="default">
    <allow send_destination="${NM_NAME}"/>
  </policy>`;

class NetworkManagerInterface extends Interface {
  /** @param {number} metered */
  constructor(metered) {
    super(NM_NAME);
    this.metered = metered;
  }

  get Metered() {
    return this.metered;
  }
}
NetworkManagerInterface.configureMembers({
  properties: { Metered: { signature: 'u', access: 'read' } },
});

/**
 * Starts the fake on `bus` (started with NETWORK_MANAGER_POLICY) with an initial Metered value.
 * Returns { setMetered(value), metered(), stop() }; stop() drops the name, as NetworkManager exiting would.
 * @param {{ address: string }} bus
 * @param {{ metered?: number }} options
 */
export async function startFakeNetworkManager(bus, { metered = Metered.GUESS_NO } = {}) {
  const client = await connect(bus);
  const iface = new NetworkManagerInterface(metered);
  try {
    client.export(NM_PATH, iface);
    // DBUS_NAME_FLAG_DO_NOT_QUEUE: fail at once if the name is taken rather than wait in line.
    const reply = await client.requestName(NM_NAME, 4);
    if (reply !== 1) throw new Error(`could not own ${NM_NAME} (RequestName reply ${reply})`);
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return {
    metered: () => iface.metered,
    /** @param {number} value */
    setMetered(value) {
      if (value === iface.metered) return;
      iface.metered = value;
      Interface.emitPropertiesChanged(iface, { Metered: value }, []);
    },
    stop() {
      client.disconnect();
    },
  };
}
