// A rotation plugin for the secrets gateway, in JavaScript. Replace each step's body with what
// your target needs; the README next to this file says how to build, check and try it.
//
// The world's imports are ES modules named by their WIT interface; a step fails by throwing a
// step-error: `{ tag: 'retryable', val: message }` or `{ tag: 'fatal', val: message }`. Steps
// may be async (to await `fetch`, when the plugin is built with HTTP).

import { log } from 'secrets-gateway:rotation/log@0.1.0';

export const steps = {
  // Return the new value yourself, or undefined to let the gateway copy the current JSON with
  // a new `password`.
  createSecret(context) {
    return undefined;
  },

  // Make the target accept `context.pending`. Must also succeed if it already does.
  setSecret(context) {
    if (context.pending === undefined) {
      throw { tag: 'fatal', val: 'no AWSPENDING version to set' };
    }
    log('info', `setSecret for ${context.secretId} (token ${context.token})`);
  },

  // Prove that `context.pending` works against the target.
  testSecret(context) {},

  // Runs after AWSCURRENT moved to the new version: revoke what must be revoked.
  finishSecret(context) {},
};
