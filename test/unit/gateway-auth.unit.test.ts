import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKeyring, presentedKey } from '../../services/gateway/auth.js';
import { producerKey } from '../../services/gateway/config.js';

test('a key authenticates as its producer, with its scope; a wrong, shorter, longer or missing key does not', () => {
  const web = producerKey('web', 'web-key-0123456789');
  const server = producerKey('server', 'srv-key-0123456789', ['recommendation']);
  const keyring = createKeyring([web, server]);
  assert.equal(keyring.authenticate('web-key-0123456789'), web);
  assert.equal(keyring.authenticate('srv-key-0123456789'), server);
  assert.deepEqual([...keyring.authenticate('srv-key-0123456789')!.eventTypes], ['recommendation']);
  for (const wrong of ['web-key-012345678', 'web-key-0123456789x', 'WEB-KEY-0123456789', ' web-key-0123456789', '', undefined]) {
    assert.equal(keyring.authenticate(wrong), undefined, String(wrong));
  }
});

test('the key is read from x-api-key or a bearer authorization header', () => {
  assert.equal(presentedKey({ 'x-api-key': 'k1' }), 'k1');
  assert.equal(presentedKey({ authorization: 'Bearer k2' }), 'k2');
  assert.equal(presentedKey({ authorization: 'Basic abc' }), undefined);
  assert.equal(presentedKey({}), undefined);
});

test('an empty keyring is refused', () => {
  assert.throws(() => createKeyring([]), RangeError);
});
