// The error a ClientTrafficPolicy's settings raise when a field cannot be
// served as written: the policy is Invalid with this message (and, for tls,
// the configuration is refused rather than served failing open).
export class Invalid extends Error {}
