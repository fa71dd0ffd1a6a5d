// Rotates an API key at a key-management HTTP API (built with componentize-js).
//
// The secret is a JSON object:
//
//     {"endpoint": "http://keys.internal:8080", "key_id": "app-1", "api_key": "…"}
//
// and the API has three calls, each authenticated with `Authorization: Bearer <api_key>` of a
// key that is not revoked:
//
//     PUT    /keys/{id}  {"secret": "…"}  registers a key (201, or 200 when it already exists
//                                         with this secret; 409 with another)
//     GET    /whoami                      200 {"key_id": …} for a valid key, 401 otherwise
//     DELETE /keys/{id}                   revokes a key (204; 404 when unknown)
//
// createSecret draws the new key here, setSecret registers it with the current key, testSecret
// authenticates with it, and the finish hook revokes the key that is now AWSPREVIOUS. HTTP goes
// through `fetch`, which the runtime implements over the host's wasi:http/outgoing-handler.

import { log } from 'secrets-gateway:rotation/log@0.1.0';
import { generate } from 'secrets-gateway:rotation/password@0.1.0';

const KEY_LENGTH = 40;

// A failed step: componentize-js turns a thrown `{ tag, val }` into the step-error variant.
const retryable = (message) => ({ tag: 'retryable', val: message });
const fatal = (message) => ({ tag: 'fatal', val: message });

export const steps = {
  createSecret(context) {
    const current = key(context.current, 'AWSCURRENT');
    let apiKey;
    try {
      apiKey = generate({
        length: KEY_LENGTH,
        excludeCharacters: '',
        excludeNumbers: false,
        excludePunctuation: true,
        excludeUppercase: false,
        excludeLowercase: false,
        includeSpace: false,
        requireEachIncludedType: true,
      });
    } catch (err) {
      throw fatal(`the password generator refused: ${err.payload ?? err}`);
    }
    // The token names the rotation, so a retried createSecret registers the same key id.
    return JSON.stringify({ ...current, key_id: `rotated-${context.token}`, api_key: apiKey });
  },

  async setSecret(context) {
    const current = key(context.current, 'AWSCURRENT');
    const pending = key(context.pending, 'AWSPENDING');
    const response = await call('PUT', `${current.endpoint}/keys/${pending.key_id}`, {
      bearer: current.api_key,
      body: { secret: pending.api_key },
    });
    if (response.status === 200 || response.status === 201) {
      log('info', `registered key ${pending.key_id}`);
      return;
    }
    if (response.status === 401) throw fatal('the API refused the current key');
    if (response.status === 409) {
      throw fatal(`key id ${pending.key_id} exists with another secret`);
    }
    throw unexpected('registering the new key', response);
  },

  async testSecret(context) {
    const pending = key(context.pending, 'AWSPENDING');
    const response = await call('GET', `${pending.endpoint}/whoami`, { bearer: pending.api_key });
    if (response.status === 401) throw retryable('the API does not accept the new key yet');
    if (response.status !== 200) throw unexpected('authenticating with the new key', response);
    const { key_id: keyId } = await response.json();
    if (keyId !== pending.key_id) throw fatal('the new key authenticates as another key id');
  },

  async finishSecret(context) {
    if (context.previous === undefined) return;
    const current = key(context.current, 'AWSCURRENT');
    const previous = key(context.previous, 'AWSPREVIOUS');
    if (previous.key_id === current.key_id) return;
    const response = await call('DELETE', `${current.endpoint}/keys/${previous.key_id}`, {
      bearer: current.api_key,
    });
    if (response.status === 204 || response.status === 404) {
      log('info', `revoked key ${previous.key_id}`);
      return;
    }
    throw unexpected('revoking the previous key', response);
  },
};

function key(version, stage) {
  if (version === undefined) throw fatal(`the secret has no ${stage} version`);
  let value;
  try {
    value = JSON.parse(version.secretString);
  } catch {
    throw fatal(`the ${stage} value is not JSON`);
  }
  const missing = ['endpoint', 'key_id', 'api_key'].filter(
    (field) => typeof value?.[field] !== 'string',
  );
  if (missing.length > 0) throw fatal(`the ${stage} value lacks ${missing.join(', ')}`);
  return { ...value, endpoint: value.endpoint.replace(/\/+$/, '') };
}

async function call(method, url, { bearer, body }) {
  const headers = { accept: 'application/json', authorization: `Bearer ${bearer}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(url, init);
  } catch (err) {
    // fetch rejects with a TypeError for every network failure, a host refusal included; the
    // host adds its refusal to the step's error.
    throw retryable(`${method} ${url}: ${err.message}`);
  }
}

function unexpected(action, response) {
  const error = response.status >= 500 ? retryable : fatal;
  return error(`${action}: the API answered ${response.status}`);
}
