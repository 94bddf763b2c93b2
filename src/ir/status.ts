// Status condition types and reasons, as typed constants: the names Gateway
// API and Envoy Gateway use (and Portcullis' own few), so a typo is a compile
// error and a reader can see every reason a status may carry.

export const ConditionType = {
  Accepted: 'Accepted',
  ResolvedRefs: 'ResolvedRefs',
  Programmed: 'Programmed',
  Overridden: 'Overridden',
  ListenersNotValid: 'ListenersNotValid',
  UnsupportedFields: 'UnsupportedFields',
  Warning: 'Warning',
} as const;

/** A listener's condition on its Gateway is "Listener/<name>". */
export type ConditionTypeName = (typeof ConditionType)[keyof typeof ConditionType] | `Listener/${string}`;

export const Reason = {
  // Gateway API (Gateway, listeners, routes)
  Accepted: 'Accepted',
  Programmed: 'Programmed',
  ResolvedRefs: 'ResolvedRefs',
  NotReconciled: 'NotReconciled',
  ListenersNotValid: 'ListenersNotValid',
  UnsupportedProtocol: 'UnsupportedProtocol',
  ProtocolConflict: 'ProtocolConflict',
  HostnameConflict: 'HostnameConflict',
  InvalidCertificateRef: 'InvalidCertificateRef',
  NotAllowedByListeners: 'NotAllowedByListeners',
  NoMatchingListenerHostname: 'NoMatchingListenerHostname',
  NoMatchingParent: 'NoMatchingParent',
  UnsupportedValue: 'UnsupportedValue',
  BackendNotFound: 'BackendNotFound',
  InvalidKind: 'InvalidKind',
  RefNotPermitted: 'RefNotPermitted',
  // Policy attachment (GEP-713, Envoy Gateway)
  Invalid: 'Invalid',
  Overridden: 'Overridden',
  Conflicted: 'Conflicted',
  TargetNotFound: 'TargetNotFound',
  // Portcullis
  Unsupported: 'Unsupported',
  StrictOnPlaintext: 'StrictOnPlaintext',
} as const;

export type ConditionReason = (typeof Reason)[keyof typeof Reason];
