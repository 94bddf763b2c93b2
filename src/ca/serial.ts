// Certificate serial numbers compared as numbers: "00AB12" (Node's
// X509Certificate.serialNumber) and "ab12" (a CRL entry as @peculiar/x509
// reads it) are the same serial. Translate keys a CRL's revoked serials with it,
// the data plane a client certificate's, so both sides agree.

export function serialKey(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}
