// The advertiser's pure parts: DNS-SD names and wire format, and which entry groups to register.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dnsName, SERVICE_TYPE, subtypeOf } from '../../dist/daemon/lan/dns-sd.js';
import { planGroups, SUBTYPES_PER_GROUP } from '../../dist/daemon/lan/group-plan.js';

/** @param {number} n */
const hash = (n) => n.toString(16).padStart(64, '0');
/** @param {number} from @param {number} count */
const hashes = (from, count) => Array.from({ length: count }, (_, i) => hash(from + i));

test('a subtype is the first 60 hex digits of the hash: a DNS label holds 63 bytes', () => {
  const h = 'ab'.repeat(32);
  assert.equal(subtypeOf(h), `_${h.slice(0, 60)}._sub._cache._tcp`);
  assert.equal(SERVICE_TYPE, '_cache._tcp');
  assert.ok(`_${h.slice(0, 60)}`.length <= 63);
});

test('names in DNS wire format: length-prefixed labels and a root byte', () => {
  assert.deepEqual(
    dnsName(['Passim-1A2B', '_cache', '_tcp', 'local']),
    Buffer.from('\x0bPassim-1A2B\x06_cache\x04_tcp\x05local\x00', 'latin1'),
  );
  assert.deepEqual(dnsName(['a', '', 'b']), Buffer.from('\x01a\x01b\x00', 'latin1'), 'empty labels (a trailing dot) are dropped');
  assert.deepEqual(dnsName(['é']), Buffer.from([2, 0xc3, 0xa9, 0]), 'lengths count UTF-8 bytes');
  assert.throws(() => dnsName(['x'.repeat(64)]), /longer than 63 bytes/);
});

test('new items fill groups of 31, the most Avahi allows beside the service', () => {
  assert.equal(SUBTYPES_PER_GROUP, 31);
  const plans = planGroups([], new Set(hashes(0, 70)));
  assert.deepEqual(
    plans.map((p) => [p.replaces, p.hashes.length]),
    [
      [null, 31],
      [null, 31],
      [null, 8],
    ],
  );
  assert.deepEqual(new Set(plans.flatMap((p) => p.hashes)), new Set(hashes(0, 70)));
  assert.deepEqual(planGroups([], new Set()), []);
});

test('nothing changes when the groups hold exactly what is wanted', () => {
  const groups = [{ hashes: new Set(hashes(0, 31)) }, { hashes: new Set(hashes(31, 5)) }];
  assert.deepEqual(planGroups(groups, new Set(hashes(0, 36))), []);
});

test('a group that lost items is rebuilt with what it keeps plus new items; full unchanged groups stay', () => {
  const full = { hashes: new Set(hashes(0, 31)) };
  const losing = { hashes: new Set(hashes(31, 31)) };
  const desired = new Set([...hashes(0, 31), ...hashes(31, 30), ...hashes(100, 3)]); // hash(61) gone, three new
  const plans = planGroups([full, losing], desired);
  assert.equal(plans.length, 2);
  const [rebuilt, extra] = plans;
  assert.ok(rebuilt && extra);
  assert.equal(rebuilt.replaces, losing, 'make before break: the old group is named, to be freed once the new one is up');
  assert.deepEqual(rebuilt.hashes, [...hashes(31, 30), hash(100)]);
  assert.equal(extra.replaces, null);
  assert.deepEqual(extra.hashes, hashes(101, 2));
  assert.ok(!plans.some((p) => p.replaces === full));
});

test('new items top up one partly full group before new groups are made', () => {
  const partial = { hashes: new Set(hashes(0, 10)) };
  const plans = planGroups([partial], new Set([...hashes(0, 10), ...hashes(50, 25)]));
  assert.equal(plans[0]?.replaces, partial);
  assert.equal(plans[0]?.hashes.length, 31);
  assert.deepEqual(
    plans.slice(1).map((p) => [p.replaces, p.hashes.length]),
    [[null, 4]],
  );
});

test('a group whose items are all gone is replaced by an empty plan (withdrawn)', () => {
  const gone = { hashes: new Set(hashes(0, 3)) };
  assert.deepEqual(planGroups([gone], new Set()), [{ replaces: gone, hashes: [] }]);
});
