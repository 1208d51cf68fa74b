// Which peer addresses count as neighbours, against a made-up set of interfaces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressBits, isLoopback, isNeighbour, isOnLink, lanAddresses, localSubnets } from '../../dist/daemon/lan/subnets.js';

/** @type {NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>} */
const interfaces = {
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
  eth0: [
    {
      address: '192.168.10.5',
      netmask: '255.255.255.0',
      family: 'IPv4',
      mac: '02:00:00:00:00:01',
      internal: false,
      cidr: '192.168.10.5/24',
    },
    {
      address: 'fe80::1',
      netmask: 'ffff:ffff:ffff:ffff::',
      family: 'IPv6',
      mac: '02:00:00:00:00:01',
      internal: false,
      cidr: 'fe80::1/64',
      scopeid: 2,
    },
    {
      address: 'fd00:1::5',
      netmask: 'ffff:ffff:ffff:ffff::',
      family: 'IPv6',
      mac: '02:00:00:00:00:01',
      internal: false,
      cidr: 'fd00:1::5/64',
      scopeid: 0,
    },
  ],
};
const subnets = localSubnets(interfaces);

test('addresses become 128-bit numbers, IPv4 mapped into ::ffff:0:0/96', () => {
  assert.equal(addressBits('1.2.3.4'), 0xffff01020304n);
  assert.equal(addressBits('::ffff:1.2.3.4'), 0xffff01020304n);
  assert.equal(addressBits('::1'), 1n);
  assert.equal(addressBits('fe80::1%eth0'), (0xfe80n << 112n) | 1n);
  assert.equal(addressBits('2001:db8::8:800:200c:417a'), 0x20010db80000000000080800200c417an);
  assert.equal(addressBits('not an address'), undefined);
  assert.equal(addressBits('example.com'), undefined);
});

test('loopback in every spelling', () => {
  for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
  for (const a of ['128.0.0.1', '::2', '10.0.0.1']) assert.ok(!isLoopback(a), a);
});

test('a neighbour is on one of our links, and is not us', () => {
  assert.deepEqual(
    subnets.map((s) => s.name),
    ['eth0', 'eth0', 'eth0'],
    'loopback interfaces are left out',
  );
  for (const a of ['192.168.10.1', '192.168.10.254', '::ffff:192.168.10.7', 'fe80::abcd%eth0', 'fd00:1::9']) {
    assert.ok(isNeighbour(a, subnets), a);
  }
  const not = [
    '192.168.10.5',
    'fe80::1', // ourselves
    '127.0.0.1',
    '::1', // loopback
    '192.168.11.1',
    '10.0.0.1',
    '203.0.113.9',
    'fd00:2::1', // behind a router
    '224.0.0.251',
    'ff02::fb',
    '255.255.255.255',
    '0.0.0.0',
    '::', // multicast, broadcast, unspecified
    'peer.local',
    '',
  ];
  for (const a of not) assert.ok(!isNeighbour(a, subnets), a);
});

test('on link: a client that reached us without a router, this machine included', () => {
  for (const a of ['192.168.10.1', '192.168.10.5', '::ffff:192.168.10.7', 'fe80::1', 'fd00:1::9']) assert.ok(isOnLink(a, subnets), a);
  for (const a of ['127.0.0.1', '::1', '192.168.11.1', '203.0.113.9', 'fd00:2::1', '224.0.0.251', '0.0.0.0', '']) {
    assert.ok(!isOnLink(a, subnets), a);
  }
});

test('the LAN addresses to listen on: never loopback, IPv6 only when asked, link-local with its interface', () => {
  assert.deepEqual(lanAddresses(false, interfaces), ['192.168.10.5']);
  assert.deepEqual(lanAddresses(true, interfaces), ['192.168.10.5', 'fd00:1::5', 'fe80::1%eth0']);
  assert.deepEqual(lanAddresses(true, { lo: interfaces.lo }), []);
});
