// Policy attachment, the phase after routes (docs/policy-families.md).
export type { AttachContext, PolicyFamily } from './context.ts';
export { buildInventory, GATEWAY_API_GROUP, type TargetInventory, type TranslatedRouteRule, type TranslatedListener } from './inventory.ts';
export { ageKey, compareByAge, comparePrecedence, older, TARGET_SPECIFICITY } from './precedence.ts';
export { attachingPolicy, resolveTargets, type PolicyTargeting, type PolicyTargetReference, type PolicyTargetSelector } from './resolve.ts';
export { covers, type AttachmentTarget, type ListenerPoint, type RouteId, type RouteRulePoint, type TargetLevel } from './targets.ts';
export { ancestorsOf, attachWinners, type Attachment, type AttachingPolicy } from './winners.ts';
