// SPDX-License-Identifier: LGPL-2.1-or-later
// passimd: command line, wiring of the parts, signals and shutdown.
import { randomInt } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Status } from '../shared/api.js';
import { parseCommandLine, UsageError, type ProgramSpec } from '../shared/args.js';
import { connectSystemBus } from '../shared/dbus/bus.js';
import { _ } from '../shared/i18n.js';
import { createLogger, type Logger } from '../shared/log.js';
import { settleWhen, settleWithin } from '../shared/timeout.js';
import { VERSION } from '../shared/version.js';
import { InsecureAuthorizer, PolkitAuthorizer } from './authorization.js';
import { Callers } from './callers.js';
import { loadConfig, pathsFromEnv } from './config.js';
import { PassimService } from './dbus-service.js';
import { FileServer } from './http/server.js';
import { IdleTimer } from './idle-timer.js';
import { MemoryRelease } from './memory-release.js';
import { Advertiser } from './lan/advertiser.js';
import { Avahi } from './lan/avahi.js';
import { AvahiDiscovery } from './lan/discovery.js';
import { SharedSummary } from './lan/shared-summary.js';
import { Sharing } from './lan/sharing.js';
import { isNeighbour } from './lan/subnets.js';
import { LanExposure } from './lan-exposure.js';
import { NetworkMonitor } from './network-monitor.js';
import { takeListenDescriptors } from './socket-activation.js';
import { StaticDirs } from './store/static-dirs.js';
import { Store } from './store/store.js';
import { loadOrCreateCredentials } from './tls.js';
import { CHART_DAYS, type SharingState } from './http/status-page.js';
import { TrafficLedger } from './traffic-ledger.js';
import { TransferReports } from './transfer-reports.js';

const PROGRAM: ProgramSpec = {
  program: 'passimd',
  summary: _('Shares published files with other machines on the LAN over HTTPS.'),
  options: [
    { name: 'version', description: _('Print the version and exit') },
    { name: 'timed-exit', description: _('Quit after 10 seconds (for tests)') },
    { name: 'insecure', description: _('Skip the privilege checks on Publish and Unpublish (for tests only)') },
    { name: 'verbose', short: 'v', description: _('Print debugging messages') },
  ],
  // TRANSLATORS: the last line of passimd --help; passimd(8) is the manual page, keep it as it is
  epilogue: _('See passimd(8).'),
};

const TIMED_EXIT_MS = 10 * 1000;
const WITHDRAW_TIMEOUT_MS = 2000;
/** systemd's default stop timeout is 90 s; whatever is in flight, we are gone well before. */
const SHUTDOWN_DEADLINE_MS = 5000;
/** Our methods' arguments are a few hundred bytes; parsing a big body would stall every client (see bus.ts). */
const MAX_INCOMING_BODY_BYTES = 1024 * 1024;
/** An idle exit lets the requests and calls that came in just before it finish, for at most this long. */
const IDLE_DRAIN_MS = 4000;

function parseOptions(): { timedExit: boolean; insecure: boolean; verbose: boolean } {
  try {
    const parsed = parseCommandLine(PROGRAM, process.argv.slice(2));
    if ('help' in parsed) {
      process.stdout.write(parsed.help);
      process.exit(0);
    }
    const { flags } = parsed;
    if (flags.version) {
      process.stdout.write(`${VERSION}\n`);
      process.exit(0);
    }
    return { timedExit: flags['timed-exit'] ?? false, insecure: flags.insecure ?? false, verbose: flags.verbose ?? false };
  } catch (err) {
    process.stderr.write(`passimd: ${(err as Error).message}\n\n${err instanceof UsageError ? err.usage : ''}`);
    process.exit(1);
  }
}

/** The instance name advertised on the LAN: "Passim-" and four upper-case hex digits. */
function randomInstanceName(): string {
  return `Passim-${randomInt(0x10000).toString(16).toUpperCase().padStart(4, '0')}`;
}

// `ps`, `pidof passimd` and `systemctl status` show this instead of "node".
process.title = 'passimd';

async function main(): Promise<void> {
  const args = parseOptions();
  const inheritedSockets = takeListenDescriptors();
  const log: Logger = createLogger({ verbose: args.verbose, prefix: 'passimd' });
  const paths = pathsFromEnv();
  const config = await loadConfig(paths, log);
  if (args.insecure) {
    log.warn('RUNNING WITH --insecure: ANY LOCAL USER MAY PUBLISH AND UNPUBLISH FILES. NEVER USE THIS OUTSIDE TESTS.');
  }

  const store = await Store.open({
    dataDir: config.dataDir,
    maxItemSize: config.maxItemSize,
    maxStorageSize: config.maxStorageSize,
    auditLogPath: paths.auditLog,
    snapshotPath: join(paths.stateDir, 'index.bin'),
    log,
  });
  const statics = new StaticDirs({ confDir: paths.staticConfDir, store, log });
  await statics.start();
  const credentials = await loadOrCreateCredentials(paths.secretKey, paths.certificate, log);
  let onBusGone = (reason: string): void => {
    log.error(`lost the system bus: ${reason}`);
    process.exit(1);
  };
  const bus = await connectSystemBus({
    passDescriptors: true,
    maxBodyBytes: MAX_INCOMING_BODY_BYTES,
    log,
    onDisconnect: (reason) => onBusGone(reason),
  });

  const avahi = new Avahi(bus, log);
  const discovery = new AvahiDiscovery({ avahi, ipv6: config.ipv6, log, isNeighbour: (address) => isNeighbour(address) });
  const summary = new SharedSummary();
  // Next to the audit log: both say what this machine did, and both outlive the store.
  const traffic = await TrafficLedger.open(join(dirname(paths.auditLog), 'traffic.json'), log);
  const reports = new TransferReports();
  // Set once the rest is wired; until then the page says the daemon is starting.
  let sharingState = (): SharingState => ({ lan: false, reason: 'starting' });
  let idle: IdleTimer | undefined;
  let memory: MemoryRelease | undefined;
  const activity = (): void => {
    idle?.poke();
    memory?.poke();
  };
  const server = new FileServer({
    config,
    store,
    discovery,
    summary,
    credentials,
    log,
    webDir: paths.webDir,
    inheritedSockets,
    onActivity: activity,
    traffic: {
      served: (bytes, loopback) => traffic.add(loopback ? 'servedLocally' : 'servedToNeighbours', bytes),
      lookedUp: (hash, outcome) => reports.noteLookup(hash, outcome),
    },
    overview: () => ({
      days: traffic.lastDays(CHART_DAYS),
      neighbours: discovery.summaries.snapshot(),
      sharing: sharingState(),
      limits: config,
    }),
  });
  await server.start();
  const advertiser = new Advertiser({ avahi, port: server.port, ipv6: config.ipv6, name: randomInstanceName(), log });
  const network = new NetworkMonitor(bus, log);
  const callers = new Callers(bus);
  const service = new PassimService({
    bus,
    store,
    authorizer: args.insecure ? new InsecureAuthorizer(log) : new PolkitAuthorizer(bus, callers, log),
    callers,
    log,
    version: VERSION,
    uri: `https://localhost:${server.port}/`,
    name: advertiser.name,
    carbonCost: config.carbonCost,
    limits: config,
    onActivity: activity,
    traffic,
    reports,
    neighbours: () => discovery.summaries.snapshot(),
  });
  const exposure = new LanExposure({ listen: (addresses) => server.setLanAddresses(addresses), ipv6: config.ipv6, log });
  advertiser.on('sharing', (sharing) => void exposure.setSharing(sharing));

  const currentStatus = (): Status => {
    if (config.neverShare) return Status.NEVER_SHARE;
    return network.metered ? Status.DISABLED_METERED : Status.RUNNING;
  };
  // Nothing is shared while the network is metered or the owner never shares.
  const sharing = new Sharing({ store, summary, advertiser });
  sharingState = () => {
    if (config.neverShare) return { lan: false, reason: 'never-share' };
    if (network.metered) return { lan: false, reason: 'metered' };
    if (advertiser.sharing) return { lan: true, items: store.size };
    if (!avahi.available) return { lan: false, reason: 'avahi-absent' };
    return { lan: false, reason: store.size === 0 ? 'nothing-published' : 'starting' };
  };
  const advertise = (): void => sharing.setEnabled(currentStatus() === Status.RUNNING);
  store.on('changed', () => activity());
  network.on('metered', () => {
    service.setStatus(currentStatus());
    advertise();
  });
  advertiser.on('name', (name) => service.setName(name));

  /** No connection open and no call being answered. */
  const nothingUnderWay = (): boolean => server.connectionCount === 0 && service.callsInFlight === 0;

  let stopping = false;
  let goingIdle = false;
  const shutdown = async (reason: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    idle?.stop();
    memory?.stop();
    exposure.stop();
    if (code === 0) log.info(`shutting down: ${reason}`);
    else log.error(`shutting down: ${reason}`);
    setTimeout(() => {
      log.error(`shutdown took longer than ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway`);
      process.exit(code);
    }, SHUTDOWN_DEADLINE_MS).unref();
    statics.stop();
    sharing.stop();
    service.stop();
    service.abortPublishes('the daemon is shutting down');
    network.stop();
    // Withdraw from the LAN first, but never wait long: Avahi or the bus may be going down with us.
    await settleWithin(Promise.all([advertiser.stop(), discovery.stop()]), WITHDRAW_TIMEOUT_MS);
    avahi.stop();
    await server.stop();
    await traffic.flush();
    await store.close();
    bus.disconnect();
    process.exit(code);
  };
  /**
   * Nothing is published and nothing went on for IdleTimeout: give up the bus name (a call from then on
   * starts a new passimd) and the listening sockets (systemd keeps them: connections from then on wait for
   * the new passimd), answer what came in before, and exit.
   */
  const exitIdle = async (): Promise<void> => {
    goingIdle = true;
    log.info(`nothing published and nothing asked for ${config.idleTimeout} s: exiting until the next request or call`);
    await service.releaseName();
    server.stopAccepting();
    await settleWhen(nothingUnderWay, IDLE_DRAIN_MS);
    // A publish that reached us just before the name went is on disk: the next passimd shares it.
    if (store.size > 0) log.info('a file was published while exiting; the next start shares it');
    goingIdle = false;
    await shutdown('idle', 0);
  };
  // systemd stops a Type=dbus service whose name goes away: an idle exit under way finishes on its own.
  const onSignal = (signal: string): void => {
    if (!goingIdle) void shutdown(signal, 0);
  };
  // Handlers go in before the bus name is taken: from then on a client (or systemd) may stop us.
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  onBusGone = (busReason) => void shutdown(`lost the system bus: ${busReason}`, 1);
  if (args.timedExit) setTimeout(() => void shutdown('--timed-exit', 0), TIMED_EXIT_MS).unref();

  await network.start();
  await avahi.start();
  service.setStatus(currentStatus());
  // Owning the name is the readiness signal (systemd Type=dbus): everything is in place by now.
  await service.start();
  advertise();
  if (config.neverShare) log.info('NeverShare=true: using neighbours, never sharing; nothing listens on the LAN');
  // gc is there when node runs with --expose-gc, as the installed launcher runs it (data/passimd.options).
  memory = new MemoryRelease({
    isQuiet: nothingUnderWay,
    collect: globalThis.gc,
    log,
  });
  // Only systemd's sockets can start us again for a web client; without them passimd stays up.
  if (inheritedSockets.length > 0 && config.idleTimeout > 0) {
    idle = new IdleTimer({
      timeoutMs: config.idleTimeout * 1000,
      isIdle: () => store.size === 0 && !statics.configured && nothingUnderWay(),
      onIdle: () => void exitIdle(),
    });
  }
  if (store.isLoading) {
    log.info(`serving ${config.dataDir} on localhost port ${server.port}; its items are still being checked`);
    store.loaded.then(
      () => log.info(`serving all ${store.size} items from ${config.dataDir}`),
      (err: unknown) => log.warn(`loading ${config.dataDir} stopped: ${(err as Error).message}`),
    );
  } else {
    log.info(`serving ${store.size} items from ${config.dataDir} on localhost port ${server.port}`);
  }
}

main().catch((err: unknown) => {
  // Through the logger, so that the journal files it at priority err.
  createLogger({ verbose: false, prefix: 'passimd' }).error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
