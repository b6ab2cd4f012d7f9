// Passkeys in the browser: the gateway's WebAuthn options (JSON) in, the credential's JSON out,
// through the browser's own parse/toJSON so no byte juggling happens here.

/** Whether this browser can make and use passkeys. */
export const passkeysSupported = () =>
  typeof PublicKeyCredential !== 'undefined' && typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function';

/** Create a passkey with `options` (PublicKeyCredentialCreationOptionsJSON). */
export async function createPasskey(options) {
  const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) });
  return credential.toJSON();
}

/** Sign with a passkey for `options` (PublicKeyCredentialRequestOptionsJSON). */
export async function usePasskey(options) {
  const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
  return credential.toJSON();
}
